"""Machine fingerprint: which machine and library a table was measured on, and whether this is it.

``device.yaml`` records ``fingerprint: {cpu, cores, os, backend, backend_version, threads,
load_average}``, and ``gpu`` (the GPU's name) for tables measured on a GPU. Loading a device
measured on another machine (another CPU model, core count, OS, backend version or GPU) prints one
notice on stderr, once per device and process, naming ``hwnas calibrate``. Devices without a
backend (OFA's tables, measured on a phone) and devices that record a remote ``target`` are meant to
be used elsewhere and get no notice.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
import subprocess
from pathlib import Path

from hwnas.notices import notice

# one source: the agent reports the same on a remote target
from .agent import cpu_model, load_average, machine_info  # noqa: F401
from .profilers.registry import BACKENDS

# what must match for a table to hold here
COMPARED = ("cpu", "cores", "os", "backend_version", "gpu")


def backend_packages(backend) -> tuple:
    """The distributions whose version a backend's tables depend on (its profiler's
    ``packages``)."""
    return BACKENDS.load(backend).packages if backend in BACKENDS.names() else ()


_noticed: set = set()


def usable_cores() -> int:
    """Cores this process may run on (the affinity mask; ``os.cpu_count()`` where there is none)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def backend_version(backend):
    """The installed version of ``backend``'s library (the first of its packages found), or None."""
    for pkg in backend_packages(backend):
        try:
            return md.version(pkg)
        except md.PackageNotFoundError:
            continue
    return None


def gpu_info():
    """The GPU CUDA uses first, as ``nvidia-smi`` reports it: ``{name, driver, memory_mib}``; None
    where there is no NVIDIA GPU (or no ``nvidia-smi``)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip()
    query = ["nvidia-smi", "--query-gpu=name,driver_version,memory.total"]
    query += ["--format=csv,noheader,nounits"] + (["-i", visible] if visible else [])
    try:
        out = subprocess.run(query, capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    fields = [f.strip() for f in (out.strip().splitlines() or [""])[0].split(",")]
    if len(fields) != 3:
        return None
    name, driver, memory = fields
    return {"name": name, "driver": driver, "memory_mib": int(memory) if memory.isdigit() else None}


def fingerprint(backend, threads, gpu: bool = False) -> dict:
    """This machine's fingerprint for tables measured with ``backend`` and ``threads``; with
    ``gpu``, also the name of the GPU they run on (None where there is none)."""
    out = {
        "cpu": cpu_model(),
        "cores": usable_cores(),
        "os": f"{platform.system()} {platform.machine()}",
        "backend": backend,
        "backend_version": backend_version(backend),
        "threads": threads,
    }
    if gpu:
        out["gpu"] = (gpu_info() or {}).get("name")
    return out


def recorded_fingerprint(meta: dict) -> dict:
    """The fingerprint a ``device.yaml`` records (older files: from ``machine`` and
    ``versions``)."""
    if isinstance(meta.get("fingerprint"), dict):
        return meta["fingerprint"]
    machine, versions = meta.get("machine") or {}, meta.get("versions") or {}
    pkg = (*backend_packages(meta.get("backend")), None)[0]
    return {
        "cpu": machine.get("cpu"),
        "cores": machine.get("sched_affinity_cpus", machine.get("logical_cpus")),
        "backend": meta.get("backend"),
        "backend_version": versions.get(pkg),
        "threads": meta.get("threads"),
    }


def mismatches(recorded: dict, here: dict) -> list:
    """``[(field, recorded, here)]`` for the compared fields both sides know and that differ."""
    return [
        (k, recorded[k], here.get(k))
        for k in COMPARED
        if recorded.get(k) is not None and str(recorded[k]) != str(here.get(k))
    ]


def foreign_notice(name, meta: dict):
    """The one-line notice for a device measured on another machine, or None when it matches
    here."""
    if not meta.get("backend") or meta.get("target"):
        return None
    recorded = recorded_fingerprint(meta)
    here = fingerprint(meta.get("backend"), meta.get("threads"), gpu="gpu" in recorded)
    diff = mismatches(recorded, here)
    if not diff:
        return None
    what = ", ".join(f"{k} {a!r} there, {b!r} here" for k, a, b in diff)
    return (
        f"hwnas: notice: device {name!r} was measured on another machine ({what}); its "
        f"latencies may not "
        f"hold here; fit it to this machine with: hwnas calibrate --device {name} --samples 20 "
        f"--out DIR"
    )


def notice_if_foreign(name, folder, meta: dict) -> bool:
    """Print ``foreign_notice`` on stderr (``hwnas.notices``), once per device folder and process;
    True if printed (or held) now."""
    key = str(Path(folder).resolve())
    if key in _noticed:
        return False
    line = foreign_notice(name, meta)
    _noticed.add(key)
    if line is None:
        return False
    notice(line)
    return True


def load_warning(cores=None, load=None, where="this machine"):
    """A one-line warning when the load average exceeds the core count (timings will suffer), else
    None."""
    cores = cores or usable_cores()
    load = load_average() if load is None else load
    if load is None or load <= cores:
        return None
    return (
        f"hwnas: warning: load average {load:.2f} exceeds the {cores} cores of {where}; other "
        f"processes "
        f"will disturb the timings (thread CPU time hides some of it); profile on an idle "
        f"machine if you can"
    )
