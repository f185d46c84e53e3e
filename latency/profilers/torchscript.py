"""``torchscript``: modules traced and frozen with TorchScript, timed as ``torch`` times eager ones.

``torch.jit.trace`` then ``torch.jit.freeze`` (weights folded in as constants, batch norm fused
into convolutions): the graph LibTorch (C++) and PyTorch Mobile deployments run, without Python's
per-module dispatch. Same devices, precisions, timers and runners as the eager ``torch`` backend, so
the two are directly comparable on one machine. (TorchScript is deprecated upstream; LibTorch
and PyTorch Mobile still run it.)
"""

from __future__ import annotations

import warnings

from .base import Runner
from .torch_eager import TorchProfiler, _CpuRunner, clock, cuda_runner


class TorchScriptProfiler(TorchProfiler):
    """``backend torchscript``: traced and frozen modules on CPU or CUDA."""

    backend = "torchscript"
    providers_by_ep = {"torchscript-cpu": "cpu", "torchscript-cuda": "cuda"}

    def settings(self) -> dict:
        """See :meth:`Profiler.settings`: the eager backend's, with the TorchScript mode."""
        return {
            **super().settings(),
            "backend": self.backend,
            "execution_provider": f"torchscript-{self.provider}",
            "torch": {"mode": "torchscript", "trace": True, "freeze": True, "inference_mode": True},
        }

    def prepare(self, module, input_shape) -> Runner:
        """Trace and freeze ``module`` on a fixed NCHW ``input_shape`` (batch: ``batch_size``)."""
        torch = self.torch
        shape = (self.batch_size,) + tuple(input_shape[1:])
        cuda = self.provider == "cuda"
        dtype = torch.float16 if self.precision == "fp16" else torch.float32
        module = module.eval().to("cuda" if cuda else "cpu", dtype=dtype)
        x = torch.randn(*shape, device="cuda" if cuda else "cpu", dtype=dtype)
        # TorchScript is deprecated upstream in favour of torch.export, but it is still what
        # LibTorch and PyTorch Mobile run: measuring it is the point, so its notice is not news
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            frozen = torch.jit.freeze(torch.jit.trace(module, x))
        if cuda:
            return cuda_runner(frozen, x, self.cuda_graph)
        return _CpuRunner(frozen, x, clock(self.timer), self.threads)
