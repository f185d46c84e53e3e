"""Profilers behind one interface (:class:`~latency.profilers.base.Profiler`); the backends are the
table :data:`latency.profilers.registry.BACKENDS`."""

from __future__ import annotations

import inspect

from hwnas.errors import HwnasError, allowed, check_int

from .registry import BACKENDS, TARGETS

# every backend's constructor takes these
COMMON = ("provider", "threads", "precision", "batch_size")


def _check_options(backend: str, cls, options: dict) -> None:
    """A backend option given to a backend that has no such option is an error, never ignored."""
    own = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", *COMMON)]
    for key in options:
        if key not in own:
            raise HwnasError(
                f"option {key!r} does not apply to backend {backend}; allowed: {allowed(own)}"
            )


def make_profiler(
    backend: str = "ort",
    provider: str | None = None,
    threads: int = 1,
    precision: str = "fp32",
    batch_size: int = 1,
    target: str | None = None,
    target_python: str = "python3",
    ssh_options=(),
    **options,
):
    """A profiler for ``backend`` (import-guarded: a missing library is a one-line HwnasError naming
    its package). ``provider`` defaults to the backend's ``default_provider``; ``options`` are the
    backend's own constructor options (``timer``, ``opt_level``, ...).

    With ``target`` (``ssh://[USER@]HOST[:PORT]``, backend ``ort`` only) it times on that machine
    through hwnas' agent (``latency.remote.RemoteOrtProfiler``); close it when done.
    """
    cls = BACKENDS.load(backend)
    threads, batch_size = check_int(threads, "threads"), check_int(batch_size, "batch size")
    provider = provider or cls.default_provider
    if target is not None:
        remote = TARGETS.load("ssh")
        if backend != remote.backend:
            raise HwnasError(
                f"--target times with hwnas' ONNX Runtime agent: it needs "
                f"--backend ort, not {backend}"
            )
        return remote(
            target,
            target_python,
            ssh_options,
            provider=provider,
            threads=threads,
            precision=precision,
            batch_size=batch_size,
            **options,
        )
    _check_options(backend, cls, options)
    return cls(
        provider=provider, threads=threads, precision=precision, batch_size=batch_size, **options
    )


def profiler_from_settings(meta: dict, **remote):
    """Rebuild the profiler a device was measured with, from its ``device.yaml``.

    ``remote``: ``target``, ``target_python``, ``ssh_options`` as for :func:`make_profiler`.
    """
    backend = meta.get("backend")
    if backend is None:
        name = meta.get("name", "this device")
        raise HwnasError(
            f"device {name!r} has no backend recorded (an OFA table folder, measured "
            f"elsewhere); it can only be predicted, not measured here"
        )
    cls = BACKENDS.load(backend)
    provider = cls.providers_by_ep.get(str(meta.get("execution_provider", "")))
    timer = meta.get("timer", "auto")
    opts = {"timer": "auto" if timer == "cuda_events" else timer, **cls.options_from_settings(meta)}
    return make_profiler(
        backend,
        provider=provider,
        threads=int(meta.get("threads", 1)),
        precision=meta.get("precision", "fp32"),
        batch_size=int(meta.get("batch_size", 1)),
        **remote,
        **opts,
    )
