"""``hwnas profile`` / ``validate-latency`` / ``latency --measure`` through the CLI: every profiler
backend this machine has, end to end, and measurement settings no measurement can use refused in one
line (never silently replaced by a default)."""

from __future__ import annotations

import json

import pytest
import yaml

from hwnas.arch import Arch
from hwnas.cli import main


def _cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _bad_cases(tmp, arch):
    prof = (
        "profile",
        "--device",
        "d",
        "--out",
        tmp / "dev",
        "--no-progress",
        "--resolutions",
        "128",
    )
    lat = ("latency", arch, "--device", "cpu-ort")
    val = ("validate-latency", "--device", "cpu-ort")
    at_least_1 = "is not allowed; allowed: an integer >= 1"
    return [
        (prof + ("--rounds", "0"), f"rounds 0 {at_least_1}"),
        (prof + ("--rounds", "-3"), f"rounds -3 {at_least_1}"),
        (prof + ("--group-size", "0"), f"group size 0 {at_least_1}"),
        (prof + ("--threads", "0"), f"threads 0 {at_least_1}"),
        (prof + ("--threads", "-1", "--backend", "torch"), f"threads -1 {at_least_1}"),
        (prof + ("--batch-size", "0"), f"batch size 0 {at_least_1}"),
        (prof + ("--batch-size", "-2", "--backend", "torch"), f"batch size -2 {at_least_1}"),
        (prof[:-2] + ("--resolutions", "0"), "resolution 0 is out of range; allowed: integers"),
        (prof + ("--width", "0"), "width 0.0 is not supported; allowed: 1.0, 1.2"),
        (prof + ("--ray-address", "auto"), "--ray-address 'auto' applies only with --executor ray"),
        (prof + ("--cuda-graph",), "option 'cuda_graph' does not apply to backend ort"),
        (prof + ("--cuda-graph", "--backend", "torch"), "--cuda-graph needs --provider cuda"),
        (lat + ("--rounds", "5"), "--rounds 5 applies only with --measure"),
        (lat + ("--measure", "--rounds", "0"), f"rounds 0 {at_least_1}"),
        (val + ("--rounds", "0"), f"rounds 0 {at_least_1}"),
        (val + ("--samples", "2"), "samples 2 is not allowed; allowed: an integer >= 3"),
        (val + ("--seed", "-1"), "seed -1 is not allowed; allowed: an integer >= 0"),
    ]


def test_unusable_measurement_settings_are_one_line_errors(tmp_path, capsys):
    arch = tmp_path / "a.json"
    Arch.smallest(160).save(arch)
    for argv, needle in _bad_cases(tmp_path, arch):
        code, out, err = _cli(capsys, *argv, "--json")
        assert code == 2 and out == "", argv
        assert err.startswith("hwnas: error: ") and err.count("\n") == 1, (argv, err)
        assert needle in err, (argv, err)
    assert not (tmp_path / "dev").exists()  # refused before anything was written


@pytest.mark.parametrize(
    "backend, provider, flags",
    [
        ("ort", "cpu", ()),
        ("torch", "cpu", ()),
        ("torch", "cuda", ("--precision", "fp16")),
        ("torch", "cuda", ("--cuda-graph",)),
    ],
)
def test_profile_then_validate_through_the_cli(backend, provider, flags, tmp_path, capsys):
    if provider == "cuda":
        import torch

        if not torch.cuda.is_available():
            pytest.skip(f"no CUDA GPU visible to this torch ({torch.__version__})")
    dev = tmp_path / "dev"
    code, out, err = _cli(
        capsys,
        "profile",
        "--device",
        f"tiny-{backend}",
        "--backend",
        backend,
        "--provider",
        provider,
        *flags,
        "--out",
        dev,
        "--resolutions",
        128,
        "--rounds",
        3,
        "--group-size",
        96,
        "--no-progress",
        "--json",
    )
    assert code == 0, err
    res = json.loads(out)
    assert res["backend"] == backend and res["measured"] == 96 and res["resolutions"] == [128]
    meta = yaml.safe_load((dev / "device.yaml").read_text())
    assert meta["backend"] == backend
    assert meta["method"]["rounds"] == 3 and meta["method"]["group_size"] == 96
    assert all(type(v) is str for v in meta["versions"].values()), meta["versions"]
    if provider == "cuda":  # the GPU is recorded, and validation rebuilds the CUDA profiler
        assert meta["timer"] == "cuda_events"
        assert meta["precision"] == ("fp16" if "fp16" in flags else "fp32")
        assert meta.get("cuda_graph", False) == ("--cuda-graph" in flags)
        assert meta["machine"]["gpu"]["name"] == meta["fingerprint"]["gpu"]
        assert meta["versions"]["cuda"] and meta["machine"]["gpu"]["driver"]
    before = {p.name: p.read_bytes() for p in dev.iterdir()}

    code, out, err = _cli(
        capsys,
        "validate-latency",
        "--device",
        dev,
        "--samples",
        3,
        "--rounds",
        3,
        "--no-write",
        "--no-progress",
        "--json",
    )
    assert code == 0, err
    res = json.loads(out)
    assert res["backend"] == backend and res["samples"] == 3 and res["written"] is None
    assert 0 < res["measured_ms"]["min"] <= res["measured_ms"]["max"]
    assert {p.name: p.read_bytes() for p in dev.iterdir()} == before  # --no-write wrote nothing
