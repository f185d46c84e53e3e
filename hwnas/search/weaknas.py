"""WeakNAS: fit a weak predictor on what was measured, keep its predicted top-N, measure M of them,
repeat.

``weaknas_pool`` is the paper's version (Wu et al., NeurIPS 2021) on OFA: a fixed pool of 10,000
unique random subnets within the budget, 100 random initial queries, then per iteration XGBoost (the
paper's settings, whatever ``--predictor`` says) on all measured pairs, the predicted top N = 1000
of the pool, M = 100 drawn uniformly from its unmeasured members.

``weaknas`` is hwnas's default (docs/search.md): a Gaussian process (``--predictor gp``) refit
every iteration on what this run measured, an inner optimiser on its upper confidence bound
(:mod:`.inner`: ~30,000 predictions per iteration on an evolution from the best measured archs and
fresh samples; ``--option islands=N`` adds N evolutions from fresh samples alone), and batches
picked by GP-BUCB. Batch sizes grow with the queries made so far, never with the budget: the run is
anytime. In multi-objective mode the first design includes the cheapest subnet, candidates are
ranked by non-dominated sorting of (acquisition, cost), and each batch is spread along the cost
axis, in each cost bin the candidate that most exceeds the measured front. With ``--pool`` the
whole pool is scored instead of evolved. ``--option trust_region=true`` scores only a Hamming ball
around the best measured arch (:class:`TrustRegion`); ``--option acquisition=ei`` ranks by expected
improvement instead of the upper confidence bound (:mod:`.acquisition`).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from predictors.registry import PREDICTORS

from ..arch import Arch, first_occurrences, unique_rows
from .acquisition import ACQUISITIONS, scorer
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
    """The WeakNAS paper's search: XGBoost top-N of a fixed random pool, M drawn from it."""

    Options = WeakNASPoolOptions

    def steps(self):
        """Yield the initial random draw, then M of the predicted top N per iteration."""
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


def _best(y) -> float:
    """The highest accuracy in ``y``, failed queries (NaN) ignored; -inf if there is none."""
    return float(np.nan_to_num(np.asarray(y, dtype=float), nan=-np.inf).max(initial=-np.inf))


def cheapest(problem) -> np.ndarray:
    """``(1, 46)``: the smallest subnet at the smallest searched resolution, snapped to the pool."""
    row = Arch.smallest(min(problem.space.resolutions)).to_array()[None, :]
    return problem.snap(row)


def _gain_pick(problem, q, cand, acq, m):
    """Multi-objective: ``m`` candidates spread over the cost axis (from the cheapest measured or
    candidate to the dearest), in each cost bin the one whose acquisition most exceeds the measured
    front at its cost (the accuracy the front already has there), so each query aims to move the
    front where it lags most."""
    key = problem.cost_key
    c = problem.costs(cand)[key]
    X, y = q.X(), q.y()
    ok = ~np.isnan(y)
    mc, my = problem.costs(X[ok])[key], y[ok]
    order = np.argsort(mc, kind="stable")
    stair = np.maximum.accumulate(my[order])
    pos = np.searchsorted(mc[order], c, side="right") - 1
    have = np.where(pos >= 0, stair[np.maximum(pos, 0)], -np.inf)
    gain = acq - have
    lo, hi = min(c.min(), mc.min()), c.max() + 1e-9
    which = np.minimum(((c - lo) / (hi - lo) * m).astype(np.int64), m - 1)
    best = np.lexsort((-gain, which))
    first = best[np.r_[True, which[best][1:] != which[best][:-1]]]
    first = first[np.argsort(-gain[first], kind="stable")][:m]
    ranked = np.argsort(-gain, kind="stable")
    rest = ranked[~np.isin(ranked, first)]
    return np.concatenate([first, rest[: m - len(first)]]).astype(np.int64)


def batch_size(n_measured: int, smallest: int = 5, share: float = 0.05) -> int:
    """Queries per iteration after ``n_measured``: ``share`` of what is measured, at least
    ``smallest``. It depends only on what was measured so far, never on the query budget, so the
    first N queries of a longer run are exactly the N-query run (anytime)."""
    return max(smallest, int(math.ceil(share * n_measured)))


def best_fresh(problem, rng, o, score, order, k: int) -> np.ndarray:
    """The ``k`` best-scored of ``o.fresh`` new feasible samples."""
    fresh = problem.sample_feasible(o.fresh, rng, tilt=True)
    return fresh[order(fresh, score(fresh), k)[:k]]


def inner_parents(problem, rng, o, score, order, best_first) -> np.ndarray:
    """The inner optimiser's parents: the ``o.top_measured`` first rows of ``best_first`` (the
    measured archs, best first) and the 32 best-scored of ``o.fresh`` new feasible samples."""
    fresh = best_fresh(problem, rng, o, score, order, 32)
    return np.concatenate([best_first[: o.top_measured], fresh])


def _inner_candidates(problem, rng, o, score, order, parents):
    """``(archs, scores)``: every candidate the inner optimiser scored (measured or not), best
    first; archs outside a trust region are left out."""
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
    X, s = inner.run(parents)
    ok = np.isfinite(s)
    return X[ok], s[ok]


def _pool_candidates(pool, score, order, chunk=20_000):
    """With ``--pool``: ``(members, scores)``, every pool member best-scored first (the pool is
    scored whole)."""
    s = np.concatenate([score(pool[i : i + chunk]) for i in range(0, len(pool), chunk)])
    best = order(pool, s, None)
    best = best[np.isfinite(s[best])]
    return pool[best], s[best]


# what only a single-objective search reads, and the inner optimiser's knobs (unread with --pool)
_SINGLE_OBJECTIVE = (
    "kappa",
    "acquisition",
    "bucb",
    "batch_pool",
    "islands",
    "islands_until",
    "trust_region",
) + tuple(f"tr_{k}" for k in ("init", "min", "max", "succ", "fail", "restart"))
_INNER = ("generations", "children", "keep", "mutate_prob", "polish_rounds")
# read only with a predictor that has what they set: key -> (does predictor class cls?, needs)
_BATCHES = (
    lambda cls: hasattr(cls, "greedy_batch"),
    "a predictor that picks GP-BUCB batches (--predictor gp)",
)
_PREDICTOR_NEEDS = {
    "bucb": _BATCHES,
    "batch_pool": _BATCHES,
    "acquisition": (
        lambda cls: cls.gives_spread,
        "a predictor with an uncertainty (--predictor gp, linear-bayes or ensemble)",
    ),
    "gp_points": (
        lambda cls: "max_points" in inspect.signature(cls).parameters,
        "a predictor with a cap on its training set (--predictor gp)",
    ),
}


@dataclass(frozen=True)
class WeakNASOptions(Options):
    """hwnas's default search (docs/search.md); ``gp_points`` caps the GP's training set."""

    kappa: float = 2.0  # upper confidence bound: mean + kappa x sd
    # "ei": log expected improvement over the best measured (with trust_region=true: better under
    # 400M up to 1,000 queries, worse on other budgets and in long runs; docs/search.md, 12th round)
    acquisition: Literal[ACQUISITIONS] = "ucb"
    n_init: int = 20
    # single objective: more inner evolutions per iteration, each from fresh samples alone, until
    # that many archs are measured (off: they lead long runs into worse basins; docs/search.md)
    islands: int = 0
    islands_until: int = 1000
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
    trust_region: bool = False  # single objective only; docs/search.md says why it is off
    tr_init: int = 12  # radius, in genes that differ from the best measured arch
    tr_min: int = 2
    tr_max: int = 46
    tr_succ: int = 3
    tr_fail: int = 4
    tr_restart: int = 12  # radius after it fell below tr_min
    mo_kappa: float = 1.0  # multi-objective upper confidence bound: mean + mo_kappa x sd
    front_gain: bool = True

    def idle(self, multi_objective: bool, pool: bool, predictor: str) -> dict:  # noqa: D102
        single = "a single objective (--objectives acc)"
        needs = {}
        for key in self.changed():
            if key in _SINGLE_OBJECTIVE and multi_objective:
                needs[key] = single
            elif key in _PREDICTOR_NEEDS and not _PREDICTOR_NEEDS[key][0](
                PREDICTORS.load(predictor)
            ):
                needs[key] = _PREDICTOR_NEEDS[key][1]
            elif key in ("mo_kappa", "front_gain") and not multi_objective:
                needs[key] = "two objectives (--objectives acc,COST)"
            elif key.startswith("islands") and pool:
                needs[key] = "no --pool (a pool is scored whole)"
            elif key in _INNER and pool:
                needs[key] = "no --pool (a pool is scored whole, without the inner optimiser)"
            elif key.startswith("tr_") and not self.trust_region:
                needs[key] = "--option trust_region=true"
            elif key == "kappa" and self.acquisition == "ei":
                needs[key] = "--option acquisition=ucb (expected improvement has no kappa)"
            elif key == "islands_until" and not self.islands:
                needs[key] = "--option islands=N (N >= 1)"
        return needs


class WeakNAS(StepAlgorithm):
    """hwnas's default search: a GP refit on what was measured, optimised hard, batches by
    GP-BUCB; optionally inside a trust region (docs/search.md)."""

    Options = WeakNASOptions
    reads_predictor = True

    def _candidates(self, score, order) -> tuple:
        """``(archs, scores)``: unmeasured archs, best-scored first, the inner optimiser's (or the
        pool's), and their acquisition."""
        q, rng, problem, o = self.archive, self.rng, self.problem, self.options
        y = q.y()
        measured = q.X()[np.argsort(-np.nan_to_num(y, nan=-1.0), kind="stable")]
        parents = inner_parents(problem, rng, o, score, order, measured)
        if problem.pool is not None:  # a pool is scored whole: no islands
            cand, acq = _pool_candidates(problem.pool, score, order)
            new = ~q.measured_mask(cand)
            return cand[new], acq[new]
        cand, acq = _inner_candidates(problem, rng, o, score, order, parents)
        new = ~q.measured_mask(cand)
        # single objective only: a multi-objective batch already spreads over the whole front
        islands = o.islands if q.n < o.islands_until and not problem.multi_objective else 0
        if not islands:
            return cand[new], acq[new]
        cands, acqs = [cand[new]], [acq[new]]
        for _ in range(islands):
            # an island starts from the 64 best-scored of fresh samples alone, so its lineages are
            # not swamped by the incumbent's children: it finds candidates in other basins
            island = best_fresh(problem, rng, o, score, order, 64)
            c, a = _inner_candidates(problem, rng, o, score, order, island)
            new = ~q.measured_mask(c)
            cands.append(c[new])
            acqs.append(a[new])
        cand, acq = np.concatenate(cands), np.concatenate(acqs)
        first = first_occurrences(cand)  # an arch several evolutions found: its first copy
        best = order(cand[first], acq[first], None)  # stable: ties keep the evolutions' order
        return cand[first][best], acq[first][best]

    def steps(self):
        """Yield the initial design, then one batch per iteration (see the class)."""
        q, rng, problem, o = self.archive, self.rng, self.problem, self.options
        order = _ranker(problem)
        first = problem.sample_feasible(o.n_init, rng, tilt=False)
        if problem.multi_objective:  # the cheapest subnet is on every front: its left end
            first = unique_rows(np.concatenate([cheapest(problem), first]))
        yield first
        self._phase = "iter"
        tr = TrustRegion(o) if o.trust_region and not problem.multi_objective else None
        while not q.exhausted:
            model = _fit(self, max_points=o.gp_points)
            kappa = o.mo_kappa if problem.multi_objective else o.kappa
            best_before = _best(q.y())
            of_dist = scorer(o.acquisition, kappa, best_before)

            def score(X, model=model, of_dist=of_dist):
                return of_dist(*model.predict_dist(X))

            while True:  # an empty trust region widens until it holds an unmeasured candidate
                acquisition = score if tr is None else tr.wrap(score, q)
                cand, acq = self._candidates(acquisition, order)
                if len(cand) or tr is None or not tr.widen():
                    break
            if len(cand) == 0:
                return
            take = min(batch_size(q.n, o.batch_min, o.batch_share), q.remaining)
            if problem.multi_objective and o.front_gain:
                pick = _gain_pick(problem, q, cand, acq, take)  # scores the optimiser made
            elif problem.multi_objective:
                top = cand[: 10 * take]
                pick = _spread_pick(problem, top, np.arange(len(top)), take)
            elif hasattr(model, "greedy_batch") and o.bucb:  # GP-BUCB on the acquisition
                pick = model.greedy_batch(cand[: o.batch_pool], take, of_dist)
            else:
                pick = np.arange(min(take, len(cand)))
            y_new = yield cand[pick]
            if tr is not None:
                tr.update(_best(y_new) > best_before)


class TrustRegion:
    """A Hamming ball around the best measured arch (TuRBO / CASMOPOLITAN style): candidates outside
    it score -inf; the radius doubles after ``tr_succ`` improving batches in a row and halves after
    ``tr_fail`` batches in a row without improvement; below ``tr_min`` it starts again at
    ``tr_restart``."""

    def __init__(self, o):
        self.o, self.radius, self.succ, self.fail = o, o.tr_init, 0, 0

    def wrap(self, score, q):
        """``score`` with every arch farther than the radius from the best measured at -inf."""
        y = np.nan_to_num(np.asarray(q.y(), dtype=float), nan=-np.inf)
        centre = q.X()[int(np.argmax(y))]
        radius = self.radius

        def inside(X):
            s = score(X)
            far = (np.asarray(X) != centre[None, :]).sum(1) > radius
            return np.where(far, -np.inf, s)

        return inside

    def widen(self) -> bool:
        """Double the radius (at most ``tr_max``); False if it already was ``tr_max``."""
        if self.radius >= self.o.tr_max:
            return False
        self.radius = min(2 * self.radius, self.o.tr_max)
        return True

    def update(self, improved: bool) -> None:
        """Count one batch that did (or did not) improve the best measured; resize the region."""
        o = self.o
        self.succ, self.fail = (self.succ + 1, 0) if improved else (0, self.fail + 1)
        if self.succ >= o.tr_succ:
            self.radius, self.succ = min(2 * self.radius, o.tr_max), 0
        elif self.fail >= o.tr_fail:
            self.radius, self.fail = self.radius // 2, 0
            if self.radius < o.tr_min:
                self.radius = o.tr_restart
