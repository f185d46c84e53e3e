"""Arch list files: subnets, one per row, each optionally with a measured top-1.

Two formats, told apart by the first non-blank character (``{`` = JSON lines, else CSV):

- **CSV** with a header: an ``arch`` column holding a JSON object per row, optional ``accuracy``
  (top-1 as a fraction 0..1) and ``seconds`` (what the measurement cost) columns.
- **JSON lines**: one JSON object per line, with the same optional ``accuracy`` and ``seconds``
  keys.

An arch is written as ``{"ks": [20], "e": [20], "d": [5], "r": R}``, as ``{"arch": {...}}``, or as
an OFA MobileNetV3 ``net.config`` (``{"net_config": {...}, "r": R}`` or the bare config with an
``"r"`` or ``"image_size"`` key), so lists saved by OFA's own tools read directly.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .arch import Arch
from .errors import HwnasError
from .ofa_interop import arch_from_net_config
from .paths import read_text


@dataclass
class ArchList:
    """``X`` (N, 46) int64 canonical archs in file order; ``accuracy`` and ``seconds`` (N,) float64,
    NaN where a row gives none; ``sha256`` of the file's bytes."""

    X: np.ndarray
    accuracy: np.ndarray
    seconds: np.ndarray
    sha256: str

    @property
    def has_accuracy(self) -> bool:
        """True when the list has rows and every row has an accuracy (none is NaN)."""
        return bool(len(self.accuracy)) and not np.isnan(self.accuracy).any()


def arch_of(obj, width=None) -> Arch:
    """An :class:`Arch` from any of the accepted JSON forms (see the module docstring)."""
    if not isinstance(obj, dict):
        raise HwnasError(f"an arch must be a JSON object, got {type(obj).__name__}")
    if isinstance(obj.get("arch"), dict):
        return Arch.from_dict(obj["arch"])
    config = obj.get("net_config", obj if "blocks" in obj else None)
    if config is None:
        return Arch.from_dict(obj)

    r = obj.get("r", obj.get("image_size", config.get("r", config.get("image_size"))))
    if r is None:
        raise HwnasError(
            'net.config has no resolution; add "r": 224 (or "image_size": 224) next to it'
        )
    if isinstance(r, list) and len(r) == 1:
        r = r[0]
    return arch_from_net_config(config, r, width=width)[0]


def _number(value, name, where, fraction=False) -> float:
    if value in (None, ""):
        return math.nan
    if isinstance(value, bool):
        raise HwnasError(f"{where}: {name} {value!r} is not a number")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise HwnasError(
            f"{where}: {name} {value!r} is not a number"
            + ("; allowed: fractions 0..1" if fraction else "")
        ) from None
    if fraction and not (math.isfinite(out) and 0.0 <= out <= 1.0):
        raise HwnasError(
            f"{where}: {name} {out} is out of range; allowed: fractions 0..1 (not percent)"
        )
    if not fraction and not (math.isfinite(out) and out >= 0):
        raise HwnasError(f"{where}: {name} {out} must be a finite number >= 0")
    return out


def _csv_rows(text, label, need_accuracy):
    reader = csv.DictReader(io.StringIO(text, newline=""))
    cols = reader.fieldnames or []
    required = ["arch", "accuracy"] if need_accuracy else ["arch"]
    if not set(required) <= set(cols):
        optional = ["seconds"] if need_accuracy else ["accuracy", "seconds"]
        raise HwnasError(
            f"{label} has columns {cols}; required: {', '.join(required)} "
            f"(optional: {', '.join(optional)})"
        )
    for n, row in enumerate(reader, start=2):
        where = f"{label} line {n}"
        if None in row:
            raise HwnasError(
                f"{where}: {len(cols) + len(row[None])} fields but the header has "
                f"{len(cols)} (quote the arch JSON as CSV requires)"
            )
        try:
            obj = json.loads(row["arch"] or "")
        except json.JSONDecodeError as exc:
            raise HwnasError(
                f"{where}: malformed arch JSON: {exc.msg} at column {exc.colno}"
            ) from None
        yield where, obj, row.get("accuracy"), row.get("seconds")


def _jsonl_rows(text, label):
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{label} line {n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise HwnasError(f"{where}: malformed JSON: {exc.msg} at column {exc.colno}") from None
        if not isinstance(obj, dict):
            raise HwnasError(f"{where}: each line must be a JSON object, got {type(obj).__name__}")
        yield where, obj, obj.get("accuracy"), obj.get("seconds")


def read_arch_list(
    path, what: str = "arch list", width=None, need_accuracy: bool = False
) -> ArchList:
    """Read an arch list file; every bad row is a one-line :class:`HwnasError` naming file and line.

    ``width`` (1.0 or 1.2) is checked against net.config rows; ``need_accuracy`` makes a missing
    accuracy an error (the ``table`` oracle's case).
    """
    label = f"{what} {str(path)!r}"
    text = read_text(path, what)  # missing, a directory, unreadable, empty, binary: one line each
    raw = Path(path).read_bytes()
    if text.lstrip().startswith("{"):
        rows = _jsonl_rows(text, label)
    else:
        rows = _csv_rows(text, label, need_accuracy)
    archs, acc, sec = [], [], []
    for where, obj, a, s in rows:
        try:
            archs.append(arch_of(obj, width).to_array())
        except HwnasError as exc:
            raise HwnasError(f"{where}: {exc}") from None
        acc.append(_number(a, "accuracy", where, fraction=True))
        sec.append(_number(s, "seconds", where))
        if need_accuracy and math.isnan(acc[-1]):
            raise HwnasError(
                f"{where}: no accuracy; every row of {what} needs a measured top-1 (fraction 0..1)"
            )
    if not archs:
        raise HwnasError(f"{label} has no rows")
    return ArchList(
        np.stack(archs),
        np.array(acc, dtype=np.float64),
        np.array(sec, dtype=np.float64),
        hashlib.sha256(raw).hexdigest(),
    )
