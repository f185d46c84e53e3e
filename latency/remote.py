"""Remote targets: ``ssh://[USER@]HOST[:PORT]``, timed there by hwnas' agent (``latency/agent.py``).

One long-lived ``ssh -T ... PYTHON -u -c BOOTSTRAP`` process per run, with the system OpenSSH client
(so ``~/.ssh/config``, keys, ssh-agent, ``ProxyJump`` and known_hosts work as they do for the user;
``BatchMode=yes``: a missing key is an error, never a password prompt). The bootstrap reads the
agent's source from stdin and runs it, so nothing is installed on the target and no file is left
there beyond the agent's scratch folder (removed when it exits). ONNX files travel through the same
stdin, behind a JSON header line; timings come back as JSON lines on stdout.

Nothing here imports torch or onnxruntime: the remote profiler exports ONNX files with the local
torch and leaves sessions and timing to the agent on the target.
"""

from __future__ import annotations

import collections
import inspect
import json
import re
import shlex
import subprocess
import threading
from pathlib import Path

from hwnas.errors import HwnasError

from . import agent
from .fingerprint import load_warning
from .modules import export_onnx
from .profilers.base import Timing
from .profilers.ort import OrtProfiler

# OrtProfiler's settings and their defaults: one signature for the local and the remote profiler
ORT_DEFAULTS = {
    name: p.default
    for name, p in inspect.signature(OrtProfiler.__init__).parameters.items()
    if name != "self"
}

TARGET_FORM = "ssh://[USER@]HOST[:PORT]"
# user and host never start with "-": they are passed to ssh, which would read them as options
_TARGET_RE = re.compile(
    r"^ssh://(?:(?P<user>\w[^@/:\s]*)@)?"
    r"(?P<host>[A-Za-z0-9][A-Za-z0-9._-]*|\[[0-9A-Fa-f:.]+\])"
    r"(?::(?P<port>[0-9]{1,5}))?/?$"
)
SSH_DEFAULTS = (
    "BatchMode=yes",
    "ConnectTimeout=15",
    "ServerAliveInterval=15",
    "ServerAliveCountMax=4",
)
# Runs on the target: read the agent's source from stdin, load it as a module, serve.
BOOTSTRAP = (
    "import sys,types;s=sys.stdin.buffer;n=int(s.readline());"
    "m=types.ModuleType('hwnas_agent');sys.modules['hwnas_agent']=m;"
    "exec(compile(s.read(n),'hwnas_agent.py','exec'),m.__dict__);m.main()"
)


def parse_target(target: str) -> dict:
    """``{"user", "host", "port", "url"}`` for ``ssh://[USER@]HOST[:PORT]`` (``url`` normalised)."""
    m = _TARGET_RE.match(str(target))
    port = m and m.group("port")
    if not m or (port and not 1 <= int(port) <= 65535):
        raise HwnasError(
            f"target {str(target)!r} is not allowed; allowed: {TARGET_FORM} "
            f"(e.g. ssh://pi@192.168.1.20 or ssh://jetson:2222)"
        )
    user, host = m.group("user"), m.group("host")
    url = "ssh://" + (f"{user}@" if user else "") + host + (f":{port}" if port else "")
    return {"user": user, "host": host, "port": int(port) if port else None, "url": url}


def remote_kwargs(target, target_python: str = "python3", ssh_options=()) -> dict:
    """The keyword arguments ``make_profiler`` takes for ``target`` (none when it is None: here)."""
    if target is None:
        return {}
    return {"target": target, "target_python": target_python, "ssh_options": tuple(ssh_options)}


def check_same_target(device, target) -> None:
    """End-to-end checks of a device run where its tables were measured (device.yaml ``target``)."""
    recorded = device.meta.get("target")
    given = None if target is None else parse_target(target)["url"]
    if recorded != given:
        hint = f"--target {recorded}" if recorded else "no --target"
        raise HwnasError(
            f"device {device.name!r} was measured on {recorded or 'this machine'}, "
            f"not on {given or 'this machine'}; measure it where its tables were made "
            f"({hint})"
        )


def check_ssh_option(option: str) -> str:
    """``option`` if it is ``KEY=VALUE`` as ``ssh -o`` takes it; a one-line HwnasError otherwise."""
    if not re.match(r"^[A-Za-z][A-Za-z0-9]*=\S.*$", str(option)):
        raise HwnasError(
            f"ssh option {str(option)!r} is not allowed; allowed: KEY=VALUE as for "
            f"ssh -o (e.g. IdentityFile=~/.ssh/pi_key)"
        )
    return str(option)


def ssh_command(target: dict, python: str, ssh_options=()) -> list:
    """The ``ssh`` argv that starts the agent's bootstrap with ``python`` on ``target``."""
    cmd = ["ssh", "-T"]
    # the user's options first: for each option ssh keeps the first value it is given
    for opt in (*[check_ssh_option(o) for o in ssh_options], *SSH_DEFAULTS):
        cmd += ["-o", opt]
    if target["port"]:
        cmd += ["-p", str(target["port"])]
    dest = (f"{target['user']}@" if target["user"] else "") + target["host"].strip("[]")
    return cmd + [dest, "--", shlex.join([python, "-u", "-c", BOOTSTRAP])]


class AgentSession:
    """The agent running on a target, over one ``ssh`` process; requests are JSON lines."""

    def __init__(self, target: str, python: str = "python3", ssh_options=()):
        self.target = parse_target(target)
        self.url, self.python = self.target["url"], str(python)
        if not self.python.strip():
            raise HwnasError(
                "--target-python must not be empty; allowed: a Python 3 command or "
                "path on the target"
            )
        self.stderr = collections.deque(maxlen=40)
        self.connected = False  # True once the agent said hello: a failure is then a lost link
        try:
            # start_new_session: Ctrl-C reaches hwnas only, which then says bye to the agent
            self.proc = subprocess.Popen(
                ssh_command(self.target, self.python, ssh_options),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except FileNotFoundError:
            raise HwnasError(
                "--target needs the OpenSSH client 'ssh', which is not on PATH; "
                "install it (Debian/Ubuntu: apt-get install openssh-client)"
            ) from None
        self._stderr_thread = threading.Thread(target=self._drain_stderr, daemon=True)
        self._stderr_thread.start()
        source = Path(agent.__file__).read_bytes()
        try:
            self._write(b"%d\n" % len(source) + source)
            self.hello = self._read()
        except HwnasError:
            self.close()
            raise
        if not self.hello.get("ok"):
            self.close()
            missing = self.hello.get("missing") or []
            if missing:
                raise HwnasError(
                    f"target {self.url}: {self.python} cannot import "
                    f"{' or '.join(missing)}; install {' and '.join(missing)} on the "
                    f"target: {self.python} -m pip install {' '.join(missing)}"
                )
            raise HwnasError(f"the agent on {self.url} did not start: {self.hello.get('error')}")
        self.connected = True
        self.load_average = self.hello.get("load_average")  # the target's, updated by every reply
        if self.hello.get("protocol") != agent.PROTOCOL:
            self.close()
            raise HwnasError(
                f"the agent on {self.url} speaks protocol "
                f"{self.hello.get('protocol')!r}, not {agent.PROTOCOL}"
            )

    # -- transport -----------------------------------------------------------------------------
    def _drain_stderr(self) -> None:
        for line in self.proc.stderr:
            self.stderr.append(line.decode(errors="replace").strip())

    def _write(self, data: bytes) -> None:
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            raise self._failure() from None

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise self._failure()
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            raise HwnasError(
                f"the target {self.url} printed {line[:120]!r} instead of the agent's "
                f"reply; check that {self.python} starts a plain Python 3 "
                f"there"
            ) from None

    def _failure(self) -> HwnasError:
        """One line saying why the ssh process ended (called once it has ended or is ending)."""
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._stderr_thread.join(timeout=2)  # ssh has ended: its stderr is at EOF, all of it read
        err = " | ".join(line for line in self.stderr if line)[-300:]
        reason = f"ssh was killed by signal {-code}" if code < 0 else f"ssh exited with {code}"
        reason += f"; {err}" if err else ""
        if self.connected:
            return HwnasError(
                f"connection to {self.url} lost ({reason}); what was measured is "
                f"saved; rerun the same command to resume"
            )
        port = self.target["port"]
        where = self.target["host"] + (f":{port}" if port else "")
        if "Permission denied" in err or "Too many authentication failures" in err:
            return HwnasError(
                f"SSH refused authentication to {self.url} ({err}); hwnas connects "
                f"with BatchMode (keys or ssh-agent, no passwords): set up a key for "
                f"it, e.g. ssh-copy-id"
            )
        if "Host key verification failed" in err:
            return HwnasError(
                f"SSH could not verify the host key of {where} ({err}); connect "
                f"once with plain ssh to accept it, then rerun"
            )
        unreachable = ("Could not resolve", "Connection refused", "timed out", "No route to host")
        if code == 255 or any(s in err for s in unreachable):
            return HwnasError(f"cannot reach {self.url}: {err or f'ssh exited with status {code}'}")
        if code == 127 or "not found" in err or "No such file" in err:
            return HwnasError(
                f"no {self.python} on {self.url} ({err or 'exit status 127'}); "
                f"install Python 3 there or name another with --target-python PATH"
            )
        return HwnasError(
            f"the agent did not start on {self.url} with {self.python} ({reason}); "
            f"it needs Python 3.8+ with numpy and onnxruntime"
        )

    # -- requests ------------------------------------------------------------------------------
    def time(self, models, session: dict, method: dict) -> list:
        """Time ``models`` (``(name, onnx_bytes, input_shape)``) together there; ms dicts."""
        header = {
            "op": "time",
            "session": session,
            "method": method,
            "models": [
                {"name": str(n), "shape": list(map(int, s)), "bytes": len(b)} for n, b, s in models
            ],
        }
        self._write(json.dumps(header).encode() + b"\n" + b"".join(b for _, b, _ in models))
        reply = self._read()
        if not reply.get("ok"):
            raise HwnasError(
                f"the agent on {self.url} could not time the models: "
                f"{str(reply.get('error')).splitlines()[0][:300]}"
            )
        self.load_average = reply.get("load_average")
        return reply["timings"]

    def close(self) -> None:
        """Say bye and wait for ssh to end (kill it after 10 s)."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b'{"op": "bye"}\n')
                self.proc.stdin.close()
            except (BrokenPipeError, ValueError, OSError):
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except (BrokenPipeError, OSError):
                pass


class RemoteOrtProfiler(OrtProfiler):
    """``backend ort`` on a target: ONNX exported here, sessions and timing by the agent there.

    ``settings`` are :class:`OrtProfiler`'s (``provider``, ``threads``, ``precision``,
    ``batch_size``, ``opt_level``, ``spinning``, ``timer``), with its defaults.
    """

    def __init__(self, target: str, target_python: str = "python3", ssh_options=(), **settings):
        unknown = sorted(set(settings) - set(ORT_DEFAULTS))
        if unknown:
            raise TypeError(f"RemoteOrtProfiler got unexpected settings: {', '.join(unknown)}")
        self.ort = None
        self.session = AgentSession(target, target_python, ssh_options)
        hello = self.session.hello
        try:
            self._configure(
                hello["versions"]["onnxruntime"],
                hello["providers"],
                f"the onnxruntime on {self.session.url}",
                **{**ORT_DEFAULTS, **settings},
            )
        except HwnasError:
            self.session.close()
            raise

    def settings(self) -> dict:
        """The local ORT profiler's settings, plus ``target``."""
        return {**super().settings(), "target": self.session.url}

    def versions(self) -> dict:
        """onnxruntime's and numpy's versions on the target."""
        v = self.session.hello["versions"]
        return {"onnxruntime": v["onnxruntime"], "numpy": v["numpy"]}

    def machine(self) -> dict:
        """The target's CPU, cores, platform, Python, hostname and Python executable."""
        h = self.session.hello
        return {
            **h["machine"],
            "hostname": h["hostname"],
            "python_executable": h["python_executable"],
        }

    def fingerprint(self) -> dict:
        """The target's fingerprint (as ``latency.fingerprint.fingerprint`` gives here)."""
        m = self.session.hello["machine"]
        return {
            "cpu": m["cpu"],
            "cores": m.get("sched_affinity_cpus", m["logical_cpus"]),
            "os": self.session.hello["os"],
            "backend": "ort",
            "backend_version": self.ort_version,
            "threads": self.threads,
        }

    def load_average(self):
        """The target's 1-minute load average at its last reply."""
        return self.session.load_average

    def load_warning(self):
        """The load warning for the target's load and cores, or None."""
        load = self.session.load_average
        if load is None:
            return None
        return load_warning(self.fingerprint()["cores"], load, self.session.url)

    def prepare(self, module, input_shape):
        """Not available: a target times groups of modules (``time_modules``)."""
        raise HwnasError(
            f"a remote target ({self.session.url}) times modules in groups: use time_modules"
        )

    def time_modules(self, items, **method) -> list:
        """Export ``items`` here, time them together on the target; one Timing (ms) each."""
        models = []
        for i, item in enumerate(items):
            module, shape = item[0], self.input_shape(item[1])
            name = item[2] if len(item) > 2 else str(i)
            models.append((name, export_onnx(module, shape), shape))
        return [Timing(**d) for d in self.session.time(models, self.session_spec(), method)]

    def close(self) -> None:
        """End the ssh session (the agent exits and removes its scratch folder)."""
        self.session.close()
