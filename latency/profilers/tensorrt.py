"""TensorRT profiler: an engine built from the ONNX export (FP32, or FP16 with ``precision="fp16"``), with
a timing cache shared by all engines of a run, timed with CUDA events around ``execute_async_v3``.

Import-guarded: TensorRT (``pip install tensorrt``, or ``pip install 'hwnas[tensorrt]'``) and a CUDA
build of torch (used for device buffers, the stream and the events) are needed only when this backend
is used. Its tests skip where TensorRT is absent. (No GPU machine was available when this was written:
the code follows the TensorRT 10 Python API but has not been run.)
"""

from __future__ import annotations

from hwnas.errors import HwnasError

from ..modules import export_onnx
from .base import Profiler, Runner


def import_tensorrt():
    try:
        import tensorrt as trt
    except ImportError:
        raise HwnasError("backend tensorrt needs TensorRT, which is not installed; it is provided by: "
                         "pip install tensorrt (or pip install 'hwnas[tensorrt]'), with an NVIDIA GPU") from None
    return trt


class _TrtRunner(Runner):
    def __init__(self, engine, shape, torch):
        self.torch, self.engine = torch, engine
        self.context = engine.create_execution_context()
        self.stream = torch.cuda.Stream()
        self.buffers = []
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            tshape = tuple(engine.get_tensor_shape(name))
            dtype = torch.float16 if "HALF" in str(engine.get_tensor_dtype(name)) else torch.float32
            buf = torch.randn(*tshape, device="cuda", dtype=dtype) if name == "x" else \
                torch.empty(*tshape, device="cuda", dtype=dtype)
            self.context.set_tensor_address(name, buf.data_ptr())
            self.buffers.append(buf)
        self.start, self.end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

    def run(self, n: int) -> float:
        handle = self.stream.cuda_stream
        self.start.record(self.stream)
        for _ in range(n):
            self.context.execute_async_v3(handle)
        self.end.record(self.stream)
        self.end.synchronize()
        return self.start.elapsed_time(self.end) / 1e3


class TensorRTProfiler(Profiler):
    backend = "tensorrt"

    def __init__(self, provider: str = "cuda", threads: int = 1, precision: str = "fp32", batch_size: int = 1,
                 workspace_mb: int = 1024, timer: str = "auto"):
        trt = import_tensorrt()
        import torch

        if timer not in ("auto", "cuda_events"):
            raise HwnasError(f"timer {timer!r} is not available with backend tensorrt; allowed: cuda_events")
        if not torch.cuda.is_available():
            raise HwnasError("backend tensorrt needs an NVIDIA GPU and a CUDA build of torch; none is visible here")
        if precision not in ("fp32", "fp16"):
            raise HwnasError(f"precision {precision!r} is not supported by backend tensorrt; allowed: fp32, fp16")
        self.trt, self.torch = trt, torch
        self.precision, self.batch_size, self.threads = precision, int(batch_size), int(threads)
        self.workspace_mb = int(workspace_mb)
        self.logger = trt.Logger(trt.Logger.ERROR)
        self.builder = trt.Builder(self.logger)
        probe = self.builder.create_builder_config()
        self.timing_cache = probe.create_timing_cache(b"")  # shared by every engine of this profiler

    def settings(self) -> dict:
        return {"backend": "tensorrt", "execution_provider": "TensorRT", "precision": self.precision,
                "threads": self.threads, "batch_size": self.batch_size, "timer": "cuda_events",
                "tensorrt": {"workspace_mb": self.workspace_mb, "timing_cache": True,
                             "onnx_opset": 17}}

    def versions(self) -> dict:
        return {"tensorrt": self.trt.__version__, "torch": self.torch.__version__}

    def build_engine(self, onnx_bytes):
        trt = self.trt
        network = self.builder.create_network(0)
        parser = trt.OnnxParser(network, self.logger)
        if not parser.parse(onnx_bytes):
            errs = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise HwnasError(f"TensorRT could not parse the ONNX export: {errs[:300]}")
        config = self.builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, self.workspace_mb << 20)
        config.set_timing_cache(self.timing_cache, ignore_mismatch=False)
        if self.precision == "fp16":
            config.set_flag(trt.BuilderFlag.FP16)
        plan = self.builder.build_serialized_network(network, config)
        if plan is None:
            raise HwnasError("TensorRT failed to build an engine for this layer")
        return trt.Runtime(self.logger).deserialize_cuda_engine(plan)

    def prepare(self, module, input_shape) -> Runner:
        shape = (self.batch_size,) + tuple(input_shape[1:])
        engine = self.build_engine(export_onnx(module, shape))
        return _TrtRunner(engine, shape, self.torch)
