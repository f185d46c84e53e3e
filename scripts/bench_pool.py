"""Benchmark: search a fixed pool the NAS-Bench way, and count the queries to find the pool's best.

The pool is ``--pool-size`` unique uniform random subnets under the MACs budget (seed 0), answered
by a table of accuracies: OFA's ``ofa-mlp`` predictions by default, or a table of *measured*
accuracies from ``$HWNAS_REAL_TABLE`` (CSV or JSON lines, see ``hwnas.archfile``) with
``--real``. Every algorithm searches with ``--pool`` and ``--oracle table`` on the same file, as
a user would; a run stops as soon as it measures the pool's best (or at ``--queries``), and the
number of oracle queries that took is recorded. Random search needs (P + 1) / 2 on average.

Rows go to scripts/results/pool_runs.jsonl as they finish (the script resumes: rows already there
are not run again); the summary is scripts/results/pool.json. The pool file itself is written to
``--work`` (default: a folder under the system temp dir), never into the repository.

An algorithm in ``--algorithms`` is ``NAME[+PREDICTOR[(KEY=VALUE,...)]][{KEY=VALUE,...}]``:
``weaknas+linear`` is weaknas with that predictor, ``weaknas{trust_region=true}`` weaknas with that
``--option``, ``weaknas+gp(mean=trend)`` weaknas with that ``--predictor-option``. The spec as
given is the row's ``algorithm``; each new row also records the ``commit`` of the code it
measured.

Usage: HWNAS_ASSETS=../shared/assets python scripts/bench_pool.py [--seeds 10] [--pool-size 5000]
       HWNAS_REAL_TABLE=measured.csv python scripts/bench_pool.py --real
       ... --algorithms 'weaknas,weaknas{trust_region=true}'
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
ALGORITHMS = "weaknas,weaknas+linear,weaknas-pool,random,evolution,regularized,nsga2,optuna-tpe"


def make_pool_file(work: Path, size: int, flops: float) -> Path:
    """``size`` feasible uniform random subnets with their ofa-mlp accuracies, as JSON lines."""
    from hwnas import get_space
    from hwnas.arch import Arch
    from hwnas.search.problem import Problem
    from predictors import make_oracle

    path = work / f"pool_ofa-mlp_{size}_{flops / 1e6:g}M.jsonl"
    if path.exists():
        return path
    space = get_space(1.2)
    X = Problem(space, flops=flops).sample_feasible(size, np.random.default_rng(0), tilt=False)
    acc = [a.accuracy for a in make_oracle("ofa-mlp", space).evaluate(X)]
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as f:
        for row, a in zip(X, acc, strict=True):
            f.write(json.dumps({**Arch.from_array(row).to_dict(), "accuracy": float(a)}) + "\n")
    tmp.replace(path)
    return path


class FoundBest(Exception):
    def __init__(self, n):
        super().__init__(f"found the pool's best at query {n}")
        self.n = n


def finder_oracle(space, table_path, best_id, near):
    """The table oracle on ``table_path`` that stops the run when ``best_id`` is asked, and notes
    the first query that came within ``near`` of the best (``near_at``)."""
    from hwnas.arch import Arch
    from predictors.table import TableOracle

    class _Finder(TableOracle):
        asked, near_at = 0, None

        def evaluate_iter(self, X):
            for j, row in enumerate(X):
                self.asked += 1
                answer = self.evaluate(row[None, :])[0]
                if self.near_at is None and answer.accuracy >= near:
                    self.near_at = self.asked
                if Arch.from_array(row).id == best_id:
                    raise FoundBest(self.asked)
                yield j, answer

    return _Finder(space, table_path)


SPEC_FORM = "NAME[+PREDICTOR[(KEY=VALUE,...)]][{KEY=VALUE,...}]"
SPEC = re.compile(r"([\w-]+)(?:\+([\w-]+)(?:\(([^()]*)\))?)?(?:\{([^{}]*)\})?")


def split_algorithms(text: str) -> list:
    """``--algorithms`` split at the commas outside braces and parentheses."""
    return re.findall(r"[^,{(]+(?:\([^)]*\))?(?:\{[^}]*\})?", text)


def _pairs(text: str, spec: str) -> dict:
    """``KEY=VALUE,...`` as a dict of strings (typed later, by the settings that read them)."""
    pairs = [kv.partition("=") for kv in text.split(",") if kv.strip()]
    if any(not sep for _, sep, _ in pairs):
        raise SystemExit(f"bench_pool: options of {spec!r} must be KEY=VALUE")
    return {k.strip(): v.strip() for k, _, v in pairs}


def parse_spec(spec: str) -> dict:
    """SearchConfig settings of ``NAME[+PREDICTOR[(KEY=VALUE,...)]][{KEY=VALUE,...}]``, e.g.
    ``weaknas+gp(mean=trend){islands=2}`` -> algorithm weaknas, predictor gp, predictor_options
    {"mean": "trend"}, options {"islands": "2"}."""
    match = SPEC.fullmatch(spec.strip())
    if not match:
        raise SystemExit(f"bench_pool: algorithm {spec!r} is not {SPEC_FORM}")
    name, predictor, predictor_options, options = match.groups()
    out = {"algorithm": name}
    if predictor:
        out["predictor"] = predictor
    if predictor_options:
        out["predictor_options"] = _pairs(predictor_options, spec)
    if options:
        out["options"] = _pairs(options, spec)
    return out


def measured_commit() -> str:
    """The last commit that changed the measured code (``hwnas/``, ``predictors/``), ``+dirty``
    when the checkout's code differs from it."""
    root = Path(__file__).resolve().parent.parent

    def git(*args):
        run = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        return run.stdout.strip() if run.returncode == 0 else ""

    head = git("log", "-1", "--format=%h", "--abbrev=12", "--", "hwnas", "predictors") or "unknown"
    dirty = git("status", "--porcelain", "--", "hwnas", "predictors")
    return head + ("+dirty" if dirty else "")


def run_one(space, table_path, best_id, near, algorithm, seed, queries, flops):
    from hwnas.search import SearchConfig, run_search
    from predictors.store import EvalStore

    extra = parse_spec(algorithm)
    cfg = SearchConfig(
        flops=flops,
        queries=queries,
        seed=seed,
        pool=str(table_path),
        oracle="table",
        oracle_table=str(table_path),
        width=space.width,
        resolutions=list(space.resolutions),
        **extra,
    )
    oracle = finder_oracle(space, table_path, best_id, near)
    t = time.perf_counter()
    with EvalStore(":memory:") as store:
        try:
            r = run_search(cfg, oracle=oracle, store=store, progress=False)
            found, n, best = None, r["queries"], r["best"]["accuracy"]
        except FoundBest as hit:
            found, n, best = hit.n, hit.n, None
    return {
        "algorithm": algorithm,
        "seed": seed,
        "cap": queries,
        "found_at": found,
        "n": n,
        "near_at": oracle.near_at,
        "best_if_not_found": best,
        "wall_s": round(time.perf_counter() - t, 2),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--pool-size", type=int, default=5000)
    ap.add_argument("--queries", type=int, default=1000, help="cap on queries per run")
    ap.add_argument(
        "--flops",
        default="600M",
        help="MACs budget or none (--real: none unless given; a budget's summary is "
        "pool_real_<budget>M.json)",
    )
    ap.add_argument(
        "--near",
        type=float,
        default=0.001,
        help="also count the queries to come within this of the best",
    )
    ap.add_argument("--algorithms", default=ALGORITHMS)
    ap.add_argument(
        "--real", action="store_true", help="search $HWNAS_REAL_TABLE instead of ofa-mlp"
    )
    ap.add_argument("--width", type=float, default=1.0, help="supernet width of the --real table")
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "hwnas_bench_pool"))
    args = ap.parse_args()
    from hwnas.arch import Arch
    from hwnas.archfile import read_arch_list
    from hwnas.search.problem import Problem
    from hwnas.space import Space
    from hwnas.units import parse_count

    if args.real:
        table = os.environ.get("HWNAS_REAL_TABLE")
        if not table or not Path(table).is_file():
            print("skipped: --real needs HWNAS_REAL_TABLE set to a table of measured accuracies")
            return 0
        table, tag = Path(table), "real"
        archs = read_arch_list(table, what="HWNAS_REAL_TABLE", need_accuracy=True).X
        space = Space(width=args.width, resolutions=tuple(sorted(set(archs[:, -1].tolist()))))
        flops = None if args.flops in ("none", "600M") else parse_count(args.flops)
    else:
        space = Space(width=1.2)
        flops = None if args.flops == "none" else parse_count(args.flops)
        work = Path(args.work)
        work.mkdir(parents=True, exist_ok=True)
        table, tag = make_pool_file(work, args.pool_size, flops), "ofa-mlp"
    rows = read_arch_list(table, what="pool", width=space.width, need_accuracy=True)
    feasible = Problem(space, flops=flops).feasible(rows.X)
    i = int(np.flatnonzero(feasible)[np.argmax(rows.accuracy[feasible])])
    best_id, best_acc = Arch.from_array(rows.X[i]).id, float(rows.accuracy[i])
    size = len({Arch.from_array(x).id for x in rows.X[feasible]})
    n_near = int((rows.accuracy[feasible] >= best_acc - args.near).sum())
    print(
        f"pool {table} ({tag}): {size} feasible archs, best {best_acc:.4f} ({best_id}), "
        f"{n_near} within {args.near} of it",
        flush=True,
    )

    RESULTS.mkdir(parents=True, exist_ok=True)
    log = RESULTS / "pool_runs.jsonl"
    done = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    # "code" 2: the default weaknas of issue 12 (GP, anytime); rows of the earlier code are kept
    # apart
    key = {"pool": tag, "pool_size": size, "flops": flops, "sha256": rows.sha256[:16], "code": 2}
    near = best_acc - args.near
    have = {
        (d["algorithm"], d["seed"], d["cap"])
        for d in done
        if all(d.get(k) == v for k, v in key.items())
    }
    commit = measured_commit()
    for algorithm in split_algorithms(args.algorithms):
        for seed in range(args.seeds):
            if (algorithm, seed, args.queries) in have:
                continue
            row = {
                **key,
                **run_one(space, table, best_id, near, algorithm, seed, args.queries, flops),
                "commit": commit,
            }
            done.append(row)
            with open(log, "a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)
    summarise(done, key, best_acc, args.queries, args.near, n_near)
    return 0


def summarise(done, key, best_acc, cap, near, n_near):
    runs = [d for d in done if all(d.get(k) == v for k, v in key.items()) and d["cap"] == cap]
    out = {
        "pool": key,
        "pool_best": best_acc,
        "cap": cap,
        "near": near,
        "archs_near_best": n_near,
        "random_expected": (key["pool_size"] + 1) / 2,
        "algorithms": {},
    }
    for algo in sorted({r["algorithm"] for r in runs}):
        rs = [r for r in runs if r["algorithm"] == algo]
        need = np.array([r["found_at"] if r["found_at"] else np.inf for r in rs], dtype=float)
        out["algorithms"][algo] = {
            "seeds": len(rs),
            "found": int(np.isfinite(need).sum()),
            "median_queries": None if np.isinf(np.median(need)) else float(np.median(need)),
            "mean_queries_if_found": (
                float(need[np.isfinite(need)].mean()) if np.isfinite(need).any() else None
            ),
            "queries": [None if np.isinf(v) else int(v) for v in need],
        }
        near_at = [r.get("near_at") for r in rs if "near_at" in r]
        if near_at:
            arr = np.array([np.inf if v is None else v for v in near_at], dtype=float)
            out["algorithms"][algo]["median_queries_to_near"] = (
                None if np.isinf(np.median(arr)) else float(np.median(arr))
            )
    name = "pool" if key["pool"] == "ofa-mlp" else f"pool_{key['pool']}"
    if key["pool"] != "ofa-mlp" and key["flops"] is not None:  # a budget on the measured table
        name += f"_{key['flops'] / 1e6:g}M"
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out["algorithms"], indent=1))


if __name__ == "__main__":
    sys.exit(main())
