"""WeakNAS: fit a weak predictor on what was measured, keep its predicted top-N, measure M of them, repeat.

``weaknas_pool`` is the paper's version (Wu et al., NeurIPS 2021) on OFA: a fixed pool of 10,000 unique
random subnets within the budget, 100 random initial queries, then per iteration XGBoost (the paper's
settings, whatever ``--predictor`` says) on all measured pairs, the predicted top N = 1000 of the pool, M = 100 drawn uniformly from its unmeasured members.

``weaknas`` is hwnas's default: candidates are drawn under the budgets directly and refreshed every
iteration by evolving the predicted top on the predictor (tens of thousands of cheap predictions per
iteration), and epsilon = M/N moves from exploration (0.1) to exploitation (1.0) over the iterations.
In multi-objective mode candidates are ranked by non-dominated sorting of (predicted accuracy, cost)
and the M queries are spread along the cost axis of the front.
"""

from __future__ import annotations

import math

import numpy as np

from ..arch import crossover, mutate, unique_rows


def _fit(ctx, predictor=None):
    X, y = ctx.queries.X(), ctx.queries.y()
    ok = ~np.isnan(y)
    return ctx.make_predictor(predictor).fit(X[ok], y[ok])


def weaknas_pool(ctx, pool_size=10_000, n_init=100, top_n=1000, m=100):
    q, rng = ctx.queries, ctx.rng
    pool = ctx.problem.sample_feasible(pool_size, rng, tilt=False)
    first = rng.choice(len(pool), size=min(n_init, len(pool)), replace=False)
    q.ask(pool[first])
    q.phase_name = "iter"
    while not q.exhausted:
        # the paper's XGBoost (gbtree, depth 20, 1000 rounds) on raw gene values, no cost features
        pred = _fit(ctx, "xgb-paper").predict(pool)
        top = np.argsort(-pred, kind="stable")[:top_n]
        todo = top[~q.measured_mask(pool[top])]
        if len(todo) == 0:  # the predicted top is all measured: widen to the whole pool
            todo = np.flatnonzero(~q.measured_mask(pool))
            if len(todo) == 0:
                break
        pick = rng.choice(todo, size=min(m, len(todo), q.remaining), replace=False)
        q.ask(pool[pick])


def _schedule(budget: int, max_iters: int = 10, init_frac: float = 0.2):
    """(n_init, per-iteration M, number of iterations) for a query budget."""
    n_init = int(min(100, max(10, round(init_frac * budget))))
    iters = max(1, min(max_iters, (budget - n_init) // 5))
    m = max(1, math.ceil((budget - n_init) / iters))
    return n_init, m, iters


def nondominated_rank(acc, cost, limit=None) -> np.ndarray:
    """Front number of each point (0 = Pareto front) for maximising ``acc`` and minimising ``cost``.

    Two objectives allow peeling fronts in O(N log N) each: sorted by cost, a point is on the current
    front when it beats the accuracy of every cheaper remaining point. Peeling stops once ``limit``
    points are ranked; the rest get rank ``len(acc)``.
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


class _Scorer:
    """Score = predicted mean (+ optimism x ensemble spread); multi-objective adds front rank by cost."""

    def __init__(self, ctx, predictor):
        self.ctx, self.predictor, self.optimism = ctx, predictor, ctx.options.get("optimism", 0.0)

    def __call__(self, X):
        mean, spread = self.predictor.predict_dist(X)
        return mean + self.optimism * spread

    def order(self, X, score, limit=None):
        """Candidate indices from best to worst (multi-objective: exact for the first ``limit``)."""
        if not self.ctx.problem.multi_objective:
            return np.argsort(-score, kind="stable")
        cost = self.ctx.problem.costs(X)[self.ctx.problem.cost_key]
        rank = nondominated_rank(score, cost, limit=limit)
        return np.lexsort((-score, rank))


def _evolve_on_predictor(ctx, scorer, parents, generations=6, children=4000, keep=256, mutate_prob=0.08):
    """Cheap evolution on the predictor around ``parents``; returns every feasible child made."""
    problem, rng, res = ctx.problem, ctx.rng, ctx.problem.space.resolutions
    made = []
    P = parents
    for _ in range(generations):
        a = P[rng.integers(len(P), size=children // 2)]
        b = P[rng.integers(len(P), size=children // 2)]
        kids = np.concatenate([mutate(a, rng, mutate_prob, res), crossover(a, b, rng)])
        kids = unique_rows(problem.repair(kids, rng) if ctx.options.get("repair", True) else kids[problem.feasible(kids)])
        if len(kids) == 0:
            continue
        made.append(kids)
        union = unique_rows(np.concatenate([P, kids]))
        P = union[scorer.order(union, scorer(union), keep)[:keep]]
    return np.concatenate(made) if made else parents[:0]


def _spread_pick(ctx, X, order, m):
    """Multi-objective: ``m`` picks spread along the cost axis, best-ranked first within each cost bin."""
    cost = ctx.problem.costs(X)[ctx.problem.cost_key]
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


def weaknas(ctx, pool_size=20_000):
    q, rng, problem = ctx.queries, ctx.rng, ctx.problem
    n_init, m, iters = _schedule(q.budget, ctx.options.get('iters', 10), ctx.options.get('init_frac', 0.2))
    q.ask(problem.sample_feasible(n_init, rng, tilt=False))
    q.phase_name = "iter"
    it = 0
    while not q.exhausted:
        scorer = _Scorer(ctx, _fit(ctx))
        fresh = problem.sample_feasible(pool_size, rng, tilt=True)
        measured = q.X()
        seeds = np.concatenate([measured, fresh])
        seeds = seeds[scorer.order(seeds, scorer(seeds), 256)[:256]]
        cand = unique_rows(np.concatenate([fresh, _evolve_on_predictor(ctx, scorer, seeds, generations=ctx.options.get('generations', 6), children=ctx.options.get('children', 4000), mutate_prob=ctx.options.get('mutate_prob', 0.08))]))
        cand = cand[~q.measured_mask(cand)]
        if len(cand) == 0:
            break
        score = scorer(cand)
        take = min(m, q.remaining)
        # epsilon = M/N rises geometrically from 0.1 (explore the predicted top 10M) to 1 (take the top M)
        eps0 = ctx.options.get('eps_start', 0.1)
        eps = eps0 ** (1 - min(it, iters - 1) / max(iters - 1, 1))
        order = scorer.order(cand, score, limit=int(round(take / eps)))
        top_n = order[: max(take, int(round(take / eps)))]
        if problem.multi_objective:
            pick = top_n[_spread_pick(ctx, cand[top_n], np.arange(len(top_n)), take)]
        else:
            pick = rng.choice(top_n, size=min(take, len(top_n)), replace=False)
        q.ask(cand[pick])
        it += 1
