"""A synthetic, deterministic accuracy oracle for search tests that must not need OFA's assets."""

import time

import numpy as np

from hwnas.cost import macs_params
from predictors.base import Answer, Oracle


class SyntheticOracle(Oracle):
    """Accuracy rises with MACs (with diminishing returns) and prefers some genes: a smooth
    landscape with a non-trivial optimum under a budget. ``sleep`` seconds per arch make it slow on
    purpose."""

    name = "synthetic"
    version = "1"

    def __init__(self, space, sleep: float = 0.0):
        super().__init__(space)
        self.sleep = sleep
        w = np.random.default_rng(123).normal(size=46)
        self.w = w / np.abs(w).sum() * 0.03

    def evaluate(self, X):
        out = []
        for row in np.asarray(X):
            t = time.perf_counter()
            if self.sleep:
                time.sleep(self.sleep)
            macs, _ = macs_params(self.space, row[None, :])
            z = (row - row.mean()) / (row.std() + 1e-9)
            acc = 0.70 + 0.12 * np.sqrt(macs[0] / 9e8) + float(z @ self.w)
            out.append(Answer(float(np.clip(acc, 0, 1)), time.perf_counter() - t))
        return out

    def evaluate_iter(self, X):
        for i, row in enumerate(np.asarray(X)):
            yield i, self.evaluate(row[None, :])[0]
