"""``hwnas calibrate``: fit a device's tables, built elsewhere, to this machine with a few
measurements."""

from __future__ import annotations

from latency.calibrate import calibrate_device
from latency.profilers.registry import BACKENDS

from .profile import add_target_args, target_kwargs
from .validate_latency import accuracy_line


def add_arguments(p) -> None:
    p.description = (
        "Measure a few random subnets end to end here, fit the device's "
        "linear "
        "correction (table sum -> measured) on them and write a "
        "calibrated copy of the "
        "device to --out: tables unchanged, device.yaml with the new "
        "correction, the "
        "settings measured with and this machine's fingerprint, "
        "calibration.json with "
        "the samples. The source device is never written. Resumable: "
        "measurements are "
        "kept in the per-user cache as they arrive."
    )
    p.add_argument(
        "--device", required=True, metavar="NAME", help="shipped device name or device folder"
    )
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the calibrated device")
    p.add_argument("--samples", type=int, default=20, help="random subnets to measure (default 20)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--width", type=float, default=1.2, help="width multiplier 1.2 (default) or 1.0")
    p.add_argument(
        "--backend",
        default=None,
        choices=BACKENDS.names(),
        help=f"calibrate for this backend (default: the device's own). {BACKENDS.choices_help()}",
    )
    p.add_argument(
        "--provider",
        default=None,
        help="execution provider to calibrate for (default: the device's)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="intra-op threads to calibrate for (default: the device's)",
    )
    p.add_argument(
        "--timer",
        default=None,
        choices=("auto", "wall", "thread_cpu"),
        help="timer (default: the device's; auto for another backend)",
    )
    p.add_argument("--rounds", type=int, default=11, help="timed rounds per subnet (default 11)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_target_args(p)


def run(args) -> dict:
    return calibrate_device(
        args.device,
        args.out,
        samples=args.samples,
        seed=args.seed,
        width=args.width,
        backend=args.backend,
        provider=args.provider,
        threads=args.threads,
        timer=args.timer,
        rounds=args.rounds,
        progress=not args.no_progress,
        **target_kwargs(args),
    )


def human(result: dict) -> str:
    c, p = result["correction"], result["previous_correction"]
    where = f"on {result['target']}" if result.get("target") else "here"
    lines = [
        f"device {result['device']} calibrated on {result['samples']} random subnets measured "
        f"{where} "
        f"({result['backend']}, {result['execution_provider']}, {result['threads']} "
        f"thread(s), "
        f"{result['timer']}; {result['seconds']:.0f} s; measured "
        f"{result['measured_ms']['min']:.2f}.."
        f"{result['measured_ms']['max']:.2f} ms)",
        accuracy_line("table sum", result["table_sum"]),
        accuracy_line("previous correction", result["previous_correction_accuracy"]),
        accuracy_line("new (leave-one-out)", result["corrected_leave_one_out"]),
        f"  correction: measured = {c['slope']:.4f} x table + {c['intercept']:.3f} ms "
        f"(was {p['slope']:.4f} x table + {p['intercept']:.3f} ms)",
        f"  calibrated device: {result['out']}   use it with: --device {result['out']}",
    ]
    return "\n".join(lines)
