"""``hwnas latency``: predicted (and optionally measured) latency of one subnet on a device, in
ms."""

from __future__ import annotations

from hwnas.arch import Arch
from hwnas.errors import HwnasError
from latency import load_device, measure_arch_ms
from latency.profilers.base import check_timing


def add_arguments(p) -> None:
    p.description = (
        "Latency of one subnet from a device's lookup tables (table sum "
        "with the "
        "device's linear correction), and with --measure also measured "
        "end to end on "
        "the device's backend."
    )
    p.add_argument(
        "arch", help='arch JSON file ({"ks":[20],"e":[20],"d":[5],"r":224}) or best.json'
    )
    p.add_argument(
        "--device", required=True, metavar="NAME", help="shipped device name or device folder"
    )
    p.add_argument("--width", type=float, default=1.2, help="width multiplier 1.2 (default) or 1.0")
    p.add_argument(
        "--measure", action="store_true", help="also measure it end to end on the device's backend"
    )
    p.add_argument(
        "--rounds", type=int, default=None, help="timed rounds with --measure (default 21)"
    )


def run(args) -> dict:
    if args.rounds is not None and not args.measure:
        raise HwnasError(f"--rounds {args.rounds} applies only with --measure")
    rounds = 21 if args.rounds is None else args.rounds
    if args.measure:
        check_timing(rounds, warmup=0)
    arch = Arch.load(args.arch)
    dev = load_device(args.device, width=args.width)
    X = arch.to_array()[None, :]
    out = {
        "latency_ms": float(dev.predict_ms(X)[0]),
        "table_ms": float(dev.table_ms(X)[0]),
        "device": dev.name,
        "arch_id": arch.id,
        "resolution": arch.r,
        "width": dev.width,
        "correction": dev.correction,
    }
    if args.measure:
        out["measured_ms"] = float(measure_arch_ms(arch, device=dev, rounds=rounds))
    return out


def human(result: dict) -> str:
    s = (
        f"arch {result['arch_id']} (r={result['resolution']}) on {result['device']}: "
        f"{result['latency_ms']:.2f} ms predicted (table sum {result['table_ms']:.2f} ms)"
    )
    if "measured_ms" in result:
        s += f", {result['measured_ms']:.2f} ms measured"
    return s
