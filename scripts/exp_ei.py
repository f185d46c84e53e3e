"""Experiment (eleventh round, not kept): expected improvement instead of an upper confidence bound.

The inner optimiser ranks by log expected improvement over the best measured top-1 (computed in
logs, so far-away archs keep an order instead of all scoring 0), and each batch is picked greedily
on it with the GP's variance updated after each pick as GP-BUCB does (with the mean unchanged, this
is the "kriging believer" batch of Ginsbourger et al. 2010). Replaces ``GPPredictor``'s
``predict_dist`` (only as the loop's acquisition) and ``select_batch`` in this process only, then
runs ``scripts/exp_weaknas.py`` with the remaining arguments:

    HWNAS_ASSETS=... python scripts/exp_ei.py --flops 600M --seeds 0,...,9 --queries 1000
"""

from __future__ import annotations

import os
import sys

import numpy as np
from scipy.special import erfcx, ndtr

sys.path.insert(0, os.path.dirname(__file__))
import exp_weaknas  # noqa: E402

from predictors.gp import GPPredictor  # noqa: E402

_fit, _predict_dist = GPPredictor.fit, GPPredictor.predict_dist


def log_ei(mean, sd, best):
    """log E[max(y - best, 0)] for y ~ N(mean, sd^2), stable for mean far below best."""
    sd = np.maximum(sd, 1e-12)
    z = (mean - best) / sd
    out = np.empty_like(z)
    hi = z > -3
    zh = z[hi]
    out[hi] = np.log(zh * ndtr(zh) + np.exp(-0.5 * zh * zh) / np.sqrt(2 * np.pi))
    a = -z[~hi]
    log_phi = -0.5 * a * a - 0.5 * np.log(2 * np.pi)
    # h(z) = phi(z) (1 - a sqrt(pi/2) erfcx(a/sqrt2)); beyond a = 40 the bracket is 1/a^2 to
    # within 3/a^2 relative, and computing it as a difference would cancel to 0
    mid = a <= 40
    tail = np.where(mid, 0.0, -2 * np.log(np.maximum(a, 1.0)))
    am = np.where(mid, a, 1.0)
    body = np.log1p(-am * np.sqrt(np.pi / 2) * erfcx(am / np.sqrt(2)))
    out[~hi] = log_phi + np.where(mid, body, tail)
    return np.log(sd) + out


def fit(self, X, y):
    self._incumbent = float(np.max(y))
    return _fit(self, X, y)


def acquisition(self, X):
    """``(log EI, 0)``: the loop scores mean + kappa x sd, so this makes its score log EI."""
    mean, sd = _predict_dist(self, X)
    return log_ei(mean, sd, self._incumbent), np.zeros(len(mean))


def ei_batch(self, X, kappa, b):
    """Greedy on log EI; after each pick the variance shrinks as if it were measured."""
    return self.greedy_batch(X, b, lambda mean, sd: log_ei(mean, sd, self._incumbent))


if __name__ == "__main__":
    GPPredictor.fit, GPPredictor.predict_dist = fit, acquisition
    GPPredictor.predict = lambda self, X: _predict_dist(self, X)[0]
    GPPredictor.select_batch = ei_batch
    sys.argv = ["exp_weaknas.py"] + sys.argv[1:]
    exp_weaknas.main()
