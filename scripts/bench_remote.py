"""Benchmark: table build time, local vs. a remote target over loopback SSH, same settings.

Builds the full device (5 resolutions, 96 entries each, default method) from scratch, once here and
once on ``ssh://USER@127.0.0.1:PORT`` (a real sshd started as in ``tests/sshd.py``, the agent
run by this Python), in ABBA order per repeat (local, remote, remote, local, ...) so drift of a
busy machine hits both alike. Records wall time per build, the remote/local ratio of the medians,
the load average before and after each build, and the machine. Targets (issue 13): local < 60 s
on an idle machine; remote <= 1.5x local.

    nice python scripts/bench_remote.py [--repeats 2] [--out scripts/results/remote.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import latency  # noqa: E402
from latency.agent import load_average, machine_info  # noqa: E402
from tests.sshd import start_sshd  # noqa: E402


def build(folder: Path, resolutions, **remote) -> dict:
    load_before = load_average()
    t0 = time.perf_counter()
    res = latency.profile_device(str(folder), resolutions=resolutions, progress=False, **remote)
    seconds = time.perf_counter() - t0
    assert res["measured"] == 96 * len(resolutions), res
    return {"seconds": round(seconds, 2), "load_before": load_before, "load_after": load_average()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--repeats",
        type=int,
        default=2,
        help="each repeat builds once here and once remote, alternating the order (default 2)",
    )
    ap.add_argument("--resolutions", type=int, nargs="+", default=[160, 176, 192, 208, 224])
    ap.add_argument("--out", default=str(ROOT / "scripts" / "results" / "remote.json"))
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="hwnas-bench-remote-"))
    sshd = start_sshd(work / "sshd")
    remote = {"target": sshd.target, "target_python": sys.executable, "ssh_options": sshd.options}
    runs = {"local": [], "remote": []}
    try:
        for i in range(args.repeats):
            order = ("local", "remote") if i % 2 == 0 else ("remote", "local")
            for kind in order:
                where = remote if kind == "remote" else {}
                r = build(work / f"{kind}-{i}", args.resolutions, **where)
                runs[kind].append(r)
                print(
                    f"repeat {i} {kind}: {r['seconds']:.1f} s "
                    f"(load {r['load_before']} -> {r['load_after']})",
                    flush=True,
                )
    finally:
        sshd.stop()
    local = statistics.median(r["seconds"] for r in runs["local"])
    remote_s = statistics.median(r["seconds"] for r in runs["remote"])
    result = {
        "what": "table build from scratch, 5 resolutions x 96 entries, default method (21 rounds, "
        "group 32), ort CPU 1 thread, w1.2; remote = ssh://127.0.0.1 (real sshd), agent "
        "run by the same Python",
        "command": "nice python scripts/bench_remote.py --repeats " + str(args.repeats),
        "resolutions": args.resolutions,
        "order": "ABBA: local,remote then remote,local ...",
        "runs": runs,
        "local_median_s": local,
        "remote_median_s": remote_s,
        "remote_over_local": round(remote_s / local, 3),
        "targets": {"local_s_idle": 60, "remote_over_local": 1.5},
        "machine": machine_info(),
        "cores": os.cpu_count(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(
        f"local median {local:.1f} s, remote median {remote_s:.1f} s, "
        f"ratio {remote_s / local:.3f} -> {args.out}"
    )


if __name__ == "__main__":
    main()
