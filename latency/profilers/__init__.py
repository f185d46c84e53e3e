"""Profilers behind one interface (:class:`~latency.profilers.base.Profiler`): ``ort``, ``tensorrt``, ``torch``."""

from __future__ import annotations

from hwnas.errors import HwnasError, allowed, check_int

BACKENDS = ("ort", "tensorrt", "torch")
DEFAULT_PROVIDER = {"ort": "cpu", "tensorrt": "cuda", "torch": "cpu"}


def make_profiler(backend: str = "ort", provider: str | None = None, threads: int = 1, precision: str = "fp32",
                  batch_size: int = 1, target: str | None = None, target_python: str = "python3",
                  ssh_options=(), **options):
    """A profiler for ``backend`` (import-guarded: a missing library is a one-line HwnasError naming its package).

    With ``target`` (``ssh://[USER@]HOST[:PORT]``, backend ``ort`` only) it times on that machine
    through hwnas' agent (``latency.remote.RemoteOrtProfiler``); close it when done.
    """
    if backend not in BACKENDS:
        raise HwnasError(f"backend {backend!r} is unknown; allowed: {allowed(BACKENDS)}")
    threads, batch_size = check_int(threads, "threads"), check_int(batch_size, "batch size")
    provider = provider or DEFAULT_PROVIDER[backend]
    if target is not None:
        if backend != "ort":
            raise HwnasError(f"--target times with hwnas' ONNX Runtime agent: it needs --backend ort, "
                             f"not {backend}")
        from ..remote import RemoteOrtProfiler

        return RemoteOrtProfiler(target, target_python, ssh_options, provider=provider, threads=threads,
                                 precision=precision, batch_size=batch_size, **options)
    if backend == "ort":
        from .ort import OrtProfiler

        return OrtProfiler(provider=provider, threads=threads, precision=precision, batch_size=batch_size, **options)
    if backend == "tensorrt":
        from .tensorrt import TensorRTProfiler

        return TensorRTProfiler(provider=provider, threads=threads, precision=precision, batch_size=batch_size,
                                timer=options.get("timer", "auto"))
    from .torch_eager import TorchProfiler

    return TorchProfiler(provider=provider, threads=threads, precision=precision, batch_size=batch_size,
                         timer=options.get("timer", "auto"))


def profiler_from_settings(meta: dict, **remote):
    """Rebuild the profiler a device was measured with, from its ``device.yaml``.

    ``remote``: ``target``, ``target_python``, ``ssh_options`` as for :func:`make_profiler`.
    """
    backend = meta.get("backend")
    if backend is None:
        name = meta.get("name", "this device")
        raise HwnasError(f"device {name!r} has no backend recorded (an OFA table folder, measured elsewhere); "
                         f"it can only be predicted, not measured here")
    ep = str(meta.get("execution_provider", ""))
    provider = {"CPUExecutionProvider": "cpu", "CUDAExecutionProvider": "cuda", "TensorrtExecutionProvider": "tensorrt",
                "torch-eager-cpu": "cpu", "torch-eager-cuda": "cuda", "TensorRT": "cuda"}.get(ep)
    opts = {"timer": meta.get("timer", "auto")}
    if opts["timer"] == "cuda_events":
        opts["timer"] = "auto"
    if backend == "ort":
        o = meta.get("ort") or {}
        level = str(o.get("graph_optimization_level", "ORT_ENABLE_ALL"))
        opts = {**opts, "opt_level": "disable" if level == "ORT_DISABLE_ALL" else level.replace("ORT_ENABLE_", "").lower(),
                "spinning": bool(o.get("allow_spinning", 1))}
    return make_profiler(backend, provider=provider, threads=int(meta.get("threads", 1)),
                         precision=meta.get("precision", "fp32"), batch_size=int(meta.get("batch_size", 1)),
                         **remote, **opts)
