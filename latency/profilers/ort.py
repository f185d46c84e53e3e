"""ONNX Runtime profiler: CPU, and the CUDA / TensorRT execution providers when installed.

Each module is exported to ONNX (``torch.onnx.export(..., dynamo=False)``, opset 17, constant
folding) and run in its own ``InferenceSession`` with fixed, stated settings:
``intra_op_num_threads`` = ``threads``, ``inter_op_num_threads`` = 1, sequential execution, graph
optimisation level ``ORT_ENABLE_ALL`` (batch-norm folded into convs, activations fused), and thread
spinning as ``spinning`` says (``session.intra_op.allow_spinning``/``inter_op``). Inputs and outputs
are bound once (``IOBinding``), so a timed run is one ``run_with_iobinding`` call with no
Python-side copies. Sessions and timing are the agent's (``latency.agent``): the same code runs on a
remote target.
"""

from __future__ import annotations

from hwnas.errors import HwnasError, allowed

from .. import agent
from ..onnx_io import onnx_bytes
from .base import Profiler, Runner, Timing, check_timing, resolve_timer, time_interleaved

PROVIDERS = agent.PROVIDERS
OPT_LEVELS = agent.OPT_LEVELS


def import_ort():
    """The ``onnxruntime`` module, or a one-line HwnasError saying how to install it."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise HwnasError(
            "backend ort needs onnxruntime, which is not installed; install it with: "
            "pip install onnxruntime (or onnxruntime-gpu for the CUDA/TensorRT "
            "providers)"
        ) from None
    return ort


def check_cuda_usable(ort) -> None:
    """A one-line HwnasError when this onnxruntime lists its CUDA provider but cannot use it (no
    GPU, or not the CUDA/cuDNN it was built for): a session would silently fall back to the CPU."""
    import numpy as np

    try:
        ort.OrtValue.ortvalue_from_numpy(np.zeros(1, np.float32), "cuda", 0)
    except Exception as exc:  # onnxruntime raises plain RuntimeErrors
        # "/onnxruntime_src/...cc:2465 onnxruntime::...GetProviderInfo_CUDA() CUDA Provider ..."
        reason = " ".join(str(exc).split()).rsplit("() ", 1)[-1][:200]
        raise HwnasError(
            f"onnxruntime {ort.__version__} lists its CUDA provider but cannot use CUDA here "
            f"({reason}); it needs an NVIDIA GPU and the CUDA and cuDNN versions that "
            f"onnxruntime-gpu was built for"
        ) from None


class _OrtRunner(agent.OrtRunner, Runner):
    pass


class OrtProfiler(Profiler):
    """``ort``: times modules exported to ONNX in ONNX Runtime (CPU, CUDA or TensorRT provider)."""

    backend = "ort"
    packages = ("onnxruntime", "onnxruntime-gpu")
    providers_by_ep = {
        "CPUExecutionProvider": "cpu",
        "CUDAExecutionProvider": "cuda",
        "TensorrtExecutionProvider": "tensorrt",
    }

    @classmethod
    def options_from_settings(cls, meta: dict) -> dict:
        """See :meth:`Profiler.options_from_settings`: the graph optimisation level and spinning."""
        o = meta.get("ort") or {}
        level = str(o.get("graph_optimization_level", "ORT_ENABLE_ALL"))
        opt_level = "disable" if level == "ORT_DISABLE_ALL" else level.replace("ORT_ENABLE_", "")
        return {"opt_level": opt_level.lower(), "spinning": bool(o.get("allow_spinning", 1))}

    def __init__(
        self,
        provider: str = "cpu",
        threads: int = 1,
        precision: str = "fp32",
        batch_size: int = 1,
        opt_level: str = "all",
        spinning: bool = True,
        timer: str = "auto",
    ):
        self.ort = import_ort()
        self._configure(
            self.ort.__version__,
            self.ort.get_available_providers(),
            "the installed onnxruntime",
            provider,
            threads,
            precision,
            batch_size,
            opt_level,
            spinning,
            timer,
        )
        if provider != "cpu":
            check_cuda_usable(self.ort)

    def _configure(
        self,
        version,
        available,
        where,
        provider,
        threads,
        precision,
        batch_size,
        opt_level,
        spinning,
        timer,
    ) -> None:
        """Check the settings against an onnxruntime (``version``, ``available``) and keep them."""
        if provider not in PROVIDERS:
            raise HwnasError(
                f"execution provider {provider!r} is unknown; allowed: {allowed(PROVIDERS)}"
            )
        ep = PROVIDERS[provider]
        if ep not in available:
            pkg = "onnxruntime-gpu" if provider in ("cuda", "tensorrt") else "onnxruntime"
            raise HwnasError(
                f"execution provider {ep} is not in {where} (it has: "
                f"{allowed(available)}); it is provided by: pip install {pkg}"
            )
        if precision not in ("fp32", "fp16"):
            raise HwnasError(
                f"precision {precision!r} is not supported by backend ort; allowed: fp32, fp16"
            )
        if precision == "fp16" and provider != "tensorrt":
            raise HwnasError(
                f"precision fp16 with backend ort needs the tensorrt provider; "
                f"provider {provider} runs fp32"
            )
        if opt_level not in OPT_LEVELS:
            raise HwnasError(
                f"graph optimisation level {opt_level!r} is unknown; allowed: {allowed(OPT_LEVELS)}"
            )
        if int(threads) < 1:
            raise HwnasError(f"threads {threads!r} must be >= 1")
        self.ort_version, self.provider, self.ep = version, provider, ep
        self.threads, self.precision, self.batch_size = int(threads), precision, int(batch_size)
        self.opt_level, self.spinning = opt_level, bool(spinning)
        self.timer = resolve_timer(timer, provider, self.threads)

    def settings(self) -> dict:
        """The measuring settings device.yaml records: backend, provider, precision, threads, batch,
        timer, ORT options."""
        return {
            "backend": "ort",
            "execution_provider": self.ep,
            "precision": self.precision,
            "threads": self.threads,
            "batch_size": self.batch_size,
            "timer": self.timer,
            "ort": {
                "graph_optimization_level": f"ORT_ENABLE_{self.opt_level.upper()}"
                if self.opt_level != "disable"
                else "ORT_DISABLE_ALL",
                "intra_op_num_threads": self.threads,
                "inter_op_num_threads": 1,
                "execution_mode": "ORT_SEQUENTIAL",
                "allow_spinning": int(self.spinning),
                "io_binding": True,
                "onnx_opset": 17,
                "exporter": "torch.onnx.export(dynamo=False)",
            },
        }

    def session_spec(self) -> dict:
        """What ``latency.agent.OrtRunner`` needs for a session (sent as is to a remote agent)."""
        return {
            "provider": self.provider,
            "threads": self.threads,
            "precision": self.precision,
            "opt_level": self.opt_level,
            "spinning": self.spinning,
            "timer": self.timer,
        }

    def versions(self) -> dict:
        """onnxruntime's version."""
        return {"onnxruntime": self.ort_version}

    def input_shape(self, input_shape) -> tuple:
        """``input_shape`` with this profiler's batch size."""
        return (self.batch_size,) + tuple(input_shape[1:])

    def prepare_onnx(self, onnx_bytes, input_shape) -> Runner:
        """A runner for an ONNX model (bytes) with a fixed input shape."""
        return _OrtRunner(self.ort, onnx_bytes, input_shape, self.session_spec())

    def prepare(self, module, input_shape) -> Runner:
        """Export ``module`` at this profiler's batch size and return its runner."""
        input_shape = self.input_shape(input_shape)
        return self.prepare_onnx(onnx_bytes(module, input_shape), input_shape)

    def time_onnx(self, onnx, input_shape, rounds: int = 15, warmup: int = 3) -> Timing:
        """Time one whole model (ONNX bytes or a file path) as whole subnets are measured.

        That is ``latency.measure``'s method: this profiler's session settings, ``warmup`` runs,
        then ``rounds`` timed runs of one inference each; the :class:`Timing` is in ms.
        """
        check_timing(rounds, warmup)
        runner = self.prepare_onnx(onnx, input_shape)
        try:
            return time_interleaved(
                [runner], rounds=rounds, warmup=warmup, sample_ms=0.0, max_inner=1
            )[0]
        finally:
            runner.close()
