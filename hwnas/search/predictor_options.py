"""``--predictor-option KEY=VALUE``: keyword arguments of the weak predictor's constructor (for
example ``mean=trend`` for ``gp``), typed from its annotations and checked before a run starts."""

from __future__ import annotations

import inspect
import typing

from predictors.registry import PREDICTORS

from ..errors import HwnasError, allowed
from .algorithm import convert_value

# constructor arguments hwnas sets itself or another setting holds: keyword -> what sets it
SET_ELSEWHERE = {
    "seed": "--seed",
    "space": "--width and --resolutions",
    "max_points": "--option gp_points",
}
_SCALARS = (bool, int, float, str, type(None))


def settable(name: str) -> dict:
    """``{keyword: type hint}`` that ``--predictor-option`` may set for predictor ``name``: its
    constructor's arguments with a default and a scalar type (bool, int, float, str)."""
    cls = PREDICTORS.load(name)
    hints = typing.get_type_hints(cls.__init__)
    out = {}
    for p in inspect.signature(cls).parameters.values():
        hint = hints.get(p.name)
        if p.name in SET_ELSEWHERE or p.default is inspect.Parameter.empty or hint is None:
            continue
        if all(kind in _SCALARS for kind in (typing.get_args(hint) or (hint,))):
            out[p.name] = hint
    return out


def parse_predictor_options(name: str, given) -> dict:
    """``given`` (run.yaml values or the CLI's strings) as typed keywords for predictor ``name``.

    An unknown keyword, a value of the wrong type, or one the predictor refuses is an
    :class:`HwnasError` naming the keyword, the value and what is allowed.
    """
    if not isinstance(given, dict):
        raise HwnasError(f"setting predictor_options {given!r} is not allowed; allowed: a mapping")
    if not given:  # the usual case: no need to import the predictor to read its signature
        return {}
    keys = settable(name)
    values = {}
    for key, value in given.items():
        if key in SET_ELSEWHERE:
            raise HwnasError(
                f"--predictor-option {key} is set by {SET_ELSEWHERE[key]}, not --predictor-option"
            )
        if key not in keys:
            raise HwnasError(
                f"--predictor-option {key!r} is unknown for predictor {name}; "
                f"allowed: {allowed(keys) or 'none'}"
            )
        values[key] = convert_value(key, value, keys[key], f"predictor {name}")
    # the predictor checks its own values (a name it does not know, ...); values is never empty
    # here: every given key was either set above or raised
    PREDICTORS.load(name)(seed=0, **values)
    return values
