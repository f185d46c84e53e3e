"""Latency on a target device: per-block lookup tables, profilers, prediction and validation.

Public API (what the search and the CLI use):

- ``load_device(name_or_path, width=1.2) -> Device``; ``known_devices() -> list[str]``
- ``Device.predict_ms(X)`` / ``Device.table_ms(X)`` / ``Device.min_latency_ms(resolutions)`` (ms)
- ``profile_device(name_or_out_dir, backend="ort", ...)``: build a device's tables (``hwnas
profile``)
- ``measure_arch_ms(arch, backend="ort", ...)``: end-to-end latency of one subnet (ms)
- ``validate_device(...)``: table sum vs. measured end to end, and the linear correction
- ``calibrate_device(name_or_path, out, samples=20)``: fit a table built elsewhere to this machine
- ``profile_device``, ``validate_device`` and ``calibrate_device`` take
``target="ssh://USER@HOST[:PORT]"``
  (with ``target_python``, ``ssh_options``) to measure on a remote machine through the agent
  (``latency/agent.py``, ``latency/remote.py``)

Heavy libraries (torch, onnxruntime, tensorrt) are imported only by the functions that need them.
"""

from __future__ import annotations

from .build import profile_device
from .calibrate import calibrate_device
from .device import Device, known_devices, load_device
from .measure import measure_arch_ms
from .validate import validate_device

__all__ = [
    "Device",
    "known_devices",
    "load_device",
    "profile_device",
    "measure_arch_ms",
    "validate_device",
    "calibrate_device",
]
