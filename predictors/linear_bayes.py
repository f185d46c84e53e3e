"""``linear-bayes``: the ``linear`` ridge model plus a predictive spread, for optimistic search.

Same features, same closed-form fit and the same mean prediction as ``linear``; ``predict_dist``
adds the posterior predictive standard deviation of Bayesian ridge regression,
``sigma * sqrt(1 + f' (F'F + alpha I)^-1 f)`` on standardised features ``f``, with the noise
``sigma^2`` estimated by leave-one-out (PRESS) residuals, so it is not shrunk by overfitting. Archs
unlike the training set get a wider spread: what an upper-confidence-bound search (WeakNAS'
``optimism`` option) needs, at milliseconds per fit instead of an ensemble's seconds.
"""

from __future__ import annotations

import numpy as np

from hwnas.errors import HwnasError

from .linear import LinearPredictor


class BayesLinearPredictor(LinearPredictor):
    """``linear`` plus a predictive spread (fractions of accuracy, like ``predict``)."""

    name = "linear-bayes"
    gives_spread = True

    def fit(self, X, y) -> "BayesLinearPredictor":
        """See :meth:`Predictor.fit`; also keeps the posterior covariance and the noise level."""
        F1, A = self._normal_matrix(X)
        self._cov = np.linalg.inv(A)  # posterior covariance / sigma^2
        y = np.asarray(y, dtype=np.float64)
        self._w = self._cov @ (F1.T @ y)
        leverage = np.einsum("ij,jk,ik->i", F1, self._cov, F1)
        loo = (y - F1 @ self._w) / np.maximum(1.0 - leverage, 1e-6)
        self._sigma2 = float(np.mean(loo**2))
        return self

    def predict_dist(self, X) -> tuple:
        """``(mean, spread)``: the ridge prediction and its posterior predictive std (fractions)."""
        if self._w is None:
            raise HwnasError(f"predictor {self.name} is not fitted; call fit(X, y) first")
        F1 = np.c_[(self._features(X) - self._mu) / self._sd, np.ones(len(X))]
        mean = F1 @ self._w
        spread = np.sqrt(self._sigma2 * (1.0 + np.einsum("ij,jk,ik->i", F1, self._cov, F1)))
        return mean, spread

    def predict(self, X) -> np.ndarray:
        """Predicted accuracy per row (the posterior mean), float64 ``(N,)``."""
        return self.predict_dist(X)[0]
