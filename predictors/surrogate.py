"""``surrogate``: a table of measured accuracies that also answers the archs it does not list.

The ``table`` oracle answers only archs in its CSV. ``surrogate`` reads the same CSV (``--table``),
answers those archs with their measured accuracy, and every other arch with a weak predictor
(``predictor``, default ``linear``: it extrapolates) fitted once on the whole table: a surrogate
benchmark, as NAS-Bench-301 is for DARTS, built from accuracies you measured (for example the
``supernet`` answers of an earlier run). Answers are estimates outside the table; the oracle's
version carries the table's hash, the predictor and its seed, so they never mix with measured ones.
"""

from __future__ import annotations

import csv
import io

import numpy as np

from hwnas.arch import Arch, validate
from hwnas.paths import read_text

from .base import Answer
from .registry import PREDICTORS
from .table import TableOracle


class SurrogateOracle(TableOracle):
    """Measured accuracy for archs in ``table``; a ``predictor`` fitted on it for the rest."""

    name = "surrogate"

    def __init__(self, space, table, predictor: str = "linear", seed: int = 0):
        super().__init__(space, table)  # reads and checks the CSV (one-line errors)
        self.predictor, self.seed = PREDICTORS.check(predictor), int(seed)
        with io.StringIO(read_text(table, "accuracy table"), newline="") as f:
            X = np.stack([Arch.from_json(row["arch"]).to_array() for row in csv.DictReader(f)])
        y = np.array([self.table[Arch.from_array(row).id][0] for row in X])
        self.model = PREDICTORS.load(predictor)(seed=self.seed, space=space).fit(X, y)
        self.version = f"{self.version}+{self.predictor}-s{self.seed}"

    def evaluate(self, X) -> list:
        """One :class:`Answer` per row: the table's where listed, else the model's (0 seconds)."""
        X = validate(X)
        guess = np.clip(self.model.predict(X), 0.0, 1.0)
        ids = [Arch.from_array(row).id for row in X]
        return [
            Answer(*self.table[i]) if i in self.table else Answer(float(g), 0.0)
            for i, g in zip(ids, guess, strict=True)
        ]
