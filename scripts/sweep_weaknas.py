"""Many search runs on the ofa-mlp oracle at once, one process per core: for option sweeps.

A job is ``{"tag", "flops", "seed", "queries", "opt": {...}, "predictor", "predictor_kw": {...},
"algorithm", "cheat"}`` (``cheat``: the oracle itself as the predictor, a diagnostic of the
optimiser alone; ``predictor_kw``: keywords of the weak predictor, e.g. ``{"with_cost": true}``).
``run`` writes one JSON line per finished job (the job, its best-so-far curve, overhead and CPU
seconds) and skips jobs already in the file, so a cut-off sweep resumes; ``summary`` prints mean
(worst) regret to ``exp_weaknas.REF`` per tag and budget. The runs are the benchmark's (same seeds,
same code path), so a sweep of the default reproduces scripts/results/search_runs_weaknas.jsonl
exactly.

Usage: HWNAS_ASSETS=... python scripts/sweep_weaknas.py run JOBS.json OUT.jsonl [--procs 16]
       python scripts/sweep_weaknas.py summary OUT.jsonl[,MORE.jsonl.gz] [--at 100,300,1000]
This round's sweeps ran on the 16 cores of the GPU machine (docs/search.md "Third round").
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import time
from collections import defaultdict
from multiprocessing import Pool
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")


def run_job(job) -> dict:
    """One search run of ``job``; the job with its curve, overhead and CPU seconds."""
    from hwnas import get_space
    from hwnas.search import SearchConfig, run_search
    from predictors import make_oracle
    from predictors.store import EvalStore

    oracle = make_oracle("ofa-mlp", get_space(1.2))
    if job.get("cheat"):
        from exp_weaknas import use_oracle_as_predictor

        use_oracle_as_predictor(oracle)
    extra = {"predictor": job["predictor"]} if job.get("predictor") else {}
    cfg = SearchConfig(
        flops=job["flops"],
        queries=job["queries"],
        seed=job["seed"],
        algorithm=job.get("algorithm", "weaknas"),
        options=job.get("opt", {}),
        predictor_options={} if job.get("cheat") else job.get("predictor_kw", {}),
        **extra,
    )
    t = time.process_time()
    with EvalStore(":memory:") as store:
        r = run_search(cfg, oracle=oracle, store=store)
        hist = np.array([row["accuracy"] for row in store.rows(oracle.key)])
    curve = np.fmax.accumulate(hist).round(6).tolist()
    cpu = time.process_time() - t
    return {**job, "curve": curve, "overhead": r["overhead_seconds"], "cpu": cpu}


def run(jobs_path, out_path, procs) -> None:
    """Run every job of ``jobs_path`` not yet in ``out_path``, ``procs`` at a time."""
    jobs = json.loads(Path(jobs_path).read_text())
    done = set()
    if Path(out_path).exists():
        for line in Path(out_path).read_text().splitlines():
            d = json.loads(line)
            done.add((d["tag"], d["flops"], d["seed"]))
    jobs = [j for j in jobs if (j["tag"], j["flops"], j["seed"]) not in done]
    jobs.sort(key=lambda j: -j["queries"])  # stable: the given order within a size
    with Pool(procs, maxtasksperchild=1) as pool, open(out_path, "a") as fh:
        for res in pool.imap_unordered(run_job, jobs):
            fh.write(json.dumps(res) + "\n")
            fh.flush()
            print(res["tag"], res["flops"], res["seed"], res["curve"][-1], flush=True)


def summary(paths, at) -> list:
    """Lines: per tag and budget, mean (worst) regret at each N in ``at``, mean CPU seconds."""
    from exp_weaknas import REF

    groups = defaultdict(list)
    for path in paths.split(","):
        text = gzip.open(path, "rt").read() if path.endswith(".gz") else Path(path).read_text()
        for line in text.splitlines():
            r = json.loads(line)
            groups[(r["tag"], r["flops"])].append(r)
    out = []
    for (tag, flops), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], -kv[0][1])):
        cells = []
        for n in at:
            if n <= max(len(r["curve"]) for r in rs):
                b = np.array([r["curve"][min(n, len(r["curve"])) - 1] for r in rs])
                cells.append(f"{n}: {REF[flops] - b.mean():.4f} ({REF[flops] - b.min():.4f})")
        cpu = np.mean([r["cpu"] for r in rs])
        out.append(f"{tag:12s} {flops / 1e6:4.0f}M n={len(rs):2d} " + " | ".join(cells))
        out[-1] += f" | {cpu:.0f} CPU-s"
    return out


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("jobs")
    r.add_argument("out")
    r.add_argument("--procs", type=int, default=os.cpu_count())
    s = sub.add_parser("summary")
    s.add_argument("paths")
    s.add_argument("--at", default="100,300,1000")
    args = ap.parse_args()
    if args.cmd == "run":
        run(args.jobs, args.out, args.procs)
    else:
        print("\n".join(summary(args.paths, [int(n) for n in args.at.split(",")])))


if __name__ == "__main__":
    main()
