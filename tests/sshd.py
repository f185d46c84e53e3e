"""A real OpenSSH server on 127.0.0.1 for tests: its own host key, config, and a client key.

``start_sshd(folder)`` runs ``sshd -D -e -f CONFIG`` in the foreground on a free port, accepting
only the key it generated, and returns a :class:`Sshd` with the ``ssh -o`` options a client needs
(identity, known_hosts pinned to the generated host key). ``SshdUnavailable`` says why it could not
start (no ``sshd``/``ssh-keygen``, a port it could not bind); the tests skip with that reason.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


class SshdUnavailable(RuntimeError):
    pass


@dataclass
class Sshd:
    proc: subprocess.Popen
    port: int
    user: str
    options: tuple  # KEY=VALUE for ssh -o: identity, known hosts

    @property
    def target(self) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _which(name: str) -> str:
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None
    )
    if path is None:
        raise SshdUnavailable(
            f"{name} is not installed (Debian: apt-get install openssh-server "
            f"openssh-client; `make test` installs them where apt-get is usable)"
        )
    return path


def start_sshd(folder: Path) -> Sshd:
    sshd, keygen = _which("sshd"), _which("ssh-keygen")
    _which("ssh")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    for name in ("host_key", "client_key"):
        subprocess.run(
            [keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(folder / name)], check=True
        )
    (folder / "authorized_keys").write_text((folder / "client_key.pub").read_text())
    if os.geteuid() == 0:  # sshd running as root insists on its privilege-separation folder
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    port = _free_port()
    config = folder / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {folder / 'host_key'}",
                f"AuthorizedKeysFile {folder / 'authorized_keys'}",
                f"PidFile {folder / 'sshd.pid'}",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PubkeyAuthentication yes",
                "PermitRootLogin prohibit-password",
                "StrictModes no",
                "UsePAM no",
                "MaxStartups 50",
                "MaxSessions 50",
                "LogLevel ERROR",
                "",
            ]
        )
    )
    host_pub = (folder / "host_key.pub").read_text().split()
    (folder / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    log = open(folder / "sshd.log", "wb")
    proc = subprocess.Popen(
        [sshd, "-D", "-e", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SshdUnavailable(
                f"sshd exited with status {proc.returncode}: "
                f"{(folder / 'sshd.log').read_text()[-300:]}"
            )
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        raise SshdUnavailable(f"sshd did not listen on 127.0.0.1:{port} within 15 s")
    options = (
        f"IdentityFile={folder / 'client_key'}",
        "IdentitiesOnly=yes",
        f"UserKnownHostsFile={folder / 'known_hosts'}",
        "StrictHostKeyChecking=yes",
        "GlobalKnownHostsFile=/dev/null",
    )
    return Sshd(proc=proc, port=port, user=getpass.getuser(), options=options)
