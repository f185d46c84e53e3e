"""End-to-end latency of whole subnets (ms), measured with the same profilers and method as the tables."""

from __future__ import annotations

from hwnas.arch import Arch
from hwnas.space import get_space

from .modules import build_subnet_module
from .profilers import make_profiler, profiler_from_settings
from .profilers.base import time_interleaved


def measure_archs(archs, profiler, width: float = 1.2, rounds: int = 15, warmup: int = 3, group_size: int = 8,
                  progress=None) -> list:
    """Time whole subnets end to end, ``group_size`` at a time interleaved; one ``Timing`` (ms) per arch.

    ``progress`` (a tqdm bar or None) is advanced by one per arch measured.
    """
    space = get_space(width)
    archs = list(archs)
    out = []
    for start in range(0, len(archs), group_size):
        group = archs[start:start + group_size]
        runners = [profiler.prepare(build_subnet_module(space, a), (1, 3, a.r, a.r)) for a in group]
        try:
            out.extend(time_interleaved(runners, rounds=rounds, warmup=warmup, sample_ms=0.0, max_inner=1))
        finally:
            for r in runners:
                r.close()
        if progress is not None:
            progress.update(len(group))
    return out


def measure_arch_ms(arch, backend: str = "ort", width: float = 1.2, device=None, rounds: int = 15, warmup: int = 3,
                    provider=None, threads: int = 1, precision: str = "fp32", batch_size: int = 1, **options) -> float:
    """Measured end-to-end latency (median, ms) of one subnet.

    With ``device`` (a :class:`latency.Device` measured by hwnas) the backend and its settings are the
    device's, so the figure is comparable with its tables; otherwise they come from the arguments.
    """
    if not isinstance(arch, Arch):
        arch = Arch.from_dict(arch)
    if device is not None:
        profiler = profiler_from_settings({"name": device.name, **device.meta})
        width = device.width
    else:
        profiler = make_profiler(backend, provider=provider, threads=threads, precision=precision,
                                 batch_size=batch_size, **options)
    return measure_archs([arch], profiler, width=width, rounds=rounds, warmup=warmup)[0].median
