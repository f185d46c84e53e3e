"""Diagnostic: how do weak predictors fitted on a default run's history rate another basin?

Runs the default search (``ofa-mlp``, w1.2) for ``--queries`` on each seed, then fits each weak
predictor on that run's history and scores the archs of the basin the benchmark's long search on the
oracle ends in (``reference_optimum``, every arch it met within ``--top`` of its optimum). Prints,
per predictor, the mean error of its prediction there, how many have an upper confidence bound (mean
+ 2 sd) above the run's best measured accuracy, Kendall tau among those archs, and its mean and sd
at the benchmark's reference optimum arch; also the default GP's error on the candidates its inner
optimiser proposes (near the incumbent); then the same predictors fitted on as many uniformly
random feasible archs, for comparison.

Usage: HWNAS_ASSETS=... python scripts/exp_other_basin.py --seeds 0,1 --flops 600M
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np


def _fits(space):
    from predictors import make_predictor
    from predictors.gp import GPPredictor

    return {
        "gp (default)": lambda: GPPredictor(space=space),
        "gp, linear share 0.5": lambda: GPPredictor(space=space, linear_grid=(0.5,)),
        "gp, linear share 0.9": lambda: GPPredictor(space=space, linear_grid=(0.9,)),
        "gp, cost features": lambda: GPPredictor(space=space, with_cost=True),
        "linear": lambda: make_predictor("linear", space=space, with_cost=True),
        "xgb": lambda: make_predictor("xgb", space=space, with_cost=True),
        "mlp": lambda: make_predictor("mlp", space=space, with_cost=True),
    }


def _rate(predictor, X, y, TX, Ty, best, ref):
    from scipy.stats import kendalltau

    p = predictor.fit(X, y)
    Q = np.concatenate([TX, ref[None]])
    if getattr(p, "gives_spread", False):
        mean, sd = p.predict_dist(Q)
    else:
        mean, sd = p.predict(Q), np.zeros(len(Q))
    tau = kendalltau(mean[:-1], Ty)[0]
    above = int(np.sum(mean[:-1] + 2.0 * sd[:-1] > best))
    return (
        f"basin: mean error {np.mean(mean[:-1] - Ty):+.4f}, ucb above best {above} of {len(Ty)}, "
        f"tau {tau:+.3f} | reference arch: {mean[-1]:.4f} +- {sd[-1]:.4f}"
    )


def _local_error(space, flops, X, y, seed, f) -> str:
    """The default GP's error on what its inner optimiser proposes: the 2,000 best-scored
    unmeasured candidates of one iteration after this history (as the loop would score them)."""
    from hwnas.search.problem import Problem
    from hwnas.search.weaknas import (
        WeakNASOptions,
        _inner_candidates,
        _ranker,
        inner_parents,
    )
    from predictors.gp import GPPredictor

    problem, o = Problem(space, flops=flops), WeakNASOptions()
    gp = GPPredictor(space=space).fit(X, y)

    def score(A):
        mean, sd = gp.predict_dist(A)
        return mean + o.kappa * sd

    rng, order = np.random.default_rng(seed), _ranker(problem)
    best_first = X[np.argsort(-y, kind="stable")]
    parents = inner_parents(problem, rng, o, score, order, best_first)
    cand, _ = _inner_candidates(problem, rng, o, score, order, parents)
    seen = {x.tobytes() for x in X}
    cand = cand[[c.tobytes() not in seen for c in cand]][:2000]
    mean, sd = gp.predict_dist(cand)
    true = f(cand)
    err = mean - true
    return (
        f"error mean {err.mean():+.4f} sd {err.std():.4f} (the GP's sd {sd.mean():.4f}); "
        f"true best of them {true.max():.4f}"
    )


def _stored_reference(flops) -> np.ndarray:
    """The benchmark's reference optimum arch (scripts/results/search_runs.jsonl)."""
    from bench_search import RESULTS

    rows = RESULTS / "search_runs.jsonl"
    for line in rows.read_text().splitlines():
        row = json.loads(line)
        if row.get("kind") == "ref" and row["flops"] == flops:
            print(f"the benchmark's reference arch: {row['best']:.4f}")
            return np.asarray(row["arch"], dtype=np.int64)
    raise SystemExit(f"no reference row for {flops:g} MACs in {rows}")


def basin(space, flops, top) -> tuple:
    """``(X, y)``: every arch the benchmark's long search on the oracle (``reference_optimum``)
    met within ``top`` of its optimum, once each."""
    from bench_search import reference_optimum

    _, opt, _, allX, ally = reference_optimum(space, flops)
    print(f"the long search's optimum {opt:.4f}")
    _, first = np.unique(allX, axis=0, return_index=True)
    keep = first[ally[first] >= opt - top]
    return allX[keep], ally[keep]


def history(flops, seed, queries) -> tuple:
    """``(X, y)``: the history of a default search (``ofa-mlp``, w1.2) of ``queries``."""
    from hwnas.archfile import read_arch_list
    from hwnas.search import SearchConfig, run_search

    with tempfile.TemporaryDirectory() as out:
        cfg = SearchConfig(flops=flops, oracle="ofa-mlp", queries=queries, seed=seed, out=out)
        run_search(cfg)
        hist = read_arch_list(Path(out) / "history.csv", need_accuracy=True)
    return hist.X, hist.accuracy


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--flops", default="600M")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--top", type=float, default=0.003, help="basin: within this of its optimum")
    args = ap.parse_args()
    from bench_search import oracle_fn

    from hwnas import get_space
    from hwnas.search.problem import Problem
    from hwnas.units import parse_count

    space, flops = get_space(1.2), parse_count(args.flops)
    TX, Ty = basin(space, flops, args.top)
    print(f"{args.flops}: {len(Ty)} archs within {args.top} of the long search's optimum")
    ref = _stored_reference(flops)
    _, oracle_values = oracle_fn(space)
    fits = _fits(space)
    for seed in map(int, args.seeds.split(",")):
        X, y = history(flops, seed, args.queries)
        print(f"seed {seed}: best measured {y.max():.4f} after {len(y)} queries")
        local = _local_error(space, flops, X, y, seed, oracle_values)
        print(f"  gp on its inner optimiser's 2,000 best unmeasured candidates: {local}")
        for name, make in fits.items():
            print(f"  {name:22s} {_rate(make(), X, y, TX, Ty, y.max(), ref)}", flush=True)
    R = Problem(space, flops=flops).sample_feasible(
        args.queries, np.random.default_rng(0), tilt=False
    )
    ry = oracle_values(R)
    print(f"{args.queries} uniformly random feasible archs: best {ry.max():.4f}")
    for name, make in fits.items():
        print(f"  {name:22s} {_rate(make(), R, ry, TX, Ty, ry.max(), ref)}", flush=True)


if __name__ == "__main__":
    main()
