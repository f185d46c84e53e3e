"""One validation of device.yaml: a value a device cannot have is the same one-line error in every
command that reads the device (latency, search, export, validate-latency, profile); nothing is
written."""

from __future__ import annotations

import json

import pytest
import yaml

from hwnas.arch import Arch
from hwnas.cli import main
from hwnas.errors import HwnasError
from latency import load_device
from latency.device import check_device_meta
from latency.profilers.registry import BACKENDS

from .test_latency_table import _synthetic_device

GOOD = {
    "name": "syn",
    "backend": "ort",
    "execution_provider": "CPUExecutionProvider",
    "precision": "fp32",
    "threads": 1,
    "batch_size": 1,
    "timer": "thread_cpu",
    "width": 1.2,
    "resolutions": [160, 224],
    "correction": {"slope": 0.9, "intercept": 0.5},
}


def _device(folder, **changes):
    _synthetic_device(folder, resolutions=(160, 224))
    meta = {**GOOD, **changes}
    (folder / "device.yaml").write_text(yaml.safe_dump(meta))
    return folder


def _corr(slope, intercept):
    return {"correction": {"slope": slope, "intercept": intercept}}


BAD = {
    "slope 0": (_corr(0, 0.5), "correction slope 0 is not allowed"),
    "slope -0.5": (_corr(-0.5, 0.5), "correction slope -0.5 is not allowed"),
    "slope nan": (_corr(float("nan"), 0.5), "correction must be"),
    "slope text": (_corr("fast", 0), "correction must be"),
    "intercept inf": (_corr(1.0, float("inf")), "correction must be"),
    "correction list": ({"correction": [1, 2]}, "correction must be"),
    "negative predictions": (_corr(1.0, -1000.0), "predicts -9"),
    "threads 0": ({"threads": 0}, "threads 0 is not allowed; allowed: an integer >= 1"),
    "threads text": ({"threads": "two"}, "threads 'two' is not allowed"),
    "batch size -1": ({"batch_size": -1}, "batch_size -1 is not allowed; allowed: an integer >= 1"),
    "width 0.5": ({"width": 0.5}, "width 0.5 is not allowed; allowed: 1.0, 1.2"),
    "backend": (
        {"backend": "magic"},
        "backend 'magic' is not allowed; allowed: " + ", ".join(BACKENDS.names()),
    ),
    "precision": ({"precision": "int3"}, "precision 'int3' is not allowed"),
    "resolution 300": ({"resolutions": [160, 300]}, "resolution 300 is out of range"),
    "empty name": ({"name": ""}, "name '' is not allowed"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_non_physical_values_are_refused_when_loading(case, tmp_path):
    changes, needle = BAD[case]
    folder = _device(tmp_path, **changes)
    with pytest.raises(HwnasError, match="corrupt device file") as exc:
        load_device(folder)
    msg = str(exc.value)
    assert needle in msg and "device.yaml" in msg and "\n" not in msg


def test_a_good_device_loads_and_a_correction_names_how_to_refit(tmp_path):
    dev = load_device(_device(tmp_path))
    assert dev.correction == {"slope": 0.9, "intercept": 0.5}
    refit = "delete its correction entry and refit it with: hwnas validate-latency"
    with pytest.raises(HwnasError, match=refit):
        check_device_meta({"correction": {"slope": -1, "intercept": 0}}, tmp_path / "device.yaml")


def _commands(folder, tmp_path):
    arch = tmp_path / "arch.json"
    Arch.smallest(160).save(arch)
    return {
        "latency": ["latency", arch, "--device", folder],
        "search": [
            "search",
            "--flops",
            "600M",
            "--latency",
            "30ms",
            "--device",
            folder,
            "--oracle",
            "zerocost",
            "--queries",
            "12",
            "--out",
            tmp_path / "run",
            "--no-progress",
        ],
        "export": ["export", arch, "--onnx", tmp_path / "a.onnx", "--device", folder],
        "validate-latency": [
            "validate-latency",
            "--device",
            folder,
            "--samples",
            "3",
            "--no-progress",
        ],
        "profile": [
            "profile",
            "--device",
            "syn",
            "--out",
            folder,
            "--resolutions",
            "192",
            "--no-progress",
        ],
    }


@pytest.mark.parametrize("command", ["latency", "search", "export", "validate-latency", "profile"])
def test_every_command_refuses_a_negative_slope_the_same_way(command, tmp_path, capsys):
    folder = _device(tmp_path / "dev", correction={"slope": -0.5, "intercept": 0.5})
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    argv = [str(a) for a in _commands(folder, tmp_path)[command]]
    code = main(argv + ["--json"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "", (command, out)
    assert err.startswith("hwnas: error: corrupt device file ") and err.count("\n") == 1, err
    assert "correction slope -0.5 is not allowed" in err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # nothing written
    assert not (tmp_path / "a.onnx").exists()


def test_validate_latency_never_stores_a_non_physical_fit(tmp_path, monkeypatch):
    """A fit with slope <= 0 (a few noisy subnets) is refused; device.yaml keeps its correction."""
    import latency.validate as V

    folder = _device(tmp_path)
    before = (folder / "device.yaml").read_text()

    def measured_backwards(archs, profiler, **kwargs):
        # stand-in timings (the storing rule is what is tested): slower for a smaller table sum,
        # so the fitted slope is negative
        from latency.profilers.base import Timing

        dev = load_device(folder)
        ms = [100.0 - float(dev.table_ms(a.to_array())[0]) for a in archs]
        return [Timing(median=m, std=0.0, iqr=0.0, min=m, max=m, count=3, inner=1) for m in ms]

    monkeypatch.setattr("latency.validate.measure_archs", measured_backwards)
    monkeypatch.setattr("latency.validate.profiler_from_settings", lambda meta, **kw: _NoProfiler())
    monkeypatch.setenv("HWNAS_CACHE", str(tmp_path / "cache"))
    copy = tmp_path / "copy"
    with pytest.raises(HwnasError, match="slope .* is not positive.*nothing written"):
        V.validate_device(folder, samples=4, out=copy, progress=False)
    assert (folder / "device.yaml").read_text() == before
    assert not (copy / "device.yaml").exists()
    # the measurements themselves are kept (the per-user cache), so a rerun measures nothing again
    stored = list((tmp_path / "cache").rglob("*.json"))
    assert len(stored) == 1 and len(json.loads(stored[0].read_text())["rows"]) == 4


class _NoProfiler:
    """Stands in for a profiler whose timings the test supplies; only what validate asks of it."""

    def settings(self):
        return {"backend": "ort"}

    def close(self):
        pass
