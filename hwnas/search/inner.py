"""The inner optimiser of WeakNAS: find the archs a fitted predictor scores best, under the budgets.

Predictions cost microseconds, so this spends many of them: an evolution (mutation + uniform
crossover, children repaired into the budgets) on the score, then a polish that tries every
single-gene change of the best candidates (a change that breaks a budget is repaired by shrinking
other genes, so the polish can trade one gene for another along the budget boundary).
"""

from __future__ import annotations

import numpy as np

from ..arch import canonicalize, crossover, first_occurrences, mutate, unique_rows
from ..space import D_COLS, DEPTHS, E_COLS, EXPAND_RATIOS, KERNEL_SIZES, KS_COLS, R_COL


def gene_values(space) -> list:
    """``[(column, allowed values)]`` for all 46 genes of ``space``."""
    return (
        [(c, KERNEL_SIZES) for c in range(KS_COLS.start, KS_COLS.stop)]
        + [(c, EXPAND_RATIOS) for c in range(E_COLS.start, E_COLS.stop)]
        + [(c, DEPTHS) for c in range(D_COLS.start, D_COLS.stop)]
        + [(R_COL, space.resolutions)]
    )


def offspring(P, rng, n, mutate_prob, problem) -> np.ndarray:
    """One generation's children of population ``P``: ``n // 2`` mutants and ``n // 2`` uniform
    crossovers of random parents, repaired into ``problem``'s budgets, duplicates dropped."""
    a = P[rng.integers(len(P), size=n // 2)]
    b = P[rng.integers(len(P), size=n // 2)]
    kids = np.concatenate(
        [mutate(a, rng, mutate_prob, problem.space.resolutions), crossover(a, b, rng)]
    )
    return unique_rows(problem.repair(kids, rng))


def neighbours(X, space) -> np.ndarray:
    """Every single-gene change of every row of ``X`` (canonical, duplicates dropped)."""
    out = []
    for c, vals in gene_values(space):
        for v in vals:
            Y = X[X[:, c] != v].copy()
            Y[:, c] = v
            out.append(Y)
    return unique_rows(canonicalize(np.concatenate(out)))


class InnerOptimiser:
    """``run(parents)`` -> (candidates, scores): every feasible arch it scored, best first.

    ``score(X)`` is the search's acquisition (higher is better); ``order(X, s, keep)`` ranks for
    survival (single objective: by score; multi-objective: by front rank, then score).
    """

    def __init__(
        self,
        problem,
        rng,
        score,
        order,
        generations=12,
        children=2000,
        keep=64,
        mutate_prob=0.04,
        polish_rounds=3,
        polish_top=4,
    ):
        self.problem, self.rng, self.score, self.order = problem, rng, score, order
        self.generations, self.children, self.keep = generations, children, keep
        self.mutate_prob = mutate_prob
        self.polish_rounds, self.polish_top = polish_rounds, polish_top
        self._seen, self._scores = [], []

    def _add(self, X) -> np.ndarray:
        s = self.score(X)
        self._seen.append(X)
        self._scores.append(s)
        return s

    def _survive(self, P, ps, new):
        """Score ``new``; the best ``keep`` of population and new (duplicates once) survive."""
        U, us = np.concatenate([P, new]), np.concatenate([ps, self._add(new)])
        first = first_occurrences(U)
        U, us = U[first], us[first]
        top = self.order(U, us, self.keep)[: self.keep]
        return U[top], us[top]

    def run(self, parents):
        """Evolve from ``parents`` then polish; every feasible arch scored, best first, and its
        score."""
        problem, rng = self.problem, self.rng
        P = unique_rows(parents)
        ps = self._add(P)
        for _ in range(self.generations):
            kids = offspring(P, rng, self.children, self.mutate_prob, problem)
            if len(kids) == 0:
                continue
            P, ps = self._survive(P, ps, kids)
        for _ in range(self.polish_rounds):
            nb = problem.repair(neighbours(P[: self.polish_top], problem.space), rng)
            if len(nb) == 0:
                break
            P, ps = self._survive(P, ps, nb)
        X, s = np.concatenate(self._seen), np.concatenate(self._scores)
        first = first_occurrences(X)
        X, s = X[first], s[first]
        best = self.order(X, s, None)
        return X[best], s[best]
