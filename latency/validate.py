"""Truth check: table sums against end-to-end measurements of random subnets, and the linear
correction.

``validate_device`` samples ``samples`` random subnets (uniform genes, the device's resolutions),
measures each end to end with the profiler and settings the device's tables were built with, and
compares with the table sum: % within +-10%, RMSE (% of measured), Spearman rank correlation. It
fits ``measured ~ slope * table + intercept`` (``fit_correction``: least squares, ms; the one fit
``hwnas calibrate`` uses too) and reports the same figures after the correction, in-sample and
leave-one-out (each subnet predicted by a line fitted without it).

Nothing is written into the device folder it reads. The raw measurements go to the per-user cache
(``hwnas.cache``), saved after every group so an interrupted run resumes; with ``out`` a validated
copy of the device (tables, ``device.yaml`` with the new correction, ``validation.json``) is written
to a folder the user names (which may be the device's own folder, unless it is shipped data).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import shutil
import time
from pathlib import Path

import numpy as np

from hwnas.arch import Arch, decode, encode, sample
from hwnas.cache import cache_path
from hwnas.errors import HwnasError, check_int

from .device import DEVICE_FILE, check_writable_folder, load_device, read_device_meta
from .measure import measure_archs
from .profilers import profiler_from_settings
from .profilers.base import check_timing
from .remote import check_same_target, remote_kwargs
from .table import atomic_write_text, atomic_write_yaml, table_path

VALIDATION_FILE = "validation.json"


def accuracy(pred, measured) -> dict:
    """Agreement of predictions with measurements (both ms): within +-10% (%), RMSE (%), Spearman,
    mean error (%)."""
    from scipy.stats import spearmanr

    pred, measured = np.asarray(pred, float), np.asarray(measured, float)
    rel = pred / measured - 1.0
    rho = spearmanr(pred, measured).statistic if len(pred) > 2 else float("nan")
    return {
        "within_10pct": float(100.0 * np.mean(np.abs(rel) <= 0.10)),
        "within_5pct": float(100.0 * np.mean(np.abs(rel) <= 0.05)),
        "rmse_pct": float(100.0 * np.sqrt(np.mean(rel**2))),
        "mean_error_pct": float(100.0 * rel.mean()),
        "max_abs_error_pct": float(100.0 * np.abs(rel).max()),
        "spearman": float(rho),
        "n": int(len(pred)),
    }


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


def fit_correction(table_ms, measured_ms) -> dict:
    """The device correction ``measured = slope * table + intercept`` (ms) and how well it fits.

    Returns ``correction``, and the accuracy of the table sum, the corrected prediction in-sample
    and leave-one-out, with ``loo_ms``/``corrected_ms`` per subnet.
    """
    if len(measured_ms) < 3:
        raise HwnasError(f"a correction needs at least 3 measured subnets, got {len(measured_ms)}")
    slope, intercept = fit_line(table_ms, measured_ms)
    corrected = slope * np.asarray(table_ms, float) + intercept
    loo = leave_one_out(table_ms, measured_ms)
    return {
        "correction": {"slope": slope, "intercept": intercept},
        "table_sum": accuracy(table_ms, measured_ms),
        "corrected": accuracy(corrected, measured_ms),
        "corrected_leave_one_out": accuracy(loo, measured_ms),
        "corrected_ms": corrected,
        "loo_ms": loo,
    }


def check_sampling(samples, seed, rounds) -> None:
    """One-line errors for a measurement plan that cannot work (before anything is measured)."""
    check_int(samples, "samples", minimum=3)  # a line with two parameters is fitted
    check_int(seed, "seed", minimum=0)
    check_timing(rounds, warmup=0)


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def measurement_store(dev, profiler, seed, width, rounds) -> Path:
    """The per-user cache file that holds (and resumes) one run's end-to-end measurements."""
    key = {
        "folder": str(Path(dev.folder).resolve()),
        "table_date": dev.meta.get("date"),
        "seed": int(seed),
        "width": width,
        "rounds": int(rounds),
        "settings": profiler.settings(),
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return cache_path("measurements", f"{dev.name}-{digest}.json")


def measure_subnets(
    archs,
    profiler,
    width,
    rounds=11,
    warmup=3,
    group_size=8,
    store=None,
    progress=True,
    desc="measure",
    header=None,
) -> np.ndarray:
    """End-to-end latency (ms) of each arch, resumable: rows already in ``store`` (a JSON file, or
    None to keep nothing) are not measured again, and the file is rewritten after every group."""
    ids = [a.id for a in archs]
    rows = {}
    if store is not None and Path(store).is_file():
        try:
            rows = {r["id"]: r for r in json.loads(Path(store).read_text()).get("rows", [])}
        except (json.JSONDecodeError, AttributeError, TypeError, KeyError):
            rows = {}

    def save():
        if store is not None:
            obj = {
                **(header or {}),
                "rounds": int(rounds),
                "settings": profiler.settings(),
                "complete": all(i in rows for i in ids),
                "rows": list(rows.values()),
            }
            atomic_write_text(store, json.dumps(obj, indent=1, default=str) + "\n")

    todo = [a for a in archs if a.id not in rows]
    bar = None
    if progress and todo:
        from tqdm import tqdm

        bar = tqdm(
            total=len(ids),
            initial=len(ids) - len(todo),
            desc=desc,
            unit="subnet",
            dynamic_ncols=True,
        )
    try:
        for start in range(0, len(todo), group_size):
            group = todo[start : start + group_size]
            timings = measure_archs(
                group,
                profiler,
                width=width,
                rounds=rounds,
                warmup=warmup,
                group_size=group_size,
                progress=bar,
            )
            for a, t in zip(group, timings, strict=True):
                rows[a.id] = {
                    "id": a.id,
                    "arch": a.to_dict(),
                    "measured_ms": t.median,
                    "std_ms": t.std,
                    "iqr_ms": t.iqr,
                    "count": t.count,
                }
            save()
    finally:
        if bar is not None:
            bar.close()
    return np.array([rows[i]["measured_ms"] for i in ids])


def check_out_folder(out, source: Path) -> Path:
    """``out`` if a device copy may be written there: not shipped data; new, empty, the source
    folder itself, or an earlier copy of the same source. One-line HwnasError otherwise."""
    out = check_writable_folder(out)
    if out.exists() and not out.is_dir():
        raise HwnasError(f"--out {str(out)!r} is a file; name a folder")
    if not out.is_dir() or not any(out.iterdir()) or out.resolve() == Path(source).resolve():
        return out
    meta = read_device_meta(out) if (out / DEVICE_FILE).is_file() else {}
    if meta.get("derived_from", {}).get("folder") == str(Path(source).resolve()):
        return out
    raise HwnasError(
        f"--out {str(out)!r} already holds other files; name a new or empty folder "
        f"(or an earlier copy of the same device)"
    )


def write_device_copy(dev, out, meta: dict, files: dict) -> Path:
    """Write ``dev``'s tables, ``device.yaml`` = ``meta`` and ``files`` (name -> text) into ``out``.

    Tables are copied byte for byte (skipped when ``out`` is the device's own folder); device.yaml
    is written last, so a copy interrupted midway is never a device with a correction that does not
    belong.
    """
    out = check_out_folder(out, dev.folder)
    slope = meta["correction"]["slope"]
    if not slope > 0:
        raise HwnasError(
            f"the fitted correction slope {slope:.4g} is not positive: the table does not order "
            f"the measured subnets as they run here; nothing written to {str(out)!r}; measure "
            f"more subnets (--samples) or build a table here with: hwnas profile --out DIR"
        )
    out.mkdir(parents=True, exist_ok=True)
    if out.resolve() != Path(dev.folder).resolve():
        for r in dev.resolutions:
            shutil.copyfile(table_path(dev.folder, r), table_path(out, r))
    for name, text in files.items():
        atomic_write_text(out / name, text)
    atomic_write_yaml(out / DEVICE_FILE, meta)
    return out


def _rows_json(device, seed, archs, measured, extra=None) -> str:
    rows = [
        {"id": a.id, "arch": a.to_dict(), "measured_ms": float(m)}
        for a, m in zip(archs, measured, strict=True)
    ]
    return (
        json.dumps({"device": device, "seed": int(seed), **(extra or {}), "rows": rows}, indent=1)
        + "\n"
    )


def validate_device(
    name_or_path,
    samples: int = 100,
    seed: int = 0,
    width: float = 1.2,
    rounds: int = 11,
    warmup: int = 3,
    group_size: int = 8,
    write: bool = True,
    out=None,
    progress: bool = True,
    return_rows: bool = False,
    target=None,
    target_python: str = "python3",
    ssh_options=(),
) -> dict:
    """Measure ``samples`` random subnets end to end and compare with the device's tables (ms).

    Never writes into the device folder it reads (unless ``out`` names it). ``write=False``: nothing
    is written anywhere (no resumable cache either); ``out``: a validated copy of the device goes
    there. ``target`` (``ssh://USER@HOST[:PORT]``): measure there with hwnas' agent, as ``hwnas
    profile
    --target`` did; it must be the target the tables were measured on.
    """

    check_sampling(samples, seed, rounds)
    check_timing(rounds, warmup)
    check_int(group_size, "group size")
    if out is not None and not write:
        raise HwnasError(
            "--no-write and --out cannot be used together: --out writes a validated copy"
        )
    dev = load_device(name_or_path, width=width, notice=False)
    check_same_target(dev, target)
    if out is not None:
        check_out_folder(out, dev.folder)  # refused before anything is measured
    profiler = profiler_from_settings(
        {"name": dev.name, **dev.meta}, **remote_kwargs(target, target_python, ssh_options)
    )
    try:
        return _validate(
            dev,
            profiler,
            samples,
            seed,
            rounds,
            warmup,
            group_size,
            write,
            out,
            progress,
            return_rows,
        )
    finally:
        profiler.close()


def sample_and_measure(
    dev, profiler, samples, seed, rounds, warmup, group_size, store, progress, verb
) -> tuple:
    """``samples`` seeded random subnets of ``dev``: ``(X, archs, table_ms, measured_ms, seconds)``.

    The table sum is taken first, so a missing entry fails before anything is measured; the
    measurements go through :func:`measure_subnets` (resumable through ``store``).
    """
    X = sample(int(samples), np.random.default_rng(int(seed)), dev.resolutions)
    table = dev.table_ms(X)
    archs = decode(X)
    t0 = time.perf_counter()
    measured = measure_subnets(
        archs,
        profiler,
        dev.width,
        rounds,
        warmup,
        group_size,
        store,
        progress,
        desc=f"{verb} {dev.name}",
        header={"device": dev.name, "seed": int(seed)},
    )
    return X, archs, table, measured, time.perf_counter() - t0


def _validate(
    dev, profiler, samples, seed, rounds, warmup, group_size, write, out, progress, return_rows
) -> dict:
    store = measurement_store(dev, profiler, seed, dev.width, rounds) if write else None
    X, archs, table, measured, seconds = sample_and_measure(
        dev, profiler, samples, seed, rounds, warmup, group_size, store, progress, "validate"
    )

    fit = fit_correction(table, measured)
    result = {
        "device": dev.name,
        "folder": str(dev.folder),
        "samples": int(samples),
        "seed": int(seed),
        "resolutions": list(dev.resolutions),
        "backend": dev.backend,
        "target": dev.meta.get("target"),
        "seconds": seconds,
        **{k: fit[k] for k in ("table_sum", "corrected", "corrected_leave_one_out", "correction")},
        "previous_correction": dev.correction,
        "previous_correction_accuracy": accuracy(dev.predict_ms(X), measured),
        "measured_ms": {
            "min": float(measured.min()),
            "median": float(np.median(measured)),
            "max": float(measured.max()),
        },
        "measurements": str(store) if store is not None else None,
    }
    if out is not None:
        meta = dict(dev.meta)
        meta["correction"] = {
            **fit["correction"],
            "fitted_on": int(samples),
            "seed": int(seed),
            "date": _utc_now(),
        }
        meta["validation"] = {
            k: result[k]
            for k in ("samples", "seed", "table_sum", "corrected", "corrected_leave_one_out")
        }
        if Path(out).resolve() != Path(dev.folder).resolve():
            meta["derived_from"] = {"folder": str(Path(dev.folder).resolve()), "name": dev.name}
        files = {
            VALIDATION_FILE: _rows_json(dev.name, seed, archs, measured, {"rounds": int(rounds)})
        }
        result["out"] = str(write_device_copy(dev, out, meta, files))
    result["written"] = result.get("out")
    if return_rows:
        result["rows"] = {
            "X": X,
            "table_ms": table,
            "measured_ms": measured,
            "previous_ms": dev.predict_ms(X),
            "corrected_ms": fit["corrected_ms"],
            "loo_ms": fit["loo_ms"],
        }
    return result


def measured_rows(folder) -> tuple:
    """``(X, measured_ms)`` from a device folder's ``validation.json`` (for benchmarks)."""
    obj = json.loads((Path(folder) / VALIDATION_FILE).read_text())
    archs = [Arch.from_dict(r["arch"]) for r in obj["rows"]]
    return encode(archs), np.array([r["measured_ms"] for r in obj["rows"]])
