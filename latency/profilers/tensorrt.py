"""TensorRT in one place: the engine builder, the CUDA-event runner, the profiler, export's engine.

- :func:`build_engine`: ONNX (bytes or a file) -> serialized engine (FP32, or FP16), with an
  optional timing cache shared by all engines of a run and an optional dynamic-batch profile.
- :class:`TensorRTProfiler` (``backend tensorrt``): each table entry / subnet is exported to ONNX,
  built into an engine and timed with CUDA events around ``execute_async_v3``, by the one timing
  method (``latency.agent.time_interleaved``).
- :func:`build_trt_engine` (``hwnas export --trt-engine``): builds the exported subnet's engine,
  writes the plan, and times it at batch 1 with the same runner and method.

Import-guarded: TensorRT (``pip install tensorrt``, or ``pip install 'hwnas[tensorrt]'``) and a CUDA
build of torch (device buffers, stream, events) are needed only when used; their tests skip where
TensorRT is absent. (No GPU machine was available when this was written: the code follows the
TensorRT 10 Python API but has not been run.)
"""

from __future__ import annotations

import time
from pathlib import Path

from hwnas.errors import HwnasError

from ..modules import export_onnx
from .base import Profiler, Runner, time_interleaved


def import_tensorrt():
    """The ``tensorrt`` module, or a one-line HwnasError naming the package."""
    try:
        import tensorrt as trt
    except ImportError:
        raise HwnasError(
            "backend tensorrt needs TensorRT, which is not installed; it is "
            "provided by: pip install tensorrt (or pip install 'hwnas[tensorrt]'), "
            "with an NVIDIA GPU"
        ) from None
    return trt


def tensorrt_missing():
    """None when ``tensorrt`` imports; else one line naming what is missing (``--trt-engine``)."""
    try:
        import tensorrt  # noqa: F401
    except ImportError as exc:
        return (
            f"--trt-engine needs NVIDIA TensorRT, but the Python package 'tensorrt' is not "
            f"importable here ({exc}); install it on a machine with an NVIDIA GPU: "
            f"pip install 'hwnas[tensorrt]'"
        )
    return None


def build_engine(
    trt,
    builder,
    logger,
    onnx,
    what: str,
    fp16: bool = False,
    workspace_mb: int | None = None,
    timing_cache=None,
    dynamic_batch: tuple | None = None,
) -> bytes:
    """A serialized engine from ``onnx`` (bytes, or a path); ``what`` names it in errors.

    ``dynamic_batch``: ``(input_name, (C, H, W), max_batch)`` adds an optimisation profile for batch
    1..max_batch (optimised for 1).
    """
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if isinstance(onnx, (bytes, bytearray)):
        ok = parser.parse(onnx)
    else:
        ok = parser.parse_from_file(str(onnx))
    if not ok:
        errs = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise HwnasError(f"TensorRT could not parse {what}: {errs[:300]}")
    config = builder.create_builder_config()
    if workspace_mb is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_mb) << 20)
    if timing_cache is not None:
        config.set_timing_cache(timing_cache, ignore_mismatch=False)
    if fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    if dynamic_batch is not None:
        name, chw, max_batch = dynamic_batch
        profile = builder.create_optimization_profile()
        profile.set_shape(name, (1, *chw), (1, *chw), (int(max_batch), *chw))
        config.add_optimization_profile(profile)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise HwnasError(f"TensorRT failed to build an engine for {what} (see its log above)")
    return bytes(plan)


class TrtRunner(Runner):
    """One engine with device buffers bound once; ``run(n)`` -> seconds from CUDA events."""

    def __init__(self, engine, torch, input_shape):
        self.torch, self.engine = torch, engine
        self.context = engine.create_execution_context()
        self.stream = torch.cuda.Stream()
        self.buffers = []
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        inputs = [n for n in names if "INPUT" in str(engine.get_tensor_mode(n))]
        for name in inputs:  # a dynamic-batch engine runs at the batch of input_shape
            self.context.set_input_shape(name, tuple(input_shape))
        for name in names:
            shape = tuple(self.context.get_tensor_shape(name))
            dtype = torch.float16 if "HALF" in str(engine.get_tensor_dtype(name)) else torch.float32
            buf = (
                torch.randn(*shape, device="cuda", dtype=dtype)
                if name in inputs
                else torch.empty(*shape, device="cuda", dtype=dtype)
            )
            self.context.set_tensor_address(name, buf.data_ptr())
            self.buffers.append(buf)
        self.start = torch.cuda.Event(enable_timing=True)
        self.end = torch.cuda.Event(enable_timing=True)

    def run(self, n: int) -> float:
        """Run ``n`` times back to back on the runner's stream; seconds from CUDA events."""
        handle = self.stream.cuda_stream
        self.start.record(self.stream)
        for _ in range(n):
            self.context.execute_async_v3(handle)
        self.end.record(self.stream)
        self.end.synchronize()
        return self.start.elapsed_time(self.end) / 1e3


def _cuda_torch():
    import torch

    if not torch.cuda.is_available():
        raise HwnasError(
            "backend tensorrt needs an NVIDIA GPU and a CUDA build of torch; none is visible here"
        )
    return torch


class TensorRTProfiler(Profiler):
    """``backend tensorrt``: an engine per module, timed with CUDA events (one timing cache)."""

    backend = "tensorrt"
    default_provider = "cuda"
    packages = ("tensorrt",)
    providers_by_ep = {"TensorRT": "cuda"}

    def __init__(
        self,
        provider: str = "cuda",
        threads: int = 1,
        precision: str = "fp32",
        batch_size: int = 1,
        workspace_mb: int = 1024,
        timer: str = "auto",
    ):
        trt = import_tensorrt()
        if timer not in ("auto", "cuda_events"):
            raise HwnasError(
                f"timer {timer!r} is not available with backend tensorrt; allowed: cuda_events"
            )
        if precision not in ("fp32", "fp16"):
            raise HwnasError(
                f"precision {precision!r} is not supported by backend tensorrt; allowed: fp32, fp16"
            )
        self.trt, self.torch = trt, _cuda_torch()
        self.precision, self.batch_size, self.threads = precision, int(batch_size), int(threads)
        self.workspace_mb = int(workspace_mb)
        self.logger = trt.Logger(trt.Logger.ERROR)
        self.builder = trt.Builder(self.logger)
        # one timing cache, shared by every engine this profiler builds
        self.timing_cache = self.builder.create_builder_config().create_timing_cache(b"")

    def settings(self) -> dict:
        """How it measures, for ``device.yaml``."""
        return {
            "backend": "tensorrt",
            "execution_provider": "TensorRT",
            "precision": self.precision,
            "threads": self.threads,
            "batch_size": self.batch_size,
            "timer": "cuda_events",
            "tensorrt": {"workspace_mb": self.workspace_mb, "timing_cache": True, "onnx_opset": 17},
        }

    def versions(self) -> dict:
        """TensorRT's and torch's versions."""
        return {"tensorrt": self.trt.__version__, "torch": self.torch.__version__}

    def prepare(self, module, input_shape) -> Runner:
        """Export ``module``, build its engine (batch size of the profiler) and bind its buffers."""
        shape = (self.batch_size,) + tuple(input_shape[1:])
        plan = build_engine(
            self.trt,
            self.builder,
            self.logger,
            export_onnx(module, shape),
            "this layer",
            fp16=self.precision == "fp16",
            workspace_mb=self.workspace_mb,
            timing_cache=self.timing_cache,
        )
        engine = self.trt.Runtime(self.logger).deserialize_cuda_engine(plan)
        return TrtRunner(engine, self.torch, shape)


def build_trt_engine(
    onnx_path,
    plan_path,
    resolution: int,
    *,
    input_name: str,
    fp16=False,
    dynamic_batch=False,
    max_batch: int = 1,
    runs=50,
) -> dict:
    """Build a TensorRT engine from the ONNX file, write it, time it on CUDA (ms, batch 1).

    ``dynamic_batch``: the engine takes batches 1..``max_batch`` on input ``input_name``.
    """
    trt = import_tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    chw = (3, int(resolution), int(resolution))
    dyn = (input_name, chw, max_batch) if dynamic_batch else None
    t = time.perf_counter()
    plan = build_engine(
        trt,
        trt.Builder(logger),
        logger,
        onnx_path,
        repr(str(onnx_path)),
        fp16=fp16,
        dynamic_batch=dyn,
    )
    build_s = time.perf_counter() - t
    Path(plan_path).write_bytes(plan)
    out = {
        "trt_engine": str(plan_path),
        "trt_fp16": bool(fp16),
        "trt_build_s": round(build_s, 3),
        "trt_latency_ms": None,
    }
    try:
        torch = _cuda_torch()
    except HwnasError:
        out["trt_note"] = "engine written; not timed: this torch has no CUDA device for the buffers"
        return out
    runner = TrtRunner(trt.Runtime(logger).deserialize_cuda_engine(plan), torch, (1, *chw))
    timing = time_interleaved([runner], rounds=int(runs), warmup=10, sample_ms=0.0, max_inner=1)[0]
    out["trt_latency_ms"] = timing.median
    return out
