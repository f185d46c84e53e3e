"""Reference Pareto front (accuracy vs MACs) for the multi-objective benchmark, oracle ofa-mlp.

For ``--budgets`` MACs budgets spaced geometrically from the smallest achievable up to 600M (400M
is always one of them), the reference optimum of each budget: the better of two searches on the
oracle itself from scripts/bench_search.py, ``reference_optimum`` (evolutions plus a single-gene
polish) and ``reference_loop`` (weaknas with the oracle as its predictor and two islands, 300
queries; its rows go to reference_front_loop*.jsonl, ``--loop-queries 0`` skips it). Two
hypervolumes per benchmark budget B bracket the best possible one (hwnas's ``hypervolume`` of
(1 - accuracy, MACs / B), reference point (1, 1)):

- ``lower``: the hypervolume of the Pareto front of *every* arch evaluated on the way (all of them
  exist, so the best possible front is at least this good);
- ``upper``: an optimistic staircase that gives every cost between two budgets the accuracy of the
  next budget's optimum (no front can beat it if the per-budget optima are the true optima).

A run's hypervolume as a share of the best possible therefore lies in [hv / upper, hv / lower]:
:func:`hv_share` computes both from ``scripts/results/reference_front.json``.

Budgets run one at a time, each row appended to scripts/results/reference_front_runs.jsonl
(resumable; ``--part I/N`` runs every N-th budget and logs to reference_front_runs.partI.jsonl, so
N processes can share the work; every run summarises all the logs it finds). The effort (restarts x
generations of 4,000 children) starts at ``--restarts`` x ``--gens`` and is halved for the next
budgets whenever one budget took more than ``--max-seconds``; each budget records its own effort,
queries and seconds.

Usage: HWNAS_ASSETS=../shared/assets python scripts/reference_front.py [--budgets 24]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
FRONT_FILE = RESULTS / "reference_front.json"
BENCH_BUDGETS_M = (400.0, 600.0)


# ---- for the benchmark: load the front, state a hypervolume as a share of the best possible ------


def load_reference_front(path=FRONT_FILE) -> dict:
    """The reference front document (see the module docstring); ``hv`` is keyed by budget, e.g.
    "600M"."""
    return json.loads(Path(path).read_text())


def hv_share(acc, mflops, budget_mflops: float, front: dict | None = None) -> dict:
    """A measured front's hypervolume against the reference for budget ``budget_mflops`` (400 or
    600).

    ``acc``: top-1 fractions, ``mflops``: MACs in millions, of every measured arch of the run.
    Returns ``{"hv", "ref_lower", "ref_upper", "share_min", "share_max"}``: the best possible
    hypervolume lies in [ref_lower, ref_upper], so the run's share of it lies in [share_min,
    share_max].
    """
    from hwnas.search.pareto import hypervolume

    front = load_reference_front() if front is None else front
    ref = front["hv"][f"{budget_mflops:g}M"]
    hv = hypervolume(acc, mflops, budget_mflops)
    return {
        "hv": hv,
        "ref_lower": ref["lower"],
        "ref_upper": ref["upper"],
        "share_min": hv / ref["upper"],
        "share_max": hv / ref["lower"],
    }


# ---- building it ---------------------------------------------------------------------------------


def budgets_mflops(space, n: int) -> list:
    """``n`` budgets (MMACs) from the smallest achievable to 600, geometric, with 400 and 600
    exact."""
    from hwnas.arch import Arch
    from hwnas.cost import mflops

    least = float(
        mflops(space, np.stack([Arch.smallest(r).to_array() for r in space.resolutions])).min()
    )
    least = np.ceil(least * 1000) / 1000  # in 3 decimals, rounded up so that the smallest fits
    grid = np.geomspace(least, 600.0, n - 1)
    return sorted({least} | {round(float(b), 3) for b in grid[1:]} | set(BENCH_BUDGETS_M))


def _front_points(acc, cost):
    from hwnas.search.pareto import pareto_mask

    m = pareto_mask(acc, cost)
    return acc[m], cost[m]


def build_hv(rows: list, front_acc, front_cost) -> dict:
    """Lower/upper reference hypervolumes at each benchmark budget (see the module docstring)."""
    from hwnas.search.pareto import hypervolume

    b = np.array([r["budget_mflops"] for r in rows])
    # the optimum under b is at least any arch found at a cost <= b (a cheaper optimum fits too)
    found = np.array([front_acc[front_cost <= x + 1e-9].max(initial=0.0) for x in b])
    best = np.maximum.accumulate(np.maximum([r["accuracy"] for r in rows], found))
    out = {}
    for B in BENCH_BUDGETS_M:
        lower = hypervolume(front_acc, front_cost, B)
        k = b <= B + 1e-9
        # optimistic: from each budget on, the accuracy of the next budget's optimum
        opt_acc = np.concatenate([best[k][1:], best[k][-1:]])
        upper = hypervolume(opt_acc, b[k], B)
        out[f"{B:g}M"] = {"lower": lower, "upper": upper, "budgets_used": int(k.sum())}
    return out


def _known_optima(path, space) -> list:
    """Rows for budgets whose reference optimum scripts/bench_search.py already computed."""
    from hwnas.cost import mflops

    p = Path(path)
    if not p.is_file():
        return []
    out = []
    for d in map(json.loads, p.read_text().splitlines()):
        if d.get("kind") == "ref" and d["flops"] / 1e6 in BENCH_BUDGETS_M:
            cost = float(mflops(space, np.array([d["arch"]]))[0])
            out.append(
                {
                    "budget_mflops": d["flops"] / 1e6,
                    "accuracy": d["best"],
                    "mflops": cost,
                    "arch": d["arch"],
                    "queries": d["n"],
                    "restarts": 3,
                    "gens": 50,
                    "children": 4000,
                    "wall_s": round(d["wall_s"], 1),
                    "source": str(p.name),
                    "front_acc": [d["best"]],
                    "front_mflops": [cost],
                }
            )
    return out


def _log(results, stem, part, parts) -> tuple:
    """(this process's log file, {budget: row} from every ``stem*.jsonl``; a later row of a
    budget replaces an earlier one)."""
    log = results / (f"{stem}.jsonl" if parts == 1 else f"{stem}.part{part}.jsonl")
    rows = {
        r["budget_mflops"]: r
        for p in sorted(results.glob(f"{stem}*.jsonl"))
        for r in map(json.loads, p.read_text().splitlines())
    }
    return log, rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--budgets", type=int, default=24, help="number of MACs budgets (>= 20)")
    ap.add_argument("--restarts", type=int, default=3)
    ap.add_argument("--gens", type=int, default=50)
    ap.add_argument(
        "--max-seconds", type=float, default=60.0, help="halve the effort after a slower budget"
    )
    ap.add_argument("--out", default=None, help="results folder (default scripts/results)")
    ap.add_argument(
        "--part", default="0/1", help="I/N: compute only every N-th budget, from the I-th"
    )
    ap.add_argument(
        "--known",
        default=str(RESULTS / "search_runs.jsonl"),
        help="bench_search's log: its reference optima (full effort) are reused for their budgets",
    )
    ap.add_argument(
        "--loop-queries",
        type=int,
        default=300,
        help="queries of the second search (bench_search.reference_loop) per budget; 0: none",
    )
    args = ap.parse_args()
    results = Path(args.out) if args.out else RESULTS
    sys.path.insert(0, str(Path(__file__).parent))
    # one definition of each reference search
    from bench_search import oracle_fn, reference_loop, reference_optimum

    from hwnas import get_space
    from hwnas.arch import Arch
    from hwnas.cost import mflops
    from hwnas.search.problem import Problem

    space = get_space(1.2)
    oracle, f = oracle_fn(space)
    least = budgets_mflops(space, 2)[0]
    results.mkdir(parents=True, exist_ok=True)
    part, parts = (int(v) for v in args.part.split("/"))
    log, done = _log(results, "reference_front_runs", part, parts)
    for r in _known_optima(args.known, space):
        if r["budget_mflops"] not in done:
            done[r["budget_mflops"]] = r
            with open(log, "a") as fh:
                fh.write(json.dumps(r) + "\n")
    restarts, gens = args.restarts, args.gens
    front_acc, front_cost = np.zeros(0), np.zeros(0)
    for r in done.values():
        front_acc = np.concatenate([front_acc, r["front_acc"]])
        front_cost = np.concatenate([front_cost, r["front_mflops"]])
    todo = sorted(budgets_mflops(space, args.budgets), reverse=True)[part::parts]
    for b in todo:  # the costly budgets first
        if b in done and done[b]["restarts"] * done[b]["gens"] >= restarts * gens:
            continue  # done before with at least this effort (a smaller effort is redone)
        t = time.perf_counter()
        if b <= least + 1e-6:  # only the smallest subnet fits: nothing to search
            allX = np.stack([Arch.smallest(min(space.resolutions)).to_array()])
            ally = f(allX)
            best, best_y, n = allX[0], float(ally[0]), 1
        else:
            best, best_y, n, allX, ally = reference_optimum(
                space, b * 1e6, restarts=restarts, gens=gens
            )
        fa, fc = _front_points(ally, mflops(space, allX))
        row = {
            "budget_mflops": b,
            "accuracy": best_y,
            "mflops": float(mflops(space, best[None])[0]),
            "arch": best.tolist(),
            "queries": n,
            "restarts": restarts,
            "gens": gens,
            "children": 4000,
            "wall_s": round(time.perf_counter() - t, 1),
            "source": "this script",
            "front_acc": fa.tolist(),
            "front_mflops": fc.tolist(),
        }
        del allX, ally
        done[b] = row
        with open(log, "a") as fh:
            fh.write(json.dumps(row) + "\n")
        print(json.dumps({k: v for k, v in row.items() if not k.startswith("front")}), flush=True)
        front_acc, front_cost = np.concatenate([front_acc, fa]), np.concatenate([front_cost, fc])
        if row["wall_s"] > args.max_seconds:  # keep the whole front affordable on a busy machine
            gens, restarts = (
                (max(10, gens // 2), restarts) if gens > 10 else (gens, max(1, restarts - 1))
            )
    loop_log, loops = _log(results, "reference_front_loop", part, parts)
    for b in todo if args.loop_queries else []:
        if b in loops or b <= least + 1e-6:
            continue
        t = time.perf_counter()
        problem = Problem(space, flops=b * 1e6)
        best, best_y, n = reference_loop(problem, seed=0, queries=args.loop_queries)
        loops[b] = {
            "budget_mflops": b,
            "accuracy": best_y,
            "mflops": float(mflops(space, best[None])[0]),
            "arch": best.tolist(),
            "loop_queries": args.loop_queries,
            "oracle_calls": n,
            "seed": 0,
            "wall_s": round(time.perf_counter() - t, 1),
        }
        with open(loop_log, "a") as fh:
            fh.write(json.dumps(loops[b]) + "\n")
        print(json.dumps({"loop": loops[b]}), flush=True)
    for b, lp in loops.items():  # the better of the two searches is the budget's optimum
        front_acc = np.append(front_acc, lp["accuracy"])
        front_cost = np.append(front_cost, lp["mflops"])
        if b in done:
            evo = done[b]
            done[b] = {
                **evo,
                "evolution_accuracy": evo["accuracy"],
                "loop_accuracy": lp["accuracy"],
            }
            if lp["accuracy"] > evo["accuracy"]:
                done[b].update({k: lp[k] for k in ("accuracy", "mflops", "arch")}, found_by="loop")
    rows = sorted(done.values(), key=lambda r: r["budget_mflops"])
    fa, fc = _front_points(front_acc, front_cost)
    doc = {
        "oracle": oracle.key,
        "width": space.width,
        "resolutions": list(space.resolutions),
        "hv_definition": "hwnas.search.pareto.hypervolume of (1 - accuracy, MACs / budget), ref "
        "(1, 1)",
        "hv": build_hv(rows, fa, fc),
        "budgets": [{k: v for k, v in r.items() if not k.startswith("front")} for r in rows],
        "front": [{"accuracy": float(a), "mflops": float(c)} for a, c in zip(fa, fc, strict=True)],
    }
    text = re.sub(
        r"\[\s+([-\d.,\s]+?)\s+\]",
        lambda m: "[" + " ".join(m.group(1).split()) + "]",
        json.dumps(doc, indent=1),
    )  # number lists (archs) on one line
    (results / FRONT_FILE.name).write_text(text + "\n")
    print(json.dumps(doc["hv"], indent=1))


if __name__ == "__main__":
    sys.exit(main())
