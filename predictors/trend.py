"""A capacity trend: ridge regression of top-1 on the MACs of each of the 5 stages and the
resolution, an option for the GP's prior mean (``GPPredictor(mean="trend")``; not the default:
docs/search.md, "Eighth round").

Accuracy in the OFA space grows with capacity, and where the capacity sits (early or late stages)
matters. A GP with a constant mean reverts to the average of what it measured far from it, so it
rates a basin it has not visited below the incumbent's even when that basin holds bigger stages;
fitted on what the trend leaves over, the GP's error on such a basin halves (docs/search.md,
seventh round). Seven numbers, closed form, microseconds.
"""

from __future__ import annotations

import numpy as np

from hwnas.cost import cost_model
from hwnas.space import N_STAGES, R_COL

RIDGE = 1e-3  # on features of order 1: stage MACs in 100M, resolution / 224, a constant


def trend_features(space, X) -> np.ndarray:
    """``(N, 7)``: each arch's per-stage MACs (units of 100M), resolution / 224 and 1."""
    X = np.asarray(X, dtype=np.int64)
    per_block = cost_model(space).block_macs(X)
    stages = per_block.reshape(len(X), N_STAGES, -1).sum(axis=2) / 1e8
    return np.column_stack([stages, X[:, R_COL:] / 224.0, np.ones((len(X), 1))])


class Trend:
    """The ridge trend of top-1 (fraction) on :func:`trend_features`; ``fit(X, y)``,
    ``predict(X)``."""

    gives_spread = False

    def __init__(self, space, features=trend_features):
        self.space, self.features = space, features

    def fit(self, X, y) -> "Trend":
        """Fit on archs ``X`` ``(N, 46)`` and their top-1 ``y`` (fractions); returns ``self``."""
        F = self.features(self.space, X)
        A = F.T @ F + RIDGE * np.eye(F.shape[1])
        self.w = np.linalg.solve(A, F.T @ np.asarray(y, dtype=np.float64))
        return self

    def predict(self, X) -> np.ndarray:
        """Trend top-1 (fraction) of each row of ``X``."""
        return self.features(self.space, X) @ self.w
