#!/usr/bin/env python
"""Latency benchmarks: timer/thread stability, table build time, table accuracy, lookup speed,
note10 figures.

Run the timing steps under the shared lock, one step at a time if others wait for the machine; build
and validate into a folder outside the shipped ``devices/`` (``scripts/rebuild_cpu_ort.sh`` does
that and copies the result into ``devices/cpu-ort`` only with ``--install``)::

    flock /tmp/hwnas-cpu.lock python scripts/bench_latency.py --steps stability
    flock /tmp/hwnas-cpu.lock python scripts/bench_latency.py --steps build --out
    /tmp/rebuild/cpu-ort --fresh flock /tmp/hwnas-cpu.lock python scripts/bench_latency.py --steps
    validate --out /tmp/rebuild/cpu-ort flock /tmp/hwnas-cpu.lock python scripts/bench_latency.py
    --steps holdout --out /tmp/rebuild/cpu-ort HWNAS_ASSETS=/work/shared/assets python
    scripts/bench_latency.py --steps lookup,note10 --out devices/cpu-ort

Each step merges its figures into ``scripts/results/latency_bench.json``; ``validate``/``holdout``
also write ``scripts/results/latency_validation*.csv`` and a scatter plot
``latency_validation.png``. ``build`` times ``latency.profile_device`` (what ``hwnas profile`` runs)
for 5 resolutions into ``--out``; ``validate`` measures 100 random subnets (seed 0), fits the
correction and stores it in the device; ``holdout`` measures 100 *other* random subnets (seed 1) and
scores the stored correction on them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "scripts" / "results"
OUT_JSON = RESULTS / "latency_bench.json"


def merge(key, value):
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = json.loads(OUT_JSON.read_text()) if OUT_JSON.is_file() else {}
    data[key] = value
    OUT_JSON.write_text(json.dumps(data, indent=1, default=float) + "\n")
    print(json.dumps({key: value}, default=float)[:2000])


def step_stability(args):
    """Coefficient of variation over rounds of a few blocks, for 1 thread (thread CPU time / wall)
    and 2 threads."""
    from hwnas.space import get_space
    from latency.keys import table_specs
    from latency.modules import build_layer
    from latency.profilers import make_profiler
    from latency.profilers.base import time_interleaved

    specs = table_specs(get_space(1.2), 224)
    pick = [specs[i] for i in (0, 1, 6, 30, 60, 90)]
    out = {}
    for label, kw in (
        ("threads1_thread_cpu", {"threads": 1, "timer": "thread_cpu"}),
        ("threads1_wall", {"threads": 1, "timer": "wall"}),
        ("threads2_wall", {"threads": 2, "timer": "wall"}),
    ):
        prof = make_profiler("ort", **kw)
        runners = [prof.prepare(build_layer(s), s.input_shape) for s in pick]
        t = time_interleaved(runners, rounds=21, warmup=5)
        out[label] = {
            "median_ms": [x.median for x in t],
            "cv_pct": [100 * x.std / x.median for x in t],
            "iqr_over_median_pct": [100 * x.iqr / x.median for x in t],
        }
        out[label]["mean_cv_pct"] = float(np.mean(out[label]["cv_pct"]))
    out["entries"] = [s.key for s in pick]
    out["load_average"] = os.getloadavg()
    merge("stability", out)


def step_build(args):
    from latency import profile_device

    folder = Path(args.out)
    if args.fresh and folder.exists():
        for p in list(folder.glob("*_lookup_table.yaml")) + [
            folder / "device.yaml",
            folder / "validation.json",
        ]:
            if p.exists():
                p.unlink()
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    res = profile_device(
        args.device_name, out=folder, resolutions=(160, 176, 192, 208, 224), progress=True
    )
    wall = time.perf_counter() - t0
    merge(
        "build",
        {
            "command": f"hwnas profile --device {args.device_name} --out {folder}",
            "seconds": wall,
            "entries_measured": res["measured"],
            "entries_skipped": res["skipped"],
            "per_resolution": res["per_resolution"],
            "load_average_before": load0,
            "load_average_after": os.getloadavg(),
            "target_seconds": 180,
        },
    )


def _write_csv(name, X, table, pred, measured):
    from hwnas.arch import decode

    lines = ["arch_id,resolution,table_ms,predicted_ms,measured_ms"]
    for a, t, p, m in zip(decode(X), table, pred, measured, strict=True):
        lines.append(f"{a.id},{a.r},{t:.4f},{p:.4f},{m:.4f}")
    (RESULTS / name).write_text("\n".join(lines) + "\n")


def _plot(points, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    hi = 0
    for label, (pred, meas) in points.items():
        ax.scatter(meas, pred, s=10, label=label)
        hi = max(hi, float(np.max(meas)), float(np.max(pred)))
    xs = np.array([0, hi * 1.05])
    ax.plot(xs, xs, "k-", lw=0.8)
    ax.plot(xs, xs * 1.1, "k:", lw=0.6)
    ax.plot(xs, xs * 0.9, "k:", lw=0.6)
    ax.set_xlabel("measured end to end (ms)")
    ax.set_ylabel("predicted from table (ms)")
    ax.set_title("cpu-ort: prediction vs measurement (+-10% dotted)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def step_validate(args, seed=0, write=True, key="validate"):
    from latency import load_device
    from latency.validate import validate_device

    before = load_device(args.out)
    res = validate_device(
        args.out,
        samples=args.samples,
        seed=seed,
        out=args.out if write else None,
        progress=True,
        return_rows=True,
    )
    rows = res.pop("rows")
    pred = rows["corrected_ms"] if write else rows["previous_ms"]
    _write_csv(f"latency_{key}.csv", rows["X"], rows["table_ms"], pred, rows["measured_ms"])
    merge(
        key,
        {
            "command": f"hwnas validate-latency --device {args.out} --samples {args.samples} "
            f"--seed {seed}" + ("" if write else " --no-write"),
            **{
                k: res[k]
                for k in (
                    "samples",
                    "seed",
                    "seconds",
                    "table_sum",
                    "corrected",
                    "corrected_leave_one_out",
                    "correction",
                    "measured_ms",
                )
            },
            "stored_correction_before": before.correction,
            "stored_correction_accuracy": res["previous_correction_accuracy"],
            "load_average_after": os.getloadavg(),
        },
    )
    return res


def step_holdout(args):
    step_validate(args, seed=1, write=False, key="holdout")


def step_lookup(args):
    from hwnas.arch import sample
    from latency import load_device

    dev = load_device(args.out)
    X = sample(100_000, np.random.default_rng(0), dev.resolutions)
    dev.predict_ms(X[:100])
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        dev.predict_ms(X)
        times.append(time.perf_counter() - t0)
    merge(
        "lookup",
        {
            "archs": 100_000,
            "best_seconds": min(times),
            "median_seconds": float(np.median(times)),
            "target_seconds": 1.0,
            "includes": "validation of the (N,46) batch + gather + correction",
        },
    )


def step_note10(args):
    from hwnas.arch import Arch, encode
    from latency import load_device

    root = os.environ.get("HWNAS_ASSETS")
    if not root:
        print("note10: HWNAS_ASSETS is not set; skipped")
        return
    dev = load_device(Path(root) / "ofa" / "note10")
    out = {}
    for r in dev.resolutions:
        lg, sm = dev.predict_ms(encode([Arch.largest(r), Arch.smallest(r)]))
        out[str(r)] = {
            "largest_ms": float(lg),
            "smallest_ms": float(sm),
            "min_over_space_ms": dev.min_latency_ms([r]),
        }
    merge("note10", out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", default="stability,build,validate,holdout,lookup,note10")
    ap.add_argument(
        "--out",
        default=str(ROOT / "devices" / "cpu-ort"),
        help="device folder (default devices/cpu-ort)",
    )
    ap.add_argument("--device-name", default="cpu-ort")
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--fresh", action="store_true", help="build: delete the folder's tables first")
    args = ap.parse_args()
    steps = {
        "stability": step_stability,
        "build": step_build,
        "validate": step_validate,
        "holdout": step_holdout,
        "lookup": step_lookup,
        "note10": step_note10,
    }
    for s in args.steps.split(","):
        if s not in steps:
            ap.error(f"unknown step {s!r}; allowed: {', '.join(steps)}")
        steps[s](args)
    if any(s in args.steps for s in ("validate", "holdout")):
        points = {}
        for key, label in (
            ("validate", "seed 0 (fit, in-sample)"),
            ("holdout", "seed 1 (held out)"),
        ):
            p = RESULTS / f"latency_{key}.csv"
            if p.is_file():
                d = np.genfromtxt(p, delimiter=",", names=True, dtype=None, encoding=None)
                points[label] = (d["predicted_ms"], d["measured_ms"])
        if points:
            _plot(points, RESULTS / "latency_validation.png")


if __name__ == "__main__":
    main()
