"""``gp``: a Gaussian process on the gene one-hots, with a calibrated uncertainty for the search.

Kernel: squared exponential on the active-block kernel/expand one-hots, the depth one-hot and the
resolution scaled so that its full range counts like two gene changes (one gene change moves an
arch by a squared distance of about 2). The length scale and the noise are picked from a small grid
by the marginal likelihood, the signal variance in closed form. The prior mean (``mean``) is the
mean of the accuracies it is fitted on (``"constant"``, the default), or ``"trend"``: a capacity
trend (:mod:`predictors.trend`: ridge on the per-stage MACs and the resolution, fitted first; the
GP models what it leaves over; docs/search.md, seventh and eighth rounds). Above ``max_points``
measured archs (the cost is cubic in the points kept) it keeps the best half of them and an even
spread of the ranks below. ``with_cost=True`` appends log10 MACs and log10 params, each scaled like
the resolution (its range over the space counts like two gene changes).
Deterministic, a few milliseconds to fit on a few hundred points (docs/search.md).
"""

from __future__ import annotations

import numpy as np

from hwnas.arch import Arch
from hwnas.errors import HwnasError
from hwnas.space import N_GENES, R_COL, get_space

from .base import Predictor
from .features import N_BASE_FEATURES, features
from .trend import Trend, trend_features

# squared length scale, in squared one-hot distance (one gene change: about 2)
LENGTH2_GRID = (8.0, 16.0, 32.0, 64.0, 128.0, 256.0)
NOISE_GRID = (1e-4, 1e-3, 1e-2, 1e-1)  # nugget, as a share of the signal variance
LINEAR_GRID = (0.0, 0.3, 0.7)  # share of a linear kernel (a Bayesian ridge: additive gene effects)
MEANS = ("constant", "trend")  # the prior mean: a constant, or predictors.trend's capacity trend


def _sqdist(A, B, AB, A2=None, B2=None) -> np.ndarray:
    """Squared distances between the rows of ``A`` and ``B``, given ``AB = A @ B.T`` (and ``A2 =
    (A * A).sum(1)``, ``B2`` likewise, if known); in place of a new array: it runs on every
    prediction."""
    d = AB * -2.0
    d += ((A * A).sum(1) if A2 is None else A2)[:, None]
    d += ((B * B).sum(1) if B2 is None else B2)[None, :]
    return np.maximum(d, 0.0, out=d)


def _kernel_from(D2, AB, l2: float, w: float) -> np.ndarray:
    """The kernel from squared distances ``D2`` (overwritten) and one-hot products ``AB``: squared
    exponential of squared length scale ``l2``, plus a share ``w`` of the linear kernel scaled to
    0..1 (the share of gene values two archs have in common)."""
    K = D2
    K *= -0.5 / l2
    np.exp(K, out=K)
    if w:
        K *= 1.0 - w
        K += (w / N_GENES) * AB
    return K


class GPPredictor(Predictor):
    """Gaussian-process regressor on gene one-hots: predicted top-1 (fraction) and its sd."""

    name = "gp"
    gives_spread = True
    # the trend's features with mean="trend" (a subclass may swap them: scripts/exp_stage_trend.py)
    trend_features = staticmethod(trend_features)

    def __init__(
        self,
        seed: int = 0,
        space=None,
        max_points: int = 400,
        with_cost: bool = False,
        linear_grid=LINEAR_GRID,
        mean: str = "constant",
    ):
        if mean not in MEANS:
            raise HwnasError(f"gp mean {mean!r} is not known; allowed: {', '.join(MEANS)}")
        self.space = get_space(1.2 if space is None else space)
        self.mean, self._trend = mean, None
        self.linear_grid = tuple(linear_grid)
        self.max_points, self.with_cost = int(max_points), bool(with_cost)
        self._Linv = None  # L^-1 of the fitted kernel's Cholesky factor; None: not fitted
        if self.with_cost:  # the cost columns' range over the space: smallest and largest subnet
            ends = np.stack(
                [
                    Arch.smallest(min(self.space.resolutions)).to_array(),
                    Arch.largest(max(self.space.resolutions)).to_array(),
                ]
            )
            lo, hi = features(ends, self.space, with_cost=True)[:, N_BASE_FEATURES:]
            self._cost_lo, self._cost_span = lo, np.maximum(hi - lo, 1e-9)

    def _features(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.int64)
        F = features(X, self.space, with_cost=self.with_cost).astype(np.float64)
        res = self.space.resolutions
        span = max(max(res) - min(res), 1)
        F[:, N_BASE_FEATURES - 1] = 2.0 * (X[:, R_COL] - min(res)) / span
        if self.with_cost:
            F[:, N_BASE_FEATURES:] = (
                2.0 * (F[:, N_BASE_FEATURES:] - self._cost_lo) / self._cost_span
            )
        return F

    def _subset(self, y) -> np.ndarray:
        """Rows kept above ``max_points``: the better half of them are the best measured, the rest
        spread evenly over the ranks below, so the model still knows where accuracy is low (a model
        of the top alone is blind there, and its uncertainty sends the search into poor regions)."""
        order = np.argsort(-y, kind="stable")
        half = self.max_points // 2
        rest = order[half:]
        ranks = np.linspace(0, len(rest) - 1, self.max_points - half).round().astype(np.int64)
        spread = rest[ranks]
        return np.sort(np.concatenate([order[:half], spread]))

    def fit(self, X, y) -> "GPPredictor":
        """Fit on archs ``X`` ``(N, 46)`` and their top-1 ``y`` (fractions); returns ``self``."""
        from scipy.linalg import cho_factor, cho_solve, solve_triangular

        X, y = np.asarray(X), np.asarray(y, dtype=np.float64)
        # the trend on every point; the GP models what it leaves over on the kept points, which are
        # chosen by accuracy (chosen by what the trend leaves over, they lost the top: a 20,000-
        # query run sat at 0.8497 from query ~400 to 6,500)
        self._trend = (
            Trend(self.space, self.trend_features).fit(X, y) if self.mean == "trend" else None
        )
        if len(y) > self.max_points:
            keep = self._subset(y)
            X, y = X[keep], y[keep]
        if self._trend is not None:
            y = y - self._trend.predict(X)
        self._prior = float(y.mean())
        F = self._features(X)
        FF, F2 = F @ F.T, (F * F).sum(1)
        D2 = _sqdist(F, F, FF, F2, F2)
        r = y - self._prior
        n, best = len(y), None
        for l2, w in ((l2, w) for l2 in LENGTH2_GRID for w in self.linear_grid):
            R = _kernel_from(D2.copy(), FF, l2, w)
            for g in NOISE_GRID:
                try:
                    c = cho_factor(R + g * np.eye(n), lower=True)
                except np.linalg.LinAlgError:
                    continue
                a = cho_solve(c, r)
                s2 = max(float(r @ a) / n, 1e-12)
                lml = -0.5 * n * np.log(s2) - np.log(np.diag(c[0])).sum()
                if best is None or lml > best[0]:
                    best = (lml, l2, w, g, c, a, s2)
        _, self.l2, self.w, self.noise, c, self._alpha, self.s2 = best
        self._F, self._F2 = F, F2
        # L^-1 once, so each prediction is a matrix product (about twice as fast as a solve)
        self._Linv = solve_triangular(c[0], np.eye(n), lower=True, check_finite=False)
        return self

    def _kernel(self, A, B, A2=None, B2=None) -> np.ndarray:
        AB = A @ B.T
        return _kernel_from(_sqdist(A, B, AB, A2, B2), AB, self.l2, self.w)

    def _posterior(self, X):
        """Features, cross-kernel to the data, mean, ``V = L^-1 K^T`` and variance of ``X``."""
        if self._Linv is None:
            raise HwnasError("predictor gp is not fitted; call fit(X, y) first")
        Fq = self._features(X)
        Fq2 = (Fq * Fq).sum(1)
        K = self._kernel(Fq, self._F, Fq2, self._F2)
        V = self._Linv @ K.T
        prior = (1.0 - self.w) + self.w * Fq2 / N_GENES
        var = self.s2 * np.maximum(prior - np.einsum("ij,ij->j", V, V), 0.0)
        mean = self._prior + K @ self._alpha
        if self._trend is not None:
            mean = mean + self._trend.predict(X)
        return Fq, mean, V, var

    def predict_dist(self, X) -> tuple:
        """``(mean, standard deviation)`` of the accuracy, fractions."""
        _, mean, _, var = self._posterior(X)
        return mean, np.sqrt(var)

    def predict(self, X) -> np.ndarray:
        """Posterior mean top-1 (fraction) of each row of ``X``."""
        return self.predict_dist(X)[0]

    def select_batch(self, X, kappa: float, b: int) -> np.ndarray:
        """Indices of ``b`` rows of ``X`` for one batch of queries (GP-BUCB, Desautels et al. 2014).

        Greedy on mean + kappa x sd; after each pick the variance is updated as if that row had been
        measured (its answer is not needed for the variance), so a batch does not spend several
        queries on what one of them would already tell.
        """
        return self.greedy_batch(X, b, lambda mean, sd: mean + kappa * sd)

    def greedy_batch(self, X, b: int, score) -> np.ndarray:
        """Indices of ``b`` rows of ``X``, each the best of ``score(mean, sd)`` (arrays) with the
        variance updated after every pick as if that row had been measured (the mean is kept)."""
        Fq, mean, V, var = self._posterior(X)
        picked = []
        free = np.ones(len(X), dtype=bool)
        for _ in range(min(b, len(X))):
            j = int(np.argmax(np.where(free, score(mean, np.sqrt(var)), -np.inf)))
            picked.append(j)
            free[j] = False
            cov = self.s2 * (self._kernel(Fq, Fq[j : j + 1])[:, 0] - V.T @ V[:, j])
            var = np.maximum(var - cov * cov / (var[j] + self.s2 * self.noise), 0.0)
        return np.array(picked, dtype=np.int64)
