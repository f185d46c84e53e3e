"""``xgb``: gradient-boosted trees (XGBoost gbtree) as the WeakNAS weak predictor.

The WeakNAS paper used gbtree, max_depth 20, 1000 rounds, refit from scratch each round. On a few
hundred points shallow trees (depth 2, 300 rounds, eta 0.15) over features that include log MACs and
log params rank better and fit in ~0.05 s (see docs/predictors.md for the measurement); the
defaults below are that measured choice, and ``XGBPredictor.paper()`` gives the paper's settings.

``XGBPredictor.paper()`` is the paper as its authors ran it on OFA MobileNetV3 (VITA-Group/WeakNAS,
``imagenet_mobilenet_search.ipynb``): ``xgb.train({"booster": "gbtree", "max_depth": 20,
"objective": "reg:squarederror"}, num_boost_round=1000)``, XGBoost's defaults otherwise (eta 0.3),
on the raw gene values ``ks + e + d`` (plus ``r``, since hwnas searches several resolutions): no
one-hot, no cost features (``encoding="genes"``).
One thread by default: robust on shared machines, and WeakNAS fits are tiny.
"""

from __future__ import annotations

import numpy as np

from hwnas.errors import HwnasError
from hwnas.space import get_space

from .base import Predictor
from .features import features

DEFAULTS = dict(
    n_estimators=300,
    max_depth=2,
    learning_rate=0.15,
    subsample=1.0,
    colsample_bytree=0.5,
    min_child_weight=1.0,
    reg_lambda=1.0,
)
PAPER = dict(
    n_estimators=1000,
    max_depth=20,
    learning_rate=0.3,
    subsample=1.0,
    colsample_bytree=1.0,
    min_child_weight=1.0,
    reg_lambda=1.0,
)  # XGBoost's defaults but for depth and rounds
# "onehot": predictors.features (one-hot genes, inactive blocks zeroed); "genes": the 46 raw values
ENCODINGS = ("onehot", "genes")


class XGBPredictor(Predictor):
    """``xgb``: XGBoost gradient-boosted trees (see the module docstring for the defaults and
    ``paper()``)."""

    name = "xgb"

    # One thread: on a few hundred rows threads gain nothing, and on a busy 2-core machine OpenMP's
    # spin-waiting made a 0.1 s fit take 10-60 s (measured by the lead, 2026-11-24).
    def __init__(
        self,
        seed: int = 0,
        space=None,
        with_cost: bool = True,
        n_jobs: int = 1,
        encoding: str = "onehot",
        **params,
    ):
        self.seed = int(seed)
        self.space = get_space(1.2 if space is None else space)
        self.with_cost = with_cost
        if encoding not in ENCODINGS:
            raise HwnasError(
                f"xgb encoding {encoding!r} is unknown; allowed: {', '.join(ENCODINGS)}"
            )
        self.encoding = encoding
        self.n_jobs = n_jobs
        unknown = set(params) - set(DEFAULTS)
        if unknown:
            raise HwnasError(
                f"xgb parameter {sorted(unknown)[0]!r} is unknown; allowed: {', '.join(DEFAULTS)}"
            )
        self.params = {**DEFAULTS, **params}
        self._booster = None
        self._y_mean = 0.0

    @classmethod
    def paper(cls, seed: int = 0, **kw) -> "XGBPredictor":
        """The WeakNAS paper's predictor: its XGBoost settings on raw gene values, no cost
        features."""
        return cls(seed=seed, **{"with_cost": False, "encoding": "genes", **PAPER, **kw})

    def _features(self, X):
        if self.encoding == "genes":
            genes = np.asarray(X, dtype=np.float32)
            if not self.with_cost:
                return genes
            return np.column_stack([genes, features(X, self.space, with_cost=True)[:, -2:]])
        return features(X, self.space, with_cost=self.with_cost)

    def fit(self, X, y) -> "XGBPredictor":
        """Train the trees from scratch on ``(N, 46)`` archs and accuracies (fractions 0..1);
        returns self."""
        import xgboost as xgb

        y = np.asarray(y, dtype=np.float64)
        self._y_mean = float(y.mean())
        p = self.params
        dtrain = xgb.DMatrix(self._features(X), label=y - self._y_mean)
        self._booster = xgb.train(
            {
                "booster": "gbtree",
                "objective": "reg:squarederror",
                "tree_method": "hist",
                "max_depth": p["max_depth"],
                "eta": p["learning_rate"],
                "subsample": p["subsample"],
                "colsample_bytree": p["colsample_bytree"],
                "min_child_weight": p["min_child_weight"],
                "lambda": p["reg_lambda"],
                "seed": self.seed,
                "nthread": self.n_jobs,
                "base_score": 0.0,
                "verbosity": 0,
            },
            dtrain,
            num_boost_round=int(p["n_estimators"]),
        )
        return self

    def predict(self, X) -> np.ndarray:
        """Predicted accuracy per row (fraction 0..1): float64 ``(N,)``."""
        return self.predict_features(self._features(X))

    def predict_features(self, F) -> np.ndarray:
        """Predict from precomputed :func:`features` (lets an ensemble compute them once)."""
        if self._booster is None:
            raise HwnasError("predictor xgb is not fitted; call fit(X, y) first")
        return self._booster.inplace_predict(F).astype(np.float64) + self._y_mean
