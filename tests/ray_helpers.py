"""A throw-away Ray cluster on this machine for the Ray tests and the executor benchmark, and a test
oracle.

:class:`LocalRayCluster` starts a head and worker nodes as real ``ray start --block`` processes
(each in its own process group, on free ports, with object store memory kept small) and stops
exactly those processes by id. It never runs ``ray stop``, which would stop every Ray process of
this user on the machine (someone else's test run, or a user's real cluster).

:class:`SleepOracle` is a deterministic, picklable oracle: accuracy is a fixed function of the arch
and each query sleeps a fixed time, like a real (GPU-minutes) oracle query, only shorter. It can log
every start and finish to a directory, and "hang" on chosen archs so a test can kill the worker
running it. Worker processes import it from this module (the cluster gets ``tests/`` on PYTHONPATH).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from predictors.base import Answer, Oracle

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
RAY_BIN = Path(sys.executable).with_name("ray")


# ----------------------------------------------------------------------------------------------
# test oracle
# ----------------------------------------------------------------------------------------------


def arch_accuracy(X: np.ndarray) -> np.ndarray:
    """A deterministic stand-in accuracy (fraction 0..1) per row of an (N, 46) batch."""
    X = np.asarray(X, dtype=np.int64)
    w = np.arange(1, X.shape[1] + 1, dtype=np.int64)
    h = (X * w).sum(axis=1) * 2654435761 % 1000003
    return 0.60 + 0.20 * (h / 1000003.0)


class SleepOracle(Oracle):
    """Answers ``arch_accuracy`` after sleeping ``seconds`` per arch.

    ``log_dir``: append ``start``/``done`` lines (arch key, pid) to ``<log_dir>/events.jsonl``.
    ``hang_keys``: on its first attempt at one of these arch keys (a row's bytes as hex), the task
    writes its pid to ``<log_dir>/hang-<key>.pid`` and sleeps ``hang_s`` (so a test can kill it);
    later attempts (a marker file exists) answer normally. ``die_keys``: the task SIGKILLs its own
    worker process on every attempt (to exhaust retries).
    """

    name = "sleep-test"
    version = "1"

    def __init__(
        self,
        space,
        seconds: float = 0.0,
        log_dir=None,
        hang_keys=(),
        hang_s: float = 60.0,
        die_keys=(),
    ):
        super().__init__(space)
        self.seconds = float(seconds)
        self.log_dir = str(log_dir) if log_dir else None
        self.hang_keys = frozenset(hang_keys)
        self.hang_s = float(hang_s)
        self.die_keys = frozenset(die_keys)

    def _log(self, event, key):
        if self.log_dir:
            line = json.dumps({"event": event, "key": key, "pid": os.getpid(), "t": time.time()})
            with open(os.path.join(self.log_dir, "events.jsonl"), "a") as f:
                f.write(line + "\n")

    def evaluate(self, X):
        X = np.asarray(X, dtype=np.int64).reshape(-1, 46)
        acc = arch_accuracy(X)
        out = []
        for row, a in zip(X, acc, strict=True):
            key = row_key(row)
            self._log("start", key)
            if key in self.die_keys:
                os.kill(os.getpid(), signal.SIGKILL)
            if key in self.hang_keys and self.log_dir:
                marker = os.path.join(self.log_dir, f"hang-{key}.pid")
                if not os.path.exists(marker):
                    with open(marker + ".tmp", "w") as f:
                        f.write(str(os.getpid()))
                    os.replace(marker + ".tmp", marker)
                    time.sleep(self.hang_s)
            t0 = time.perf_counter()
            if self.seconds:
                time.sleep(self.seconds)
            self._log("done", key)
            out.append(Answer(accuracy=float(a), seconds=time.perf_counter() - t0))
        return out


def row_key(row) -> str:
    return hashlib_hex(np.asarray(row, dtype=np.int64).tobytes())


def hashlib_hex(b: bytes) -> str:
    import hashlib

    return hashlib.sha1(b).hexdigest()[:16]


def read_events(log_dir) -> list:
    p = Path(log_dir) / "events.jsonl"
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]


def sleep_task(seconds: float) -> int:
    """A bare task for overhead measurements: sleep, return the worker's pid."""
    if seconds:
        time.sleep(seconds)
    return os.getpid()


# ----------------------------------------------------------------------------------------------
# cluster
# ----------------------------------------------------------------------------------------------


_HANDED_OUT: set = set()


def free_port() -> int:
    """A TCP port free right now, never the same one twice in this process (Ray needs ~8 distinct
    ones)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def _wait_port(port: int, proc, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"ray start exited with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"Ray head did not open port {port} within {timeout:.0f} s")


class LocalRayCluster:
    """A head and ``workers`` extra worker nodes, all on this machine, started with ``ray start
    --block``.

    ``worker_resources``: custom resources of every extra worker node, e.g. ``{"device:test": 1}``.
    ``address`` is ``127.0.0.1:<port>``. :meth:`stop` kills exactly the processes this cluster
    started.
    """

    def __init__(
        self,
        head_cpus: int = 1,
        workers: int = 1,
        worker_cpus: int = 1,
        worker_resources=None,
        object_store_memory: int = 100_000_000,
        timeout: float = 90.0,
    ):
        self.head_cpus = head_cpus
        self.workers = workers
        self.worker_cpus = worker_cpus
        self.worker_resources = dict(worker_resources or {})
        self.object_store_memory = object_store_memory
        self.timeout = timeout
        self.procs: list = []
        self.temp_dir = None
        self.address = None
        self.log = None

    def _env(self):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO), str(TESTS)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        )
        env["RAY_USAGE_STATS_ENABLED"] = "0"
        env.pop("RAY_ADDRESS", None)
        return env

    def _start(self, args):
        cmd = [
            str(RAY_BIN),
            "start",
            "--block",
            "--disable-usage-stats",
            f"--object-store-memory={self.object_store_memory}",
            f"--dashboard-agent-listen-port={free_port()}",
            f"--dashboard-agent-grpc-port={free_port()}",
            f"--metrics-export-port={free_port()}",
            f"--runtime-env-agent-port={free_port()}",
        ] + args
        proc = subprocess.Popen(
            cmd,
            env=self._env(),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def start(self, attempts: int = 2) -> "LocalRayCluster":
        """Start the cluster; a failed start (e.g. a port taken meanwhile) is retried on fresh
        ports."""
        if not RAY_BIN.exists():
            raise RuntimeError(f"no `ray` command next to {sys.executable}")
        for attempt in range(attempts):
            try:
                return self._start_once()
            except RuntimeError as exc:
                if attempt == attempts - 1:
                    raise
                sys.stderr.write(
                    f"ray test cluster did not start, retrying on fresh ports: {str(exc)[-1500:]}\n"
                )
        return self

    def _start_once(self) -> "LocalRayCluster":
        # Short path: Ray's unix socket paths must stay under ~100 characters.
        self.temp_dir = tempfile.mkdtemp(prefix="hwnas-ray-", dir="/tmp")
        self.log = open(os.path.join(self.temp_dir, "ray-start.log"), "ab")
        port = free_port()
        self.address = f"127.0.0.1:{port}"
        try:
            head = self._start(
                [
                    "--head",
                    "--node-ip-address=127.0.0.1",
                    f"--port={port}",
                    f"--num-cpus={self.head_cpus}",
                    "--include-dashboard=false",
                    f"--dashboard-port={free_port()}",
                    f"--ray-client-server-port={free_port()}",
                    f"--temp-dir={self.temp_dir}",
                ]
            )
            _wait_port(port, head, self.timeout)
            for _ in range(self.workers):
                args = [f"--address={self.address}", f"--num-cpus={self.worker_cpus}"]
                if self.worker_resources:
                    args.append(f"--resources={json.dumps(self.worker_resources)}")
                self._start(args)
            self._wait_nodes(1 + self.workers)
        except Exception as exc:
            tail = self.log_tail()
            self.stop()
            raise RuntimeError(f"{exc}\n--- ray start output ---\n{tail}") from exc
        return self

    def log_tail(self, n: int = 3000) -> str:
        try:
            self.log.flush()
            return Path(self.log.name).read_text(errors="replace")[-n:]
        except (OSError, AttributeError):
            return ""

    def _wait_nodes(self, n: int) -> None:
        """Wait until ``n`` nodes are alive, asking the GCS with ``ray status`` (no driver in this
        process)."""
        end = time.monotonic() + self.timeout
        last = ""
        while time.monotonic() < end:
            for p in self.procs:
                if p.poll() is not None:
                    raise RuntimeError(f"a `ray start` process exited with code {p.returncode}")
            r = subprocess.run(
                [str(RAY_BIN), "status", f"--address={self.address}"],
                env=self._env(),
                capture_output=True,
                text=True,
            )
            last = r.stdout + r.stderr
            active = last.split("Active:")[-1].split("Pending:")[0] if "Active:" in last else ""
            if active.count("node_") >= n:
                return
            time.sleep(0.5)
        raise RuntimeError(
            f"Ray cluster did not reach {n} nodes within {self.timeout:.0f} s: {last[-500:]}"
        )

    def pids(self) -> set:
        """Every live process of this cluster: the process groups of our ``ray start`` processes,
        anything whose command line names our temp dir, and all their descendants (Ray workers run
        in their own sessions, as children of a raylet)."""
        pgids = {p.pid for p in self.procs}
        me = os.getpid()
        ppid, roots = {}, set()
        for d in os.listdir("/proc"):
            if not d.isdigit() or int(d) == me:
                continue
            pid = int(d)
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                ppid[pid] = int(stat.rsplit(")", 1)[1].split()[1])
                if os.getpgid(pid) in pgids:
                    roots.add(pid)
                    continue
                cmd = (
                    Path(f"/proc/{pid}/cmdline")
                    .read_bytes()
                    .replace(b"\0", b" ")
                    .decode(errors="replace")
                )
            except (OSError, ProcessLookupError, ValueError, IndexError):
                continue
            if self.temp_dir and self.temp_dir in cmd:
                roots.add(pid)
        out, frontier = set(roots), set(roots)
        while frontier:
            frontier = {
                pid for pid, parent in ppid.items() if parent in frontier and pid not in out
            }
            out |= frontier
        return out

    def worker_pids(self) -> set:
        """Ray worker processes (``ray::...`` titles) of this cluster."""
        out = set()
        for pid in self.pids():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if cmd.startswith(b"ray::") and b"Agent" not in cmd:
                out.add(pid)
        return out

    def stop(self) -> None:
        """SIGKILL exactly this cluster's processes (by pid), then remove its temp dir."""
        for _ in range(3):
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.3)
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self.procs = []
        if self.log:
            self.log.close()
            self.log = None
        if self.temp_dir:
            shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def where_task(_=None) -> tuple:
    """(node id, custom resources of that node, pid) of the worker that ran this task."""
    import ray

    node = ray.get_runtime_context().get_node_id()
    res = next((n["Resources"] for n in ray.nodes() if n["NodeID"] == node), {})
    return node, sorted(k for k in res if ":" in k and not k.startswith("node:")), os.getpid()
