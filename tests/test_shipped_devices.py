"""Every shipped device loads by name, is listed, and carries the validation it was shipped on; the
GPU devices record the GPU they were measured on, and using one elsewhere says so once."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

import latency.fingerprint as fp
from hwnas.arch import Arch, encode
from latency import known_devices, load_device
from latency.device import device_folder

from .conftest import ROOT, run_cli

SHIPPED = sorted(p.name for p in (ROOT / "devices").iterdir() if (p / "device.yaml").is_file())
GPU = [f"h100-torch-cudagraph-{p}-b{b}" for p in ("fp32", "fp16") for b in (1, 64)]


def test_the_h100_devices_are_shipped():
    assert set(GPU) <= set(SHIPPED) and "cpu-ort" in SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_a_shipped_device_holds_the_validation_it_was_shipped_on(name):
    assert name in known_devices()
    dev = load_device(name, notice=False)
    folder = device_folder(name)
    meta = yaml.safe_load((folder / "device.yaml").read_text())
    assert dev.resolutions == (160, 176, 192, 208, 224)
    small, large = dev.predict_ms(encode([Arch.smallest(160), Arch.largest(224)]))
    assert 0 < small < large
    v = meta["validation"]
    assert v["samples"] >= 100 and v["corrected_leave_one_out"]["within_10pct"] >= 95
    # the shipped measurements and correction give the shipped figure again
    rows = json.loads((folder / "validation.json").read_text())["rows"]
    assert len(rows) == v["samples"]
    pred = dev.predict_ms(encode([Arch.from_dict(r["arch"]) for r in rows]))
    measured = np.array([r["measured_ms"] for r in rows])
    within = 100.0 * np.mean(np.abs(pred / measured - 1) <= 0.10)
    assert within == pytest.approx(v["corrected"]["within_10pct"])


@pytest.mark.parametrize("name", GPU)
def test_a_gpu_device_records_its_gpu(name):
    meta = yaml.safe_load((device_folder(name) / "device.yaml").read_text())
    gpu = meta["machine"]["gpu"]
    assert gpu["name"] == meta["fingerprint"]["gpu"] == "NVIDIA H100 80GB HBM3"
    assert gpu["driver"] and meta["versions"]["torch"].startswith("2.") and meta["versions"]["cuda"]
    assert meta["cuda_graph"] is True and meta["timer"] == "cuda_events"
    precision, batch = name.split("-")[-2:]
    assert (meta["precision"], meta["batch_size"]) == (precision, int(batch[1:]))


def test_a_gpu_device_is_usable_here_and_says_where_it_was_measured(tmp_path):
    arch = tmp_path / "arch.json"
    Arch.smallest(224).save(arch)
    p = run_cli("latency", arch, "--device", GPU[0], "--json")
    assert p.returncode == 0 and json.loads(p.stdout)["latency_ms"] > 0
    assert p.stderr == "" or (
        p.stderr.startswith("hwnas: notice: ") and p.stderr.count("\n") == 1
    ), p.stderr
    if (fp.gpu_info() or {}).get("name") != "NVIDIA H100 80GB HBM3":
        assert "gpu 'NVIDIA H100 80GB HBM3' there" in p.stderr and "hwnas calibrate" in p.stderr
