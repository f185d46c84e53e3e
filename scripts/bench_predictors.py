#!/usr/bin/env python
"""Benchmark the accuracy side: weak-predictor quality vs training size, throughput, zero-cost
proxies.

Ground truth is OFA's accuracy predictor (``ofa-mlp``; needs ``HWNAS_ASSETS`` or the cache dir).
Writes ``scripts/results/predictors.json`` / ``predictors.csv`` (quality), ``predictors_speed.json``
(throughput) and ``predictors_zerocost.json``. Run under the shared CPU lock:

    flock /tmp/hwnas-cpu.lock python scripts/bench_predictors.py [--quick] [--zerocost-only]
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau, spearmanr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwnas.arch import sample  # noqa: E402
from hwnas.space import get_space  # noqa: E402
from predictors import make_oracle, make_predictor  # noqa: E402

RESULTS = ROOT / "scripts" / "results"
VARIANTS = {  # label -> (predictor name, kwargs)
    "xgb": ("xgb", {}),  # defaults: with MACs/params features
    "xgb-nocost": ("xgb", {"with_cost": False}),
    # the WeakNAS paper's setting: depth 20, 1000 rounds
    "xgb-paper": ("xgb-paper", {"with_cost": False}),
    "mlp": ("mlp", {}),
    "mlp-nocost": ("mlp", {"with_cost": False}),
    "ensemble": ("ensemble", {}),
    "linear": ("linear", {}),  # ridge on one-hots + depth x resolution (the lead's search default)
}


def top_precision(pred, true, frac=0.01) -> float:
    k = max(1, int(round(frac * len(true))))
    return len(set(np.argsort(-pred)[:k]) & set(np.argsort(-true)[:k])) / k


def quality(oracle, space, sizes, seeds, variants, n_test):
    Xte = sample(n_test, np.random.default_rng(12345), space.resolutions)
    yte = oracle.predict(Xte)
    rows = []
    for n in sizes:
        for seed in seeds:
            Xtr = sample(n, np.random.default_rng(1000 + seed), space.resolutions)
            ytr = oracle.predict(Xtr)
            for label in variants:
                name, kw = VARIANTS[label]
                p = make_predictor(name, seed=seed, space=space, **kw)
                t0 = time.perf_counter()
                p.fit(Xtr, ytr)
                fit_s = time.perf_counter() - t0
                pred = p.predict(Xte)
                rows.append(
                    {
                        "predictor": label,
                        "n_train": n,
                        "seed": seed,
                        "kendall_tau": float(kendalltau(pred, yte)[0]),
                        "spearman": float(spearmanr(pred, yte)[0]),
                        "top1pct_precision": top_precision(pred, yte),
                        "fit_s": fit_s,
                    }
                )
                print(
                    f"{label:10s} n={n:5d} seed={seed} tau={rows[-1]['kendall_tau']:.3f} "
                    f"prec={rows[-1]['top1pct_precision']:.2f} fit={fit_s:.2f}s",
                    flush=True,
                )
    return rows


def summarize(rows):
    out = {}
    for r in rows:
        out.setdefault((r["predictor"], r["n_train"]), []).append(r)
    table = []
    for (label, n), rs in out.items():
        d = {"predictor": label, "n_train": n}
        for k in ("kendall_tau", "spearman", "top1pct_precision", "fit_s"):
            v = np.array([r[k] for r in rs])
            d[k + "_mean"], d[k + "_std"] = float(v.mean()), float(v.std())
        table.append(d)
    return table


def speed(oracle, space, variants, repeats=3):
    rng = np.random.default_rng(7)
    Xbig = sample(200_000, rng, space.resolutions)
    from predictors.ofa_mlp import ofa_encode

    def best(fn):
        ts = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        return float(np.median(ts))

    res = {
        "n_archs": len(Xbig),
        "ofa_encode_archs_per_s": len(Xbig) / best(lambda: ofa_encode(Xbig)),
        "ofa_mlp_predict_archs_per_s": len(Xbig) / best(lambda: oracle.predict(Xbig)),
    }
    from predictors.features import features

    res["features_archs_per_s"] = len(Xbig) / best(lambda: features(Xbig, space))
    res["features_with_cost_archs_per_s"] = len(Xbig) / best(
        lambda: features(Xbig, space, with_cost=True)
    )
    Xtr = sample(1000, np.random.default_rng(3), space.resolutions)
    ytr = oracle.predict(Xtr)
    res["predictors"] = {}
    for label in variants:
        name, kw = VARIANTS[label]
        p = make_predictor(name, seed=0, space=space, **kw)
        fit_s = best(partial(p.fit, Xtr, ytr))
        res["predictors"][label] = {
            "fit_s_n1000": fit_s,
            "predict_archs_per_s": len(Xbig) / best(partial(p.predict, Xbig)),
        }
        print(label, res["predictors"][label], flush=True)
    # WeakNAS refits from scratch each round: 10 refits of the default xgb on 100..1000 points
    p = make_predictor("xgb", seed=0, space=space)
    t0 = time.perf_counter()
    for n in range(100, 1001, 100):
        p.fit(Xtr[:n], ytr[:n])
    res["xgb_10_refits_100_to_1000_s"] = time.perf_counter() - t0
    return res


def zerocost(oracle, space, n_all, n_slow, proxies=("flops", "params", "zen", "synflow")):
    X = sample(n_all, np.random.default_rng(2024), space.resolutions)
    y = oracle.predict(X)
    res = {"n_all": n_all, "n_slow": n_slow, "proxies": {}}
    for proxy in proxies:
        z = make_oracle("zerocost", space, proxy=proxy)
        n = n_all if proxy in ("flops", "params") else n_slow
        t0 = time.perf_counter()
        s = z.scores(X[:n])
        dt = time.perf_counter() - t0
        res["proxies"][proxy] = {
            "n": n,
            "spearman": float(spearmanr(s, y[:n])[0]),
            "kendall_tau": float(kendalltau(s, y[:n])[0]),
            "spearman_first": {
                str(k): float(spearmanr(s[:k], y[:k])[0]) for k in (30, 100) if k <= n
            },
            "seconds_per_arch": dt / n,
        }
        print(proxy, res["proxies"][proxy], flush=True)
    return res


def render() -> str:
    """Markdown tables from the result files (pasted into docs/predictors.md)."""
    out = []
    q = RESULTS / "predictors.json"
    if q.exists():
        data = json.loads(q.read_text())
        summ = data["summary"]
        labels = list(dict.fromkeys(r["predictor"] for r in summ))
        sizes = sorted({r["n_train"] for r in summ})
        by = {(r["predictor"], r["n_train"]): r for r in summ}
        for metric, title in (
            ("kendall_tau", "Kendall tau"),
            ("spearman", "Spearman rho"),
            (
                "top1pct_precision",
                "precision of predicted top-1% (20 of 2,000) among the true top-1%",
            ),
            ("fit_s", "fit seconds (wall)"),
        ):
            out.append(
                f"\n{title}, mean +- std over {len(set(r['seed'] for r in data['runs']))} seeds:\n"
            )
            out.append("| predictor | " + " | ".join(f"n={n}" for n in sizes) + " |")
            out.append("|---" * (len(sizes) + 1) + "|")
            for lab in labels:
                cells = []
                for n in sizes:
                    r = by.get((lab, n))
                    fmt = "{:.3f} +- {:.3f}" if metric != "fit_s" else "{:.2f} +- {:.2f}"
                    cells.append(fmt.format(r[metric + "_mean"], r[metric + "_std"]) if r else "")
                out.append(f"| {lab} | " + " | ".join(cells) + " |")
    sp = RESULTS / "predictors_speed.json"
    if sp.exists():
        d = json.loads(sp.read_text())
        out.append(f"\nThroughput (wall clock, median of 3, {d['n_archs']:,} archs):\n")
        out.append("| what | archs/s |\n|---|---|")
        for k in (
            "ofa_encode_archs_per_s",
            "ofa_mlp_predict_archs_per_s",
            "features_archs_per_s",
            "features_with_cost_archs_per_s",
        ):
            out.append(f"| {k.replace('_archs_per_s', '')} | {d[k]:,.0f} |")
        out.append("\n| predictor | fit on 1,000 (s) | predict (archs/s) |\n|---|---|---|")
        for lab, r in d["predictors"].items():
            out.append(f"| {lab} | {r['fit_s_n1000']:.3f} | {r['predict_archs_per_s']:,.0f} |")
        out.append(
            f"\n10 refits of the default xgb on 100, 200, ..., 1000 points: "
            f"{d['xgb_10_refits_100_to_1000_s']:.2f} s in total."
        )
    zc = RESULTS / "predictors_zerocost.json"
    if zc.exists():
        d = json.loads(zc.read_text())
        firsts = sorted(
            {int(k) for r in d["proxies"].values() for k in r.get("spearman_first", {})}
        )
        out.append(
            "\n| proxy | archs | Spearman vs ofa-mlp | Kendall tau | "
            + " | ".join(f"Spearman, first {k} archs" for k in firsts)
            + " | seconds/arch (CPU, shared) |\n"
            + "|---" * (5 + len(firsts))
            + "|"
        )
        for k, r in d["proxies"].items():
            sf = r.get("spearman_first", {})
            cells = [format(sf[str(f)], ".3f") if str(f) in sf else "" for f in firsts]
            out.append(
                f"| {k} | {r['n']} | {r['spearman']:.3f} | {r['kendall_tau']:.3f} | "
                + " | ".join(cells)
                + f" | {r['seconds_per_arch']:.2g} |"
            )
    return "\n".join(out)


def _write_speed(sp, meta, partial):
    path = RESULTS / "predictors_speed.json"
    if partial and path.exists():  # keep the other predictors' and the encoders' figures
        old = json.loads(path.read_text())
        old["predictors"].update(sp["predictors"])
        old.setdefault("meta_partial", []).append(
            {"meta": meta, "predictors": list(sp["predictors"])}
        )
        sp, meta = old, old["meta"]
    else:
        sp = {"meta": meta, **sp}
    path.write_text(json.dumps(sp, indent=1))


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="2 seeds, sizes 50/200/1000 (smoke run)")
    ap.add_argument("--zerocost-only", action="store_true")
    ap.add_argument("--no-zerocost", action="store_true")
    ap.add_argument("--speed-only", action="store_true", help="only the throughput part")
    ap.add_argument(
        "--variants",
        default=None,
        help="comma-separated predictor labels to (re)run; "
        "their results "
        f"replace theirs in the existing files (default: all of {', '.join(VARIANTS)})",
    )
    ap.add_argument(
        "--render", action="store_true", help="only print markdown tables from existing results"
    )
    ap.add_argument(
        "--zerocost-slow-n", type=int, default=100, help="archs for the slow proxies zen/synflow"
    )
    ap.add_argument(
        "--proxies",
        default="flops,params,zen,synflow",
        help="zero-cost proxies to measure (results merge into predictors_zerocost.json)",
    )
    args = ap.parse_args()
    if args.render:
        print(render())
        return
    import torch

    space = get_space(1.2)
    oracle = make_oracle("ofa-mlp", space)
    meta = {
        "machine": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "oracle": oracle.key,
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    variants = list(VARIANTS) if args.variants is None else args.variants.split(",")
    partial = args.variants is not None
    if args.speed_only:
        sp = speed(oracle, space, variants)
        _write_speed(sp, meta, partial)
        return
    if not args.zerocost_only:
        sizes = (50, 200, 1000) if args.quick else (50, 100, 200, 500, 1000)
        seeds = range(2) if args.quick else range(5)
        rows = quality(oracle, space, sizes, seeds, variants, 2000)
        if partial and (RESULTS / "predictors.json").exists():
            old = json.loads((RESULTS / "predictors.json").read_text())["runs"]
            rows = [r for r in old if r["predictor"] not in variants] + rows
        table = summarize(rows)
        (RESULTS / "predictors.json").write_text(
            json.dumps({"meta": meta, "summary": table, "runs": rows}, indent=1)
        )
        with open(RESULTS / "predictors.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(table[0]))
            w.writeheader()
            w.writerows(table)
        sp = speed(oracle, space, variants)
        _write_speed(sp, meta, partial)
    if not args.no_zerocost:
        zc = zerocost(oracle, space, 1000, args.zerocost_slow_n, args.proxies.split(","))
        path = RESULTS / "predictors_zerocost.json"
        old = json.loads(path.read_text()) if path.exists() else {"proxies": {}}
        for k, v in zc["proxies"].items():
            v["meta"] = meta
            old["proxies"][k] = v
        old["n_all"] = zc["n_all"]
        path.write_text(json.dumps(old, indent=1))


if __name__ == "__main__":
    main()
