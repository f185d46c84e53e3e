"""weaknas internals: the trust region, the multi-objective batch pick and first design."""

import numpy as np

from hwnas import Arch, get_space
from hwnas.search import SearchConfig, run_search
from hwnas.search.problem import Problem
from hwnas.search.weaknas import TrustRegion, WeakNASOptions, _gain_pick, cheapest

from .search_helpers import SyntheticOracle

SPACE = get_space(1.2)


class Measured:
    """What an algorithm reads of the archive: the measured archs and their accuracies."""

    def __init__(self, X, y):
        self._X, self._y = np.asarray(X), np.asarray(y, dtype=float)

    def X(self):
        return self._X

    def y(self):
        return self._y


def test_trust_region_grows_on_success_shrinks_on_failure_and_restarts():
    o = WeakNASOptions(tr_init=8, tr_min=2, tr_max=20, tr_succ=2, tr_fail=3, tr_restart=9)
    tr = TrustRegion(o)
    assert tr.radius == 8
    tr.update(True)
    assert tr.radius == 8  # one success is not yet a streak
    tr.update(True)
    assert tr.radius == 16
    tr.update(True), tr.update(True)
    assert tr.radius == 20  # capped at tr_max
    for _ in range(3):
        tr.update(False)
    assert tr.radius == 10
    tr.update(False), tr.update(True), tr.update(False), tr.update(False)
    assert tr.radius == 10  # a success breaks the failure streak
    for _ in range(3 * 3):
        tr.update(False)
    assert tr.radius == 9  # 10 -> 5 -> 2 -> 1 < tr_min: starts again at tr_restart
    assert tr.widen() and tr.radius == 18
    assert tr.widen() and tr.radius == 20
    assert not tr.widen() and tr.radius == 20  # an empty region at tr_max: nothing left to try


def test_trust_region_widens_instead_of_stopping_in_a_small_pool(tmp_path):
    """A pool whose members near the best are all measured: the run goes on to its budget."""
    p = Problem(SPACE, flops=600e6)
    pool = p.sample_feasible(60, np.random.default_rng(3))
    path = tmp_path / "pool.csv"
    rows = ["arch"] + ['"' + Arch.from_array(r).to_json().replace('"', '""') + '"' for r in pool]
    path.write_text("\n".join(rows) + "\n")
    cfg = SearchConfig(
        flops="600M",
        queries=50,
        seed=0,
        pool=str(path),
        out=str(tmp_path / "run"),
        options={"trust_region": True, "tr_init": 2, "tr_min": 2},
    )
    r = run_search(cfg, oracle=SyntheticOracle(SPACE))
    assert r["queries"] == 50


def test_trust_region_scores_only_the_ball_around_the_best_measured():
    rng = np.random.default_rng(0)
    X = Problem(SPACE, flops=600e6).sample_feasible(30, rng)
    y = rng.random(30)
    best = X[int(np.argmax(y))]
    tr = TrustRegion(WeakNASOptions(tr_init=6))
    score = tr.wrap(lambda Z: np.ones(len(Z)), Measured(X, y))
    near = np.repeat(best[None, :], 3, axis=0)
    near[1, 20] = 6 if near[1, 20] != 6 else 4  # one gene away
    far = X[np.argsort(-(X != best).sum(1))[:1]]  # the measured arch farthest from the best
    assert (far != best).sum() > 6
    s = score(np.concatenate([near, far]))
    assert np.all(s[:3] == 1.0) and s[3] == -np.inf


def test_gain_pick_spreads_over_cost_and_picks_where_the_front_lags():
    p = Problem(SPACE, flops=600e6, objectives=("acc", "flops"))
    rng = np.random.default_rng(1)
    C = p.sample_feasible(400, rng)
    cost = p.costs(C)["mflops"]
    measured = C[:50]
    y = 0.7 + 0.0002 * p.costs(measured)["mflops"]  # a front rising with cost
    acq = 0.7 + 0.0002 * cost + rng.normal(0, 0.01, len(C))
    pick = _gain_pick(p, Measured(measured, y), C, acq, 8)
    assert len(pick) == len(set(pick.tolist())) == 8
    lo, hi = min(cost.min(), p.costs(measured)["mflops"].min()), cost.max()
    bins = np.minimum(((cost[pick] - lo) / (hi - lo + 1e-9) * 8).astype(int), 7)
    assert len(set(bins.tolist())) == 8  # one per cost bin
    # within its bin each pick has the largest acquisition above the measured front
    mc = p.costs(measured)["mflops"]
    order = np.argsort(mc)
    stair = np.maximum.accumulate(y[order])
    pos = np.searchsorted(mc[order], cost, side="right") - 1
    gain = acq - np.where(pos >= 0, stair[np.maximum(pos, 0)], -np.inf)
    all_bins = np.minimum(((cost - lo) / (hi - lo + 1e-9) * 8).astype(int), 7)
    for i, b in zip(pick, bins, strict=True):
        assert gain[i] == gain[all_bins == b].max()


def test_multi_objective_run_measures_the_cheapest_subnet_first(tmp_path):
    cfg = SearchConfig(
        flops="600M", queries=30, seed=0, objectives="acc,flops", out=str(tmp_path / "mo")
    )
    run_search(cfg, oracle=SyntheticOracle(SPACE))
    ids = [
        line.split(",")[1]
        for line in (tmp_path / "mo" / "history.csv").read_text().splitlines()[1:]
    ]
    smallest = Arch.smallest(min(SPACE.resolutions))
    p = Problem(SPACE, flops=600e6, objectives=("acc", "flops"))
    assert Arch.from_array(cheapest(p)[0]).id == smallest.id
    assert smallest.id in ids[:21]


class Archive(Measured):
    @property
    def n(self):
        return len(self._X)

    def measured_mask(self, X):
        have = {bytes(r) for r in self._X}
        return np.array([bytes(r) in have for r in np.asarray(X, dtype=np.int64)], dtype=bool)


def test_islands_add_the_evolutions_of_fresh_samples_to_the_main_one():
    from hwnas.search.weaknas import WeakNAS, _ranker
    from predictors.gp import GPPredictor

    p = Problem(SPACE, flops=600e6)
    X = p.sample_feasible(40, np.random.default_rng(2))
    y = [a.accuracy for a in SyntheticOracle(SPACE).evaluate(X)]
    archive = Archive(X, y)
    gp = GPPredictor(space=SPACE).fit(X, y)
    rows = []

    def score(A):
        rows.append(len(A))
        mean, sd = gp.predict_dist(A)
        return mean + 2.0 * sd

    def candidates(islands, until=1000, problem=p):
        alg = WeakNAS()
        o = WeakNASOptions(
            islands=islands, islands_until=until, generations=3, children=300, fresh=500
        )
        alg.setup(problem, np.random.default_rng(7), o, lambda name=None: gp, archive)
        rows.clear()
        return (*alg._candidates(score, _ranker(problem)), sum(rows))

    main, main_acq, main_scored = candidates(0)
    both, acq, scored = candidates(2)
    assert candidates(2, until=40)[2] == main_scored  # 40 measured: the islands have stopped
    mo = Problem(SPACE, flops=600e6, objectives=("acc", "flops"))
    assert candidates(2, problem=mo)[2] == candidates(0, problem=mo)[2]  # single objective only
    assert scored > 2.5 * main_scored  # each island scores its own samples and evolution
    keys = set(map(bytes, both))
    assert len(keys) == len(both) and not archive.measured_mask(both).any()
    assert set(map(bytes, main)) < keys  # the main evolution ran first, from the same state
    assert (np.diff(acq) <= 0).all() and acq[0] >= main_acq[0]  # one list, best first
    from_islands = np.array([bytes(r) not in set(map(bytes, main)) for r in both])
    assert from_islands[:50].any()  # islands reach the top of the list
