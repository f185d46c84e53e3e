"""ONNX Runtime profiler: CPU, and the CUDA / TensorRT execution providers when installed.

Each module is exported to ONNX (``torch.onnx.export(..., dynamo=False)``, opset 17, constant folding)
and run in its own ``InferenceSession`` with fixed, stated settings: ``intra_op_num_threads`` =
``threads``, ``inter_op_num_threads`` = 1, sequential execution, graph optimisation level
``ORT_ENABLE_ALL`` (batch-norm folded into convs, activations fused), and thread spinning as
``spinning`` says (``session.intra_op.allow_spinning``/``inter_op``). Inputs and outputs are bound once
(``IOBinding``), so a timed run is one ``run_with_iobinding`` call with no Python-side copies.
"""

from __future__ import annotations

import numpy as np

from hwnas.errors import HwnasError, allowed

from ..modules import export_onnx
from .base import Profiler, Runner, clock, resolve_timer

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}
OPT_LEVELS = ("disable", "basic", "extended", "all")


def import_ort():
    try:
        import onnxruntime as ort
    except ImportError:
        raise HwnasError("backend ort needs onnxruntime, which is not installed; install it with: "
                         "pip install onnxruntime (or onnxruntime-gpu for the CUDA/TensorRT providers)") from None
    return ort


class _OrtRunner(Runner):
    def __init__(self, session, x, device, clock):
        self.session, self.clock = session, clock
        ort = import_ort()
        self.binding = session.io_binding()
        if device == "cpu":
            self.binding.bind_cpu_input("x", x)
        else:
            self.binding.bind_ortvalue_input("x", ort.OrtValue.ortvalue_from_numpy(x, "cuda", 0))
        self.binding.bind_output("y", device)

    def run(self, n: int) -> float:
        s, b, clock = self.session, self.binding, self.clock
        t0 = clock()
        for _ in range(n):
            s.run_with_iobinding(b)
        return clock() - t0


class OrtProfiler(Profiler):
    backend = "ort"

    def __init__(self, provider: str = "cpu", threads: int = 1, precision: str = "fp32", batch_size: int = 1,
                 opt_level: str = "all", spinning: bool = True, timer: str = "auto"):
        ort = import_ort()
        if provider not in PROVIDERS:
            raise HwnasError(f"execution provider {provider!r} is unknown; allowed: {allowed(PROVIDERS)}")
        ep = PROVIDERS[provider]
        if ep not in ort.get_available_providers():
            pkg = "onnxruntime-gpu" if provider in ("cuda", "tensorrt") else "onnxruntime"
            raise HwnasError(f"execution provider {ep} is not in the installed onnxruntime "
                             f"(it has: {allowed(ort.get_available_providers())}); it is provided by: pip install {pkg}")
        if precision not in ("fp32", "fp16"):
            raise HwnasError(f"precision {precision!r} is not supported by backend ort; allowed: fp32, fp16")
        if precision == "fp16" and provider != "tensorrt":
            raise HwnasError(f"precision fp16 with backend ort needs the tensorrt provider; provider {provider} runs fp32")
        if opt_level not in OPT_LEVELS:
            raise HwnasError(f"graph optimisation level {opt_level!r} is unknown; allowed: {allowed(OPT_LEVELS)}")
        if int(threads) < 1:
            raise HwnasError(f"threads {threads!r} must be >= 1")
        self.ort, self.provider, self.ep = ort, provider, ep
        self.threads, self.precision, self.batch_size = int(threads), precision, int(batch_size)
        self.opt_level, self.spinning = opt_level, bool(spinning)
        self.timer = resolve_timer(timer, provider, self.threads)

    def settings(self) -> dict:
        return {"backend": "ort", "execution_provider": self.ep, "precision": self.precision,
                "threads": self.threads, "batch_size": self.batch_size, "timer": self.timer,
                "ort": {"graph_optimization_level": f"ORT_ENABLE_{self.opt_level.upper()}"
                        if self.opt_level != "disable" else "ORT_DISABLE_ALL",
                        "intra_op_num_threads": self.threads, "inter_op_num_threads": 1,
                        "execution_mode": "ORT_SEQUENTIAL", "allow_spinning": int(self.spinning),
                        "io_binding": True, "onnx_opset": 17, "exporter": "torch.onnx.export(dynamo=False)"}}

    def versions(self) -> dict:
        return {"onnxruntime": self.ort.__version__}

    def session_options(self):
        ort = self.ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}[self.opt_level]
        spin = "1" if self.spinning else "0"
        so.add_session_config_entry("session.intra_op.allow_spinning", spin)
        so.add_session_config_entry("session.inter_op.allow_spinning", spin)
        so.log_severity_level = 3
        return so

    def providers(self):
        if self.provider == "tensorrt":
            opts = {"trt_fp16_enable": self.precision == "fp16", "trt_engine_cache_enable": True,
                    "trt_timing_cache_enable": True}
            return [(self.ep, opts), "CUDAExecutionProvider", "CPUExecutionProvider"]
        return [self.ep] if self.provider == "cpu" else [self.ep, "CPUExecutionProvider"]

    def prepare_onnx(self, onnx_bytes, input_shape) -> Runner:
        session = self.ort.InferenceSession(onnx_bytes, self.session_options(), providers=self.providers())
        x = np.random.default_rng(0).standard_normal(input_shape, dtype=np.float32)
        return _OrtRunner(session, x, "cpu" if self.provider == "cpu" else "cuda", clock(self.timer))

    def prepare(self, module, input_shape) -> Runner:
        input_shape = (self.batch_size,) + tuple(input_shape[1:])
        return self.prepare_onnx(export_onnx(module, input_shape), input_shape)
