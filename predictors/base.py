"""The accuracy side's two interfaces: an Oracle measures, a Predictor guesses.

Every oracle and every weak predictor obeys one of these, so the search, the store and the executors
never care which one they hold.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Iterator, Optional

import numpy as np


@dataclass
class Answer:
    """One oracle answer: top-1 accuracy as a fraction 0..1 (NaN when it failed), and its cost."""

    accuracy: float
    seconds: float
    error: Optional[str] = None

    @property
    def ok(self) -> bool:
        """True when the answer holds an accuracy: no error and not NaN."""
        return self.error is None and self.accuracy == self.accuracy  # not NaN


class Oracle(ABC):
    """Measures accuracy of archs of one :class:`~hwnas.space.Space` (expensive; answers are
    stored).

    ``name`` and ``version`` are recorded with every answer; answers of different (name, version)
    are never mixed. Oracles must be picklable (executors ship them to worker processes).
    """

    name: str = "oracle"
    version: str = "1"
    is_proxy: bool = False  # True for training-free proxies: results say a proxy was used
    # which of the run's oracle settings (see from_settings) this oracle reads; make_oracle
    # refuses any other one that is set, so a setting is never silently ignored
    reads: tuple = ()

    def __init__(self, space):
        self.space = space

    @classmethod
    def from_settings(cls, space, settings: dict, **kw) -> "Oracle":
        """Make one for ``space`` from the run's oracle ``settings`` (``acc_predictor``, ``table``,
        ``weights``, ``data``, ``device``: each oracle reads those named in :attr:`reads` and says
        which it misses) and its own constructor keywords ``kw``."""
        return cls(space, **kw)

    @property
    def key(self) -> str:
        """Identity of this oracle's answers in the store, e.g. ``ofa-mlp@1/w1.2``."""
        return f"{self.name}@{self.version}/w{self.space.width}"

    @abstractmethod
    def evaluate(self, X: np.ndarray) -> list:
        """One :class:`Answer` per row of the ``(N, 46)`` batch, in order.

        A failure of one arch is an Answer with ``error`` set, never an exception for the batch.
        """

    def evaluate_iter(self, X: np.ndarray) -> Iterator:
        """Yield ``(row_index, Answer)`` as answers become available (slow oracles override)."""
        yield from enumerate(self.evaluate(X))


class Predictor(ABC):
    """A weak predictor: fit on a few hundred (arch, accuracy) pairs, predict millions."""

    name: str = "predictor"
    gives_spread: bool = False  # True when predict_dist reports an uncertainty (else spread 0)

    @abstractmethod
    def fit(self, X: np.ndarray, y: np.ndarray) -> "Predictor":
        """Fit from scratch on an ``(N, 46)`` batch and accuracies ``y`` (fractions)."""

    @abstractmethod
    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted accuracy per row, float64 ``(N,)``."""

    def predict_dist(self, X: np.ndarray) -> tuple:
        """``(mean, spread)``; single models report zero spread, ensembles their disagreement."""
        mean = self.predict(X)
        return mean, np.zeros_like(mean)
