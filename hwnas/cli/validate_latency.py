"""``hwnas validate-latency``: table sums vs. end-to-end measurements, and the device's linear
correction."""

from __future__ import annotations

from latency.validate import validate_device

from .profile import add_target_args, target_kwargs


def add_arguments(p) -> None:
    p.description = (
        "Measure random subnets end to end on the device's backend and "
        "settings, compare "
        "with the table sums (% within +-10%, RMSE %, Spearman) and fit "
        "the linear "
        "correction table sum -> measured. Reports only: the device "
        "folder is never "
        "written; --out DIR writes a validated copy (tables, "
        "device.yaml with the new "
        "correction, validation.json). Measurements are kept in the "
        "per-user cache "
        "($XDG_CACHE_HOME/hwnas or ~/.cache/hwnas), so an interrupted "
        "run resumes."
    )
    p.add_argument(
        "--device", required=True, metavar="NAME", help="shipped device name or device folder"
    )
    p.add_argument(
        "--samples", type=int, default=100, help="random subnets to measure (default 100)"
    )
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--width", type=float, default=1.2, help="width multiplier 1.2 (default) or 1.0")
    p.add_argument("--rounds", type=int, default=11, help="timed rounds per subnet (default 11)")
    p.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="write a validated copy of the device here (may be the device's own "
        "folder, not a "
        "shipped one)",
    )
    p.add_argument(
        "--no-write",
        action="store_true",
        help="write nothing at all, not even the resumable measurements in the cache",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_target_args(p)


def run(args) -> dict:
    return validate_device(
        args.device,
        samples=args.samples,
        seed=args.seed,
        width=args.width,
        rounds=args.rounds,
        write=not args.no_write,
        out=args.out,
        progress=not args.no_progress,
        **target_kwargs(args),
    )


def accuracy_line(name, a):
    return (
        f"  {name:<26} within +-10%: {a['within_10pct']:5.1f}%   RMSE {a['rmse_pct']:5.2f}%   "
        f"Spearman {a['spearman']:.4f}   mean error {a['mean_error_pct']:+.2f}%"
    )


def human(result: dict) -> str:
    c = result["correction"]
    name = result["device"] + (f" on {result['target']}" if result.get("target") else "")
    lines = [
        f"device {name}: {result['samples']} random subnets measured end to end "
        f"({result['backend']}, {result['seconds']:.0f} s; measured "
        f"{result['measured_ms']['min']:.2f}.."
        f"{result['measured_ms']['max']:.2f} ms)",
        accuracy_line("table sum", result["table_sum"]),
        accuracy_line("stored correction", result["previous_correction_accuracy"]),
        accuracy_line("corrected (in-sample)", result["corrected"]),
        accuracy_line("corrected (leave-one-out)", result["corrected_leave_one_out"]),
        f"  correction: measured = {c['slope']:.4f} x table + {c['intercept']:.3f} ms"
        + (
            f" (written with the validated copy to {result['out']})"
            if result.get("out")
            else " (not stored: the device is left as it is; --out DIR writes a validated copy)"
        ),
    ]
    return "\n".join(lines)
