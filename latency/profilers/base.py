"""The profiler interface and the one timing method all backends share.

A :class:`Profiler` turns an eval-mode torch module (one table entry, or a whole subnet) and an input
shape into a :class:`Runner`; ``runner.run(n)`` executes it ``n`` times back to back and returns the
elapsed seconds (host ``perf_counter`` on CPU, CUDA events on GPU).

Method (``time_interleaved``), the same for blocks and whole subnets:

1. warm-up: each runner runs ``warmup`` times (allocations, caches, lazy init, clock ramp);
2. ``inner`` is chosen per runner so that one sample lasts about ``sample_ms`` (tiny layers are run
   several times per sample so the timer's resolution does not matter);
3. ``rounds`` rounds; in every round each runner gives one sample (``elapsed / inner``), and the
   order rotates from round to round (round-robin), so slow drift of the machine hits all alike;
4. the result per runner is the **median** over rounds (ms), with the standard deviation, the
   inter-quartile range, min and max recorded as dispersion;
5. a runner whose rounds disagree (inter-quartile range above ``max_dispersion`` x median: another
   process took the core or its caches during part of the rounds) is timed again, up to ``retries``
   times, interleaved with the other such runners; the timing with the smallest dispersion is kept.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np


TIMERS = ("wall", "thread_cpu")


def resolve_timer(timer: str, provider: str, threads: int) -> str:
    """``auto`` -> ``thread_cpu`` for single-threaded CPU inference, else ``wall``.

    ``thread_cpu`` reads the calling thread's CPU time (``time.thread_time``). With one intra-op thread
    the whole inference runs in the calling thread, so on an idle core this equals wall-clock latency,
    while on a shared machine it leaves out the time other processes hold the core.
    """
    from hwnas.errors import HwnasError, allowed

    if timer == "auto":
        return "thread_cpu" if provider == "cpu" and int(threads) == 1 else "wall"
    if timer not in TIMERS:
        raise HwnasError(f"timer {timer!r} is unknown; allowed: auto, {allowed(TIMERS)}")
    if timer == "thread_cpu" and (provider != "cpu" or int(threads) != 1):
        raise HwnasError("timer thread_cpu measures latency only for single-threaded CPU inference; "
                         "use --threads 1 on the CPU, or --timer wall")
    return timer


def clock(timer: str):
    """The clock function (seconds) for a timer name."""
    import time

    return time.thread_time if timer == "thread_cpu" else time.perf_counter


class Runner(ABC):
    @abstractmethod
    def run(self, n: int) -> float:
        """Run ``n`` times back to back; return elapsed seconds."""

    def close(self) -> None:
        pass


class Profiler(ABC):
    """One backend (``ort``, ``tensorrt``, ``torch``) with fixed settings."""

    backend = "abstract"

    @abstractmethod
    def settings(self) -> dict:
        """How it measures (provider, precision, threads, batch size, ...), for ``device.yaml``."""

    @abstractmethod
    def prepare(self, module, input_shape) -> Runner:
        """Export/compile ``module`` for a fixed NCHW ``input_shape`` and return a runner."""

    def versions(self) -> dict:
        return {}


@dataclass(frozen=True)
class Timing:
    """Latency of one runner (ms): ``median`` over ``count`` rounds, with its dispersion."""

    median: float
    std: float
    iqr: float
    min: float
    max: float
    count: int
    inner: int

    def entry(self) -> dict:
        """A table entry in OFA's format (``mean`` holds the median; ms) plus hwnas' extra fields."""
        return {"mean": self.median, "std": self.std, "count": self.count, "iqr": self.iqr, "min": self.min,
                "max": self.max, "inner": self.inner}


    @property
    def dispersion(self) -> float:
        return self.iqr / self.median if self.median > 0 else float("inf")


def check_timing(rounds, warmup, sample_ms=0.0) -> None:
    """One-line HwnasErrors for timing settings no measurement can use (checked before any work)."""
    from hwnas.errors import HwnasError, check_int

    check_int(rounds, "rounds")
    check_int(warmup, "warm-up runs", minimum=0)
    ok = isinstance(sample_ms, (int, float)) and not isinstance(sample_ms, bool)
    if not (ok and 0 <= sample_ms < math.inf):
        raise HwnasError(f"sample time {sample_ms!r} ms is not allowed; allowed: a number >= 0")


def time_interleaved(runners, rounds: int = 15, warmup: int = 3, sample_ms: float = 2.0, max_inner: int = 50,
                     max_dispersion: float | None = None, retries: int = 2) -> list:
    """Time ``runners`` interleaved round-robin; returns one :class:`Timing` per runner (ms).

    With ``max_dispersion`` (e.g. 0.05), runners whose IQR/median exceeds it are timed again (step 5).
    """
    check_timing(rounds, warmup, sample_ms)
    out = _time_once(runners, rounds, warmup, sample_ms, max_inner)
    if max_dispersion is None:
        return out
    for _ in range(int(retries)):
        again = [i for i, t in enumerate(out) if t.dispersion > max_dispersion]
        if not again:
            break
        redo = _time_once([runners[i] for i in again], rounds, 1, sample_ms, max_inner)
        for i, t in zip(again, redo):
            if t.dispersion < out[i].dispersion:
                out[i] = t
    return out


def _time_once(runners, rounds, warmup, sample_ms, max_inner) -> list:
    runners = list(runners)
    if not runners:
        return []
    inner = []
    for r in runners:
        r.run(max(1, warmup - 1))
        t = r.run(1) * 1e3  # one more, timed: estimates the per-run cost
        inner.append(int(min(max_inner, max(1, math.ceil(sample_ms / max(t, 1e-3))))))
    samples = np.zeros((rounds, len(runners)))
    n = len(runners)
    for k in range(rounds):
        for j in range(n):
            i = (j + k) % n  # rotate the order each round
            samples[k, i] = runners[i].run(inner[i]) * 1e3 / inner[i]
    out = []
    for i in range(n):
        s = samples[:, i]
        q1, q3 = np.percentile(s, [25, 75])
        out.append(Timing(median=float(np.median(s)), std=float(s.std(ddof=1)) if rounds > 1 else 0.0,
                          iqr=float(q3 - q1), min=float(s.min()), max=float(s.max()), count=int(rounds),
                          inner=int(inner[i])))
    return out
