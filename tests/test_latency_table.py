"""Latency tables and devices: OFA key format, vectorised lookup, note10 figures, bad input."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import yaml

from hwnas.arch import Arch, encode, sample
from hwnas.errors import HwnasError
from hwnas.ofa_interop import net_config
from hwnas.space import get_space
from latency import known_devices, load_device
from latency.keys import block_key, table_specs
from latency.table import load_table, save_table, table_path

RES = (160, 176, 192, 208, 224)


def _note10() -> Path:
    root = os.environ.get("HWNAS_ASSETS")
    if not root or not (Path(root) / "ofa" / "note10").is_dir():
        pytest.skip(
            "OFA's note10 tables are not available: set HWNAS_ASSETS to the shared assets folder"
        )
    return Path(root) / "ofa" / "note10"


def _ofa_table(lut):
    """OFA's own MBv3LatencyTable over a table dict (its constructor downloads; we set the
    table)."""
    from hwnas.ofa_compat import install_torchvision_stand_in

    install_torchvision_stand_in()
    from ofa.nas.efficiency_predictor.latency_lookup_table import MBv3LatencyTable

    t = MBv3LatencyTable.__new__(MBv3LatencyTable)
    t.lut = lut
    return t


def _synthetic_device(folder: Path, width=1.2, resolutions=(160, 224), seed=0, drop=None) -> Path:
    rng = np.random.default_rng(seed)
    space = get_space(width)
    for r in resolutions:
        table = {
            s.key: {"mean": float(rng.uniform(0.05, 2.0)), "std": 0.01, "count": 10}
            for s in table_specs(space, r)
        }
        if drop:
            table.pop(drop(space, r), None)
        save_table(table_path(folder, r), table)
    return folder


# ---- OFA format ----------------------------------------------------------------------------------


def test_keys_are_exactly_note10s():
    folder = _note10()
    space = get_space(1.2)
    for r in RES:
        theirs = set(yaml.safe_load((folder / f"{r}_lookup_table.yaml").read_text()))
        ours = [s.key for s in table_specs(space, r)]
        assert len(ours) == 96 and set(ours) == theirs


def test_note10_largest_and_smallest():
    dev = load_device(str(_note10()))
    assert dev.width == 1.2 and dev.resolutions == RES
    X = encode([Arch.largest(224), Arch.smallest(224), Arch.smallest(160)])
    ms = dev.predict_ms(X)
    assert ms[0] == pytest.approx(92.40, abs=0.005)
    # 17.77 ms is the smallest subnet at 224; at 160 it is 9.89 ms.
    assert ms[1] == pytest.approx(17.77, abs=0.005)
    assert ms[2] == pytest.approx(9.89, abs=0.005)
    assert dev.min_latency_ms([224]) == pytest.approx(ms[1])
    assert dev.min_latency_ms(RES) == pytest.approx(ms[2])


def test_note10_by_name_and_agrees_with_ofa_code(monkeypatch):
    folder = _note10()
    monkeypatch.setenv("HWNAS_ASSETS", str(folder.parent.parent))
    assert "note10" in known_devices()
    dev = load_device("note10")
    space = get_space(1.2)
    X = sample(40, np.random.default_rng(1), RES)
    ours = dev.predict_ms(X)
    for r in RES:
        ofa = _ofa_table(yaml.safe_load((folder / f"{r}_lookup_table.yaml").read_text()))
        for n in np.flatnonzero(X[:, -1] == r):
            arch = Arch.from_array(X[n])
            assert ours[n] == pytest.approx(
                ofa.predict_network_latency_given_config(net_config(space, arch), r), rel=1e-12
            )


def test_hwnas_tables_are_read_by_ofa_code(tmp_path):
    _synthetic_device(tmp_path)
    dev = load_device(tmp_path)
    space = get_space(1.2)
    X = sample(20, np.random.default_rng(2), (160, 224))
    ours = dev.table_ms(X)
    for n, row in enumerate(X):
        arch = Arch.from_array(row)
        ofa = _ofa_table(load_table(table_path(tmp_path, arch.r)))
        assert ours[n] == pytest.approx(
            ofa.predict_network_latency_given_config(net_config(space, arch), arch.r)
        )


# ---- lookup --------------------------------------------------------------------------------------


def test_vectorised_lookup_100k(tmp_path):
    # the < 1 s target is measured by scripts/bench_latency.py, not asserted here
    dev = load_device(_synthetic_device(tmp_path, resolutions=RES))
    X = sample(100_000, np.random.default_rng(3), RES)
    y = dev.predict_ms(X)
    assert y.shape == (100_000,) and y.dtype == np.float64 and np.isfinite(y).all()


def test_correction_and_min_latency_exact(tmp_path):
    _synthetic_device(tmp_path, resolutions=(160, 192))
    (tmp_path / "device.yaml").write_text(
        yaml.safe_dump(
            {"name": "syn", "width": 1.2, "correction": {"slope": 1.5, "intercept": 0.25}}
        )
    )
    dev = load_device(tmp_path)
    X = sample(3000, np.random.default_rng(4), (160, 192))
    np.testing.assert_allclose(dev.predict_ms(X), 1.5 * dev.table_ms(X) + 0.25)
    # brute force over the per-block choices: per block the cheapest (k, e), per stage the best
    # depth
    best = dev.min_latency_ms([160, 192])
    assert best <= dev.predict_ms(X).min() + 1e-12
    for r in (160, 192):
        cheapest = []
        for b in range(20):
            vals = {
                (k, e): dev.table_ms(_one_block_arch(b, k, e, r))[0]
                for k in (3, 5, 7)
                for e in (3, 4, 6)
            }
            cheapest.append(min(vals, key=vals.get))
        ks = [k for k, _ in cheapest]
        es = [e for _, e in cheapest]
        candidates = [
            Arch(ks, es, d, r)
            for d in np.ndindex(3, 3, 3, 3, 3)
            for d in [tuple(int(x) + 2 for x in d)]
        ]
        m = dev.predict_ms(encode(candidates)).min()
        assert dev.min_latency_ms([r]) == pytest.approx(m)


def _one_block_arch(b, k, e, r):
    ks, es = [3] * 20, [3] * 20
    ks[b], es[b] = k, e
    return encode([Arch(ks, es, [4] * 5, r)])


# ---- bad input -----------------------------------------------------------------------------------


def test_unknown_device_lists_known():
    with pytest.raises(
        HwnasError,
        match=r"device 'no-such-device' is unknown; known devices: "
        r".*cpu-ort",
    ):
        load_device("no-such-device")


def test_missing_entry_names_key_and_rebuild_command(tmp_path):
    _synthetic_device(
        tmp_path, drop=lambda space, r: block_key(space, 5, 7, 6, r) if r == 224 else None
    )
    dev = load_device(tmp_path)
    ok = Arch.smallest(224)
    # block 5 runs here, with k3 e3 (present)
    assert np.isfinite(dev.predict_ms(encode([ok]))).all()
    ks, es = [3] * 20, [3] * 20
    ks[5], es[5] = 7, 6
    bad = Arch(ks, es, [4] * 5, 224)
    key = block_key(get_space(1.2), 5, 7, 6, 224)
    with pytest.raises(HwnasError, match="has no entry") as exc:
        dev.predict_ms(encode([ok, bad]))
    assert (
        key in str(exc.value)
        and "hwnas profile --device" in str(exc.value)
        and "--resolutions 224" in str(exc.value)
    )
    with pytest.raises(HwnasError, match=key.split("-expand")[0]):
        dev.min_latency_ms([224])


def test_resolution_without_table(tmp_path):
    dev = load_device(_synthetic_device(tmp_path, resolutions=(160,)))
    with pytest.raises(HwnasError, match="no latency table for resolution 224; it has: 160"):
        dev.predict_ms(encode([Arch.smallest(224)]))
    with pytest.raises(HwnasError, match="no latency table for resolution 192"):
        load_device(tmp_path, resolutions=(192,))


def test_table_of_another_width(tmp_path):
    _synthetic_device(tmp_path, width=1.0, resolutions=(160,))
    assert load_device(tmp_path, width=1.0).width == 1.0
    with pytest.raises(HwnasError, match="is for width 1.0, not 1.2"):
        load_device(tmp_path, width=1.2)


def test_corrupt_yaml(tmp_path):
    (tmp_path / "160_lookup_table.yaml").write_text("Conv-input: {mean: [1, 2\n  bad: :\n")
    with pytest.raises(HwnasError, match="corrupt YAML in .*160_lookup_table.yaml.* line"):
        load_device(tmp_path)
    (tmp_path / "160_lookup_table.yaml").write_text("- just\n- a list\n")
    with pytest.raises(HwnasError, match="corrupt latency table"):
        load_device(tmp_path)
    (tmp_path / "160_lookup_table.yaml").write_text(
        "Conv-input:1x1x3-output:1x1x24: {mean: fast}\n"
    )
    with pytest.raises(HwnasError, match="has mean 'fast'"):
        load_device(tmp_path)


def test_not_a_device_folder(tmp_path):
    with pytest.raises(HwnasError, match="has no device.yaml"):
        load_device(tmp_path)


def test_corrupt_correction(tmp_path):
    _synthetic_device(tmp_path, resolutions=(160,))
    (tmp_path / "device.yaml").write_text("name: x\ncorrection: {slope: fast, intercept: 0}\n")
    with pytest.raises(HwnasError, match="correction must be"):
        load_device(tmp_path)
