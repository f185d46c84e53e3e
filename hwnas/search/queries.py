"""A run's oracle queries: the budget, the order they were made in, and what each returned.

``run_search`` calls ``measure(X)`` with what an algorithm asks: rows this run has already measured
cost nothing; new unique rows are measured until the query budget is spent (later rows read NaN and
``exhausted`` turns true). Answers come from the :class:`~predictors.evaluator.Evaluator`, which
stores each one as it arrives; a resumed run replays the same decisions and finds every earlier
answer in the store. With a pool (``--pool``), rows are first snapped to their nearest pool members,
so no algorithm measures outside it.
"""

from __future__ import annotations

import numpy as np

from ..arch import Arch, row_keys


class BudgetExhausted(Exception):
    """Raised by adapters around third-party loops (OFA's EvolutionFinder) to stop them at the
    budget."""


class Queries:
    """A run's oracle queries (see the module docstring): :meth:`measure` spends the budget."""

    def __init__(self, evaluator, problem, budget: int, progress: bool = False):
        self.evaluator, self.problem, self.budget = evaluator, problem, int(budget)
        self.index = {}  # row keys (hwnas.arch.row_keys, as a pair) -> position in the log
        # the first of each pair in ``index``, grown with it: measured_mask's vectorised pre-filter
        self._first_keys = np.zeros(0, dtype=np.uint64)
        self.rows, self.acc, self.phase = [], [], []
        self.phase_name = "init"
        self._bar = None
        if progress:
            from tqdm import tqdm

            self._bar = tqdm(total=self.budget, desc="search", unit="query", dynamic_ncols=True)

    # -- state -------------------------------------------------------------------------------------
    @property
    def n(self) -> int:
        """Queries made so far."""
        return len(self.rows)

    @property
    def remaining(self) -> int:
        """Queries left in the budget."""
        return self.budget - self.n

    @property
    def exhausted(self) -> bool:
        """True once the budget is spent."""
        return self.n >= self.budget

    def X(self) -> np.ndarray:
        """Every measured arch in query order: int64 ``(n, 46)``."""
        return np.array(self.rows, dtype=np.int64).reshape(-1, 46)

    def y(self) -> np.ndarray:
        """Their accuracies (fractions 0..1, NaN for a failed query): float64 ``(n,)``."""
        return np.array(self.acc, dtype=np.float64)

    def measured_mask(self, X) -> np.ndarray:
        """Boolean mask ``(N,)``: which rows of ``X`` this run has measured."""
        # vectorised on the row keys (equal keys: equal genes), checked in Python only where the
        # first key matches: the inner optimiser asks this of tens of thousands of rows
        X = np.asarray(X, dtype=np.int64)
        if not self.rows or not len(X):
            return np.zeros(len(X), dtype=bool)
        k1, k2 = row_keys(X)
        hit = np.isin(k1, self._first_keys)
        at = np.flatnonzero(hit)
        pairs = zip(k1[at].tolist(), k2[at].tolist(), strict=True)
        hit[at] = [pair in self.index for pair in pairs]
        return hit

    def best(self):
        """(row, accuracy) of the best measured arch, or (None, nan)."""
        y = self.y()
        if not len(y) or np.isnan(y).all():
            return None, float("nan")
        i = int(np.nanargmax(y))
        return self.rows[i], float(y[i])

    # -- asking ------------------------------------------------------------------------------------
    def measure(self, X, phase: str | None = None) -> np.ndarray:
        """Accuracy per row of ``X``; measures new rows while the budget lasts (NaN past it).

        New rows are recorded under ``phase`` (default: the current ``phase_name``)."""
        if phase is not None:
            self.phase_name = phase
        X = self.problem.snap(X)
        k1, k2 = row_keys(X)
        keys = list(zip(k1.tolist(), k2.tolist(), strict=True))
        fresh = {}  # a key not measured yet -> its first row, while the budget lasts
        for i, key in enumerate(keys):
            if key not in self.index and key not in fresh and len(fresh) < self.remaining:
                fresh[key] = i
        if fresh:
            at = list(fresh.values())
            acc = self.evaluator.evaluate(X[at])
            self._first_keys = np.concatenate([self._first_keys, k1[at]])
            for key, row, a in zip(fresh, X[at], acc, strict=True):
                self.index[key] = len(self.rows)
                self.rows.append(row)
                self.acc.append(float(a))
                self.phase.append(self.phase_name)
            if self._bar is not None:
                self._bar.update(len(fresh))
                self._bar.set_postfix(best=f"{self.best()[1]:.4f}", refresh=False)
        return np.array([self.acc[self.index[k]] if k in self.index else np.nan for k in keys])

    def close(self):
        """Close the progress bar, if there is one."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def history(self) -> list:
        """One dict per query in the order made: arch, accuracy, costs, phase."""
        X = self.X()
        costs = self.problem.costs(X) if len(X) else {}
        out = []
        for i, row in enumerate(X):
            arch = Arch.from_array(row)
            rec = {
                "query": i + 1,
                "arch_id": arch.id,
                "accuracy": self.acc[i],
                "phase": self.phase[i],
            }
            rec.update({k: float(v[i]) for k, v in costs.items()})
            rec["arch"] = arch.to_json()
            out.append(rec)
        return out
