"""Benchmark: how well each weak predictor ranks *measured* accuracies, the top above all.

The table is ``$HWNAS_REAL_TABLE`` (CSV or JSON lines of archs with measured ImageNet top-1, see
``hwnas.archfile``; e.g. Intel DyNAS-T's OFA w1.0 evaluations converted by
``scripts/dynast_to_table.py``). For each predictor and seed: fit on ``n`` random rows, predict the
rest, and report Kendall tau on the held-out rows, tau among the held-out top 10%, and the regret
of the predicted best (true best held-out accuracy minus the true accuracy of the arch the predictor
ranks first). Nothing is written when the variable is unset (the script says so and exits 0).

Usage: HWNAS_REAL_TABLE=measured.csv python scripts/bench_real_predictors.py [--n 100,300] [--seeds
5] Results: scripts/results/real_predictors.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", default="100,300", help="training sizes, comma-separated")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--predictors", default="gp,linear,xgb,mlp,ensemble")
    ap.add_argument("--width", type=float, default=1.0, help="supernet width of the table")
    args = ap.parse_args()
    table = os.environ.get("HWNAS_REAL_TABLE")
    if not table or not Path(table).is_file():
        print("skipped: set HWNAS_REAL_TABLE to a table of measured accuracies")
        return 0
    from scipy.stats import kendalltau

    from hwnas.archfile import read_arch_list
    from hwnas.space import Space
    from predictors import make_predictor

    rows = read_arch_list(table, what="HWNAS_REAL_TABLE", width=args.width, need_accuracy=True)
    X, y = rows.X, np.asarray(rows.accuracy, float)
    _, keep = np.unique(X, axis=0, return_index=True)  # one row per distinct subnet
    X, y = X[np.sort(keep)], y[np.sort(keep)]
    space = Space(width=args.width, resolutions=tuple(sorted(set(X[:, -1].tolist()))))
    out = {
        "table": Path(table).name,
        "sha256": rows.sha256[:16],
        "archs": len(X),
        "best": float(y.max()),
        "seeds": args.seeds,
        "results": {},
    }
    print(f"{len(X)} distinct measured subnets, best {y.max():.4f}", flush=True)
    for n in (int(v) for v in args.n.split(",")):
        for name in args.predictors.split(","):
            taus, top_taus, regrets, secs = [], [], [], []
            for seed in range(args.seeds):
                rng = np.random.default_rng(seed)
                perm = rng.permutation(len(X))
                tr, te = perm[:n], perm[n:]
                t = time.perf_counter()
                pred = make_predictor(name, seed=seed, space=space).fit(X[tr], y[tr]).predict(X[te])
                secs.append(time.perf_counter() - t)
                taus.append(kendalltau(pred, y[te]).statistic)
                top = y[te] >= np.quantile(y[te], 0.9)
                top_taus.append(kendalltau(pred[top], y[te][top]).statistic)
                regrets.append(float(y[te].max() - y[te][int(np.argmax(pred))]))
            cell = {
                "kendall_tau": float(np.mean(taus)),
                "kendall_tau_top10": float(np.mean(top_taus)),
                "regret_of_predicted_best": float(np.mean(regrets)),
                "worst_regret": float(np.max(regrets)),
                "fit_predict_s": float(np.median(secs)),
            }
            out["results"][f"{name}/n={n}"] = cell
            print(
                f"n={n:4d} {name:9s} " + " ".join(f"{k} {v:.4f}" for k, v in cell.items()),
                flush=True,
            )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "real_predictors.json").write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
