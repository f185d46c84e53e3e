"""Building a device's tables: ``profile_device`` (what ``hwnas profile`` runs).

For each resolution, exactly the entries ``latency.keys.table_specs`` lists (96 for OFA MobileNetV3)
are measured as real OFA modules with one profiler, ``group_size`` entries at a time, interleaved
round-robin (``latency.agent.time_interleaved``). The table file is rewritten atomically
after every entry, and entries already in it are skipped, so an interrupted build resumes where it
stopped. ``device.yaml`` records how the device was measured; it refuses to mix settings in one
folder.
"""

from __future__ import annotations

import datetime as _dt
import os
import sys
import time
from pathlib import Path

from hwnas.errors import HwnasError, check_int
from hwnas.space import (
    DEFAULT_RESOLUTIONS,
    NET_RESOLUTIONS_TEXT,
    check_resolution,
    check_width,
    get_space,
)

from . import keys as K
from .device import DEVICE_FILE, _named_devices, check_writable_folder, read_device_meta
from .modules import build_layer
from .profilers import make_profiler
from .profilers.base import MEASURE_KEYS, check_timing
from .remote import remote_kwargs
from .table import atomic_write_yaml, load_table, save_table, table_path, table_resolutions

# Settings that must be equal for two tables to belong to one device.
SETTING_KEYS = MEASURE_KEYS + ("width", "target")
TARGET_WITH_EXECUTOR = (
    "--target times on one remote machine over SSH; it cannot be combined with "
    "--executor ray (use --executor local)"
)
DEFAULTS = {
    "rounds": 21,
    "warmup": 5,
    "group_size": 32,
    "sample_ms": 2.0,
    "max_dispersion": 0.08,
    "retries": 2,
}


def library_versions(profiler) -> dict:
    """Installed versions of hwnas, ofa, torch, onnx, onnxruntime, numpy and the profiler's own
    libraries, for device.yaml."""
    import importlib.metadata as md

    out = {}
    for pkg in ("hwnas", "ofa", "torch", "onnx", "onnxruntime", "numpy"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    # torch's version is not a plain str
    out.update({k: str(v) for k, v in profiler.versions().items()})
    return out


def resolve_out_dir(name_or_out_dir, out=None) -> tuple:
    """``(name, folder)`` for ``hwnas profile --device NAME [--out DIR]``: only a folder the user
    names, never one inside the shipped devices."""
    s = str(name_or_out_dir)
    if out is not None:
        folder = Path(out)
    elif os.sep in s or Path(s).is_dir():
        folder = Path(s)
    elif s in _named_devices():
        folder = _named_devices()[s]
    else:
        raise HwnasError(
            f"name the folder to write device {s!r} to: --out DIR (e.g. --out ~/hwnas-devices/{s})"
        )
    flag = "--out" if out is not None else "--device"
    check_writable_folder(folder, flag)
    if folder.exists() and not folder.is_dir():
        raise HwnasError(f"{flag} {str(folder)!r} is a file; name a folder for the device")
    name = s if os.sep not in s else folder.name
    meta = read_device_meta(folder) if folder.is_dir() else {}
    return meta.get("name", name), folder


def _check_same_settings(folder: Path, meta: dict, settings: dict) -> None:
    if not table_resolutions(folder):
        return
    if "calibration" in meta:
        raise HwnasError(
            f"device folder {str(folder)!r} is a calibrated copy of tables measured "
            f"elsewhere; "
            f"measure into another --out DIR"
        )
    if not meta.get("backend"):
        raise HwnasError(
            f"device folder {str(folder)!r} holds latency tables hwnas did not "
            f"measure (no device.yaml "
            f"with a backend); measure into another --out DIR"
        )
    for k in SETTING_KEYS:
        # another machine: never mixed in one folder
        if k == "target" and meta.get(k) != settings.get(k):
            raise HwnasError(
                f"device folder {str(folder)!r} was measured on "
                f"{meta.get(k) or 'this machine'}, "
                f"not {settings.get(k) or 'this machine'}; measure into another --out "
                f"DIR"
            )
        if k in meta and k in settings and meta[k] != settings[k]:
            raise HwnasError(
                f"device folder {str(folder)!r} was measured with {k}={meta[k]!r}, "
                f"not {settings[k]!r}; "
                f"measure into another --out DIR, or use the same settings to resume "
                f"it"
            )


def _profile_resolution(folder, r, width, profiler, timing, bar=None) -> dict:
    """Measure the missing entries of one resolution's table; returns counts. ``timing``:
    rounds, warmup, group_size, sample_ms."""
    group_size = timing["group_size"]
    path = table_path(folder, r)
    table = load_table(path) if path.is_file() else {}
    specs = K.table_specs(get_space(width), r)
    todo = [s for s in specs if s.key not in table]

    for start in range(0, len(todo), group_size):
        group = todo[start : start + group_size]
        timings = profiler.time_modules(
            [(build_layer(s), s.input_shape, s.key) for s in group],
            rounds=timing["rounds"],
            warmup=timing["warmup"],
            sample_ms=timing["sample_ms"],
            max_dispersion=DEFAULTS["max_dispersion"],
            retries=DEFAULTS["retries"],
        )
        for spec, t in zip(group, timings, strict=True):
            table[spec.key] = t.entry()
            save_table(path, table)  # saved after every entry: nothing measured is lost
            if bar is not None:
                bar.update(1)
    return {
        "resolution": r,
        "measured": len(todo),
        "skipped": len(specs) - len(todo),
        "entries": len(specs),
    }


def _resolution_task(item: dict) -> dict:
    """One resolution as an executor task (top-level, picklable): builds its own profiler.

    On a node that shares the driver's filesystem it saves into the device folder after every entry,
    as a local build does; elsewhere into a scratch folder seeded with the entries the driver
    already has. Either way the finished table travels back in the result and the driver saves it.
    """
    import tempfile

    profiler = make_profiler(**item["profiler"])
    folder = Path(item["folder"])
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".probe-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError:
        folder = Path(tempfile.mkdtemp(prefix="hwnas-profile-"))
    path = table_path(folder, item["r"])
    if not path.is_file() and item.get("existing"):
        save_table(path, item["existing"])
    t0 = time.perf_counter()
    out = _profile_resolution(
        folder,
        item["r"],
        item["width"],
        profiler,
        item["timing"],
    )
    out["seconds"] = time.perf_counter() - t0
    out["table"] = load_table(path)
    return out


def profile_device(
    name_or_out_dir,
    backend: str = "ort",
    resolutions=DEFAULT_RESOLUTIONS,
    width: float = 1.2,
    out=None,
    provider=None,
    threads: int = 1,
    precision: str = "fp32",
    batch_size: int = 1,
    rounds: int = DEFAULTS["rounds"],
    warmup: int = DEFAULTS["warmup"],
    group_size: int = DEFAULTS["group_size"],
    sample_ms: float = DEFAULTS["sample_ms"],
    executor=None,
    progress: bool = True,
    target=None,
    target_python: str = "python3",
    ssh_options=(),
    **options,
) -> dict:
    """Build (or resume) a device's latency tables; returns a summary (entries measured, seconds,
    folder).

    ``executor`` (from ``hwnas.executor.make_executor``): each resolution becomes one task
    requesting the resource ``{"device:<name>": 1}``, so a cluster runs it on a node that has the
    device. ``target`` (``ssh://USER@HOST[:PORT]``): blocks are exported here and timed there by the
    agent (``latency.remote``), run with ``target_python``; ``ssh_options`` are extra ``ssh -o``
    options.
    """
    width = check_width(width)
    resolutions = tuple(sorted({check_resolution(r) for r in resolutions}))
    if not resolutions:
        raise HwnasError(f"resolutions must not be empty; allowed: {NET_RESOLUTIONS_TEXT}")
    check_timing(rounds, warmup, sample_ms)
    check_int(group_size, "group size")
    timing = {
        "rounds": int(rounds),
        "warmup": int(warmup),
        "group_size": int(group_size),
        "sample_ms": float(sample_ms),
    }
    prof_args = {
        "backend": backend,
        "provider": provider,
        "threads": int(threads),
        "precision": precision,
        "batch_size": int(batch_size),
        **options,
    }
    if target is not None and executor is not None:
        raise HwnasError(TARGET_WITH_EXECUTOR)
    name, folder = resolve_out_dir(name_or_out_dir, out)
    # fails early, in one line, when the backend is not installed or the target cannot be reached
    profiler = make_profiler(**prof_args, **remote_kwargs(target, target_python, ssh_options))
    try:
        return _profile(
            profiler, name, folder, prof_args, resolutions, width, timing, executor, progress
        )
    finally:
        profiler.close()


def _profile(
    profiler, name, folder, prof_args, resolutions, width, timing, executor, progress
) -> dict:
    settings = {**profiler.settings(), "width": width}
    meta = read_device_meta(folder) if folder.is_dir() else {}
    _check_same_settings(folder, meta, settings)

    space = get_space(width)
    paths = {r: table_path(folder, r) for r in resolutions}
    have = {r: load_table(p) if p.is_file() else {} for r, p in paths.items()}
    n_new = sum(
        sum(1 for s in K.table_specs(space, r) if s.key not in have[r]) for r in resolutions
    )

    new_meta = {
        "name": name,
        **settings,
        "resolutions": sorted(set(table_resolutions(folder)) | set(resolutions)),
        "machine": profiler.machine(),
        "versions": library_versions(profiler),
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "method": {
            **timing,
            "statistic": "median over rounds (table 'mean' field), ms",
            "retry": f"IQR/median > {DEFAULTS['max_dispersion']}: timed again up to "
            f"{DEFAULTS['retries']} times, least dispersed kept",
            "order": "interleaved round-robin, rotated each round",
        },
    }
    if "notes" in meta:
        new_meta["notes"] = meta["notes"]
    warning = profiler.load_warning()
    if n_new and warning:
        print(warning, file=sys.stderr)
    load_before = profiler.load_average()
    if n_new:  # a profile that measures nothing leaves the folder as it is
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_yaml(folder / DEVICE_FILE, new_meta)

    t0 = time.perf_counter()
    results = []
    if executor is None or not n_new:
        bar = None
        if progress and n_new:
            from tqdm import tqdm

            bar = tqdm(total=n_new, desc=f"profile {name}", unit="entry", dynamic_ncols=True)
        try:
            for r in resolutions:
                if bar is not None:
                    bar.set_postfix_str(f"r={r}")
                t1 = time.perf_counter()
                res = _profile_resolution(folder, r, width, profiler, timing, bar)
                res["seconds"] = time.perf_counter() - t1
                results.append(res)
        finally:
            if bar is not None:
                bar.close()
    else:
        items = [
            {
                "folder": str(folder.resolve()),
                "r": r,
                "width": width,
                "profiler": prof_args,
                "timing": timing,
                "existing": have[r],  # read once above
            }
            for r in resolutions
        ]
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(items), desc=f"profile {name}", unit="table", dynamic_ncols=True)
        errors = []
        for i, res in executor.map_unordered(
            _resolution_task, items, resources={f"device:{name}": 1}
        ):
            if isinstance(res, Exception):
                errors.append((items[i]["r"], res))
            else:
                path = table_path(folder, res["resolution"])
                table = load_table(path) if path.is_file() else {}
                table.update(res.pop("table"))
                save_table(path, table)
                results.append(res)
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        if errors:
            r, exc = errors[0]
            raise HwnasError(
                f"profiling resolution {r} failed on the executor: "
                f"{str(exc).splitlines()[0][:200]}; "
                f"what was measured is saved; rerun the same command to resume"
            )
    results.sort(key=lambda d: d["resolution"])
    # the fingerprint, with the load average seen while profiling, once the tables are done
    if n_new:
        new_meta["fingerprint"] = {
            **profiler.fingerprint(),
            "load_average": {"before": load_before, "after": profiler.load_average()},
        }
        atomic_write_yaml(folder / DEVICE_FILE, new_meta)
    return {
        "device": name,
        "folder": str(folder),
        "backend": settings["backend"],
        "execution_provider": settings["execution_provider"],
        "cuda_graph": bool(settings.get("cuda_graph")),
        "threads": settings["threads"],
        "width": width,
        "target": settings.get("target"),
        "resolutions": list(resolutions),
        "measured": sum(d["measured"] for d in results),
        "skipped": sum(d["skipped"] for d in results),
        "per_resolution": results,
        "seconds": time.perf_counter() - t0,
        "correction_dropped": bool(n_new and "correction" in meta),
    }
