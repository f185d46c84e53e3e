"""Experiment (tenth round, not kept): Thompson-sampling batches instead of GP-BUCB.

Each pick of a batch is the best of one joint draw from the GP's posterior over the inner
optimiser's ``TS_TOP`` (2,000) best-scored candidates, the picks so far excluded. Replaces
``GPPredictor.greedy_batch`` (the loop's GP-BUCB batch) in this process only, then runs
``scripts/exp_weaknas.py`` with the remaining arguments:

    HWNAS_ASSETS=... python scripts/exp_thompson.py --flops 600M --seeds 0,...,9 --queries 1000
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import exp_weaknas  # noqa: E402

from predictors.gp import GPPredictor  # noqa: E402

TOP = int(os.environ.get("TS_TOP", "2000"))


def thompson_batch(self, X, b, score=None):
    """``b`` row indices of ``X``: each the argmax of one posterior draw (``score`` unused)."""
    X = X[:TOP]
    Fq, mean, V, _ = self._posterior(X)
    cov = self.s2 * (self._kernel(Fq, Fq) - V.T @ V)  # the posterior covariance
    w, U = np.linalg.eigh(0.5 * (cov + cov.T) + 1e-9 * np.eye(len(X)))
    root = U * np.sqrt(np.maximum(w, 0.0))
    rng = np.random.default_rng(len(self._alpha) * 7919 + len(X))  # same run, same draws
    picked, free = [], np.ones(len(X), dtype=bool)
    while len(picked) < min(b, len(X)):
        draw = mean + root @ rng.standard_normal(len(X))
        j = int(np.argmax(np.where(free, draw, -np.inf)))
        picked.append(j)
        free[j] = False
    return np.array(picked, dtype=np.int64)


if __name__ == "__main__":
    GPPredictor.greedy_batch = thompson_batch
    sys.argv = ["exp_weaknas.py"] + sys.argv[1:]
    exp_weaknas.main()
