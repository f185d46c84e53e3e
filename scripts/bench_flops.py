"""Benchmark: vectorised MACs+params vs the per-arch Python formula vs materialising the subnet.

All three are timed in one run (ratios are what to compare; this VM's absolute timings drift up to
2x). Writes scripts/results/flops.json. Usage: python scripts/bench_flops.py [--n 1000000]
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000, help="archs for the vectorised path")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "flops.json"))
    args = ap.parse_args()

    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, as the target says
    from hwnas import get_space
    from hwnas.arch import decode, sample
    from hwnas.cost import macs_params, macs_params_reference
    from hwnas.ofa_compat import ofa_count_net_flops
    from hwnas.ofa_interop import build_subnet, build_supernet

    space = get_space(1.2)
    rng = np.random.default_rng(0)
    X = sample(args.n, rng, space.resolutions)
    macs_params(space, X[:1000])  # warm-up
    vec = timed(lambda: macs_params(space, X), 5)

    small = decode(X[:2000])
    ref = timed(lambda: [macs_params_reference(space, a) for a in small], 3)

    count = ofa_count_net_flops()
    supernet = build_supernet(space)
    few = small[:20]

    def materialise():
        for a in few:
            sub = build_subnet(space, a, supernet, preserve_weight=False)
            count(sub, (1, 3, a.r, a.r))
            sum(p.numel() for p in sub.parameters())

    materialise()
    mat = timed(materialise, 3)

    imports = []
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import hwnas"], check=True)
        imports.append(time.perf_counter() - t)
    base = []
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        base.append(time.perf_counter() - t)

    rates = {
        "vectorised_archs_per_s": args.n / vec,
        "python_formula_archs_per_s": len(small) / ref,
        "materialise_subnet_archs_per_s": len(few) / mat,
    }
    result = {
        **rates,
        "speedup_vs_python_formula": rates["vectorised_archs_per_s"]
        / rates["python_formula_archs_per_s"],
        "speedup_vs_materialise": rates["vectorised_archs_per_s"]
        / rates["materialise_subnet_archs_per_s"],
        "import_hwnas_s_median": statistics.median(imports),
        "python_startup_s_median": statistics.median(base),
        "n_vectorised": args.n,
        "cores_used": 1,
        "machine": platform.processor() or platform.machine(),
        "python": platform.python_version(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
