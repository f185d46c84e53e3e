"""``hwnas export``: the chosen subnet as a verified ONNX file (and a TensorRT engine where TensorRT
exists)."""

from __future__ import annotations

import sys

from ..errors import HwnasError
from ..export import export_onnx, resolve_source


def add_arguments(p) -> None:
    p.description = (
        "Export a subnet (an arch JSON, a best.json, or a search run folder) to ONNX, "
        "with its arch JSON "
        "and OFA net.config beside it and hwnas metadata inside; check it with "
        "onnx.checker, compare "
        "ONNX Runtime with PyTorch (fail above 1e-4 max abs difference), and time it "
        "in ONNX Runtime "
        "the way device tables time subnets. "
        "Without --weights the subnet has random weights: fine for latency work, not "
        "for accuracy."
    )
    p.add_argument(
        "source", metavar="SOURCE", help="arch JSON file, best.json, or a search run folder"
    )
    p.add_argument(
        "--onnx",
        required=True,
        metavar="OUT.onnx",
        help="the ONNX file to write (its folder must exist)",
    )
    p.add_argument(
        "--pick",
        default="best",
        metavar="best|N",
        help="with a run folder: 'best' (best.json, default) or N, row N (0-based) of pareto.csv",
    )
    p.add_argument(
        "--width",
        type=float,
        default=None,
        help="width multiplier 1.2 or 1.0 for an arch JSON without one (default 1.2)",
    )
    p.add_argument(
        "--weights",
        metavar="SUPERNET.pth",
        help="an OFA supernet state dict of the same width; the subnet inherits its weights",
    )
    p.add_argument(
        "--calib-data",
        metavar="DIR",
        help="image folder (DIR/<class>/<image>) to recalibrate BN statistics",
    )
    p.add_argument(
        "--calib-images",
        type=int,
        default=None,
        metavar="N",
        help="images used for BN recalibration with --calib-data (default 2000)",
    )
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    p.add_argument(
        "--dynamic-batch",
        action="store_true",
        help="a dynamic batch axis (checked at batch 1 and 8)",
    )
    p.add_argument(
        "--simplify", action="store_true", help="simplify with onnxslim and check parity again"
    )
    p.add_argument(
        "--trt-engine",
        metavar="OUT.plan",
        help="also build and time a TensorRT engine (needs tensorrt)",
    )
    p.add_argument("--fp16", action="store_true", help="build the TensorRT engine in fp16")
    p.add_argument(
        "--device",
        metavar="NAME",
        help="a latency-table device: its predicted latency is shown beside ORT's",
    )
    p.add_argument(
        "--latency-runs",
        type=int,
        default=30,
        metavar="N",
        help="timed ONNX Runtime rounds, one run each, as device tables time subnets "
        "(batch 1; the median is reported; default 30)",
    )
    p.add_argument(
        "--ort-threads",
        type=int,
        default=None,
        metavar="N",
        help="intra-op threads of the timed ONNX Runtime session (default: the "
        "--device's "
        "threads for an ONNX Runtime CPU device, else 1)",
    )


def run(args) -> dict:
    if args.calib_images is not None and args.calib_data is None:
        raise HwnasError(
            f"--calib-images {args.calib_images} applies to BN recalibration; "
            "give --calib-data DIR too"
        )
    arch, space = resolve_source(args.source, pick=args.pick, width=args.width)
    result = export_onnx(
        arch,
        space,
        args.onnx,
        weights=args.weights,
        calib_data=args.calib_data,
        calib_images=2000 if args.calib_images is None else args.calib_images,
        opset=args.opset,
        dynamic_batch=args.dynamic_batch,
        simplify=args.simplify,
        trt_engine=args.trt_engine,
        fp16=args.fp16,
        device=args.device,
        progress=sys.stderr.isatty(),
        latency_runs=args.latency_runs,
        ort_threads=args.ort_threads,
    )
    for line in result.get("warnings", []):
        print(f"hwnas: warning: {line}", file=sys.stderr)
    return result


def human(r: dict) -> str:
    lines = [
        f"wrote {r['onnx']} ({r['onnx_bytes'] / 1e6:.1f} MB, opset {r['opset']}, "
        f"{'dynamic' if r['dynamic_batch'] else 'fixed'} batch) in {r['export_s']:.2f} s"
    ]
    lines.append(
        f"  arch {r['arch_id']}: OFA MobileNetV3 w{r['width']} r{r['resolution']}, "
        f"{r['mflops']:.1f} MFLOPs (MACs), {r['params_m']:.2f} M params"
    )
    lines.append(
        f"  weights: {'RANDOM (not for accuracy)' if r['random_init'] else r['weights']}"
        + (
            f"; BN recalibrated on {r['bn_calibrated_images']} images"
            if r.get("bn_calibrated_images")
            else ""
        )
    )
    lines.append("  onnx.checker: ok")
    weak = " (random weights give tiny logits: a weak check)" if r["random_init"] else ""
    for c in r["parity"]:
        lines.append(
            f"  parity batch {c['batch']}: max abs diff {c['max_abs_diff']:.3g} "
            f"(tolerance {r['parity_tol']:g}, "
            f"logits up to {c['output_abs_max']:.3g}) ok{weak}"
        )
    if "simplify" in r:
        s = r["simplify"]
        lines.append(
            f"  onnxslim: {s['nodes_before']} -> {s['nodes_after']} nodes, parity re-checked"
        )
    threads = f"{r['ort_threads']} thread(s)" if r.get("ort_threads") else "default threads"
    lat = f"  ONNX Runtime latency (CPU, {threads}, batch 1, median): {r['ort_latency_ms']:.2f} ms"
    if r.get("predicted_ms") is not None:
        lat += f"; table prediction for {r['device']}: {r['predicted_ms']:.2f} ms"
    lines.append(lat)
    if r.get("trt_engine"):
        t = r.get("trt_latency_ms")
        lines.append(
            f"  TensorRT engine {r['trt_engine']}"
            + (f": {t:.3f} ms" if t is not None else f" ({r.get('trt_note')})")
        )
    f = r["files"]
    lines.append(f"  beside it: {f['arch_json']}, {f['net_config']}, {f['report']}")
    return "\n".join(lines)
