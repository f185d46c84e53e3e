"""The accuracy side of hwnas: oracles (expensive, measured, stored) and weak predictors (cheap).

- :func:`make_oracle` -- ``auto`` or a member of :data:`predictors.registry.ORACLES`
- :func:`make_predictor` -- a member of :data:`predictors.registry.PREDICTORS`
- :class:`predictors.store.EvalStore` -- every answer in SQLite;
  :class:`predictors.evaluator.Evaluator` -- store first, oracle only for new archs.

Heavy libraries (torch, xgboost) load only when an oracle or predictor that needs them is made.
"""

from __future__ import annotations

from hwnas.errors import HwnasError, allowed
from hwnas.space import get_space

from . import registry
from .assets import ACC_PREDICTOR, find_asset
from .base import Answer, Oracle, Predictor
from .registry import AUTO, AUTO_STANDS_FOR, ORACLE_CHOICES, SETTING_DEFAULTS

ORACLES = ORACLE_CHOICES  # names --oracle accepts (``auto`` first); the table: registry.ORACLES
PREDICTORS = registry.PREDICTORS.names()  # names of the table registry.PREDICTORS

__all__ = [
    "Answer",
    "Oracle",
    "Predictor",
    "ORACLES",
    "PREDICTORS",
    "make_oracle",
    "make_predictor",
    "resolve_auto",
]


def resolve_auto(space, acc_predictor=None) -> str:
    """The oracle ``auto`` stands for: ``ofa-mlp`` when OFA's predictor file is found
    (``acc_predictor``, ``$HWNAS_ASSETS``, the cache dir) and ``space`` is w1.2, else
    ``zerocost``."""
    ofa_mlp, proxy = AUTO_STANDS_FOR
    if space.width == 1.2 and find_asset(ACC_PREDICTOR, acc_predictor) is not None:
        return ofa_mlp
    return proxy


def make_oracle(
    name,
    space=None,
    *,
    acc_predictor=None,
    table=None,
    weights=None,
    data=None,
    device=None,
    labels=None,
    **kw,
) -> Oracle:
    """An oracle by name for ``space`` (a Space, a width, or a space name; default w1.2).

    ``acc_predictor``, ``table``, ``weights``, ``data``, ``device`` (default in
    :data:`SETTING_DEFAULTS`: ``cpu``) are the run's oracle settings:
    each oracle reads those in its ``reads`` (:meth:`Oracle.from_settings`), and one it does not
    read, set to anything but its default, is a one-line :class:`HwnasError`, which names the
    setting by ``labels[setting]`` where given (the CLI's flags); ``kw`` go to its constructor.
    ``auto`` is :func:`resolve_auto` (check ``oracle.is_proxy``).
    """
    if name not in ORACLE_CHOICES:
        raise HwnasError(f"oracle {name!r} is unknown; allowed: {allowed(ORACLE_CHOICES)}")
    space = get_space(1.2 if space is None else space)
    label = repr(name)
    if name == AUTO:
        name = resolve_auto(space, acc_predictor)
        label = f"{AUTO!r} (here {name!r})"
    settings = {
        "acc_predictor": acc_predictor,
        "table": table,
        "weights": weights,
        "data": data,
        "device": device,
    }
    given = {k: v for k, v in settings.items() if v is not None and v != SETTING_DEFAULTS.get(k)}
    cls = registry.ORACLES.load(name)
    labels = labels or {}
    for k, v in given.items():
        if k not in cls.reads:
            shown = f"{labels[k]} {v!r}" if k in labels else f"{k}={v!r}"
            reads = ", ".join(labels.get(r, r) for r in cls.reads)
            raise HwnasError(
                f"oracle {label} does not use {shown}; it reads: "
                f"{reads or 'none of the oracle settings'}"
            )
    return cls.from_settings(space, {**SETTING_DEFAULTS, **given}, **kw)


def make_predictor(name, seed: int = 0, **kw) -> Predictor:
    """A fresh weak predictor by name; ``kw`` go to its constructor (``space``, ``with_cost``)."""
    return registry.PREDICTORS.load(name)(seed=seed, **kw)
