"""End-to-end latency of whole subnets (ms), measured with the same profilers and method as the
tables."""

from __future__ import annotations

from hwnas.arch import Arch
from hwnas.errors import check_int
from hwnas.space import get_space

from .modules import build_subnet_module
from .profilers import make_profiler, profiler_from_settings
from .profilers.base import check_timing

# IQR/median above which an end-to-end timing is repeated (see profilers.base)
MAX_DISPERSION = 0.05
RETRIES = 2


def measure_archs(
    archs,
    profiler,
    width: float = 1.2,
    rounds: int = 15,
    warmup: int = 3,
    group_size: int = 8,
    progress=None,
    max_dispersion: float | None = MAX_DISPERSION,
    retries: int = RETRIES,
) -> list:
    """Time whole subnets end to end, ``group_size`` at a time interleaved; one ``Timing`` (ms) per
    arch.

    A subnet whose rounds disagree (IQR/median > ``max_dispersion``) is timed again after the
    others, up to ``retries`` times; the least dispersed timing is kept. ``progress`` (a tqdm bar or
    None) is advanced by one per arch measured.
    """
    check_timing(rounds, warmup)
    check_int(group_size, "group size")
    space = get_space(width)
    archs = list(archs)
    out = [None] * len(archs)

    def run(indices, count_progress):
        for start in range(0, len(indices), group_size):
            group = indices[start : start + group_size]
            items = [
                (build_subnet_module(space, archs[i]), (1, 3, archs[i].r, archs[i].r), archs[i].id)
                for i in group
            ]
            timings = profiler.time_modules(
                items, rounds=rounds, warmup=warmup, sample_ms=0.0, max_inner=1
            )
            for i, t in zip(group, timings, strict=True):
                if out[i] is None or t.dispersion < out[i].dispersion:
                    out[i] = t
            if progress is not None and count_progress:
                progress.update(len(group))

    run(list(range(len(archs))), True)
    for _ in range(int(retries) if max_dispersion is not None else 0):
        again = [i for i, t in enumerate(out) if t.dispersion > max_dispersion]
        if not again:
            break
        run(again, False)
    return out


def measure_arch_ms(
    arch,
    backend: str = "ort",
    width: float = 1.2,
    device=None,
    rounds: int = 15,
    warmup: int = 3,
    provider=None,
    threads: int = 1,
    precision: str = "fp32",
    batch_size: int = 1,
    **options,
) -> float:
    """Measured end-to-end latency (median, ms) of one subnet.

    With ``device`` (a :class:`latency.Device` measured by hwnas) the backend and its settings are
    the device's, so the figure is comparable with its tables; otherwise they come from the
    arguments.
    """
    if not isinstance(arch, Arch):
        arch = Arch.from_dict(arch)
    if device is not None:
        profiler = profiler_from_settings({"name": device.name, **device.meta})
        width = device.width
    else:
        profiler = make_profiler(
            backend,
            provider=provider,
            threads=threads,
            precision=precision,
            batch_size=batch_size,
            **options,
        )
    return measure_archs([arch], profiler, width=width, rounds=rounds, warmup=warmup)[0].median
