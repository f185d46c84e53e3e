"""Few-shot calibration: fit a table built elsewhere to the machine (and backend settings) used
here.

``calibrate_device`` measures ``samples`` random subnets end to end here, fits the device's linear
correction on them (``latency.validate.fit_correction``, the same fit ``validate-latency`` uses) and
writes a calibrated device folder to ``out``: the tables copied unchanged, ``device.yaml`` with the
new correction, the settings measured with, this machine's ``fingerprint`` and a ``calibration``
section naming the source device; the raw samples in ``calibration.json``. The source is never
written. Measurements are saved to the per-user cache as they arrive, so an interrupted calibration
resumes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hwnas.errors import HwnasError

from .device import load_device
from .profilers import make_profiler, profiler_from_settings
from .profilers.base import MEASURE_KEYS
from .remote import remote_kwargs
from .validate import (
    _rows_json,
    _utc_now,
    accuracy,
    check_out_folder,
    check_sampling,
    fit_correction,
    measurement_store,
    sample_and_measure,
    write_device_copy,
)

CALIBRATION_FILE = "calibration.json"
# Settings that describe how a table was measured; the calibrated copy states the ones measured
# here.
SETTING_KEYS = MEASURE_KEYS + ("ort", "torch")


def measuring_profiler(dev, backend=None, provider=None, threads=None, timer=None, **remote):
    """The profiler the calibration measures with: the device's own settings, overridden by the
    arguments.

    ``remote``: ``target``, ``target_python``, ``ssh_options`` to measure on a remote target.
    """
    if backend is None and dev.backend is None:
        raise HwnasError(
            f"device {dev.name!r} has no backend recorded (tables measured "
            f"elsewhere); name the one to "
            f"calibrate for with --backend ort|torch|tensorrt"
        )
    if backend is None and provider is None and threads is None and timer is None:
        return profiler_from_settings({"name": dev.name, **dev.meta}, **remote)
    same = backend in (None, dev.backend)
    options = {} if timer is None else {"timer": timer}
    return make_profiler(
        backend or dev.backend,
        provider=provider,
        threads=int(
            threads if threads is not None else (dev.meta.get("threads", 1) if same else 1)
        ),
        precision=dev.meta.get("precision", "fp32") if same else "fp32",
        batch_size=int(dev.meta.get("batch_size", 1)),
        **remote,
        **options,
    )


def calibrate_device(
    name_or_path,
    out,
    samples: int = 20,
    seed: int = 0,
    width: float = 1.2,
    backend=None,
    provider=None,
    threads=None,
    timer=None,
    rounds: int = 11,
    warmup: int = 3,
    group_size: int = 8,
    progress: bool = True,
    target=None,
    target_python: str = "python3",
    ssh_options=(),
) -> dict:
    """Measure ``samples`` random subnets here, fit the correction, write a calibrated device to
    ``out``.

    Returns the fit (``correction``, ms), the accuracy of the table sum, of the device's previous
    correction and of the new one (in-sample and leave-one-out, on the calibration subnets), and
    ``out``. Backend settings default to the device's;
    ``backend``/``provider``/``threads``/``timer`` calibrate it for other ones (e.g. a PyTorch-eager
    table used for ONNX Runtime). ``target`` (``ssh://USER@HOST[:PORT]``): measure on that machine
    with hwnas' agent instead of here.
    """
    check_sampling(samples, seed, rounds)
    if out is None:
        raise HwnasError("calibrate needs --out DIR: the folder for the calibrated device")
    dev = load_device(name_or_path, width=width, notice=False)
    check_out_folder(out, dev.folder)  # refused before anything is measured
    profiler = measuring_profiler(
        dev, backend, provider, threads, timer, **remote_kwargs(target, target_python, ssh_options)
    )
    try:
        return _calibrate(dev, profiler, out, samples, seed, rounds, warmup, group_size, progress)
    finally:
        profiler.close()


def _calibrate(dev, profiler, out, samples, seed, rounds, warmup, group_size, progress) -> dict:
    settings = profiler.settings()
    store = measurement_store(dev, profiler, seed, dev.width, rounds)
    load_before = profiler.load_average()
    X, archs, table, measured, seconds = sample_and_measure(
        dev, profiler, samples, seed, rounds, warmup, group_size, store, progress, "calibrate"
    )
    load = {"before": load_before, "after": profiler.load_average()}

    fit = fit_correction(table, measured)
    here = {**profiler.fingerprint(), "load_average": load}
    source = {
        "name": dev.name,
        "folder": str(Path(dev.folder).resolve()),
        **{
            k: dev.meta[k]
            for k in SETTING_KEYS + ("date", "fingerprint", "machine")
            if k in dev.meta
        },
    }
    meta = {
        k: v
        for k, v in dev.meta.items()
        if k not in SETTING_KEYS + ("validation", "notes", "target")
    }
    meta.update(
        {
            "name": Path(out).name,
            **settings,
            "fingerprint": here,
            "machine": profiler.machine(),
            "correction": {
                **fit["correction"],
                "fitted_on": int(samples),
                "seed": int(seed),
                "date": _utc_now(),
            },
            "calibration": {
                "samples": int(samples),
                "seed": int(seed),
                "rounds": int(rounds),
                "date": _utc_now(),
                "seconds": round(seconds, 1),
                "table_sum": fit["table_sum"],
                "corrected_leave_one_out": fit["corrected_leave_one_out"],
            },
            "derived_from": source,
        }
    )
    files = {
        CALIBRATION_FILE: _rows_json(
            dev.name, seed, archs, measured, {"rounds": int(rounds), "settings": settings}
        )
    }
    written = write_device_copy(dev, out, meta, files)
    return {
        "device": dev.name,
        "out": str(written),
        "samples": int(samples),
        "seed": int(seed),
        "backend": settings["backend"],
        "execution_provider": settings["execution_provider"],
        "target": settings.get("target"),
        "threads": settings["threads"],
        "timer": settings["timer"],
        "seconds": seconds,
        "correction": fit["correction"],
        "previous_correction": dev.correction,
        "table_sum": fit["table_sum"],
        "previous_correction_accuracy": accuracy(dev.predict_ms(X), measured),
        "corrected": fit["corrected"],
        "corrected_leave_one_out": fit["corrected_leave_one_out"],
        "measured_ms": {
            "min": float(measured.min()),
            "median": float(np.median(measured)),
            "max": float(measured.max()),
        },
        "fingerprint": here,
        "measurements": str(store),
    }
