"""A run folder, held by one search at a time, never mixed with files that are not a run's.

A new run goes into a new or empty folder (or one holding only a run's own leftovers from a start
that was killed before it wrote ``run.yaml``); a folder with ``run.yaml`` is continued only with
``--resume``; anything else in it (a user's ``history.csv``, notes) is refused, never overwritten.

While a search runs it holds an exclusive ``fcntl.flock`` on ``run.lock`` in the folder. A second
search into the same folder (``--resume`` too) is refused at once. The kernel drops the lock when its
process ends in any way, ``kill -9`` included, so a stale lock file never blocks a later ``--resume``.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from ..errors import HwnasError
from ..paths import output_dir, output_file

LOCK = "run.lock"
# SQLite's journal files and the temporary of an atomic run.yaml write
RUN_LEFTOVERS = ("evals.sqlite-wal", "evals.sqlite-shm", "evals.sqlite-journal", "run.yaml.tmp")


def check_export_path(path) -> Path:
    """``--export-onnx``: checked before a search starts, so a search never ends in a failed write."""
    p = output_file(path, "--export-onnx")
    if p.suffix != ".onnx":
        raise HwnasError(f"--export-onnx {str(path)!r} must end in .onnx")
    return p


class RunFolder:
    """Checks, creates and locks ``path`` for a new run (``resume=False``) or a resumed one."""

    def __init__(self, path, resume: bool):
        self.path = output_dir(path, "--out")
        if self.path.is_dir() and not resume and not (self.path / "run.yaml").exists():
            foreign = sorted(p.name for p in self.path.iterdir() if p.name not in (LOCK, *RUN_LEFTOVERS))
            if foreign:
                raise HwnasError(f"--out {str(path)!r} holds files that are not an hwnas run (e.g. {foreign[0]!r}); "
                                 "choose a new or empty folder")
        self.path.mkdir(parents=True, exist_ok=True)
        self._fd = self._lock()
        try:
            has_run = (self.path / "run.yaml").exists()
            if has_run and not resume:
                raise HwnasError(f"--out {str(path)!r} already holds a run; add --resume to continue it "
                                 "or choose another --out")
            if resume and not has_run:
                raise HwnasError(f"--resume: {str(path)!r} holds no hwnas run (it has no run.yaml)")
            self.started = _started(self.path) if resume else None
        except BaseException:
            self.release()
            raise

    def _lock(self) -> int:
        lock = self.path / LOCK
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise HwnasError(f"--out {str(self.path)!r}: cannot create {LOCK}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise HwnasError(f"--out {str(self.path)!r} is in use by another hwnas search (pid {holder}); "
                             "wait for it to end or choose another --out") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock; the file stays (see module doc)
            self._fd = None

    _fd = None


def _started(path: Path):
    import yaml

    try:
        doc = yaml.safe_load((path / "run.yaml").read_text())
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None
    return doc.get("started") if isinstance(doc, dict) else None
