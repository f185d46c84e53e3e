"""The accuracy side of hwnas: oracles (expensive, measured, stored) and weak predictors (cheap).

- :func:`make_oracle` -- ``auto`` | ``ofa-mlp`` | ``supernet`` | ``table`` | ``zerocost``
- :func:`make_predictor` -- ``linear`` | ``xgb`` | ``mlp`` | ``ensemble`` | ``gp``
- :class:`predictors.store.EvalStore` -- every answer in SQLite; :class:`predictors.evaluator.Evaluator`
  -- store first, oracle only for new archs.

Heavy libraries (torch, xgboost) load only when an oracle or predictor that needs them is made.
"""

from __future__ import annotations

from hwnas.errors import HwnasError, allowed
from hwnas.space import get_space

from .base import Answer, Oracle, Predictor

ORACLES = ("auto", "ofa-mlp", "supernet", "table", "zerocost")
PREDICTORS = ("linear", "xgb", "mlp", "ensemble", "gp")

__all__ = ["Answer", "Oracle", "Predictor", "ORACLES", "PREDICTORS", "make_oracle", "make_predictor"]


def make_oracle(name, space=None, *, acc_predictor=None, table=None, weights=None, data=None, device="cpu", **kw) -> Oracle:
    """An oracle by name for ``space`` (a Space, a width, or a space name; default w1.2).

    ``auto`` is ``ofa-mlp`` when OFA's predictor file is found (``acc_predictor``, ``$HWNAS_ASSETS``,
    the cache dir) and the space is w1.2, else the ``zerocost`` proxy (check ``oracle.is_proxy``).
    """
    space = get_space(1.2 if space is None else space)
    if name == "auto":
        from .ofa_mlp import find_acc_predictor

        if space.width == 1.2 and find_acc_predictor(acc_predictor) is not None:
            name = "ofa-mlp"
        else:
            name = "zerocost"
    if name == "ofa-mlp":
        from .ofa_mlp import OfaMlpOracle

        return OfaMlpOracle(space, acc_predictor=acc_predictor, **kw)
    if name == "table":
        if table is None:
            raise HwnasError("oracle table needs a CSV of measured accuracies (--table FILE with columns arch, accuracy)")
        from .table import TableOracle

        return TableOracle(space, table)
    if name == "supernet":
        if weights is None or data is None:
            raise HwnasError("oracle supernet needs --weights FILE (an OFA supernet checkpoint) and --data DIR "
                             "(an ImageFolder-style image folder)")
        from .supernet import SupernetOracle

        return SupernetOracle(space, weights=weights, data=data, device=device, **kw)
    if name == "zerocost":
        from .zerocost import ZeroCostOracle

        return ZeroCostOracle(space, device=device, **kw)
    raise HwnasError(f"oracle {name!r} is unknown; allowed: {allowed(ORACLES)}")


def make_predictor(name, seed: int = 0, **kw) -> Predictor:
    """A fresh weak predictor by name; ``kw`` go to its constructor (e.g. ``space``, ``with_cost``)."""
    if name == "linear":
        from .linear import LinearPredictor

        return LinearPredictor(seed=seed, **kw)
    if name == "xgb":
        from .xgb import XGBPredictor

        return XGBPredictor(seed=seed, **kw)
    if name == "xgb-paper":
        from .xgb import XGBPredictor

        return XGBPredictor.paper(seed=seed, **kw)
    if name == "mlp":
        from .mlp import MLPPredictor

        kw.pop("subsample", None)
        return MLPPredictor(seed=seed, **kw)
    if name == "gp":
        from .gp import GPPredictor

        return GPPredictor(seed=seed, **kw)
    if name == "ensemble":
        from .ensemble import EnsemblePredictor

        return EnsemblePredictor(seed=seed, **kw)
    raise HwnasError(f"predictor {name!r} is unknown; allowed: {allowed(PREDICTORS)}")
