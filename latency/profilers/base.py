"""The profiler interface; the timing method itself is the agent's (``latency.agent``).

A :class:`Profiler` turns an eval-mode torch module (one table entry, or a whole subnet) and an
input shape into a :class:`Runner`; ``runner.run(n)`` executes it ``n`` times back to back and
returns the elapsed seconds (host ``perf_counter`` or thread CPU time on CPU, CUDA events on GPU).
``Profiler.time_modules`` times a group of modules with ``latency.agent.time_interleaved`` (warm-up,
interleaved rotated rounds, medians, retry of dispersed timings: see ``latency/agent.py``), the same
function the agent runs on a remote target, so every backend and every target shares one method.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

from hwnas.errors import HwnasError, allowed, check_int

from .. import fingerprint as _fingerprint
from ..agent import TIMERS, Timing, clock, time_interleaved

__all__ = [
    "TIMERS",
    "Timing",
    "clock",
    "time_interleaved",
    "check_timing",
    "resolve_timer",
    "Runner",
    "Profiler",
]

# The keys of device.yaml that say how its tables were measured (what ``Profiler.settings``
# writes besides backend-specific sections): a calibration replaces them, a folder never mixes them.
MEASURE_KEYS = (
    "backend",
    "execution_provider",
    "precision",
    "threads",
    "batch_size",
    "timer",
    "cuda_graph",
)


def check_timing(rounds, warmup, sample_ms=0.0) -> None:
    """One-line HwnasErrors for timing settings no measurement can use (checked before any work)."""
    check_int(rounds, "rounds")
    check_int(warmup, "warm-up runs", minimum=0)
    ok = isinstance(sample_ms, (int, float)) and not isinstance(sample_ms, bool)
    if not (ok and 0 <= sample_ms < math.inf):
        raise HwnasError(f"sample time {sample_ms!r} ms is not allowed; allowed: a number >= 0")


def resolve_timer(timer: str, provider: str, threads: int) -> str:
    """``auto`` -> ``thread_cpu`` for single-threaded CPU inference, else ``wall``.

    ``thread_cpu`` reads the calling thread's CPU time (``time.thread_time``). With one intra-op
    thread the whole inference runs in the calling thread, so on an idle core this equals wall-clock
    latency, while on a shared machine it leaves out the time other processes hold the core.
    """
    if timer == "auto":
        return "thread_cpu" if provider == "cpu" and int(threads) == 1 else "wall"
    if timer not in TIMERS:
        raise HwnasError(f"timer {timer!r} is unknown; allowed: auto, {allowed(TIMERS)}")
    if timer == "thread_cpu" and (provider != "cpu" or int(threads) != 1):
        raise HwnasError(
            "timer thread_cpu measures latency only for single-threaded CPU "
            "inference; "
            "use --threads 1 on the CPU, or --timer wall"
        )
    return timer


class Runner(ABC):
    """A module prepared for one input shape: :meth:`run` times back-to-back inferences."""

    @abstractmethod
    def run(self, n: int) -> float:
        """Run ``n`` times back to back; return elapsed seconds."""

    # an optional hook, not abstract: a runner that holds nothing need not define it
    def close(self) -> None:  # noqa: B027
        """Release what the runner holds once its timings are taken; a no-op here."""


class Profiler(ABC):
    """One backend (``ort``, ``tensorrt``, ``torch``) with fixed settings."""

    backend = "abstract"
    default_provider = "cpu"  # when none is asked for
    providers_by_ep: dict = {}  # device.yaml's ``execution_provider`` -> this backend's provider
    packages: tuple = ()  # distributions whose version the tables depend on (first: the usual one)

    @classmethod
    def options_from_settings(cls, meta: dict) -> dict:
        """This backend's own constructor options as a ``device.yaml`` (``meta``) records them."""
        return {}

    @abstractmethod
    def settings(self) -> dict:
        """How it measures (provider, precision, threads, batch size, ...), for ``device.yaml``."""

    @abstractmethod
    def prepare(self, module, input_shape) -> Runner:
        """Export/compile ``module`` for a fixed NCHW ``input_shape`` and return a runner."""

    def versions(self) -> dict:
        """Versions of the backend's libraries, recorded in device.yaml (none here)."""
        return {}

    # an optional hook, not abstract: a local profiler holds nothing to release
    def close(self) -> None:  # noqa: B027
        """Release what the profiler holds (a remote target's connection); a no-op locally."""

    def on_gpu(self) -> bool:
        """Whether it measures on a GPU (any provider but the CPU)."""
        return getattr(self, "provider", self.default_provider) != "cpu"

    # The machine it measures on (here; a remote profiler reports its target's), for device.yaml.
    def machine(self) -> dict:
        """``device.yaml``'s ``machine``: CPU, cores, platform, Python; on a GPU also ``gpu``
        (name, driver, memory_mib: ``latency.fingerprint.gpu_info``)."""
        info = _fingerprint.machine_info()
        gpu = _fingerprint.gpu_info() if self.on_gpu() else None
        return {**info, "gpu": gpu} if gpu else info

    def fingerprint(self) -> dict:
        """The machine fingerprint for these settings (``latency.fingerprint``)."""
        s = self.settings()
        return _fingerprint.fingerprint(s["backend"], s["threads"], gpu=self.on_gpu())

    def load_average(self):
        """The 1-minute load average of the machine it measures on."""
        return _fingerprint.load_average()

    def load_warning(self):
        """A one-line warning when that machine is overloaded, or None."""
        return _fingerprint.load_warning()

    def time_modules(
        self,
        items,
        rounds: int = 15,
        warmup: int = 3,
        sample_ms: float = 2.0,
        max_inner: int = 50,
        max_dispersion: float | None = None,
        retries: int = 2,
    ) -> list:
        """Time ``items`` (``(module, input_shape[, name])``) together; a :class:`Timing` (ms)
        each."""
        check_timing(rounds, warmup, sample_ms)
        runners = [self.prepare(item[0], item[1]) for item in items]
        try:
            return time_interleaved(
                runners,
                rounds=rounds,
                warmup=warmup,
                sample_ms=sample_ms,
                max_inner=max_inner,
                max_dispersion=max_dispersion,
                retries=retries,
            )
        finally:
            for r in runners:
                r.close()
