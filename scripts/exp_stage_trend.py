"""Experiment (seventh round): how the capacity trend (predictors/trend.py, an option for the GP's
prior mean) and the GP with it rate the better basin after a default 300-query run, like
scripts/exp_other_basin.py (``--flops``, ``--seeds``). ``trend + squares`` adds the stage MACs
squared to the trend's features; ``trend per block`` regresses on the MACs of each of the 20 blocks
instead of the 5 stages (ninth round).

The seventh round's loop runs (``loop`` mode, with ``--islands``) are now options of the search:
``scripts/exp_weaknas.py --predictor-kw '{"mean": "trend"}' --opt '{"islands": 2}'``
(docs/search.md, "Eighth round"). The round's variants of the islands (``--island-opt``,
``--island-every``) are in commit 2fa959f.

Usage: HWNAS_ASSETS=... python scripts/exp_stage_trend.py --flops 600M --seeds 0,1
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from predictors.gp import GPPredictor
from predictors.trend import Trend, trend_features


def with_squares(space, X) -> np.ndarray:
    """:func:`trend_features` and the per-stage MACs squared."""
    F = trend_features(space, X)
    return np.column_stack([F, F[:, :5] ** 2])


def per_block(space, X) -> np.ndarray:
    """Each arch's per-block MACs (20, units of 10M), resolution / 224 and 1."""
    from hwnas.cost import cost_model
    from hwnas.space import R_COL

    X = np.asarray(X, dtype=np.int64)
    B = cost_model(space).block_macs(X) / 1e7
    return np.column_stack([B, X[:, R_COL:] / 224.0, np.ones((len(X), 1))])


class BlockTrendGP(GPPredictor):
    """The GP with the per-block trend as its mean (``mean="trend"``)."""

    trend_features = staticmethod(per_block)


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
        "trend + squares": lambda: Trend(space, with_squares),
        "gp with the trend": lambda: GPPredictor(space=space, mean="trend"),
        "trend per block": lambda: Trend(space, per_block),
        "gp with per-block trend": lambda: BlockTrendGP(space=space, mean="trend"),
    }
    for seed in map(int, args.seeds.split(",")):
        X, y = eob.history(flops, seed, 300)
        print(f"seed {seed}: best measured {y.max():.4f}")
        for name, make in fits.items():
            print(f"  {name:24s} {eob._rate(make(), X, y, TX, Ty, y.max(), ref)}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flops", default="600M")
    ap.add_argument("--seeds", default="0,1")
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    from hwnas import get_space

    basin(args, get_space(1.2))


if __name__ == "__main__":
    sys.exit(main())
