"""Truth check: table sums against end-to-end measurements of random subnets, and the linear correction.

``validate_device`` samples ``samples`` random subnets (uniform genes, the device's resolutions),
measures each end to end with the profiler and settings the device's tables were built with, and
compares with the table sum: % within +-10%, RMSE (% of measured), Spearman rank correlation. It
fits ``measured ~ slope * table + intercept`` (least squares, ms) and reports the same figures after
the correction, in-sample and leave-one-out (each subnet predicted by a line fitted without it).
The correction, the figures and the date go into ``device.yaml``; the raw measurements go into
``validation.json`` next to it, written after every group so an interrupted run resumes.
"""

from __future__ import annotations

import datetime as _dt
import json
import time

import numpy as np

from hwnas.arch import Arch, decode, encode, sample
from hwnas.errors import HwnasError

from .device import DEVICE_FILE, load_device, read_device_meta
from .profilers import profiler_from_settings
from .table import atomic_write_text, atomic_write_yaml

VALIDATION_FILE = "validation.json"


def accuracy(pred, measured) -> dict:
    """Agreement of predictions with measurements (both ms): within +-10% (%), RMSE (%), Spearman, mean error (%)."""
    from scipy.stats import spearmanr

    pred, measured = np.asarray(pred, float), np.asarray(measured, float)
    rel = pred / measured - 1.0
    rho = spearmanr(pred, measured).statistic if len(pred) > 2 else float("nan")
    return {"within_10pct": float(100.0 * np.mean(np.abs(rel) <= 0.10)),
            "within_5pct": float(100.0 * np.mean(np.abs(rel) <= 0.05)),
            "rmse_pct": float(100.0 * np.sqrt(np.mean(rel ** 2))),
            "mean_error_pct": float(100.0 * rel.mean()), "max_abs_error_pct": float(100.0 * np.abs(rel).max()),
            "spearman": float(rho), "n": int(len(pred))}


def fit_line(x, y) -> tuple:
    """Least-squares ``y ~ slope * x + intercept``."""
    A = np.vstack([np.asarray(x, float), np.ones(len(x))]).T
    slope, intercept = np.linalg.lstsq(A, np.asarray(y, float), rcond=None)[0]
    return float(slope), float(intercept)


def leave_one_out(x, y) -> np.ndarray:
    """Predictions of each ``y[i]`` by a line fitted on all other points."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    out = np.empty_like(y)
    for i in range(len(x)):
        keep = np.arange(len(x)) != i
        s, c = fit_line(x[keep], y[keep])
        out[i] = s * x[i] + c
    return out


def validate_device(name_or_path, samples: int = 100, seed: int = 0, width: float = 1.2, rounds: int = 11,
                    warmup: int = 3, group_size: int = 8, write: bool = True, progress: bool = True,
                    return_rows: bool = False, target=None, target_python: str = "python3",
                    ssh_options=()) -> dict:
    """Measure ``samples`` random subnets end to end and compare with the device's tables (ms).

    ``target`` (``ssh://USER@HOST[:PORT]``): measure there with hwnas' agent, as ``hwnas profile
    --target`` did; it must be the target the tables were measured on.
    """
    from .remote import check_same_target

    if int(samples) < 3:
        raise HwnasError(f"samples {samples!r} must be >= 3 (a line is fitted)")
    dev = load_device(name_or_path, width=width)
    check_same_target(dev, target)
    remote = {} if target is None else {"target": target, "target_python": target_python,
                                        "ssh_options": tuple(ssh_options)}
    profiler = profiler_from_settings({"name": dev.name, **dev.meta}, **remote)
    try:
        return _validate(dev, profiler, samples, seed, rounds, warmup, group_size, write, progress, return_rows)
    finally:
        profiler.close()


def _validate(dev, profiler, samples, seed, rounds, warmup, group_size, write, progress, return_rows) -> dict:
    from .measure import measure_archs

    X = sample(int(samples), np.random.default_rng(int(seed)), dev.resolutions)
    table = dev.table_ms(X)  # fails early, naming a missing entry, before anything is measured
    archs = decode(X)
    ids = [a.id for a in archs]

    path = dev.folder / VALIDATION_FILE
    done = {}
    settings = {k: dev.meta.get(k) for k in ("backend", "execution_provider", "threads", "timer", "batch_size")}
    if dev.meta.get("target"):
        settings["target"] = dev.meta["target"]
    if path.is_file():
        try:
            old = json.loads(path.read_text())
            if old.get("seed") == int(seed) and old.get("settings") == settings and old.get("table_date") == dev.meta.get("date"):
                done = {r["id"]: r for r in old.get("rows", [])}
        except (json.JSONDecodeError, AttributeError, TypeError):
            done = {}
    rows = {i: done[i] for i in ids if i in done}

    def save():
        obj = {"device": dev.name, "seed": int(seed), "samples": int(samples), "settings": settings,
               "table_date": dev.meta.get("date"), "rounds": int(rounds), "complete": len(rows) == len(ids),
               "rows": [rows[i] for i in ids if i in rows]}
        if write:
            atomic_write_text(path, json.dumps(obj, indent=1) + "\n")

    todo = [a for a in archs if a.id not in rows]
    bar = None
    if progress and todo:
        from tqdm import tqdm

        bar = tqdm(total=len(ids), initial=len(ids) - len(todo), desc=f"validate {dev.name}", unit="subnet",
                   dynamic_ncols=True)
    t0 = time.perf_counter()
    try:
        for start in range(0, len(todo), group_size):
            group = todo[start:start + group_size]
            timings = measure_archs(group, profiler, width=dev.width, rounds=rounds, warmup=warmup,
                                    group_size=group_size, progress=bar)
            for a, t in zip(group, timings):
                rows[a.id] = {"id": a.id, "arch": a.to_dict(), "measured_ms": t.median, "std_ms": t.std,
                              "iqr_ms": t.iqr, "count": t.count}
            save()
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - t0

    measured = np.array([rows[i]["measured_ms"] for i in ids])
    slope, intercept = fit_line(table, measured)
    corrected = slope * table + intercept
    loo = leave_one_out(table, measured)
    result = {
        "device": dev.name, "folder": str(dev.folder), "samples": int(samples), "seed": int(seed),
        "resolutions": list(dev.resolutions), "backend": dev.backend, "target": dev.meta.get("target"),
        "seconds": seconds,
        "table_sum": accuracy(table, measured),
        "corrected": accuracy(corrected, measured),
        "corrected_leave_one_out": accuracy(loo, measured),
        "correction": {"slope": slope, "intercept": intercept},
        "previous_correction": dev.correction,
        "previous_correction_accuracy": accuracy(dev.predict_ms(X), measured),
        "measured_ms": {"min": float(measured.min()), "median": float(np.median(measured)), "max": float(measured.max())},
    }
    if write:
        meta = read_device_meta(dev.folder)
        meta["correction"] = {"slope": slope, "intercept": intercept, "fitted_on": int(samples), "seed": int(seed),
                              "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
        meta["validation"] = {k: result[k] for k in ("samples", "seed", "table_sum", "corrected",
                                                     "corrected_leave_one_out")}
        atomic_write_yaml(dev.folder / DEVICE_FILE, meta)
    result["written"] = bool(write)
    if return_rows:
        result["rows"] = {"X": X, "table_ms": table, "measured_ms": measured,
                          "previous_ms": dev.predict_ms(X), "corrected_ms": corrected, "loo_ms": loo}
    return result


def measured_rows(folder) -> tuple:
    """``(X, measured_ms)`` from a device folder's ``validation.json`` (for benchmarks)."""
    obj = json.loads((folder / VALIDATION_FILE).read_text())
    archs = [Arch.from_dict(r["arch"]) for r in obj["rows"]]
    return encode(archs), np.array([r["measured_ms"] for r in obj["rows"]])
