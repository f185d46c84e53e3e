"""Read-only shipped data, the per-user cache, the machine fingerprint and ``hwnas calibrate``.

Real ONNX Runtime sessions and real OFA modules: a w1.0 r=128 device is built with one round, and
subnets are measured end to end with thread CPU time (single-threaded ORT).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest
import yaml

import latency
import latency.fingerprint as fp
from hwnas.arch import Arch
from hwnas.cache import cache_root
from hwnas.cli import main
from hwnas.errors import HwnasError
from latency.device import shipped_roots
from latency.table import load_table, save_table, table_path

from .conftest import ROOT, run_cli

FAST = dict(
    resolutions=(128,), width=1.0, rounds=1, warmup=1, group_size=16, sample_ms=0.2, progress=False
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cal") / "tiny"
    latency.profile_device(str(folder), **FAST)
    return folder


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HWNAS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(fp, "_noticed", set())


def _snapshot(root):
    """{relative path: (bytes, mode)} of every file under ``root``."""
    return {
        str(p.relative_to(root)): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def _misscaled(src, dst, factor):
    """A copy of device ``src`` whose every table entry is ``factor`` times too slow."""
    dst.mkdir()
    for r in (128,):
        t = load_table(table_path(src, r))
        save_table(table_path(dst, r), {k: {**v, "mean": v["mean"] * factor} for k, v in t.items()})
    (dst / "device.yaml").write_text((src / "device.yaml").read_text())
    return dst


def test_cache_root_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("HWNAS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "hwnas"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert cache_root() == __import__("pathlib").Path.home() / ".cache" / "hwnas"
    from predictors.assets import cache_dir

    assert cache_dir() == cache_root()  # one source of truth for the cache folder


def test_calibration_fixes_a_misscaled_table(tiny, tmp_path):
    """A table 3x too slow: calibrated on 8 measured subnets, it predicts 8 other measured
    subnets."""
    bad = _misscaled(tiny, tmp_path / "bad", 3.0)
    out = tmp_path / "calibrated"
    res = latency.calibrate_device(
        str(bad), out, samples=8, seed=1, width=1.0, rounds=5, progress=False
    )
    # the mis-scaled sums are far off (200% when table and calibration see the same load; a
    # load 2x heavier during the calibration still leaves 50%) ...
    assert res["table_sum"]["mean_error_pct"] > 50
    # ... and the fit undoes the factor 3 (1/3; the table and the calibration were timed minutes
    # apart, on a host whose load may change between them, so not to a tight bound)
    assert 0.15 < res["correction"]["slope"] < 0.7
    check = latency.validate_device(
        str(out), samples=8, seed=2, width=1.0, rounds=5, write=False, progress=False
    )
    held_out = check["previous_correction_accuracy"]  # the calibrated device's stored correction
    assert check["table_sum"]["within_10pct"] == 0
    # 35%, not 10: these are real ORT timings of 8 subnets, and a busy machine moves their mean by
    # ~10% (seen once at -10.02% with a benchmark running beside the suite) and more when the load
    # changes between calibration and check; uncalibrated, the same sums are > 100% off, so the
    # check still tells a fixed table from a broken one
    assert abs(held_out["mean_error_pct"]) < 35 and held_out["rmse_pct"] < 40, held_out
    meta = yaml.safe_load((out / "device.yaml").read_text())
    assert (
        meta["derived_from"]["folder"] == str(bad.resolve()) and meta["calibration"]["samples"] == 8
    )
    assert meta["fingerprint"] == {
        **fp.fingerprint("ort", 1),
        "load_average": meta["fingerprint"]["load_average"],
    }
    assert len(json.loads((out / "calibration.json").read_text())["rows"]) == 8
    assert (out / "128_lookup_table.yaml").read_bytes() == (
        bad / "128_lookup_table.yaml"
    ).read_bytes()
    assert stat.S_IMODE((out / "device.yaml").stat().st_mode) == 0o666 & ~_umask()


def _umask():
    m = os.umask(0)
    os.umask(m)
    return m


def test_calibrate_resumes_from_the_cache(tiny, tmp_path, monkeypatch):
    # 5 interleaved rounds of 4 subnets >= 12% apart in MACs (seed 2): the slope is positive
    latency.calibrate_device(
        str(tiny), tmp_path / "a", samples=4, seed=2, width=1.0, rounds=5, progress=False
    )
    monkeypatch.setattr(
        "latency.validate.measure_archs", lambda *a, **k: pytest.fail("re-measured")
    )
    latency.calibrate_device(
        str(tiny), tmp_path / "a", samples=4, seed=2, width=1.0, rounds=5, progress=False
    )


def test_calibrate_refuses_bad_out_before_measuring(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr("latency.validate.measure_archs", lambda *a, **k: pytest.fail("measured"))
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    for out, msg in (
        (foreign, "already holds other files"),
        (shipped_roots()[0] / "x", "inside the shipped devices"),
    ):
        with pytest.raises(HwnasError, match=msg):
            latency.calibrate_device(str(tiny), out, samples=4, width=1.0, progress=False)
    assert (foreign / "notes.txt").read_text() == "mine" and len(list(foreign.iterdir())) == 1


def test_validate_and_calibrate_leave_checkout_and_installed_package_untouched(tmp_path):
    """Through the CLI, in subprocesses: the shipped cpu-ort, in the checkout and in a non-editable
    install. Five interleaved rounds, not one: with one, a load burst on the CI host during one
    of the three subnets made the fitted slope negative, and calibrate rightly refused to write."""
    site = tmp_path / "site"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    installed = site / "hwnas" / "devices"
    git = ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=all"]
    status0, checkout0, installed0 = (
        subprocess.check_output(git),
        _snapshot(ROOT / "devices"),
        _snapshot(installed),
    )
    env = {"HWNAS_CACHE": str(tmp_path / "cache")}
    runs = [({}, ROOT), ({"PYTHONPATH": str(site)}, tmp_path)]
    for extra, cwd in runs:
        for argv in (
            (
                "validate-latency",
                "--device",
                "cpu-ort",
                "--samples",
                "3",
                "--rounds",
                "5",
                "--no-progress",
            ),
            (
                "calibrate",
                "--device",
                "cpu-ort",
                "--samples",
                "3",
                "--rounds",
                "5",
                "--no-progress",
                "--out",
                str(tmp_path / f"cal-{len(extra)}"),
            ),
        ):
            p = run_cli(*argv, env={**env, **extra}, cwd=cwd)
            assert p.returncode == 0, p.stderr[-2000:]
    assert subprocess.check_output(git) == status0
    assert _snapshot(ROOT / "devices") == checkout0
    assert _snapshot(installed) == installed0 and "cpu-ort/device.yaml" in installed0
    p = run_cli(
        "validate-latency",
        "--device",
        str(installed / "cpu-ort"),
        "--samples",
        "3",
        "--out",
        str(installed / "cpu-ort"),
        env={**env, "PYTHONPATH": str(site)},
        cwd=tmp_path,
    )
    assert (
        p.returncode == 2 and p.stderr.count("\n") == 1 and "inside the shipped devices" in p.stderr
    )
    assert _snapshot(installed) == installed0


def _with_fingerprint(src, dst, **change):
    dst.mkdir()
    (dst / "128_lookup_table.yaml").write_bytes((src / "128_lookup_table.yaml").read_bytes())
    meta = yaml.safe_load((src / "device.yaml").read_text())
    meta["fingerprint"] = {**fp.fingerprint(meta["backend"], meta["threads"]), **change}
    (dst / "device.yaml").write_text(yaml.safe_dump(meta))
    return dst


def test_fingerprint_notice_only_for_another_machine(tiny, tmp_path):
    arch = tmp_path / "arch.json"
    Arch.smallest(128).save(arch)
    same = _with_fingerprint(tiny, tmp_path / "same")
    other = _with_fingerprint(tiny, tmp_path / "other", cpu="Some Other CPU 9000", cores=64)
    p = run_cli("latency", str(arch), "--device", str(same), "--width", "1.0", "--json")
    assert p.returncode == 0 and p.stderr == "" and json.loads(p.stdout)["latency_ms"] > 0
    p = run_cli("latency", str(arch), "--device", str(other), "--width", "1.0", "--json")
    # stdout: exactly the JSON object
    assert p.returncode == 0 and json.loads(p.stdout)["latency_ms"] > 0
    assert p.stderr.startswith("hwnas: notice: ") and p.stderr.count("\n") == 1
    assert "Some Other CPU 9000" in p.stderr and "hwnas calibrate --device" in p.stderr
    big = tmp_path / "big.json"
    Arch.smallest(224).save(big)
    p = run_cli("latency", str(big), "--device", str(other), "--width", "1.0")
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and p.stderr.startswith("hwnas: error: ")
    # once per process
    latency.load_device(other, width=1.0)
    assert fp._noticed and not fp.notice_if_foreign(
        "other", other, yaml.safe_load((other / "device.yaml").read_text())
    )


def test_fingerprint_notice_names_another_gpu(tiny, tmp_path, monkeypatch):
    def notice(name, **change):
        folder = _with_fingerprint(tiny, tmp_path / name, **change)
        return fp.foreign_notice(name, yaml.safe_load((folder / "device.yaml").read_text()))

    line = notice("other-gpu", gpu="No Such GPU 9000")
    assert "gpu 'No Such GPU 9000' there" in line and "hwnas calibrate" in line
    assert notice("same-gpu", gpu=fp.fingerprint("ort", 1, gpu=True)["gpu"]) is None
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi: no GPU, not an error
    assert fp.gpu_info() is None and fp.fingerprint("torch", 1, gpu=True)["gpu"] is None


def test_profile_writes_only_where_named(tiny, tmp_path, capsys, monkeypatch):
    before = _snapshot(tiny)
    mtimes = {p.name: p.stat().st_mtime_ns for p in tiny.iterdir()}
    again = latency.profile_device(str(tiny), **FAST)  # nothing left to measure
    assert again["measured"] == 0
    assert (
        _snapshot(tiny) == before
        and {p.name: p.stat().st_mtime_ns for p in tiny.iterdir()} == mtimes
    )
    modes = {stat.S_IMODE(p.stat().st_mode) for p in tiny.iterdir()}
    assert modes == {0o666 & ~_umask()}
    for argv, msg in (
        (("profile", "--device", "cpu-ort"), "inside the shipped devices"),
        (
            ("profile", "--device", "x", "--out", str(shipped_roots()[0] / "x")),
            "inside the shipped",
        ),
        (("profile", "--device", "brand-new-name"), "--out DIR"),
    ):
        assert main(list(argv)) == 2
        err = capsys.readouterr().err
        assert err.startswith("hwnas: error: ") and err.count("\n") == 1 and msg in err, err
    monkeypatch.setattr(os, "getloadavg", lambda: (99.0, 99.0, 99.0))
    latency.profile_device(str(tmp_path / "loaded"), **{**FAST, "resolutions": (128,)})
    err = capsys.readouterr().err
    assert "hwnas: warning: load average 99.00 exceeds the" in err
    assert yaml.safe_load((tmp_path / "loaded" / "device.yaml").read_text())["fingerprint"][
        "load_average"
    ] == {"before": 99.0, "after": 99.0}


def test_validate_latency_help_has_no_double_percent(capsys):
    with pytest.raises(SystemExit):
        main(["validate-latency", "--help"])
    out = capsys.readouterr().out
    assert "%%" not in out and "% within +-10%" in " ".join(out.split())


def test_no_write_writes_nothing(tiny, tmp_path):
    before = _snapshot(tiny)
    res = latency.validate_device(
        str(tiny), samples=3, width=1.0, rounds=1, write=False, progress=False
    )
    assert (
        res["measurements"] is None
        and not (tmp_path / "cache").exists()
        and _snapshot(tiny) == before
    )
    with pytest.raises(HwnasError, match="--no-write and --out"):
        latency.validate_device(
            str(tiny), samples=3, width=1.0, write=False, out=tmp_path / "v", progress=False
        )


def test_calibrate_bad_input_is_one_line_exit_2(tiny, tmp_path, capsys):
    ofa_like = tmp_path / "ofa-like"
    ofa_like.mkdir()
    (ofa_like / "128_lookup_table.yaml").write_bytes((tiny / "128_lookup_table.yaml").read_bytes())
    out = str(tmp_path / "never")
    base = ("calibrate", "--device", str(tiny), "--width", "1.0", "--out", out)
    cases = [
        ((*base, "--seed", "-1"), "seed -1 is not allowed; allowed: an integer >= 0"),
        ((*base, "--rounds", "0"), "rounds 0 is not allowed"),
        ((*base, "--samples", "2"), "samples 2 is not allowed"),
        ((*base, "--threads", "2", "--timer", "thread_cpu"), "single-threaded"),
        (("calibrate", "--device", str(ofa_like), "--width", "1.0", "--out", out), "--backend ort"),
        (
            (
                "validate-latency",
                "--device",
                str(tiny),
                "--width",
                "1.0",
                "--no-write",
                "--out",
                out,
            ),
            "--no-write",
        ),
    ]
    for argv, msg in cases:
        assert main(list(argv)) == 2, argv
        cap = capsys.readouterr()
        assert (
            cap.out == "" and cap.err.startswith("hwnas: error: ") and cap.err.count("\n") == 1
        ), cap.err
        assert msg in cap.err, (argv, cap.err)
    assert not (tmp_path / "never").exists()
