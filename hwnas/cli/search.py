"""``hwnas search``: the best subnet under budgets, spending at most ``--queries`` oracle
measurements."""

from __future__ import annotations

from predictors.registry import ORACLES, PREDICTORS

from ..errors import HwnasError
from ..executor import EXECUTORS
from ..search import SearchConfig, resume_config, run_search
from ..search.algorithms import ALGORITHMS
from ..search.config import merge_keywords
from ..space import DEFAULT_RESOLUTIONS


def add_arguments(p) -> None:
    p.description = (
        "WeakNAS (or a baseline) over the OFA MobileNetV3 space. FLOPs "
        "are multiply-"
        "accumulates (OFA's convention). Writes run.yaml, evals.sqlite, "
        "history.csv, "
        "pareto.csv, pareto.png and best.json to --out."
    )
    p.add_argument("--flops", help="MACs budget, e.g. 600M or 0.6G")
    p.add_argument("--latency", help="latency budget on --device, e.g. 25ms")
    p.add_argument(
        "--device",
        help="device name or folder for latency (shipped name, hwnas device, OFA tables)",
    )
    p.add_argument("--params", help="parameter budget, e.g. 8M")
    p.add_argument("--objectives", help="acc (default), acc,flops, acc,latency or acc,params")
    p.add_argument(
        "--oracle",
        metavar="NAME",
        help="auto (default: ofa-mlp when its file is found, else zerocost); "
        + ORACLES.choices_help(),
    )
    p.add_argument("--acc-predictor", help="path of OFA's acc_predictor.pth (ofa-mlp oracle)")
    p.add_argument("--table", dest="oracle_table", help="CSV of measured accuracies (table oracle)")
    p.add_argument(
        "--weights", help="OFA supernet state dict (supernet oracle; also used by --export-onnx)"
    )
    p.add_argument("--data", help="ImageFolder-style images (supernet oracle)")
    p.add_argument(
        "--oracle-device", help="where the supernet oracle runs: cpu (default), cuda, cuda:N"
    )
    p.add_argument(
        "--pool", help="CSV or JSON lines of archs (optionally with accuracies): search only these"
    )
    p.add_argument("--queries", type=int, help="oracle query budget (default 300)")
    p.add_argument("--algorithm", metavar="NAME", help=ALGORITHMS.choices_help())
    p.add_argument(
        "--option",
        action="append",
        metavar="KEY=VALUE",
        type=_key_value,
        help="an option of the algorithm (repeatable), e.g. kappa=1.5; unknown keys are errors",
    )
    p.add_argument(
        "--predictor",
        metavar="NAME",
        help="weak predictor (default gp); " + PREDICTORS.choices_help(),
    )
    p.add_argument(
        "--predictor-option",
        action="append",
        metavar="KEY=VALUE",
        type=_key_value,
        help="a keyword of the weak predictor (repeatable), e.g. mean=trend for gp",
    )
    p.add_argument("--seed", type=int, help="random seed (default 0); same seed, same result")
    p.add_argument("--width", type=float, help="supernet width 1.2 (default) or 1.0")
    p.add_argument(
        "--resolutions",
        type=_int_list,
        help=f"comma-separated input resolutions (default "
        f"{','.join(map(str, DEFAULT_RESOLUTIONS))})",
    )
    p.add_argument("--out", help="run folder (default runs/<algorithm>-<seed>)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out with the settings of its run.yaml; a flag that "
        "differs from them "
        "is an error, except --queries raised to continue to a larger budget",
    )
    p.add_argument(
        "--config", help="run.yaml (or a YAML mapping of settings); command-line flags override it"
    )
    p.add_argument("--executor", metavar="NAME", help="(default local) " + EXECUTORS.choices_help())
    p.add_argument("--ray-address", help="Ray cluster address for --executor ray")
    p.add_argument(
        "--export-onnx", metavar="OUT.onnx", help="export the best subnet to ONNX at the end"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _int_list(text: str) -> list:
    import argparse

    try:
        return [int(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of integers, e.g. 160,192,224"
        ) from None


def _key_value(text: str) -> tuple:
    import argparse

    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE, e.g. kappa=1.5")
    return key.strip(), value.strip()


def config_from_args(args):
    flags = {
        "flops": args.flops,
        "latency_ms": args.latency,
        "device": args.device,
        "params": args.params,
        "objectives": args.objectives,
        "oracle": args.oracle,
        "acc_predictor": args.acc_predictor,
        "oracle_table": args.oracle_table,
        "weights": args.weights,
        "data": args.data,
        "oracle_device": args.oracle_device,
        "queries": args.queries,
        "algorithm": args.algorithm,
        "predictor": args.predictor,
        "seed": args.seed,
        "width": args.width,
        "resolutions": args.resolutions,
        "out": args.out,
        "executor": args.executor,
        "ray_address": args.ray_address,
        "export_onnx": args.export_onnx,
        "pool": args.pool,
    }
    given = {k: v for k, v in flags.items() if v is not None}
    if args.option:
        given["options"] = dict(args.option)
    if args.predictor_option:
        given["predictor_options"] = dict(args.predictor_option)
    if args.resume:
        if args.out is None:
            raise HwnasError("--resume needs --out FOLDER (the run to continue)")
        if args.config is not None:
            raise HwnasError(
                "--config cannot be used with --resume: the run's settings are in its run.yaml"
            )
        return resume_config(args.out, {k: v for k, v in given.items() if k != "out"})
    # no config: SearchConfig's own defaults fill in what no flag gives
    base = SearchConfig.load(args.config).to_dict() if args.config else {}
    base.update(given, **merge_keywords(base, given))
    if base.get("out") is None:
        algorithm = base.get("algorithm", SearchConfig.algorithm)
        base["out"] = f"runs/{algorithm}-{base.get('seed', SearchConfig.seed)}"
    return SearchConfig.from_dict(base)


def run(args) -> dict:
    import sys

    config = config_from_args(args)
    # the bar goes to stderr; --json keeps the console quiet
    progress = not (args.no_progress or args.json)
    result = run_search(config, resume=args.resume, progress=progress)
    if result["best"]["oracle_is_proxy"]:
        print(
            "hwnas: note: no accuracy oracle was found, so a zero-cost PROXY ranked the subnets; "
            "its 'accuracy' is a proxy score, not top-1 (run `hwnas assets fetch` for OFA's "
            "predictor)",
            file=sys.stderr,
        )
    return {
        "best": result["best"],
        "queries": result["queries"],
        "out": result["out"],
        **{
            k: result[k]
            for k in (
                "algorithm",
                "seed",
                "budget",
                "oracle_asked",
                "hypervolume",
                "pareto_size",
                "overhead_seconds",
                "pool_size",
                "pool_dropped",
            )
            if k in result
        },
        **({"export": result["export"]} if "export" in result else {}),
    }


def human(result: dict) -> str:
    b = result["best"]
    lat = f", {b['latency_ms']:.2f} ms" if b.get("latency_ms") is not None else ""
    what = "proxy score" if b.get("oracle_is_proxy") else "top-1"
    lines = [
        f"best: {b['arch_id']} {what} {b['accuracy']:.4f} at {b['mflops']:.1f} MFLOPs{lat}, "
        f"{b['params_m']:.2f} M params, r={b['resolution']} ({result['queries']} queries, "
        f"oracle {b['oracle']})",
        f"Pareto front: {result.get('pareto_size')} archs, hypervolume "
        f"{result.get('hypervolume', 0):.4f}",
        f"run folder: {result['out']} (best.json, pareto.csv, pareto.png, history.csv, "
        f"evals.sqlite)",
    ]
    if "export" in result:
        lines.append(f"ONNX: {result['export'].get('onnx')}")
    return "\n".join(lines)
