"""The TensorRT side of ``hwnas export`` (import-guarded: TensorRT needs an NVIDIA GPU machine)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from .errors import HwnasError


def tensorrt_missing():
    """None when ``tensorrt`` imports; else one line naming what is missing."""
    try:
        import tensorrt  # noqa: F401
    except ImportError as exc:
        return (f"--trt-engine needs NVIDIA TensorRT, but the Python package 'tensorrt' is not importable here "
                f"({exc}); install it on a machine with an NVIDIA GPU: pip install 'hwnas[tensorrt]'")
    return None


def build_trt_engine(onnx_path, plan_path, resolution: int, *, fp16=False, dynamic_batch=False,
                     max_batch=None, runs=50) -> dict:
    """Build a TensorRT engine from the ONNX file, write it, and time it (ms, batch 1, median) on CUDA."""
    import tensorrt as trt

    from .export import DYNAMIC_BATCH_CHECK, INPUT_NAME, OUTPUT_NAME

    max_batch = DYNAMIC_BATCH_CHECK if max_batch is None else max_batch

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errs = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise HwnasError(f"TensorRT could not parse {str(onnx_path)!r}: {errs[:300]}")
    config = builder.create_builder_config()
    if fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    if dynamic_batch:
        profile = builder.create_optimization_profile()
        shape = (3, resolution, resolution)
        profile.set_shape(INPUT_NAME, (1, *shape), (1, *shape), (max_batch, *shape))
        config.add_optimization_profile(profile)
    t = time.perf_counter()
    plan = builder.build_serialized_network(network, config)
    build_s = time.perf_counter() - t
    if plan is None:
        raise HwnasError(f"TensorRT failed to build an engine from {str(onnx_path)!r} (see its log above)")
    Path(plan_path).write_bytes(bytes(plan))
    out = {"trt_engine": str(plan_path), "trt_fp16": bool(fp16), "trt_build_s": round(build_s, 3), "trt_latency_ms": None}
    import torch

    if not torch.cuda.is_available():
        out["trt_note"] = "engine written; not timed: this torch has no CUDA device for the buffers"
        return out
    engine = trt.Runtime(logger).deserialize_cuda_engine(bytes(plan))
    context = engine.create_execution_context()
    x = torch.randn(1, 3, resolution, resolution, device="cuda")
    y = torch.empty(1, 1000, device="cuda")
    context.set_input_shape(INPUT_NAME, tuple(x.shape))
    context.set_tensor_address(INPUT_NAME, x.data_ptr())
    context.set_tensor_address(OUTPUT_NAME, y.data_ptr())
    stream = torch.cuda.current_stream()
    for _ in range(10):
        context.execute_async_v3(stream.cuda_stream)
    times = []
    for _ in range(runs):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record(stream)
        context.execute_async_v3(stream.cuda_stream)
        end.record(stream)
        end.synchronize()
        times.append(start.elapsed_time(end))
    out["trt_latency_ms"] = float(statistics.median(times))
    return out
