"""Benchmark: WeakNAS vs the paper's version vs baselines, same oracle (ofa-mlp), same query
budgets.

For each FLOPs budget: a reference optimum from a long search on the oracle itself (evolution with a
large population + an exhaustive single-gene local-search polish; its query count is recorded); then
every algorithm x seed: best accuracy, regret to the reference, and the queries needed to come
within 0.002 of it. Every algorithm is anytime (no decision depends on the query budget: weaknas
sizes its batches by the queries made so far), so each runs once per seed at the largest budget and
is read at each smaller one from its query history. Also OFA's evolution at its own default (about
16,000 unique queries) and a multi-objective comparison.

Results are appended to scripts/results/search_runs.jsonl (``--log`` names another file, so two
processes can share the work) as they finish (the script resumes: rows already in any
search_runs*.jsonl are not run again), then summarised into search.json, search.md and
search_<budget>.png.

Usage: HWNAS_ASSETS=../shared/assets python scripts/bench_search.py [--seeds 10] [--budgets
100,200,300,500,1000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"


def oracle_fn(space):
    from predictors import make_oracle

    oracle = make_oracle("ofa-mlp", space)
    return oracle, lambda X: np.array([a.accuracy for a in oracle.evaluate(X)])


def reference_optimum(
    space, flops, seed=0, restarts=3, gens=50, children=4000, keep=256, problem=None
):
    """Long search on the oracle itself: ``restarts`` evolutions (mutation + crossover, children
    repaired into the budget, the best ``keep`` survive) of ``gens`` generations, then an exhaustive
    single-gene hill-climbing polish of the best (``problem``: other budgets than MACs). Returns
    (arch row, accuracy, queries, all X, all y)."""
    from hwnas.arch import canonicalize
    from hwnas.search.inner import gene_values, offspring
    from hwnas.search.problem import Problem

    problem = Problem(space, flops=flops) if problem is None else problem
    _, f = oracle_fn(space)
    rng = np.random.default_rng(seed)
    n, allX, ally = 0, [], []

    def measure(X):
        nonlocal n
        y = f(X)
        n += len(X)
        allX.append(X)
        ally.append(y)
        return y

    best, best_y = None, -1.0
    for _ in range(restarts):
        P = problem.sample_feasible(20000, rng, tilt=False)
        y = measure(P)
        keep_idx = np.argsort(-y)[:keep]
        P, y = P[keep_idx], y[keep_idx]
        for _ in range(gens):
            kids = offspring(P, rng, children, 0.05, problem)
            ky = measure(kids)
            U, uy = np.concatenate([P, kids]), np.concatenate([y, ky])
            first = np.sort(np.unique(U, axis=0, return_index=True)[1])
            U, uy = U[first], uy[first]
            keep_idx = np.argsort(-uy)[:keep]
            P, y = U[keep_idx], uy[keep_idx]
        if y[0] > best_y:
            best, best_y = P[0].copy(), float(y[0])
    cols = gene_values(problem.space)
    improved = True
    while improved:  # polish: every single-gene change of the best, until none helps
        nb = []
        for c, vals in cols:
            for v in vals:
                if v != best[c]:
                    x = best.copy()
                    x[c] = v
                    nb.append(x)
        nb = canonicalize(np.array(nb))
        nb = nb[problem.feasible(nb)]
        ny = measure(nb)
        improved = ny.max() > best_y + 1e-12
        if improved:
            best, best_y = nb[int(np.argmax(ny))].copy(), float(ny.max())
    return best, best_y, n, np.concatenate(allX), np.concatenate(ally)


def reference_loop(problem, seed=0, queries=300, islands=2):
    """The reference's second search: weaknas with the oracle itself as its predictor (zero
    spread) and ``islands`` more inner evolutions per iteration that start from fresh samples
    alone (docs/search.md, fourth and sixth rounds: it finds optima the long evolution misses).
    Returns (arch row, accuracy, oracle queries: the loop's own and its inner optimisers')."""
    from exp_weaknas import OraclePredictor

    from hwnas.search.algorithm import Stop, drive
    from hwnas.search.queries import Queries
    from hwnas.search.weaknas import WeakNAS

    oracle, f = oracle_fn(problem.space)
    predictor = OraclePredictor(oracle)

    class Evaluator:
        evaluate = staticmethod(f)

    archive = Queries(Evaluator(), problem, queries)
    alg = WeakNAS()
    options = alg.Options(islands=islands)
    alg.setup(problem, np.random.default_rng(seed), options, lambda name=None: predictor, archive)
    drive(alg, archive.measure, Stop(queries))
    row, acc = archive.best()
    return np.asarray(row), acc, predictor.calls + archive.n


def run_one(space, flops, algorithm, seed, queries, objectives="acc"):
    """One search; ``algorithm`` is bench_pool's spec (``SPEC_FORM``), e.g. ``weaknas+xgb``,
    ``weaknas{trust_region=true}`` or ``weaknas+gp(mean=trend)``."""
    from bench_pool import parse_spec

    from hwnas.search import SearchConfig, run_search
    from predictors.store import EvalStore

    cfg = SearchConfig(
        flops=flops, queries=queries, seed=seed, objectives=objectives, **parse_spec(algorithm)
    )
    oracle, _ = oracle_fn(space)
    t, cpu = time.perf_counter(), time.process_time()
    with EvalStore(":memory:") as store:
        r = run_search(cfg, oracle=oracle, store=store, progress=False)
        hist = [row["accuracy"] for row in store.rows(oracle.key)]
    return {
        "algorithm": algorithm,
        "seed": seed,
        "queries": queries,
        "flops": flops,
        "objectives": objectives,
        "best": r["best"]["accuracy"],
        "n": r["queries"],
        "curve": np.fmax.accumulate(np.nan_to_num(hist)).tolist(),
        "overhead_s": r["overhead_seconds"],
        "oracle_s": r["oracle_seconds"],
        "wall_s": time.perf_counter() - t,
        "cpu_s": time.process_time() - cpu,
        "hv": r["hypervolume"],
        "mflops": r["best"]["mflops"],
    }


def main():
    global RESULTS
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--budgets", default="100,200,300,500,1000")
    ap.add_argument("--flops", default="600M,400M")
    ap.add_argument(
        "--algorithms", default="weaknas,weaknas-pool,random,evolution,regularized,nsga2"
    )
    ap.add_argument(
        "--ofa-default-seeds",
        type=int,
        default=3,
        help="seeds of OFA evolution at its own ~50k queries",
    )
    ap.add_argument("--mo-seeds", type=int, default=3)
    ap.add_argument(
        "--ref-gens",
        type=int,
        default=50,
        help="generations of each reference evolution (x4000 children)",
    )
    ap.add_argument("--out", default=None, help="results folder (default scripts/results)")
    ap.add_argument(
        "--log", default="search_runs.jsonl", help="file (in the results folder) new rows go to"
    )
    ap.add_argument("--claims", default=None, help="folder where parallel processes claim runs")
    ap.add_argument(
        "--summary-only", action="store_true", help="only summarise the rows already there"
    )
    args = ap.parse_args()
    from bench_pool import split_algorithms

    from hwnas import get_space
    from hwnas.units import parse_count

    RESULTS = Path(args.out) if args.out else RESULTS
    space = get_space(1.2)
    budgets = [int(b) for b in args.budgets.split(",")]
    RESULTS.mkdir(parents=True, exist_ok=True)
    log = RESULTS / args.log
    done = [
        json.loads(line)
        for f in sorted(RESULTS.glob("search_runs*.jsonl"))
        for line in f.read_text().splitlines()
        if line.strip()
    ]
    have = {
        (
            d["kind"],
            d.get("algorithm"),
            d.get("seed"),
            d.get("queries"),
            d["flops"],
            d.get("objectives", "acc"),
        )
        for d in done
    }

    def claim(*key) -> bool:
        """With --claims DIR, several processes share the runs: each run goes to the first that
        claims it."""
        if args.claims is None:
            return True
        Path(args.claims).mkdir(parents=True, exist_ok=True)
        try:
            (Path(args.claims) / "_".join(map(str, key)).replace(",", "+")).open("x").close()
            return True
        except FileExistsError:
            return False

    def record(row):
        done.append(row)
        with open(log, "a") as fh:
            fh.write(json.dumps(row) + "\n")
        print(json.dumps({k: v for k, v in row.items() if k not in ("curve",)}), flush=True)

    for flops_text in [] if args.summary_only else args.flops.split(","):
        flops = parse_count(flops_text)
        if ("ref", None, None, None, flops, "acc") not in have:
            t = time.perf_counter()
            best, best_y, n, allX, ally = reference_optimum(space, flops, gens=args.ref_gens)
            from hwnas.cost import mflops
            from hwnas.search.pareto import hypervolume

            ref_hv = hypervolume(ally, mflops(space, allX), flops / 1e6)
            record(
                {
                    "kind": "ref",
                    "flops": flops,
                    "best": best_y,
                    "n": n,
                    "arch": best.tolist(),
                    "ref_hv": ref_hv,
                    "wall_s": time.perf_counter() - t,
                }
            )
        tasks = [
            (a, seed, max(budgets), "acc")
            for a in split_algorithms(args.algorithms)
            for seed in range(args.seeds)
        ]
        tasks += [("evolution", seed, 10**6, "acc") for seed in range(args.ofa_default_seeds)]
        tasks += [
            (a, seed, 1000, "acc,flops")
            for a in ("weaknas", "nsga2", "random")
            for seed in range(args.mo_seeds)
        ]
        for algorithm, seed, q, objectives in tasks:
            if ("run", algorithm, seed, q, flops, objectives) not in have and claim(
                algorithm, seed, q, flops, objectives
            ):
                record({"kind": "run", **run_one(space, flops, algorithm, seed, q, objectives)})
    summarise(done, budgets)


def summarise(done, budgets):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    refs = {d["flops"]: d for d in done if d["kind"] == "ref"}
    runs = [d for d in done if d["kind"] == "run"]
    summary, lines = {}, []
    front = RESULTS / "reference_front.json"
    hv_refs = json.loads(front.read_text()).get("hv", {}) if front.exists() else {}
    for flops, ref in sorted(refs.items(), reverse=True):
        tag = f"{flops / 1e6:g}M"
        lines += [
            f"#### Budget {tag} MACs, oracle ofa-mlp; reference optimum {ref['best']:.4f} "
            f"({ref['n']:,} oracle queries: 3 evolutions with budget repair + single-gene polish)",
            "",
            "| algorithm | queries | mean best | worst best | mean regret | seeds |",
            "|---|---|---|---|---|---|",
        ]
        algos = sorted(
            {r["algorithm"] for r in runs if r["flops"] == flops and r["objectives"] == "acc"}
        )
        for algo in algos:
            for q in budgets:
                bests = []
                for r in runs:
                    if r["flops"] != flops or r["algorithm"] != algo or r["objectives"] != "acc":
                        continue
                    if r["queries"] == max(budgets) and r["curve"]:
                        # a run that stopped early (a converged population) keeps its final best
                        bests.append(r["curve"][min(q, len(r["curve"])) - 1])
                if bests:
                    regret = ref["best"] - np.array(bests)
                    summary[f"{tag}/{algo}/{q}"] = {
                        "mean": float(np.mean(bests)),
                        "worst": float(np.min(bests)),
                        "mean_regret": float(regret.mean()),
                        "seeds": len(bests),
                    }
                    lines.append(
                        f"| {algo} | {q} | {np.mean(bests):.4f} | {np.min(bests):.4f} | "
                        f"{regret.mean():.4f} | {len(bests)} |"
                    )
        # queries to come within 0.002 of the reference, from the largest-budget run's history
        lines += [
            "",
            "| algorithm | queries to within 0.002 of the reference (median over seeds; "
            "'>' = not reached) |",
            "|---|---|",
        ]
        for algo in algos:
            need = []
            for r in runs:
                if (
                    r["flops"] == flops
                    and r["algorithm"] == algo
                    and r["objectives"] == "acc"
                    and r["queries"] == max(budgets)
                ):
                    hit = np.flatnonzero(np.array(r["curve"]) >= ref["best"] - 0.002)
                    need.append(int(hit[0]) + 1 if len(hit) else np.inf)
            if need:
                med = float(np.median(need))
                summary[f"{tag}/{algo}/queries_to_0.002"] = med
                lines.append(
                    f"| {algo} | {'>' + str(max(budgets)) if np.isinf(med) else int(med)} |"
                )
        ofa = [
            r
            for r in runs
            if r["flops"] == flops and r["algorithm"] == "evolution" and r["queries"] == 10**6
        ]
        if ofa:
            summary[f"{tag}/ofa-evolution-default"] = {
                "mean": float(np.mean([r["best"] for r in ofa])),
                "queries": float(np.mean([r["n"] for r in ofa])),
            }
            lines += [
                "",
                f"OFA's evolution at its own default (population 100 x 500 generations): "
                f"mean best "
                f"{np.mean([r['best'] for r in ofa]):.4f} with "
                f"{np.mean([r['n'] for r in ofa]):,.0f} unique "
                f"oracle queries ({len(ofa)} seeds).",
            ]
        wn = [
            r
            for r in runs
            if r["flops"] == flops
            and r["algorithm"] == "weaknas"
            and r["queries"] == 1000
            and r["objectives"] == "acc"
        ]
        if wn:
            summary[f"{tag}/weaknas/overhead_s_1000"] = float(
                np.median([r["overhead_s"] for r in wn])
            )
            lines += [
                f"Search overhead of weaknas at 1000 queries (everything but the oracle): "
                f"median "
                f"{np.median([r['overhead_s'] for r in wn]):.1f} s wall on the shared "
                f"machine"
            ]
            cpu = [r["cpu_s"] - r["oracle_s"] for r in wn if "cpu_s" in r]
            if cpu:
                summary[f"{tag}/weaknas/overhead_cpu_s_1000"] = float(np.median(cpu))
                lines[-1] += (
                    f", median {np.median(cpu):.1f} CPU-seconds on one thread ({len(cpu)} runs)"
                )
            lines[-1] += "."
        mo = [r for r in runs if r["flops"] == flops and r["objectives"] == "acc,flops"]
        hv_ref = hv_refs.get(tag)
        if mo:
            lines += [
                "",
                "Multi-objective (acc, MACs), 1000 queries: hypervolume of (1 - accuracy, MACs / "
                "budget), reference point (1, 1); the best possible lies in [lower, upper] of "
                "scripts/reference_front.py"
                + (f" ([{hv_ref['lower']:.4f}, {hv_ref['upper']:.4f}])" if hv_ref else "")
                + ", so a run's share of it lies in [hv / upper, hv / lower].",
                "",
                "| algorithm | seeds | mean hypervolume | share of the best possible | each seed's "
                "share (hv / lower) |",
                "|---|---|---|---|---|",
            ]
            for algo in sorted({r["algorithm"] for r in mo}):
                hv = np.array(
                    [r["hv"] for r in sorted(mo, key=lambda r: r["seed"]) if r["algorithm"] == algo]
                )
                summary[f"{tag}/mo/{algo}/hv"] = float(hv.mean())
                if hv_ref is None:
                    lines.append(f"| {algo} | {len(hv)} | {hv.mean():.4f} | | |")
                    continue
                lo, hi = hv.mean() / hv_ref["upper"], hv.mean() / hv_ref["lower"]
                summary[f"{tag}/mo/{algo}/hv_share_reference_front"] = float(hi)
                summary[f"{tag}/mo/{algo}/hv_share_reference_front_min"] = float(lo)
                each = ", ".join(f"{h / hv_ref['lower']:.1%}" for h in hv)
                lines.append(
                    f"| {algo} | {len(hv)} | {hv.mean():.4f} | {lo:.1%} - {hi:.1%} | {each} |"
                )
        lines.append("")
        fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
        top = max(budgets)
        for algo in algos:
            curves = [
                r["curve"]
                for r in runs
                if r["flops"] == flops
                and r["algorithm"] == algo
                and r["objectives"] == "acc"
                and r["queries"] == top
                and r["curve"]
            ]
            if curves:  # a run that stopped early keeps its final best
                C = np.array([c[:top] + c[-1:] * (top - len(c)) for c in curves])
                ax.plot(
                    np.arange(1, top + 1),
                    np.maximum(ref["best"] - C.mean(axis=0), 1e-5),
                    label=algo,
                )
        ax.axhline(0.002, color="k", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("oracle queries")
        ax.set_ylabel("mean regret to reference (top-1, fraction)")
        ax.set_title(f"OFA w1.2 under {tag} MACs, oracle ofa-mlp")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(RESULTS / f"search_{tag}.png")
        plt.close(fig)
    compact = []
    for flops, ref in sorted(refs.items(), reverse=True):
        tag = f"{flops / 1e6:g}M"
        algos = sorted(
            {
                k.split("/")[1]
                for k in summary
                if k.startswith(tag + "/") and k.count("/") == 2 and k.split("/")[2].isdigit()
            }
        )
        compact += [
            f"Under {tag} MACs (reference optimum {ref['best']:.4f}): mean best top-1 over "
            f"seeds "
            f"(worst in brackets) after N oracle queries",
            "",
            "| algorithm | " + " | ".join(f"N={q}" for q in budgets) + " |",
            "|---|" + "---|" * len(budgets),
        ]
        for algo in algos:
            cells = []
            for q in budgets:
                v = summary.get(f"{tag}/{algo}/{q}")
                cells.append(f"{v['mean']:.4f} ({v['worst']:.4f})" if v else "")
            compact.append(f"| {algo} | " + " | ".join(cells) + " |")
        ofa = summary.get(f"{tag}/ofa-evolution-default")
        if ofa:
            compact.append(
                f"| OFA evolution, own default | {ofa['mean']:.4f} with "
                f"{ofa['queries']:,.0f} queries |" + " |" * (len(budgets) - 1)
            )
        compact.append("")
    (RESULTS / "search_compact.md").write_text("\n".join(compact) + "\n")
    (RESULTS / "search.json").write_text(json.dumps(summary, indent=2) + "\n")
    (RESULTS / "search.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
