"""``hwnas profile``: measure a device's per-block latency tables (OFA format, ms), resumably."""

from __future__ import annotations

from latency.build import DEFAULTS, TARGET_WITH_EXECUTOR, profile_device
from latency.profilers.registry import BACKENDS

from ..errors import HwnasError
from ..executor import EXECUTORS, make_executor
from ..space import DEFAULT_RESOLUTIONS


def add_arguments(p) -> None:
    p.description = (
        "Measure every block the space can use (per resolution: each "
        "stage's first and "
        "repeated blocks x kernel x expand, plus stem, first block, "
        "head and classifier: "
        "96 entries) as real OFA modules, interleaved, and write "
        "{r}_lookup_table.yaml "
        "files in OFA's format (ms) plus device.yaml. Saves after every "
        "entry; rerunning "
        "the same command resumes where it stopped."
    )
    p.add_argument(
        "--device",
        required=True,
        metavar="NAME",
        help="device name (with --out DIR) or a device folder of your own",
    )
    p.add_argument(
        "--backend",
        default="ort",
        choices=BACKENDS.names(),
        help=f"profiler (default: ort). {BACKENDS.choices_help()}",
    )
    p.add_argument(
        "--provider",
        default=None,
        help="ort: cpu (default), cuda, tensorrt; torch: cpu (default), cuda; tensorrt: cuda",
    )
    p.add_argument("--threads", type=int, default=1, help="intra-op threads (default 1)")
    p.add_argument("--precision", default="fp32", choices=("fp32", "fp16"), help="default fp32")
    p.add_argument("--batch-size", type=int, default=1, help="default 1")
    p.add_argument(
        "--timer",
        default="auto",
        choices=("auto", "wall", "thread_cpu"),
        help="auto: thread CPU time for 1-thread CPU inference, else wall clock / CUDA events",
    )
    p.add_argument(
        "--cuda-graph",
        action="store_true",
        help="torch/torchscript on cuda: time CUDA graph replays, not eager launches",
    )
    p.add_argument(
        "--resolutions",
        type=int,
        nargs="+",
        default=list(DEFAULT_RESOLUTIONS),
        metavar="R",
        help="input resolutions in px (default: 160 176 192 208 224)",
    )
    p.add_argument("--width", type=float, default=1.2, help="width multiplier 1.2 (default) or 1.0")
    p.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="device folder to write (never inside the shipped devices)",
    )
    p.add_argument("--rounds", type=int, default=None, help="timed rounds per entry (default 21)")
    p.add_argument(
        "--group-size",
        type=int,
        default=None,
        help="entries measured interleaved together (default 32)",
    )
    p.add_argument(
        "--executor",
        default="local",
        choices=EXECUTORS.names(),
        help=f"{EXECUTORS.choices_help()} (ray: one task per resolution, resource device:NAME)",
    )
    p.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="Ray cluster address (with --executor ray)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_target_args(p)


def add_target_args(p) -> None:
    """``--target``, ``--target-python``, ``--ssh-option``: time on a remote machine over SSH."""
    p.add_argument(
        "--target",
        default=None,
        metavar="ssh://USER@HOST[:PORT]",
        help="time on this machine over SSH (OpenSSH client, BatchMode) with hwnas' "
        "agent; "
        "it needs only python3, numpy and onnxruntime (backend ort)",
    )
    p.add_argument(
        "--target-python",
        default=None,
        metavar="PATH",
        help="Python on the target that runs the agent (default: python3)",
    )
    p.add_argument(
        "--ssh-option",
        action="append",
        default=None,
        metavar="KEY=VALUE",
        help="extra ssh -o option, repeatable (e.g. IdentityFile=~/.ssh/pi_key)",
    )


def target_kwargs(args) -> dict:
    """The remote-target keyword arguments of the Python API, from ``add_target_args``' flags."""
    if args.target is None:
        flags = (("--target-python", args.target_python), ("--ssh-option", args.ssh_option))
        for flag, value in flags:
            if value is not None:
                raise HwnasError(f"{flag} applies only with --target ssh://USER@HOST[:PORT]")
        return {}
    return {
        "target": args.target,
        "target_python": args.target_python or "python3",
        "ssh_options": tuple(args.ssh_option or ()),
    }


def run(args) -> dict:
    if args.ray_address is not None and args.executor != "ray":
        raise HwnasError(f"--ray-address {args.ray_address!r} applies only with --executor ray")
    remote = target_kwargs(args)  # flag errors before anything starts
    if remote and args.executor != "local":
        raise HwnasError(TARGET_WITH_EXECUTOR)
    executor = None
    if args.executor != "local":
        executor = make_executor(args.executor, address=args.ray_address)
    options = {}
    if args.timer != "auto":
        options["timer"] = args.timer
    if args.cuda_graph:
        options["cuda_graph"] = True
    try:
        return profile_device(
            args.device,
            backend=args.backend,
            resolutions=args.resolutions,
            width=args.width,
            out=args.out,
            provider=args.provider,
            threads=args.threads,
            precision=args.precision,
            batch_size=args.batch_size,
            rounds=DEFAULTS["rounds"] if args.rounds is None else args.rounds,
            group_size=DEFAULTS["group_size"] if args.group_size is None else args.group_size,
            executor=executor,
            progress=not args.no_progress,
            **remote,
            **options,
        )
    finally:
        if executor is not None:
            executor.close()


def human(result: dict) -> str:
    on = f" on {result['target']}" if result.get("target") else ""
    lines = [
        f"device {result['device']}{on} ({result['backend']}, {result['execution_provider']}"
        f"{' (CUDA graphs)' if result.get('cuda_graph') else ''}, "
        f"{result['threads']} thread(s), w{result['width']}): {result['measured']} entries "
        f"measured, "
        f"{result['skipped']} already there, in {result['seconds']:.1f} s -> "
        f"{result['folder']}"
    ]
    for d in result["per_resolution"]:
        lines.append(
            f"  r={d['resolution']}: {d['entries']} entries ({d['measured']} new) in "
            f"{d.get('seconds', 0):.1f} s"
        )
    if result.get("correction_dropped"):
        lines.append(
            "  the old correction was dropped (tables changed); refit it with: "
            f"hwnas validate-latency --device {result['folder']} --out {result['folder']}"
        )
    else:
        there = f" --target {result['target']}" if result.get("target") else ""
        lines.append(
            f"  next: hwnas validate-latency --device {result['folder']} --samples 100 "
            f"--out {result['folder']}{there}"
        )
    return "\n".join(lines)
