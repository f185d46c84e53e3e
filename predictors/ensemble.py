"""``ensemble``: several weak predictors of different kinds and seeds; ``predict_dist`` gives their
mean and their spread (standard deviation across members), a cheap uncertainty for the search.
"""

from __future__ import annotations

import numpy as np

from .base import Predictor
from .features import features
from .registry import PREDICTORS

DEFAULT_MEMBERS = ("xgb", "xgb", "xgb", "mlp")


class EnsemblePredictor(Predictor):
    """``ensemble``: several weak predictors of different kinds and seeds; their mean and spread."""

    name = "ensemble"
    gives_spread = True

    def __init__(self, seed: int = 0, space=None, members=DEFAULT_MEMBERS, with_cost: bool = True):
        self.seed = int(seed)
        self.member_names = tuple(members)
        # bagging-like diversity for the trees: row subsampling; each member its own seed
        self.members = [
            PREDICTORS.load(m)(
                seed=self.seed * 1000 + i,
                space=space,
                with_cost=with_cost,
                **({"subsample": 0.8} if m == "xgb" else {}),
            )
            for i, m in enumerate(self.member_names)
        ]

    def fit(self, X, y) -> "EnsemblePredictor":
        """Fit every member on ``(N, 46)`` archs and accuracies (fractions 0..1); returns self."""
        for m in self.members:
            m.fit(X, y)
        return self

    def _all(self, X) -> np.ndarray:
        feats = {}  # computed once per feature set, shared by the members
        out = []
        for m in self.members:
            if not hasattr(m, "predict_features"):
                out.append(m.predict(X))
                continue
            k = (m.space.width, m.with_cost)
            if k not in feats:
                feats[k] = features(X, m.space, with_cost=m.with_cost)
            out.append(m.predict_features(feats[k]))
        return np.stack(out)

    def predict(self, X) -> np.ndarray:
        """The members' mean predicted accuracy (fraction 0..1): float64 ``(N,)``."""
        return self._all(X).mean(axis=0)

    def predict_dist(self, X) -> tuple:
        """``(mean, std)`` of the members' predicted accuracies (fractions): float64 ``(N,)``
        each."""
        P = self._all(X)
        return P.mean(axis=0), P.std(axis=0)
