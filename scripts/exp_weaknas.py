"""Quick in-process experiment: weaknas on the ofa-mlp oracle, a few seeds, read at several N.

Usage: HWNAS_ASSETS=... python scripts/exp_weaknas.py --seeds 0,1,2 --queries 300 --flops 600M \\
           [--opt '{"kappa": 1.0}'] [--predictor gp] [--predictor-kw '{"with_cost": true}']
           [--latency 20ms --device cpu-ort] [--cheat [--cheat-noise 0.002]]
Prints, per budget, mean and worst regret to the reference optimum at each N, and the overhead.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

REF = {600e6: 0.8538, 400e6: 0.8397}  # scripts/results/search.md reference optima (ofa-mlp)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--flops", default="600M,400M")
    ap.add_argument("--opt", default="{}")
    ap.add_argument("--predictor", default=None)
    ap.add_argument(
        "--predictor-kw",
        default="{}",
        help='the predictor\'s keywords (JSON), as --predictor-option sets them: {"mean": "trend"}',
    )
    ap.add_argument("--algorithm", default="weaknas")
    ap.add_argument(
        "--ref",
        default="{}",
        help='JSON {budget: reference optimum} for other budgets: {"300M": 0.8277, "15ms": 0.8462}',
    )
    ap.add_argument(
        "--cheat", action="store_true", help="diagnostic: the oracle itself as predictor"
    )
    ap.add_argument(
        "--cheat-noise",
        type=float,
        default=0.0,
        help="with --cheat: add a fixed error of this sd (fraction) to each unmeasured arch",
    )
    ap.add_argument(
        "--latency", default=None, help="a latency budget instead of --flops (needs --device)"
    )
    ap.add_argument("--device", default=None)
    ap.add_argument("--read", default="100,200,300,500,1000")
    args = ap.parse_args()
    from hwnas import get_space
    from hwnas.search import SearchConfig, run_search
    from hwnas.units import parse_count
    from predictors import make_oracle
    from predictors.store import EvalStore

    refs = {**REF, **{_ref_key(k): v for k, v in json.loads(args.ref).items()}}
    oracle = make_oracle("ofa-mlp", get_space(1.2))
    if args.cheat:
        use_oracle_as_predictor(oracle, args.cheat_noise)
    reads = [n for n in map(int, args.read.split(",")) if n <= args.queries]
    for ftext in [args.latency] if args.latency else args.flops.split(","):
        flops = None if args.latency else parse_count(ftext)
        budget = {"latency_ms": ftext, "device": args.device} if args.latency else {"flops": flops}
        if (args.latency or flops) not in refs:
            refs[args.latency or flops] = _reference(budget)
        curves, overhead = [], []
        for seed in map(int, args.seeds.split(",")):
            cfg = SearchConfig(
                **budget,
                queries=args.queries,
                seed=seed,
                algorithm=args.algorithm,
                options=json.loads(args.opt),
                predictor_options={} if args.cheat else json.loads(args.predictor_kw),
                **({"predictor": args.predictor} if args.predictor else {}),
            )
            t = time.perf_counter()
            with EvalStore(":memory:") as store:
                r = run_search(cfg, oracle=oracle, store=store)
                hist = np.array([row["accuracy"] for row in store.rows(oracle.key)])
            curves.append(np.fmax.accumulate(hist))
            overhead.append(r["overhead_seconds"])
            print(
                f"  {ftext} seed {seed}: best {r['best']['accuracy']:.4f} "
                f"({time.perf_counter() - t:.1f} s, overhead {r['overhead_seconds']:.1f} s)",
                flush=True,
            )
        ref = refs.get(args.latency or flops)
        cells = []
        for n in reads:
            b = np.array([c[min(n, len(c)) - 1] for c in curves])
            if ref:
                cells.append(f"N={n}: mean {ref - b.mean():.4f} worst {ref - b.min():.4f}")
            else:
                cells.append(f"N={n}: mean {b.mean():.4f} worst {b.min():.4f}")
        print(
            f"{ftext} {args.opt} regret | "
            + " | ".join(cells)
            + f" | overhead {np.mean(overhead):.1f} s",
            flush=True,
        )


def _ref_key(text: str):
    """A ``--ref`` key: a MACs budget as a number (``300M``, ``3e8``), a latency as given
    (``15ms``, the text of ``--latency``)."""
    from hwnas.errors import HwnasError
    from hwnas.units import parse_count

    try:
        return parse_count(text)
    except HwnasError:
        return text


# fixed weights of --cheat-noise's hash of the genes
_NOISE_W = np.random.default_rng(12345).integers(1, 2**63, size=(2, 46), dtype=np.uint64)


def _mix(h):  # splitmix64's finaliser: well-spread bits from a linear hash
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return (h ^ (h >> np.uint64(31))) >> np.uint64(11)


def _error(X, sd: float) -> np.ndarray:
    """Box-Muller on two hashes of the genes: the same arch, the same error (sd ``sd``)."""
    with np.errstate(over="ignore"):
        u = [(_mix((X.astype(np.uint64) * w).sum(1)) + 0.5) / 2.0**53 for w in _NOISE_W]
    return sd * np.sqrt(-2.0 * np.log(u[0])) * np.cos(2.0 * np.pi * u[1])


class OraclePredictor:
    """Diagnostic: ``oracle`` itself in a weak predictor's place (zero spread), so a run measures
    the optimiser alone. ``noise`` > 0: each arch not yet measured gets a fixed Gaussian error of
    that sd (the same arch, the same error), measured ones are exact, so a run shows how accurate
    a predictor must be. ``calls`` counts the archs it was asked about."""

    def __init__(self, oracle, noise: float = 0.0):
        self.oracle, self.noise, self.calls, self.known = oracle, noise, 0, set()

    def fit(self, X, y):
        self.known = {x.tobytes() for x in np.asarray(X, dtype=np.int64)}
        return self

    def predict_dist(self, X):
        self.calls += len(X)
        m = self.oracle.predict(X)
        if self.noise:
            X = np.asarray(X, dtype=np.int64)
            fresh = np.array([x.tobytes() not in self.known for x in X])
            m = m + _error(X, self.noise) * fresh
        return m, np.zeros_like(m)


def use_oracle_as_predictor(oracle, noise: float = 0.0) -> None:
    """Diagnostic, for this process: every search's weak predictor is an
    :class:`OraclePredictor` of ``oracle`` with error sd ``noise``."""
    import hwnas.search.run as search_run

    search_run.make_predictor = lambda *a, **k: OraclePredictor(oracle, noise)  # run.py's name


def _reference(budget):
    """The reference optimum for another budget: the better of the benchmark's two searches on
    the oracle itself, its long evolution and its loop with islands (docs/search.md)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from bench_search import reference_loop, reference_optimum

    from hwnas.search import SearchConfig
    from hwnas.search.run import build_problem

    problem = build_problem(SearchConfig(**budget))
    t = time.perf_counter()
    _, evolved, n, _, _ = reference_optimum(problem.space, problem.flops, problem=problem)
    _, looped, m = reference_loop(problem)
    print(
        f"reference optimum for {budget}: {max(evolved, looped):.4f} (evolution {evolved:.4f}, "
        f"{n:,} oracle queries; loop {looped:.4f}, {m:,}; {time.perf_counter() - t:.0f} s)",
        flush=True,
    )
    return max(evolved, looped)


if __name__ == "__main__":
    main()
