"""Benchmark: a batch of oracle queries through the local executor vs the Ray executor.

The oracle sleeps a fixed time per query (``SleepOracle``, the stand-in for a GPU-minutes supernet
evaluation), so the figures are the executors' own behaviour, not the CPU's. Every batch goes
through the real ``Evaluator`` (each answer committed to a fresh SQLite store as it arrives).

Compared in one run, interleaved, median of ``--repeats``:
- ``local``: in-process (the default executor), one query after another;
- ``local-pool``: ``LocalExecutor(workers=W)``, a process pool on this machine;
- ``ray``: ``RayExecutor`` on a Ray cluster of W single-CPU worker slots (by default a head node
plus
  W-1 worker nodes started here on 127.0.0.1, each ``--num-cpus 1``; or ``--address`` of yours).

Per-task overhead of the Ray executor, three ways (ms):
- ``roundtrip_ms``: one no-op task, submit to result (median of 30);
- ``noop_ms_per_task``: wall time of a batch of 500 no-op tasks / 500 (throughput with W slots);
- ``sleep_batch_overhead_ms``: (W x wall - N x sleep) / N for the sleeping batch: time per task that
  is not the oracle's sleep, per worker slot (scheduling, transfer, storing).

Writes scripts/results/executor.json. Usage (serialise with other timing runs):
    flock /tmp/hwnas-cpu.lock python scripts/bench_executor.py [--sleep 0.1 --sleep 0.02] [--n 100]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def run_batch(executor, oracle, X) -> float:
    """Seconds to evaluate the batch ``X`` into a fresh store (all answers committed)."""
    from predictors.evaluator import Evaluator
    from predictors.store import EvalStore

    with tempfile.TemporaryDirectory() as d, EvalStore(Path(d) / "e.sqlite") as store:
        ev = Evaluator(oracle, store, executor)
        t = time.perf_counter()
        acc = ev.evaluate(X)
        wall = time.perf_counter() - t
        assert not np.isnan(acc).any() and store.count(oracle.key) == len(X)
    return wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100, help="queries per batch (WeakNAS asks ~100)")
    ap.add_argument(
        "--sleep", type=float, action="append", help="seconds per query (repeatable; default 0.1)"
    )
    ap.add_argument(
        "--workers", type=int, default=2, help="worker slots (Ray CPUs, pool processes)"
    )
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--address", help="use this running Ray cluster instead of starting one here")
    ap.add_argument("--out", default=str(REPO / "scripts" / "results" / "executor.json"))
    args = ap.parse_args()
    sleeps = args.sleep or [0.1]

    import ray

    from hwnas.arch import sample
    from hwnas.executor import LocalExecutor
    from hwnas.ray_executor import RayExecutor
    from hwnas.space import Space
    from tests.ray_helpers import LocalRayCluster, SleepOracle, sleep_task

    space = Space()
    X = sample(args.n, np.random.default_rng(0), space.resolutions)
    assert len({r.tobytes() for r in X}) == len(X)
    load_before = _loadavg()
    t_start = time.perf_counter()
    cluster = None
    if args.address is None:
        cluster = LocalRayCluster(head_cpus=1, workers=args.workers - 1, worker_cpus=1).start()
        address = cluster.address
    else:
        address = args.address
    try:
        rex = RayExecutor(address=address)
        slots = int(rex.cluster_resources().get("CPU", 0))
        pool = LocalExecutor(workers=args.workers)
        # warm-up: every Ray worker process started, the pool's processes importing hwnas once
        list(rex.map_unordered(sleep_task, [0.3] * slots))
        run_batch(pool, SleepOracle(space, 0.0), X[:4])

        # per-task overhead
        rt = []
        for _ in range(30):
            t = time.perf_counter()
            list(rex.map_unordered(sleep_task, [0.0]))
            rt.append(time.perf_counter() - t)
        noop = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            out = list(rex.map_unordered(sleep_task, [0.0] * 500))
            noop.append((time.perf_counter() - t) / 500)
            assert len(out) == 500

        batches = []
        for s in sleeps:
            oracle = SleepOracle(space, seconds=s)
            times = {"local": [], "local-pool": [], "ray": []}
            for _ in range(args.repeats):  # interleaved, so drift hits all three alike
                times["local"].append(run_batch(None, oracle, X))
                times["local-pool"].append(run_batch(pool, oracle, X))
                times["ray"].append(run_batch(rex, oracle, X))
            med = {k: statistics.median(v) for k, v in times.items()}
            row = {
                "sleep_s": s,
                "n": args.n,
                "workers": args.workers,
                "ideal_local_s": args.n * s,
                "ideal_parallel_s": args.n * s / args.workers,
                "median_s": {k: round(v, 4) for k, v in med.items()},
                "all_s": {k: [round(x, 4) for x in v] for k, v in times.items()},
                "speedup_ray_vs_local": round(med["local"] / med["ray"], 3),
                "speedup_pool_vs_local": round(med["local"] / med["local-pool"], 3),
                "sleep_batch_overhead_ms": {
                    "ray": round(1000 * (args.workers * med["ray"] - args.n * s) / args.n, 2),
                    "local-pool": round(
                        1000 * (args.workers * med["local-pool"] - args.n * s) / args.n, 2
                    ),
                    "local": round(1000 * (med["local"] - args.n * s) / args.n, 2),
                },
            }
            batches.append(row)
            print(json.dumps(row), file=sys.stderr)
        rex.close()
    finally:
        if cluster is not None:
            cluster.stop()

    result = {
        "what": "Evaluator batch over local / local process pool / Ray with a sleeping oracle; Ray "
        "per-task overhead",
        "command": "flock /tmp/hwnas-cpu.lock python scripts/bench_executor.py "
        + " ".join(sys.argv[1:]),
        "cluster": (
            "local: head --num-cpus 1 + %d worker node(s) --num-cpus 1, 127.0.0.1"
            % (args.workers - 1)
        )
        if args.address is None
        else f"existing cluster at {args.address}",
        "ray_slots": slots,
        "overhead_ms": {
            "roundtrip_ms": round(1000 * statistics.median(rt), 2),
            "roundtrip_ms_p90": round(1000 * sorted(rt)[int(0.9 * len(rt))], 2),
            "noop_ms_per_task": round(1000 * statistics.median(noop), 3),
        },
        "batches": batches,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "ray": ray.__version__,
            "platform": platform.platform(),
            "loadavg_before": load_before,
            "loadavg_after": _loadavg(),
        },
        "seconds": round(time.perf_counter() - t_start, 1),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["overhead_ms"]))
    for b in batches:
        print(
            f"sleep {b['sleep_s']} s x {b['n']}: local {b['median_s']['local']:.2f} s, "
            f"pool {b['median_s']['local-pool']:.2f} s, ray {b['median_s']['ray']:.2f} s "
            f"-> ray speed-up {b['speedup_ray_vs_local']}x (ideal {args.workers}x)"
        )


if __name__ == "__main__":
    main()
