"""WeakNAS: fit a weak predictor on what was measured, keep its predicted top-N, measure M of them,
repeat.

``weaknas_pool`` is the paper's version (Wu et al., NeurIPS 2021) on OFA: a fixed pool of 10,000
unique random subnets within the budget, 100 random initial queries, then per iteration XGBoost (the
paper's settings, whatever ``--predictor`` says) on all measured pairs, the predicted top N = 1000
of the pool, M = 100 drawn uniformly from its unmeasured members.

``weaknas`` is hwnas's default (docs/search.md): a Gaussian process (``--predictor gp``) refit
every iteration on what this run measured, an inner optimiser that spends ~30,000 predictions per
iteration on its upper confidence bound (:mod:`.inner`), and batches picked by GP-BUCB. Batch sizes
grow with the queries made so far, never with the budget: the run is anytime. In multi-objective
mode candidates are ranked by non-dominated sorting of (acquisition, cost) and each batch is spread
along the cost axis of the front. With ``--pool`` the whole pool is scored instead of evolved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .algorithm import Options, StepAlgorithm
from .inner import InnerOptimiser


def _fit(alg, predictor=None, max_points=None):
    X, y = alg.archive.X(), alg.archive.y()
    ok = ~np.isnan(y)
    model = alg.make_predictor(predictor)
    if max_points is not None and hasattr(model, "max_points"):
        model.max_points = max_points
    return model.fit(X[ok], y[ok])


@dataclass(frozen=True)
class WeakNASPoolOptions(Options):
    """The paper's settings: pool size, initial queries, predicted top N, M measured per
    iteration."""

    pool_size: int = 10_000
    n_init: int = 100
    top_n: int = 1000
    m: int = 100


class WeakNASPool(StepAlgorithm):
    Options = WeakNASPoolOptions

    def steps(self):
        q, rng, o = self.archive, self.rng, self.options
        pool = self.problem.sample_feasible(o.pool_size, rng, tilt=False)
        first = rng.choice(len(pool), size=min(o.n_init, len(pool)), replace=False)
        yield pool[first]
        self._phase = "iter"
        while not q.exhausted:
            # the paper's XGBoost (gbtree, depth 20, 1000 rounds) on raw gene values, no cost
            # features
            pred = _fit(self, "xgb-paper").predict(pool)
            top = np.argsort(-pred, kind="stable")[: o.top_n]
            todo = top[~q.measured_mask(pool[top])]
            if len(todo) == 0:  # the predicted top is all measured: widen to the whole pool
                todo = np.flatnonzero(~q.measured_mask(pool))
                if len(todo) == 0:
                    return
            pick = rng.choice(todo, size=min(o.m, len(todo), q.remaining), replace=False)
            yield pool[pick]


def nondominated_rank(acc, cost, limit=None) -> np.ndarray:
    """Front number of each point (0 = Pareto front) for maximising ``acc`` and minimising ``cost``.

    Two objectives allow peeling fronts in O(N log N) each: sorted by cost, a point is on the
    current front when it beats the accuracy of every cheaper remaining point. Peeling stops once
    ``limit`` points are ranked; the rest get rank ``len(acc)``.
    """
    acc, cost = np.asarray(acc, float), np.asarray(cost, float)
    order = np.lexsort((-acc, cost))
    rank = np.full(len(acc), len(acc), dtype=np.int64)
    remaining, r, ranked = order, 0, 0
    while len(remaining) and (limit is None or ranked < limit):
        a = acc[remaining]
        prev_best = np.concatenate([[-np.inf], np.maximum.accumulate(a)[:-1]])
        on_front = a > prev_best
        rank[remaining[on_front]] = r
        ranked += int(on_front.sum())
        remaining = remaining[~on_front]
        r += 1
    return rank


def _ranker(problem):
    """``order(X, score, limit)``: candidate indices best first (multi-objective: front rank by
    cost, then score; exact for the first ``limit``)."""

    def order(X, score, limit=None):
        if not problem.multi_objective:
            return np.argsort(-score, kind="stable")
        rank = nondominated_rank(score, problem.costs(X)[problem.cost_key], limit=limit)
        return np.lexsort((-score, rank))

    return order


def _spread_pick(problem, X, order, m):
    """Multi-objective: ``m`` picks spread along the cost axis, best-ranked first within each cost
    bin."""
    cost = problem.costs(X)[problem.cost_key]
    bins = np.linspace(cost.min(), cost.max() + 1e-9, m + 1)
    which = np.digitize(cost, bins) - 1
    picked, used = [], set()
    for i in order:
        if which[i] not in used:
            used.add(which[i])
            picked.append(i)
            if len(picked) == m:
                break
    chosen = set(picked)
    rest = [i for i in order if i not in chosen]
    return np.array(picked + rest[: m - len(picked)], dtype=np.int64)


def batch_size(n_measured: int, smallest: int = 5, share: float = 0.05) -> int:
    """Queries per iteration after ``n_measured``: ``share`` of what is measured, at least
    ``smallest``. It depends only on what was measured so far, never on the query budget, so the
    first N queries of a longer run are exactly the N-query run (anytime)."""
    return max(smallest, int(math.ceil(share * n_measured)))


def _candidates(problem, rng, o, score, order, parents):
    """Unmeasured-or-not candidates, best-scored first, from the inner optimiser."""
    inner = InnerOptimiser(
        problem,
        rng,
        score,
        order,
        generations=o.generations,
        children=o.children,
        keep=o.keep,
        mutate_prob=o.mutate_prob,
        polish_rounds=o.polish_rounds,
    )
    return inner.run(parents)[0]


def _pool_candidates(pool, score, order, chunk=20_000):
    """With ``--pool``: every pool member, best-scored first (the pool is scored whole)."""
    s = np.concatenate([score(pool[i : i + chunk]) for i in range(0, len(pool), chunk)])
    return pool[order(pool, s, None)]


@dataclass(frozen=True)
class WeakNASOptions(Options):
    """hwnas's default search (docs/search.md); ``gp_points`` caps the GP's training set."""

    kappa: float = 2.0  # upper confidence bound: mean + kappa x sd
    n_init: int = 20
    gp_points: int | None = None
    fresh: int = 2000
    top_measured: int = 32
    generations: int = 12
    children: int = 2000
    keep: int = 64
    mutate_prob: float = 0.04
    polish_rounds: int = 3
    batch_min: int = 5
    batch_share: float = 0.05
    bucb: bool = True
    batch_pool: int = 2000


class WeakNAS(StepAlgorithm):
    Options = WeakNASOptions

    def steps(self):
        q, rng, problem, o = self.archive, self.rng, self.problem, self.options
        order = _ranker(problem)
        yield problem.sample_feasible(o.n_init, rng, tilt=False)
        self._phase = "iter"
        while not q.exhausted:
            model = _fit(self, max_points=o.gp_points)

            def score(X, model=model):
                mean, sd = model.predict_dist(X)
                return mean + o.kappa * sd

            y = q.y()
            measured = q.X()[np.argsort(-np.nan_to_num(y, nan=-1.0), kind="stable")]
            fresh = problem.sample_feasible(o.fresh, rng, tilt=True)
            parents = np.concatenate(
                [measured[: o.top_measured], fresh[order(fresh, score(fresh), 32)[:32]]]
            )
            if problem.pool is None:
                cand = _candidates(problem, rng, o, score, order, parents)
            else:
                cand = _pool_candidates(problem.pool, score, order)
            cand = cand[~q.measured_mask(cand)]
            if len(cand) == 0:
                return
            take = min(batch_size(q.n, o.batch_min, o.batch_share), q.remaining)
            if problem.multi_objective:
                top = cand[: 10 * take]
                pick = _spread_pick(problem, top, np.arange(len(top)), take)
            elif hasattr(model, "select_batch") and o.bucb:
                pick = model.select_batch(cand[: o.batch_pool], o.kappa, take)
            else:
                pick = np.arange(min(take, len(cand)))
            yield cand[pick]
