"""Benchmark ONNX export: TorchScript exporter (dynamo=False) vs dynamo exporter, and end-to-end
``export_onnx``.

    flock /tmp/hwnas-cpu.lock python scripts/bench_export.py [--repeats 5] [--out
    scripts/results/export_bench.json]

Part 1 (the exporter choice): the largest w1.2 subnet at 224 px, randomly initialised, exported by
both exporters in interleaved repeats. One sample = build the subnet + export + write the file with
hwnas metadata (exactly what ``export_onnx`` times as ``export_s``). Each exporter's file is also
checked for parity with PyTorch and timed in ONNX Runtime (batch 1), so the choice is not bought
with a worse graph. The dynamo exporter needs ``onnxscript``, which hwnas does not depend on; when
it is not importable the dynamo column says so. Part 2: ``export_onnx`` end to end for the largest,
smallest and a 600M-class subnet.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

A600 = {
    "ks": [7, 5, 7, 7, 3, 3, 5, 3, 3, 3, 3, 3, 7, 3, 7, 7, 7, 3, 3, 3],
    "e": [6, 6, 4, 6, 4, 4, 6, 4, 3, 6, 3, 3, 6, 6, 4, 6, 4, 6, 3, 3],
    "d": [4, 4, 2, 4, 2],
    "r": 224,
}


def export_dynamo(net, resolution, opset):
    import onnx
    import torch

    x = torch.zeros(1, 3, resolution, resolution)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.no_grad():
            prog = torch.onnx.export(
                net,
                (x,),
                None,
                dynamo=True,
                opset_version=opset,
                input_names=["input"],
                output_names=["logits"],
                external_data=False,
                verbose=False,
            )
    # ONNXProgram.save writes a path; read it back to add metadata
    with tempfile.TemporaryDirectory() as d:
        prog.save(os.path.join(d, "m.onnx"), external_data=False)
        return onnx.load(os.path.join(d, "m.onnx"))


def one_sample(kind, arch, space, path):
    """Seconds for build + export + metadata + write, as export_onnx's export_s."""
    from hwnas import export as E

    t = time.perf_counter()
    net = E.build_module(arch, space)
    if kind == "torchscript":
        model = E.torch_export(net, arch.r, 17, False)
    else:
        import contextlib

        # the dynamo exporter prints progress lines; it traces on one thread too, as torch_export
        # does
        with contextlib.redirect_stdout(io.StringIO()), E.torch_threads(1):
            model = export_dynamo(net, arch.r, 17)
    E._put_metadata(model, {"hwnas.arch_id": arch.id, "hwnas.arch": arch.to_json()})
    E._save(model, path)
    return time.perf_counter() - t, net, len(model.graph.node), model.opset_import[0].version


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--latency-runs", type=int, default=30)
    ap.add_argument("--out", default=str(ROOT / "scripts" / "results" / "export_bench.json"))
    args = ap.parse_args()

    import onnxruntime
    import torch

    from hwnas import Arch, __version__, get_space
    from hwnas import export as E

    try:
        import onnxscript  # noqa: F401

        kinds, dynamo_note = ["torchscript", "dynamo"], f"onnxscript {onnxscript.__version__}"
    except ImportError as exc:
        kinds, dynamo_note = ["torchscript"], f"not measured: {exc}"

    space, arch = get_space(1.2), Arch.largest(224)
    tmp = Path(tempfile.mkdtemp(prefix="hwnas-bench-export-"))
    load0 = os.getloadavg()
    samples = {k: [] for k in kinds}
    graph = {}
    # the first round is warm-up (imports, allocator), not recorded
    for rep in range(args.repeats + 1):
        for kind in kinds if rep % 2 == 0 else kinds[::-1]:  # interleaved, alternating order
            path = tmp / f"{kind}.onnx"
            s, net, nodes, opset = one_sample(kind, arch, space, path)
            if rep:
                samples[kind].append(s)
            if rep == args.repeats:  # check the last file of each exporter
                sess = E.ort_session(path)
                par = E.parity(net, sess, arch.r, 1)
                graph[kind] = {
                    "nodes": nodes,
                    "opset": opset,
                    "bytes": path.stat().st_size,
                    "max_abs_diff": par["max_abs_diff"],
                    "ort_latency_ms": E.export_profiler()
                    .time_onnx(str(path), (1, 3, arch.r, arch.r), rounds=args.latency_runs)
                    .median,
                }
            print(f"round {rep} {kind}: {s:.2f} s", file=sys.stderr)
    exporters = {
        k: {
            "median_s": statistics.median(v),
            "min_s": min(v),
            "max_s": max(v),
            "samples_s": v,
            **graph[k],
        }
        for k, v in samples.items()
    }
    if "dynamo" in exporters:
        exporters["dynamo_over_torchscript"] = (
            exporters["dynamo"]["median_s"] / exporters["torchscript"]["median_s"]
        )

    # tracing threads: torch's default pool vs one thread (what torch_export uses), same net,
    # interleaved
    net = E.build_module(arch, space)
    n_default = torch.get_num_threads()
    threads = {f"{n_default}_threads": [], "1_thread": []}
    for rep in range(args.repeats + 1):
        for n, key in ((n_default, f"{n_default}_threads"), (1, "1_thread")):
            before = torch.get_num_threads()
            torch.set_num_threads(n)
            t = time.perf_counter()
            try:
                x = torch.zeros(1, 3, arch.r, arch.r)
                with warnings.catch_warnings(), torch.no_grad():
                    warnings.simplefilter("ignore")
                    torch.onnx.export(net, (x,), io.BytesIO(), dynamo=False, opset_version=17)
            finally:
                torch.set_num_threads(before)
            if rep:
                threads[key].append(time.perf_counter() - t)
    tracing_threads = {
        k: {"median_s": statistics.median(v), "samples_s": v} for k, v in threads.items()
    }
    print(
        f"tracing threads: {json.dumps({k: v['median_s'] for k, v in tracing_threads.items()})}",
        file=sys.stderr,
    )

    end_to_end = {}
    for name, a in (
        ("largest", arch),
        ("smallest", Arch.smallest(160)),
        ("600M", Arch.from_dict(A600)),
    ):
        r = E.export_onnx(a, space, tmp / f"e2e-{name}.onnx", latency_runs=args.latency_runs)
        end_to_end[name] = {
            k: r[k]
            for k in (
                "arch_id",
                "resolution",
                "mflops",
                "export_s",
                "total_s",
                "max_abs_diff",
                "ort_latency_ms",
                "onnx_bytes",
            )
        }
        print(
            f"export_onnx {name}: export {r['export_s']:.2f} s, total {r['total_s']:.2f} s",
            file=sys.stderr,
        )
        r = E.export_onnx(
            a, space, tmp / f"e2e-{name}-slim.onnx", simplify=True, latency_runs=args.latency_runs
        )
        end_to_end[name]["simplified"] = {
            k: r[k] for k in ("total_s", "max_abs_diff", "ort_latency_ms", "onnx_bytes")
        }
        end_to_end[name]["simplified"].update(r["simplify"])

    result = {
        "what": "largest w1.2 subnet at 224 px, random init: build + export + metadata + write "
        "(s), interleaved",
        "command": "flock /tmp/hwnas-cpu.lock python scripts/bench_export.py "
        + " ".join(sys.argv[1:]),
        "repeats": args.repeats,
        "exporters": exporters,
        "torchscript_export_only_by_threads": tracing_threads,
        "dynamo": dynamo_note,
        "end_to_end": end_to_end,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__,
            "hwnas": __version__,
            "loadavg_start": load0,
            "loadavg_end": os.getloadavg(),
        },
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()
    print(
        json.dumps({k: (v["median_s"] if isinstance(v, dict) else v) for k, v in exporters.items()})
    )


if __name__ == "__main__":
    main()
