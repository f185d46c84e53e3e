"""Oracles: ofa-mlp (needs HWNAS_ASSETS), table, zerocost, supernet end to end; data loading; assets
fetch."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

import predictors
from hwnas.arch import Arch, encode, sample
from hwnas.errors import HwnasError
from hwnas.space import get_space
from predictors import assets
from predictors.evaluator import Evaluator
from predictors.registry import ORACLES
from predictors.store import EvalStore

W12, W10 = get_space(1.2), get_space(1.0)
ASSETS = os.environ.get("HWNAS_ASSETS")
ACC = Path(ASSETS or "/nonexistent") / assets.ACC_PREDICTOR
needs_assets = pytest.mark.skipif(
    not ACC.is_file(),
    reason="OFA's acc_predictor.pth not found: "
    "set HWNAS_ASSETS "
    "to the shared assets folder (e.g. "
    "HWNAS_ASSETS=../shared/assets)",
)


@pytest.fixture
def no_assets(tmp_path, monkeypatch):
    monkeypatch.setenv("HWNAS_ASSETS", str(tmp_path / "empty-assets"))
    monkeypatch.setenv("HWNAS_CACHE", str(tmp_path / "empty-cache"))


# ---- ofa-mlp -------------------------------------------------------------------------------------


@needs_assets
def test_ofa_mlp_reproduces_published_numbers():
    o = predictors.make_oracle("ofa-mlp", W12)
    assert o.name == "ofa-mlp" and not o.is_proxy and o.key.startswith("ofa-mlp@2+48685122/")
    big, small = o.evaluate(encode([Arch.largest(224), Arch.smallest(160)]))
    assert abs(big.accuracy - 0.836) < 0.001 and abs(small.accuracy - 0.753) < 0.001
    assert big.ok and big.seconds >= 0


@needs_assets
def test_ofa_mlp_answers_do_not_depend_on_the_batch():
    """Bit-exact: one batch, batches of 1..64, shuffled, inside a bigger batch, small encoding
    chunks."""
    o = predictors.make_oracle("ofa-mlp", W12)
    rng = np.random.default_rng(3)
    X = sample(400, rng, W12.resolutions)
    full = o.predict(X)
    # some answers sat on a float32 rounding boundary and were recomputed
    assert o.model.n_fallback > 0
    for n in (1, 2, 5, 64):
        assert (
            np.concatenate([o.predict(X[s : s + n]) for s in range(0, len(X), n)]).tobytes()
            == full.tobytes()
        )
    perm = rng.permutation(len(X))
    assert o.predict(X[perm]).tobytes() == full[perm].tobytes()
    big = np.concatenate([sample(3000, rng, W12.resolutions), X])
    assert o.predict(big)[3000:].tobytes() == full.tobytes()
    small_chunks = predictors.make_oracle("ofa-mlp", W12)
    small_chunks.batch_size = 7
    assert small_chunks.predict(X).tobytes() == full.tobytes()


@needs_assets
def test_ofa_encoding_matches_ofa_reference():
    import importlib.util

    import ofa

    from hwnas.ofa_compat import install_torchvision_stand_in
    from predictors.ofa_mlp import ofa_encode

    install_torchvision_stand_in()
    # load the file alone: ofa.tutorial's __init__ imports gdown, which hwnas does not install
    spec = importlib.util.spec_from_file_location(
        "ofa_acc_ref", Path(ofa.__file__).parent / "tutorial" / "accuracy_predictor.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    AccuracyPredictor = mod.AccuracyPredictor

    X = sample(50, np.random.default_rng(0), range(128, 225))
    mine = ofa_encode(X)
    for row, enc in zip(X, mine, strict=True):
        a = Arch.from_array(row)
        ref = AccuracyPredictor.spec2feats(list(a.ks), list(a.e), list(a.d), a.r).numpy()
        np.testing.assert_array_equal(enc, ref)


def test_ofa_encoding_range():
    # speed is measured by scripts/bench_predictors.py, not asserted here
    from predictors.ofa_mlp import ofa_encode

    X = sample(1_000, np.random.default_rng(1), W12.resolutions)
    for r in (111, 240, 100):
        bad = X[:3].copy()
        bad[1, -1] = r
        with pytest.raises(HwnasError, match=f"resolution {r} is outside .* allowed: 112..239"):
            ofa_encode(bad)


@needs_assets
def test_ofa_mlp_refuses_width_1_0_and_finds_files(tmp_path, monkeypatch):
    with pytest.raises(HwnasError, match="w1.2 space; width 1.0 is not allowed"):
        predictors.make_oracle("ofa-mlp", W10)
    # explicit path works without the env var; the cache dir is searched too
    monkeypatch.setenv("HWNAS_ASSETS", str(tmp_path / "none"))
    monkeypatch.setenv("HWNAS_CACHE", str(tmp_path / "cache"))
    assert predictors.make_oracle("ofa-mlp", W12, acc_predictor=ACC).path == str(ACC)
    (tmp_path / "cache" / "ofa").mkdir(parents=True)
    shutil.copy(ACC, tmp_path / "cache" / "ofa" / "acc_predictor.pth")
    o = predictors.make_oracle("auto", W12)
    assert o.name == "ofa-mlp" and o.path.startswith(str(tmp_path / "cache"))
    assert predictors.make_oracle("auto", W10).name == "zerocost"  # ofa-mlp cannot serve width 1.0


def test_missing_predictor_is_a_clear_error_and_auto_falls_back(no_assets, tmp_path):
    with pytest.raises(HwnasError) as exc:
        predictors.make_oracle("ofa-mlp", W12)
    msg = str(exc.value)
    assert "empty-assets" in msg and "empty-cache" in msg and "hwnas assets fetch" in msg
    with pytest.raises(HwnasError, match="does not exist"):
        predictors.make_oracle("ofa-mlp", W12, acc_predictor=tmp_path / "nope.pth")
    o = predictors.make_oracle("auto", W12)
    assert o.name == "zerocost" and o.is_proxy
    with pytest.raises(HwnasError, match="allowed: " + ", ".join(("auto", *ORACLES.names()))):
        predictors.make_oracle("magic", W12)


@pytest.mark.parametrize(
    "name, setting, reads",
    [
        ("zerocost", {"table": "acc.csv"}, "device"),
        ("zerocost", {"weights": "w.pth"}, "device"),
        ("table", {"device": "cuda", "table": "acc.csv"}, "table"),
        ("auto", {"data": "imagenet/"}, "device"),  # auto is zerocost without the assets
    ],
)
def test_a_setting_the_oracle_does_not_read_is_an_error(no_assets, name, setting, reads):
    unused = next(k for k in setting if k != "table" or name != "table")
    with pytest.raises(HwnasError) as exc:
        predictors.make_oracle(name, W10, **setting)
    msg = str(exc.value)
    assert f"does not use {unused}={setting[unused]!r}; it reads: {reads}" in msg, msg
    assert "\n" not in msg
    assert ("(here 'zerocost')" in msg) == (name == "auto")
    # the setting at its default is not "set": zerocost is made
    assert predictors.make_oracle("zerocost", W10, device="cpu").name == "zerocost"


# ---- table ---------------------------------------------------------------------------------------


def test_table_oracle(tmp_path):
    from predictors.table import write_table

    X = sample(5, np.random.default_rng(2), W12.resolutions)
    acc = np.array([0.71, 0.72, 0.73, 0.74, 0.75])
    path = tmp_path / "acc.csv"
    write_table(path, X, acc, seconds=np.full(5, 60.0))
    o = predictors.make_oracle("table", W12, table=path)
    ans = o.evaluate(X[::-1])
    assert [a.accuracy for a in ans] == list(acc[::-1]) and ans[0].seconds == 60.0
    other = sample(1, np.random.default_rng(99), W12.resolutions)
    with pytest.raises(HwnasError, match=r"is not in accuracy table .* 5 archs"):
        o.evaluate(np.concatenate([X[:2], other]))
    bad = tmp_path / "pct.csv"
    bad.write_text(path.read_text().replace(",0.71,", ",71.0,"))
    with pytest.raises(
        HwnasError, match="line 2: accuracy 71.0 is out of range; allowed: fractions 0..1"
    ):
        predictors.make_oracle("table", W12, table=bad)
    cols = tmp_path / "cols.csv"
    cols.write_text("genes,acc\nx,0.5\n")
    with pytest.raises(HwnasError, match="required: arch, accuracy"):
        predictors.make_oracle("table", W12, table=cols)
    with pytest.raises(HwnasError, match="needs a CSV"):
        predictors.make_oracle("table", W12)


# ---- zerocost ------------------------------------------------------------------------------------


def test_zerocost_flops_proxy_orders_by_macs():
    from hwnas.cost import macs_params

    o = predictors.make_oracle("zerocost", W12)
    assert o.is_proxy and o.proxy == "flops" and o.key.startswith("zerocost-flops@")
    X = sample(200, np.random.default_rng(3), W12.resolutions)
    acc = np.array([a.accuracy for a in o.evaluate(X)])
    assert ((acc > 0) & (acc < 1)).all()
    macs = macs_params(W12, X)[0]
    assert (np.argsort(acc, kind="stable") == np.argsort(macs, kind="stable")).mean() > 0.99


def test_zerocost_zen_runs_and_is_deterministic():
    o = predictors.make_oracle("zerocost", W10, proxy="zen", batch=1)
    X = encode([Arch.smallest(128)])
    a, b = (
        o.evaluate(X)[0],
        predictors.make_oracle("zerocost", W10, proxy="zen", batch=1).evaluate(X)[0],
    )
    assert a.ok and 0 < a.accuracy < 1 and a.accuracy == b.accuracy
    with pytest.raises(HwnasError, match="allowed: flops, params, zen, synflow"):
        predictors.make_oracle("zerocost", W12, proxy="magic")


# ---- images, BN recalibration, supernet oracle ---------------------------------------------------


def _image_folder(root: Path, classes=3, per_class=4, size=(150, 120)):
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in range(classes):
        (root / f"class{c}").mkdir(parents=True)
        for i in range(per_class):
            base = np.zeros((size[1], size[0], 3), np.uint8)
            base[..., c % 3] = 120 + 40 * i
            noise = rng.integers(0, 60, base.shape, dtype=np.uint8)
            Image.fromarray(base + noise).save(root / f"class{c}" / f"img{i}.png")
    return root


def test_load_image_folder(tmp_path):
    from PIL import Image

    from hwnas.data import IMAGENET_MEAN, IMAGENET_STD, load_image_folder

    root = _image_folder(tmp_path / "imgs")
    x, y = load_image_folder(root, 128)
    assert (
        x.dtype.is_floating_point
        and str(x.dtype) == "torch.float32"
        and tuple(x.shape) == (12, 3, 128, 128)
    )
    # round-robin across classes
    assert y.tolist() == [0, 1, 2] * 4 and str(y.dtype) == "torch.int64"
    x2, y2 = load_image_folder(root, 128, limit=5, offset=3)
    assert y2.tolist() == [0, 1, 2, 0, 1] and np.allclose(x2.numpy(), x[3:8].numpy())
    # a solid-colour image normalises to (v/255 - mean)/std everywhere, whatever the resize
    solid = tmp_path / "solid" / "a"
    solid.mkdir(parents=True)
    Image.new("RGB", (300, 200), (255, 128, 0)).save(solid / "x.png")
    s, _ = load_image_folder(tmp_path / "solid", 160)
    want = (np.array([255, 128, 0]) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    # < 1/10 grey level
    np.testing.assert_allclose(s[0].numpy().reshape(3, -1).mean(axis=1), want, atol=2e-3)
    with pytest.raises(HwnasError, match="no class sub-folders"):
        load_image_folder(tmp_path / "solid" / "a", 128)


def test_recalibrate_bn_sets_exact_statistics():
    import torch

    from hwnas.data import recalibrate_bn
    from hwnas.ofa_interop import build_subnet

    torch.manual_seed(0)
    net = build_subnet(W10, Arch.smallest(128))
    images = torch.randn(10, 3, 128, 128)
    recalibrate_bn(net, images, batch_size=4)
    assert not net.training
    conv, bn = net.first_conv.conv, net.first_conv.bn
    with torch.no_grad():
        out = conv(images)
    np.testing.assert_allclose(
        bn.running_mean.numpy(), out.mean(dim=(0, 2, 3)).numpy(), rtol=1e-4, atol=1e-5
    )
    np.testing.assert_allclose(
        bn.running_var.numpy(), out.var(dim=(0, 2, 3), unbiased=False).numpy(), rtol=1e-3
    )


def test_official_checkpoint_keys_load(tmp_path):
    import torch

    from hwnas.ofa_interop import build_supernet, load_supernet

    net = build_supernet(W10)
    state = net.state_dict()
    torch.save(state, tmp_path / "plain.pth")
    torch.save(
        {"state_dict": {"module." + k: v for k, v in state.items()}}, tmp_path / "wrapped.pth"
    )
    for name in ("plain.pth", "wrapped.pth"):
        loaded = load_supernet(W10, tmp_path / name).state_dict()
        assert loaded.keys() == state.keys()
        assert all(torch.equal(loaded[k], state[k]) for k in state)
    with pytest.raises(HwnasError, match="differ in shape|not an OFA MobileNetV3"):
        load_supernet(W12, tmp_path / "plain.pth")


def test_supernet_oracle_end_to_end(tmp_path):
    import torch

    from hwnas.ofa_interop import build_supernet

    torch.manual_seed(0)
    torch.save(build_supernet(W10).state_dict(), tmp_path / "ofa_w10.pth")
    data = _image_folder(tmp_path / "imgs")
    o = predictors.make_oracle(
        "supernet", W10, weights=tmp_path / "ofa_w10.pth", data=data, calib_images=6, batch_size=4
    )
    assert o.name == "supernet" and not o.is_proxy
    X = encode([Arch.smallest(128), Arch(ks=[5] * 20, e=[4] * 20, d=[2, 3, 2, 2, 2], r=128)])
    with EvalStore(tmp_path / "evals.sqlite") as store:
        ev = Evaluator(o, store)
        acc = ev.evaluate(X)
        assert ev.n_asked == 2 and ev.oracle_seconds > 0
        assert np.isfinite(acc).all() and ((acc >= 0) & (acc <= 1)).all()
        assert all(v * 6 == round(v * 6) for v in acc)  # k correct of the 6 held-out images
        assert [r["error"] for r in store.rows(o.key)] == [None, None]
    again = o.measure(Arch.smallest(128))
    assert again == acc[0]  # deterministic
    # DATA/train + DATA/val layout: calibrate on train, measure all of val
    split = tmp_path / "split"
    _image_folder(split / "train", per_class=2)
    _image_folder(split / "val", per_class=3)
    o2 = predictors.make_oracle(
        "supernet", W10, weights=tmp_path / "ofa_w10.pth", data=split, calib_images=6
    )
    assert o2.version != o.version and o2._split
    v = o2.measure(Arch.smallest(128))
    assert 0 <= v <= 1 and v * 9 == round(v * 9)  # k correct of the 9 val images
    with pytest.raises(HwnasError, match="needs --weights"):
        predictors.make_oracle("supernet", W10)
    with pytest.raises(HwnasError, match="not available|allowed: cpu"):
        predictors.make_oracle(
            "supernet", W10, weights=tmp_path / "ofa_w10.pth", data=data, device="tpu"
        )


# ---- assets fetch --------------------------------------------------------------------------------


@pytest.fixture
def http_root(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@needs_assets
def test_assets_fetch_from_local_server(http_root, tmp_path, monkeypatch):
    from hwnas.cli import main

    root, url = http_root
    shutil.copytree(Path(ASSETS) / "ofa", root / "ofa")
    monkeypatch.setenv("HWNAS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HWNAS_ASSETS", str(tmp_path / "none"))
    files = assets.fetch(base_url=url, progress=False)
    assert [f["status"] for f in files] == ["downloaded"] * 6
    for name, sha in assets.MANIFEST.items():
        assert hashlib.sha256((tmp_path / "cache" / name).read_bytes()).hexdigest() == sha
    assert predictors.make_oracle("auto", W12).name == "ofa-mlp"  # found in the cache dir
    # second time: nothing to download
    assert main(["assets", "fetch", "--base-url", url, "--json"]) == 0
    assert [f["status"] for f in assets.fetch(base_url=url, progress=False)] == ["present"] * 6


def test_assets_fetch_rejects_bad_bytes_and_http_errors(http_root, tmp_path, monkeypatch, capsys):
    from hwnas.cli import main

    root, url = http_root
    (root / "ofa").mkdir()
    (root / "ofa" / "acc_predictor.pth").write_bytes(b"not the predictor")
    dest = tmp_path / "dest"
    with pytest.raises(HwnasError, match="sha256 .* expected 48685122"):
        assets.fetch([assets.ACC_PREDICTOR], base_url=url, dest=dest, progress=False)
    # nothing left
    assert not (dest / assets.ACC_PREDICTOR).exists() and list((dest / "ofa").iterdir()) == []
    with pytest.raises(HwnasError, match="HTTP 404"):
        assets.fetch(["ofa/note10/160_lookup_table.yaml"], base_url=url, dest=dest, progress=False)
    assert (
        main(["assets", "fetch", "--only", "acc-predictor", "--base-url", url, "--dest", str(dest)])
        == 2
    )
    assert "hwnas: error: download of" in capsys.readouterr().err
    monkeypatch.setenv("HWNAS_CACHE", str(dest))
    monkeypatch.setenv("HWNAS_ASSETS", str(tmp_path / "none"))
    assert main(["assets", "list", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["action"] == "list" and not any(f["found"] for f in out["files"])


@pytest.mark.parametrize("name", ORACLES.names())
def test_every_registered_oracle_answers_from_the_run_settings(name, tmp_path):
    """Each member, made from the run settings it reads, answers a batch in 0..1, the same way
    twice, under its own name; one that needs what no test has here says so and is skipped."""
    from predictors.table import write_table

    cls = ORACLES.load(name)
    assert issubclass(cls, predictors.Oracle) and cls.name == name
    assert name in predictors.ORACLES and predictors.ORACLES[0] == "auto"
    X = sample(40, np.random.default_rng(5), W12.resolutions)
    write_table(tmp_path / "acc.csv", X, np.linspace(0.70, 0.80, len(X)))
    every = {"table": tmp_path / "acc.csv", "device": "cpu"}
    settings = {k: v for k, v in every.items() if k in cls.reads}  # what a run would pass it
    try:
        oracle = predictors.make_oracle(name, W12, **settings)
    except HwnasError as exc:  # supernet: a checkpoint and images (test_supernet_oracle_end_to_end)
        pytest.skip(f"oracle {name} cannot be made here: {exc}")
    answers = oracle.evaluate(X[:8])
    again = type(oracle).from_settings(W12, settings).evaluate(X[:8])
    assert len(answers) == 8 and all(a.ok and 0 <= a.accuracy <= 1 for a in answers)
    assert [a.accuracy for a in again] == [a.accuracy for a in answers]
    assert oracle.name == name and oracle.key.startswith(name)


def test_surrogate_answers_listed_archs_exactly_and_ranks_the_rest(tmp_path):
    from scipy.stats import kendalltau

    from hwnas.cost import macs_params
    from predictors.table import write_table

    def acc(X):
        return 0.6 + 0.05 * np.log(macs_params(W12, X)[0] / 1e8)

    X, other = (
        sample(n, np.random.default_rng(s), W12.resolutions) for n, s in ((150, 7), (300, 8))
    )
    write_table(tmp_path / "acc.csv", X, acc(X), seconds=np.full(len(X), 60.0))
    o = predictors.make_oracle("surrogate", W12, table=tmp_path / "acc.csv")
    listed = o.evaluate(X[:5])
    assert [a.accuracy for a in listed] == list(acc(X[:5])) and listed[0].seconds == 60.0
    guessed = np.array([a.accuracy for a in o.evaluate(other)])
    assert kendalltau(guessed, acc(other))[0] > 0.8  # a ranking learned from the table (chance: 0)
    assert o.key.startswith("surrogate@1+") and "+linear-s0/" in o.key
    with pytest.raises(HwnasError, match="predictor 'forest' is unknown"):
        predictors.make_oracle("surrogate", W12, table=tmp_path / "acc.csv", predictor="forest")
    with pytest.raises(HwnasError, match="oracle surrogate needs a CSV"):
        predictors.make_oracle("surrogate", W12)
