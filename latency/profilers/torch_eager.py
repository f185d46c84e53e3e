"""PyTorch eager profiler: CPU (``torch.set_num_threads(threads)`` while timing, then restored) and
CUDA (CUDA events).

Modules run under ``torch.inference_mode()`` in eval mode; on CUDA the module and input live on the
GPU and time is read from CUDA events around the ``n`` back-to-back runs (one synchronisation per
sample).

``cuda_graph=True`` (CUDA only) captures each module's forward pass once in a CUDA graph and times
graph replays. Why: eager PyTorch on a fast GPU is bound by the Python/CPU side that launches the
kernels, which overlaps the GPU work of the neighbouring blocks in a whole net; per-block times then
neither add up to the net's time nor stay steady (measured on an H100: eager tables fit 100 held-out
subnets within +-10% for 35..53% of them, after correction). A replayed graph runs the kernels
back to back on the GPU, the time TensorRT, ``torch.compile(mode="reduce-overhead")`` and other
graph runtimes deploy with, and its per-block times add up.
"""

from __future__ import annotations

from hwnas.errors import HwnasError, allowed

from .base import Profiler, Runner, clock, resolve_timer

DEVICES = ("cpu", "cuda")


class _CpuRunner(Runner):
    def __init__(self, module, x, clock, threads):
        self.module, self.x, self.clock, self.threads = module, x, clock, threads

    def run(self, n: int) -> float:
        import torch

        m, x, clock = self.module, self.x, self.clock
        before = torch.get_num_threads()
        if before != self.threads:  # the process' setting is restored after timing
            torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                t0 = clock()
                for _ in range(n):
                    m(x)
                return clock() - t0
        finally:
            if before != self.threads:
                torch.set_num_threads(before)


class _CudaRunner(Runner):
    def __init__(self, module, x):
        import torch

        self.module, self.x = module, x
        self.start, self.end = (
            torch.cuda.Event(enable_timing=True),
            torch.cuda.Event(enable_timing=True),
        )

    def run(self, n: int) -> float:
        import torch

        m, x = self.module, self.x
        with torch.inference_mode():
            self.start.record()
            for _ in range(n):
                m(x)
            self.end.record()
            self.end.synchronize()
        return self.start.elapsed_time(self.end) / 1e3


class _CudaGraphRunner(_CudaRunner):
    def __init__(self, module, x):
        import torch

        side = torch.cuda.Stream()  # warm-up off the capture stream, as torch.cuda.graph asks
        side.wait_stream(torch.cuda.current_stream())
        with torch.inference_mode(), torch.cuda.stream(side):
            for _ in range(3):
                module(x)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.inference_mode(), torch.cuda.graph(self.graph):
            self.y = module(x)  # the graph's output buffer: kept alive with the graph
        super().__init__(module, x)

    def run(self, n: int) -> float:
        graph = self.graph
        self.start.record()
        for _ in range(n):
            graph.replay()
        self.end.record()
        self.end.synchronize()
        return self.start.elapsed_time(self.end) / 1e3

    def close(self) -> None:
        self.graph = self.y = None


def cuda_runner(module, x, cuda_graph: bool) -> Runner:
    """The CUDA runner of a module already on the GPU: graph replays or eager calls."""
    return _CudaGraphRunner(module, x) if cuda_graph else _CudaRunner(module, x)


class TorchProfiler(Profiler):
    """``torch``: times modules in PyTorch eager mode (CPU threads, or CUDA with CUDA events)."""

    backend = "torch"
    packages = ("torch",)
    providers_by_ep = {"torch-eager-cpu": "cpu", "torch-eager-cuda": "cuda"}

    def __init__(
        self,
        provider: str = "cpu",
        threads: int = 1,
        precision: str = "fp32",
        batch_size: int = 1,
        timer: str = "auto",
        cuda_graph: bool = False,
    ):
        import torch

        if provider not in DEVICES:
            raise HwnasError(f"torch device {provider!r} is unknown; allowed: {allowed(DEVICES)}")
        if provider == "cuda" and not torch.cuda.is_available():
            raise HwnasError(
                "backend torch on cuda needs a CUDA build of torch and a GPU; this "
                "torch "
                f"({torch.__version__}) sees none; CUDA torch is provided by: pip "
                f"install torch "
                "--index-url https://download.pytorch.org/whl/cu124"
            )
        if precision not in ("fp32", "fp16"):
            raise HwnasError(
                f"precision {precision!r} is not supported by backend torch; allowed: fp32, fp16"
            )
        if precision == "fp16" and provider == "cpu":
            raise HwnasError("precision fp16 with backend torch needs --provider cuda")
        if cuda_graph and provider != "cuda":
            raise HwnasError("--cuda-graph needs --provider cuda; CUDA graphs run on the GPU")
        self.cuda_graph = bool(cuda_graph)
        self.torch, self.provider, self.threads = torch, provider, int(threads)
        self.precision, self.batch_size = precision, int(batch_size)
        self.timer = resolve_timer(timer, provider, self.threads)

    @classmethod
    def options_from_settings(cls, meta: dict) -> dict:
        """See :meth:`Profiler.options_from_settings`: ``cuda_graph`` where it was on."""
        return {"cuda_graph": True} if meta.get("cuda_graph") else {}

    def settings(self) -> dict:
        """The measuring settings device.yaml records: backend, provider, precision, threads, batch,
        timer."""
        return {
            "backend": "torch",
            "execution_provider": f"torch-eager-{self.provider}",
            "precision": self.precision,
            "threads": self.threads,
            "batch_size": self.batch_size,
            "timer": "cuda_events" if self.provider == "cuda" else self.timer,
            **({"cuda_graph": True} if self.cuda_graph else {}),
            "torch": {"mode": "eager", "inference_mode": True},
        }

    def versions(self) -> dict:
        """``{"torch": version}``; on CUDA also the ``cuda`` and ``cudnn`` versions torch was built
        with."""
        # str(): torch's version is a str subclass, which yaml.safe_dump refuses
        out = {"torch": str(self.torch.__version__)}
        if self.provider == "cuda":
            out["cuda"] = str(self.torch.version.cuda)
            out["cudnn"] = str(self.torch.backends.cudnn.version())
        return out

    def prepare(self, module, input_shape) -> Runner:
        """A Runner for ``module`` in eval mode (on CUDA in the chosen precision) with a random
        input batch."""
        torch = self.torch
        shape = (self.batch_size,) + tuple(input_shape[1:])
        module = module.eval()
        if self.provider == "cuda":
            dtype = torch.float16 if self.precision == "fp16" else torch.float32
            module = module.to("cuda", dtype=dtype)
            x = torch.randn(*shape, device="cuda", dtype=dtype)
            return cuda_runner(module, x, self.cuda_graph)
        return _CpuRunner(module, torch.randn(*shape), clock(self.timer), self.threads)
