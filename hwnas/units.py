"""Budgets as people write them: ``600M`` or ``0.6G`` MACs, ``8M`` params, ``25ms`` latency."""

from __future__ import annotations

import math
import re

from .errors import HwnasError

_COUNT = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([kKMG]?)\s*$")
_SCALE = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}
_TIME = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(ms|s|us)\s*$")
_TIME_SCALE = {"ms": 1.0, "s": 1e3, "us": 1e-3}


def _parse(text, what, pattern, scales, kind, example) -> float:
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        m = pattern.match(str(text))
        if not m:
            raise HwnasError(f"{what} {text!r} is not a {kind}; write it like {example}")
        value = float(m.group(1)) * scales[m.group(2)]
    if not math.isfinite(value):
        raise HwnasError(f"{what} {text!r} is not finite; write it like {example}")
    if value <= 0:
        raise HwnasError(f"{what} {text!r} must be positive; write it like {example}")
    return value


def parse_count(text, what: str = "--flops") -> float:
    """``"600M"`` -> 600e6. Suffixes K/k (1e3), M (1e6), G (1e9); a bare number is a plain count."""
    return _parse(text, what, _COUNT, _SCALE, "count", "600M, 0.6G or 600000000")


def parse_ms(text, what: str = "--latency") -> float:
    """``"25ms"`` -> 25.0 (milliseconds). Units ms, s or us are required."""
    return _parse(text, what, _TIME, _TIME_SCALE, "duration", "25ms, 0.025s or 25000us")


def format_count(value: float) -> str:
    """A count with a K/M/G suffix (``600e6`` -> ``"600M"``), the form :func:`parse_count` reads."""
    for suffix, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if value >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"
