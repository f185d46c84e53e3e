"""Experiment (seventh round, not kept): the GP's constant prior mean replaced by a trend.

The trend is a ridge regression of the accuracy on the MACs of each of the 5 stages (in units of
100M) and the resolution (/224), plus a constant; ``--squares`` adds the stage MACs squared. The GP
is fitted on what the trend leaves over; its posterior mean is trend + GP, its variance (and so
GP-BUCB) unchanged.

Two modes:

- ``basin``: like scripts/exp_other_basin.py, how the trend, and the GP with it, rate the better
  basin after a default 300-query run (``--flops``, ``--seeds``);
- ``loop``: scripts/exp_weaknas.py with ``gp`` replaced by the trend version (``--mean constant``:
  the default GP) and, with ``--islands N``, N islands in the inner optimiser
  (bench_search.islands_weaknas); every other argument goes to exp_weaknas.

Usage: HWNAS_ASSETS=... python scripts/exp_stage_trend.py basin --flops 600M --seeds 0,1
       HWNAS_ASSETS=... python scripts/exp_stage_trend.py loop --seeds 0,1,2 [--squares]
           [--islands 2 [--island-opt '{"children": 700}']] [--mean constant] [--opt '{...}']
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from hwnas.cost import cost_model
from hwnas.space import R_COL
from predictors.gp import GPPredictor

N_STAGES = 5


def trend_features(space, X, squares: bool = False) -> np.ndarray:
    """Per-stage MACs (100M), resolution / 224 and 1 (and the stage MACs squared) per arch."""
    X = np.asarray(X, dtype=np.int64)
    per_block = cost_model(space).block_macs(X)
    stages = per_block.reshape(len(X), N_STAGES, -1).sum(axis=2) / 1e8
    F = [stages, X[:, R_COL:] / 224.0, np.ones((len(X), 1))]
    return np.column_stack(F + [stages**2] if squares else F)


class Trend:
    """The ridge trend alone (no spread)."""

    gives_spread = False

    def __init__(self, space, squares=False):
        self.space, self.squares = space, squares

    def fit(self, X, y):
        F = trend_features(self.space, X, self.squares)
        self.w = np.linalg.solve(F.T @ F + 1e-3 * np.eye(F.shape[1]), F.T @ np.asarray(y, float))
        return self

    def predict(self, X):
        return trend_features(self.space, X, self.squares) @ self.w


def trend_gp(squares: bool):
    """A GPPredictor subclass whose prior mean is the trend."""

    class TrendGP(GPPredictor):
        def fit(self, X, y):
            self.trend = Trend(self.space, squares).fit(X, y)
            return super().fit(X, np.asarray(y, float) - self.trend.predict(X))

        def _posterior(self, X):
            Fq, mean, V, var = super()._posterior(X)
            return Fq, mean + self.trend.predict(X), V, var

    return TrendGP


def basin(args, space):
    import exp_other_basin as eob

    from hwnas.units import parse_count

    flops = parse_count(args.flops)
    TX, Ty = eob.basin(space, flops, 0.003)
    print(f"{args.flops}: {len(Ty)} archs within 0.003 of the long search's optimum")
    ref = eob._stored_reference(flops)
    fits = {
        "gp (default)": lambda: GPPredictor(space=space),
        "trend": lambda: Trend(space),
        "trend + squares": lambda: Trend(space, squares=True),
        "gp with the trend": lambda: trend_gp(False)(space=space),
        "gp with trend + squares": lambda: trend_gp(True)(space=space),
    }
    for seed in map(int, args.seeds.split(",")):
        X, y = eob.history(flops, seed, 300)
        print(f"seed {seed}: best measured {y.max():.4f}")
        for name, make in fits.items():
            print(f"  {name:24s} {eob._rate(make(), X, y, TX, Ty, y.max(), ref)}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--squares", action="store_true", help="loop: the trend with squares")
    ap.add_argument("mode", choices=("basin", "loop"))
    ap.add_argument("--flops", default="600M")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--islands", type=int, default=0, help="loop: islands in the inner optimiser")
    ap.add_argument("--mean", choices=("trend", "constant"), default="trend", help="loop: GP mean")
    ap.add_argument("--island-opt", default="{}", help="loop: options of the islands only (JSON)")
    ap.add_argument("--island-every", type=int, default=1, help="loop: islands every N iterations")
    args, rest = ap.parse_known_args()
    sys.path.insert(0, str(Path(__file__).parent))
    if args.mode == "loop":
        import exp_weaknas
        from bench_search import islands_weaknas

        import hwnas.search.weaknas
        import predictors.gp

        if args.mean == "trend":  # what make_predictor("gp") loads
            predictors.gp.GPPredictor = trend_gp(args.squares)
        if args.islands:  # what the algorithm table loads for "weaknas"
            island_opt = json.loads(args.island_opt)
            hwnas.search.weaknas.WeakNAS = islands_weaknas(
                args.islands, args.island_every, **island_opt
            )
        sys.argv = [sys.argv[0], "--flops", args.flops, "--seeds", args.seeds, *rest]
        return exp_weaknas.main()
    from hwnas import get_space

    basin(args, get_space(1.2))


if __name__ == "__main__":
    sys.exit(main())
