"""Diagnostic: which weak predictor, fitted on a search's history, points at a truly better subnet?

Fits each predictor on the history of a ``--queries``-query default weaknas run (cached under /tmp),
runs the inner optimiser (25 generations) on its mean prediction, and prints the oracle's value of
its predicted best, best of 10 and best of 20 (docs/search.md, "The predictors on the same data").

Usage: HWNAS_ASSETS=... python scripts/exp_predictor_pick.py 600e6 200 '{"gp": {}, "xgb": {"_pred":
"xgb"}}'
"""

import json
import os
import sys
import time

import numpy as np

from hwnas import get_space
from hwnas.arch import Arch
from hwnas.search import SearchConfig, run_search
from hwnas.search.inner import InnerOptimiser
from hwnas.search.problem import Problem
from predictors import make_oracle, make_predictor
from predictors.store import EvalStore

sp = get_space(1.2)
oracle = make_oracle("ofa-mlp", sp)
flops = float(sys.argv[1])
N = int(sys.argv[2])
variants = json.loads(sys.argv[3])
pb = Problem(sp, flops=flops)
data = []
for seed in (0, 1):
    f = f"/tmp/hwnas_exp_hist_{int(flops / 1e6)}_{N}_{seed}.npz"
    if not os.path.exists(f):
        with EvalStore(":memory:") as store:
            run_search(SearchConfig(flops=flops, queries=N, seed=seed), oracle=oracle, store=store)
            rows = store.rows(oracle.key)
        X = np.stack([Arch.from_dict(r["arch"]).to_array() for r in rows])
        y = np.array([r["accuracy"] for r in rows])
        np.savez(f, X=X, y=y)
    d = np.load(f)
    data.append((d["X"], d["y"]))
    print("seed", seed, "best measured", d["y"].max(), flush=True)
for name, kw in variants.items():
    out = []
    for X, y in data:
        kw2 = dict(kw)
        pname = kw2.pop("_pred", "gp")
        t = time.time()
        p = make_predictor(pname, space=sp, **kw2).fit(X, y)
        score = p.predict
        rng = np.random.default_rng(0)
        fresh = pb.sample_feasible(2000, rng)
        parents = np.concatenate([X[np.argsort(-y)[:32]], fresh[np.argsort(-score(fresh))[:32]]])
        opt = InnerOptimiser(
            pb, rng, score, lambda X, s, k: np.argsort(-s, kind="stable"), generations=25
        )
        C, s = opt.run(parents)
        truth = oracle.predict(C[:20])
        out.append(
            f"top1 {truth[0]:.4f} best-of-10 {truth[:10].max():.4f} best-of-20 "
            f"{truth.max():.4f} pred0 {s[0]:.4f} ({time.time() - t:.1f}s)"
        )
    print(name, " | ".join(out), flush=True)
