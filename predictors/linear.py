"""``linear``: ridge regression on the gene one-hots plus depth x resolution interactions.

An additive model extrapolates: it can say that the untried corner "every stage at depth 4, 224 px,
small expand ratios" beats everything measured, where trees (XGBoost) stay flat outside the data. On
the ofa-mlp oracle under 600M MACs it found better nets than XGBoost at 300 queries
(docs/search.md). Closed-form fit (milliseconds), deterministic, so WeakNAS can refit every
iteration.
"""

from __future__ import annotations

import numpy as np

from hwnas.errors import HwnasError
from hwnas.space import D_COLS, DEPTHS, R_COL, get_space

from .base import Predictor
from .features import features


class LinearPredictor(Predictor):
    """``linear``: ridge regression on gene one-hots and depth x resolution terms (see the module
    docstring)."""

    name = "linear"

    def __init__(self, seed: int = 0, space=None, alpha: float = 1.0, with_cost: bool = False):
        self.space = get_space(1.2 if space is None else space)
        self.alpha, self.with_cost = float(alpha), with_cost
        self._w = None

    def _features(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.int64)
        base = features(X, self.space, with_cost=self.with_cost).astype(np.float64)
        d, r = X[:, D_COLS], X[:, R_COL]
        res = np.asarray(self.space.resolutions)
        # one column per (stage, depth, resolution): deeper stages pay off differently at each input
        # size
        inter = (d[:, :, None, None] == np.asarray(DEPTHS)[None, None, :, None]) & (
            r[:, None, None, None] == res[None, None, None, :]
        )
        return np.concatenate([base, inter.reshape(len(X), -1)], axis=1)

    def _normal_matrix(self, X) -> tuple:
        """Standardise on ``X``; return its design (features + intercept) and ``F'F + alpha I``."""
        F = self._features(X)
        self._mu, self._sd = F.mean(axis=0), F.std(axis=0) + 1e-9
        F1 = np.c_[(F - self._mu) / self._sd, np.ones(len(F))]
        reg = self.alpha * np.eye(F1.shape[1])
        reg[-1, -1] = 0.0  # the intercept is not shrunk
        return F1, F1.T @ F1 + reg

    def fit(self, X, y) -> "LinearPredictor":
        """Solve the ridge regression on ``(N, 46)`` archs and accuracies (fractions 0..1); returns
        self."""
        F1, A = self._normal_matrix(X)
        self._w = np.linalg.solve(A, F1.T @ np.asarray(y, dtype=np.float64))
        return self

    def predict(self, X) -> np.ndarray:
        """Predicted accuracy per row (fraction 0..1): float64 ``(N,)``."""
        if self._w is None:
            raise HwnasError("predictor linear is not fitted; call fit(X, y) first")
        F = (self._features(X) - self._mu) / self._sd
        return F @ self._w[:-1] + self._w[-1]
