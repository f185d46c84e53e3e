"""hwnas' timing agent: the one ONNX Runtime timing method, local and on a remote target.

Self-contained on purpose: it imports only the standard library, numpy and onnxruntime (never
hwnas), so ``hwnas profile --target ssh://...`` can send this file to a machine that has nothing but
Python 3, numpy and onnxruntime, and run it there. Locally, ``latency.profilers`` imports the same
functions (``time_interleaved``, ``OrtRunner``, ``session_options``), so a block timed here and one
timed on a target go through the same code.

Method (``time_interleaved``), the same for table entries and whole subnets:

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

As a program (``python3 -u agent.py``) it speaks JSON lines on stdin/stdout. It first prints a hello
line: ``{"ok": true, "agent": "hwnas", "protocol": 1, "machine": {...}, ...}``, or, when numpy or
onnxruntime is missing, ``{"ok": false, "missing": [...], "error": "..."}`` and exits with status 3.
Requests:

- ``{"op": "time", "session": {...}, "method": {...}, "models": [{"name", "shape", "bytes"}, ...]}``
  followed on stdin by the models' ONNX bytes, concatenated in order. The agent writes them to its
  scratch folder, times them interleaved, deletes them and answers
  ``{"ok": true, "timings": [{"median", "std", "iqr", "min", "max", "count", "inner"}, ...],
  "load_average": L}`` (ms; the target's 1-minute load average after timing).
- ``{"op": "bye"}``: exit (so does end of input).

Errors are answered as ``{"ok": false, "error": "..."}``. With ``HWNAS_AGENT_LOG=FILE`` in its
environment the agent appends the name of every model it timed (an audit trail: tests count it).
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass

PROTOCOL = 1
TIMERS = ("wall", "thread_cpu")
PROVIDERS = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}
OPT_LEVELS = ("disable", "basic", "extended", "all")


# ---- the timing method -----------------------------------------------------------------------


def clock(timer: str):
    """The clock function (seconds) for a timer name: thread CPU time or wall clock."""
    return time.thread_time if timer == "thread_cpu" else time.perf_counter


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
        """A table entry in OFA's format (``mean`` holds the median; ms) plus hwnas' fields."""
        return {
            "mean": self.median,
            "std": self.std,
            "count": self.count,
            "iqr": self.iqr,
            "min": self.min,
            "max": self.max,
            "inner": self.inner,
        }

    @property
    def dispersion(self) -> float:
        """Inter-quartile range over median (inf for a zero median)."""
        return self.iqr / self.median if self.median > 0 else float("inf")


def time_interleaved(
    runners,
    rounds: int = 15,
    warmup: int = 3,
    sample_ms: float = 2.0,
    max_inner: int = 50,
    max_dispersion: float | None = None,
    retries: int = 2,
) -> list:
    """Time ``runners`` (objects with ``run(n) -> seconds``) interleaved round-robin.

    Returns one :class:`Timing` per runner (ms). With ``max_dispersion`` (e.g. 0.05), runners whose
    IQR/median exceeds it are timed again (step 5 of the method).
    """
    out = _time_once(runners, rounds, warmup, sample_ms, max_inner)
    if max_dispersion is None:
        return out
    for _ in range(int(retries)):
        again = [i for i, t in enumerate(out) if t.dispersion > max_dispersion]
        if not again:
            break
        redo = _time_once([runners[i] for i in again], rounds, 1, sample_ms, max_inner)
        for k, i in enumerate(again):  # no zip(strict=): the agent runs on Python 3.8 targets too
            if redo[k].dispersion < out[i].dispersion:
                out[i] = redo[k]
    return out


def _time_once(runners, rounds, warmup, sample_ms, max_inner) -> list:
    import numpy as np

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
        std = float(s.std(ddof=1)) if rounds > 1 else 0.0
        out.append(
            Timing(
                median=float(np.median(s)),
                std=std,
                iqr=float(q3 - q1),
                min=float(s.min()),
                max=float(s.max()),
                count=int(rounds),
                inner=int(inner[i]),
            )
        )
    return out


# ---- ONNX Runtime sessions -------------------------------------------------------------------


def session_options(ort, threads: int, opt_level: str = "all", spinning: bool = True):
    """The stated settings: ``threads`` intra-op, 1 inter-op, sequential, spinning as given."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = int(threads)
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[opt_level]
    spin = "1" if spinning else "0"
    so.add_session_config_entry("session.intra_op.allow_spinning", spin)
    so.add_session_config_entry("session.inter_op.allow_spinning", spin)
    so.log_severity_level = 3
    return so


def session_providers(provider: str, precision: str = "fp32") -> list:
    """Execution providers in order of preference for ``provider`` (cpu, cuda, tensorrt)."""
    ep = PROVIDERS[provider]
    if provider == "tensorrt":
        opts = {
            "trt_fp16_enable": precision == "fp16",
            "trt_engine_cache_enable": True,
            "trt_timing_cache_enable": True,
        }
        return [(ep, opts), "CUDAExecutionProvider", "CPUExecutionProvider"]
    return [ep] if provider == "cpu" else [ep, "CPUExecutionProvider"]


class OrtRunner:
    """One ``InferenceSession`` with its input and output bound once (IOBinding).

    ``run(n)`` is ``n`` back-to-back ``run_with_iobinding`` calls, no Python-side copies; it returns
    elapsed seconds on the session's clock.
    """

    def __init__(self, ort, onnx, input_shape, spec: dict):
        """``onnx``: bytes or a file path; ``spec``: provider, threads, precision, opt_level,
        spinning, timer (what ``OrtProfiler.session_spec`` gives)."""
        import numpy as np

        provider = spec.get("provider", "cpu")
        self.session = ort.InferenceSession(
            onnx,
            session_options(
                ort,
                spec.get("threads", 1),
                spec.get("opt_level", "all"),
                spec.get("spinning", True),
            ),
            providers=session_providers(provider, spec.get("precision", "fp32")),
        )
        self.clock = clock(spec.get("timer", "wall"))
        x = np.random.default_rng(0).standard_normal(tuple(input_shape), dtype=np.float32)
        device = "cpu" if provider == "cpu" else "cuda"
        # the graph's own names: "x" -> "y" for table entries, "input" -> "logits" for hwnas export
        name_in, name_out = self.session.get_inputs()[0].name, self.session.get_outputs()[0].name
        self.binding = self.session.io_binding()
        if device == "cpu":
            self.binding.bind_cpu_input(name_in, x)
        else:
            self.binding.bind_ortvalue_input(
                name_in, ort.OrtValue.ortvalue_from_numpy(x, "cuda", 0)
            )
        self.binding.bind_output(name_out, device)

    def run(self, n: int) -> float:
        """Run ``n`` times back to back; elapsed seconds on the session's clock."""
        s, b, clock_ = self.session, self.binding, self.clock
        t0 = clock_()
        for _ in range(n):
            s.run_with_iobinding(b)
        return clock_() - t0

    def close(self) -> None:
        """Drop the session (its memory goes with it)."""
        self.session = self.binding = None


# ---- the machine -----------------------------------------------------------------------------


def cpu_model() -> str:
    """The CPU model name (``/proc/cpuinfo``; else what ``platform`` knows)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict:
    """CPU model, logical cores (and those this process may use), OS, Python of this machine."""
    info = {
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    try:
        info["sched_affinity_cpus"] = len(os.sched_getaffinity(0))
    except AttributeError:  # not on macOS
        pass
    return info


def load_average():
    """The 1-minute load average, or None where the OS has none."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def target_info(ort, np) -> dict:
    """What the hello line reports: the machine, hostname, library versions, execution providers."""
    return {
        "machine": machine_info(),
        "hostname": platform.node(),
        "python_executable": sys.executable,
        "os": f"{platform.system()} {platform.machine()}",
        "load_average": load_average(),
        "versions": {"onnxruntime": ort.__version__, "numpy": np.__version__},
        "providers": list(ort.get_available_providers()),
    }


# ---- the program -----------------------------------------------------------------------------


def _send(out, obj) -> None:
    out.write(json.dumps(obj).encode() + b"\n")
    out.flush()


def _read_exact(inp, n: int) -> bytes:
    data = inp.read(n)
    if len(data) != n:
        raise EOFError("input ended inside a model's bytes")
    return data


def _time_request(ort, req, inp, scratch) -> list:
    models = req["models"]
    paths = []
    try:
        for i, m in enumerate(models):
            path = os.path.join(scratch, f"m{i}.onnx")
            with open(path, "wb") as f:
                f.write(_read_exact(inp, int(m["bytes"])))
            paths.append(path)
        runners = [
            OrtRunner(ort, paths[i], m["shape"], req["session"]) for i, m in enumerate(models)
        ]
        method = req.get("method", {})
        timings = time_interleaved(runners, **method)
        for r in runners:
            r.close()
        return [asdict(t) for t in timings]
    finally:
        for p in paths:
            os.unlink(p)


def _missing_modules() -> list:
    missing = []
    for name in ("numpy", "onnxruntime"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    return missing


def serve(inp, out) -> int:
    """Answer requests from ``inp`` (binary) on ``out`` (binary) until ``bye`` or end of input."""
    missing = _missing_modules()
    if missing:
        _send(
            out,
            {
                "ok": False,
                "agent": "hwnas",
                "protocol": PROTOCOL,
                "missing": missing,
                "python_executable": sys.executable,
                "error": f"{' and '.join(missing)} not importable by {sys.executable}",
            },
        )
        return 3
    import numpy as np
    import onnxruntime as ort

    _send(out, {"ok": True, "agent": "hwnas", "protocol": PROTOCOL, **target_info(ort, np)})
    log = os.environ.get("HWNAS_AGENT_LOG")
    scratch = tempfile.mkdtemp(prefix="hwnas-agent-")
    try:
        while True:
            line = inp.readline()
            if not line:
                return 0
            req = json.loads(line)
            op = req.get("op")
            if op == "bye":
                return 0
            if op != "time":
                _send(out, {"ok": False, "error": f"unknown op {op!r}; allowed: time, bye"})
                continue
            try:
                timings = _time_request(ort, req, inp, scratch)
            except EOFError:
                return 1
            except Exception as exc:  # reported to hwnas, which stops with it in one line
                _send(out, {"ok": False, "error": f"{type(exc).__name__}: {exc}"})
                continue
            if log:  # before the reply: a timing lost on the way still counts as timed
                with open(log, "a") as f:
                    f.writelines(f"{m['name']}\n" for m in req["models"])
            _send(out, {"ok": True, "timings": timings, "load_average": load_average()})
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    """Serve on stdin/stdout (``python3 -u agent.py``); exit 0, or 3 when a module is missing."""
    try:
        code = serve(sys.stdin.buffer, sys.stdout.buffer)
    except BrokenPipeError:  # hwnas went away; nothing to report to
        code = 1
    sys.exit(code)


if __name__ == "__main__":
    main()
