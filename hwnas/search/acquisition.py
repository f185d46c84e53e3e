"""Acquisition functions of the weak predictor's ``(mean, sd)``: what the inner optimiser ranks by
and each batch is picked on (``--option acquisition=NAME``; docs/search.md, twelfth round)."""

from __future__ import annotations

import numpy as np

ACQUISITIONS = ("ucb", "ei")  # upper confidence bound (the default), expected improvement
_LOG_SQRT_2PI = 0.5 * np.log(2 * np.pi)


def log_expected_improvement(mean, sd, best: float) -> np.ndarray:
    """``log E[max(y - best, 0)]`` for ``y ~ N(mean, sd^2)`` (top-1 fractions), elementwise.

    Computed in logs, so archs many standard deviations below ``best`` keep an order instead of
    all scoring 0 (as plain EI would in floating point); ``sd`` is taken as at least 1e-12.
    """
    # here, not at the top: scipy.special takes 0.2 s to import, and hwnas.search imports us
    from scipy.special import erfcx, ndtr

    mean = np.asarray(mean, dtype=np.float64)
    sd = np.maximum(np.asarray(sd, dtype=np.float64), 1e-12)
    z = (mean - best) / sd
    out = np.empty_like(z)
    near = z > -3
    zn = z[near]
    out[near] = np.log(zn * ndtr(zn) + np.exp(-0.5 * zn * zn) / np.sqrt(2 * np.pi))
    a = -z[~near]
    # E = sd pdf(z) (1 - a sqrt(pi/2) erfcx(a / sqrt2)); the bracket cancels in floating point
    # beyond a ~ 40, where it is 1/a^2 to within 3/a^2 relative
    mid = a <= 40
    am = np.where(mid, a, 1.0)
    bracket = np.log1p(-am * np.sqrt(np.pi / 2) * erfcx(am / np.sqrt(2)))
    tail = -2 * np.log(np.maximum(a, 1.0))
    out[~near] = -0.5 * a * a - _LOG_SQRT_2PI + np.where(mid, bracket, tail)
    return np.log(sd) + out


def scorer(name: str, kappa: float, best: float):
    """The score of ``(mean, sd)`` arrays for acquisition ``name``: ``mean + kappa x sd`` ("ucb"),
    or the log expected improvement over ``best``, the best measured top-1 ("ei")."""
    if name == "ei":
        return lambda mean, sd: log_expected_improvement(mean, sd, best)
    return lambda mean, sd: mean + kappa * sd
