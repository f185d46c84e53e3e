"""The evaluation store: every oracle answer, kept forever, in one SQLite file.

One row per (oracle key, arch id): accuracy (fraction, NULL when failed), seconds (the oracle's
cost), time (unix seconds when stored), error text. Each ``put`` is its own committed transaction,
so a crash or ``kill -9`` loses at most the answer being written. The file is in WAL mode: other
processes can read while one writes. A damaged or foreign file is an :class:`HwnasError`, never
silently reset.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from pathlib import Path

from hwnas.errors import HwnasError

from .base import Answer

SCHEMA_VERSION = "1"
_CHUNK = 500  # ids per SELECT ... IN (...)


class EvalStore:
    """``EvalStore(path)``: open (or create) a store; use as a context manager or call
    ``close()``."""

    def __init__(self, path, timeout: float = 30.0):
        self.path = Path(path)
        if self.path.exists() and not self.path.is_file():
            raise HwnasError(f"evaluation store {str(path)!r} is not a file")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(str(self.path), timeout=timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise HwnasError(f"evaluation store {str(path)!r} cannot be opened: {exc}") from None
        try:
            self._init()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise HwnasError(
                f"evaluation store {str(path)!r} is damaged or not an hwnas store "
                f"({exc}); "
                "move it aside to start a new one"
            ) from None

    def _init(self) -> None:
        db = self._db
        db.execute("PRAGMA busy_timeout = 30000")
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        # e.g. a network filesystem; still correct, just no concurrent readers
        if str(mode).lower() != "wal":
            db.execute("PRAGMA journal_mode = DELETE")
        db.execute(
            "PRAGMA synchronous = NORMAL"
            if str(mode).lower() == "wal"
            else "PRAGMA synchronous = FULL"
        )
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            db.execute(
                "INSERT OR IGNORE INTO meta VALUES ('format', 'hwnas-evalstore'), ('version', ?)",
                (SCHEMA_VERSION,),
            )
            db.execute("""CREATE TABLE IF NOT EXISTS answers (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                oracle TEXT NOT NULL, arch_id TEXT NOT NULL, arch TEXT NOT NULL,
                accuracy REAL, seconds REAL NOT NULL, time REAL NOT NULL, error TEXT,
                UNIQUE (oracle, arch_id))""")
            db.execute("COMMIT")
            return
        if not {"meta", "answers"} <= tables:
            raise sqlite3.DatabaseError(f"tables {sorted(tables)} are not those of an hwnas store")
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("format") != "hwnas-evalstore":
            raise sqlite3.DatabaseError("no hwnas-evalstore marker")
        if meta.get("version") != SCHEMA_VERSION:
            raise HwnasError(
                f"evaluation store {str(self.path)!r} has format version "
                f"{meta.get('version')!r}; "
                f"this hwnas reads version {SCHEMA_VERSION}"
            )
        ok = db.execute("PRAGMA quick_check").fetchone()[0]
        if ok != "ok":
            raise sqlite3.DatabaseError(f"quick_check: {ok}")

    # -- guarded execution ---------------------------------------------------------------------
    def _q(self, sql, params=()):
        if self._db is None:
            raise HwnasError(f"evaluation store {str(self.path)!r} is closed")
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise HwnasError(
                f"evaluation store {str(self.path)!r} is damaged ({exc}); move it "
                f"aside to start a new one"
            ) from None

    # -- API -------------------------------------------------------------------------------------
    def put(self, oracle_key: str, arch_id: str, arch_json, answer: Answer) -> None:
        """Store one answer and commit it before returning (replaces an older answer for the
        pair)."""
        if not isinstance(arch_json, str):
            arch_json = json.dumps(arch_json)
        acc = answer.accuracy
        acc = None if acc is None or not math.isfinite(float(acc)) else float(acc)
        error = answer.error
        if acc is None and error is None:
            error = "oracle returned NaN"
        self._q(
            """INSERT INTO answers (oracle, arch_id, arch, accuracy, seconds, time, error)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (oracle, arch_id) DO UPDATE SET arch = excluded.arch,
                   accuracy = excluded.accuracy, seconds = excluded.seconds, time = excluded.time,
                   error = excluded.error""",
            (oracle_key, arch_id, arch_json, acc, float(answer.seconds or 0.0), time.time(), error),
        )

    def get_many(self, oracle_key: str, arch_ids) -> dict:
        """``{arch_id: Answer}`` for the ids this oracle has answered (failed answers included)."""
        ids = list(dict.fromkeys(arch_ids))
        out = {}
        for s in range(0, len(ids), _CHUNK):
            chunk = ids[s : s + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for arch_id, acc, sec, err in self._q(
                f"SELECT arch_id, accuracy, seconds, error FROM answers WHERE oracle = ? AND "
                f"arch_id IN ({marks})",
                (oracle_key, *chunk),
            ):
                out[arch_id] = Answer(float("nan") if acc is None else float(acc), float(sec), err)
        return out

    def rows(self, oracle_key: str) -> list:
        """All answers of one oracle in insertion order, as dicts (``arch`` decoded to a dict)."""
        return [
            {
                "arch_id": a,
                "arch": json.loads(j),
                "accuracy": float("nan") if acc is None else float(acc),
                "seconds": float(sec),
                "time": float(t),
                "error": err,
            }
            for a, j, acc, sec, t, err in self._q(
                "SELECT arch_id, arch, accuracy, seconds, time, error FROM answers WHERE "
                "oracle = ? ORDER BY seq",
                (oracle_key,),
            )
        ]

    def count(self, oracle_key: str) -> int:
        """How many answers the store holds for ``oracle_key``."""
        return int(self._q("SELECT COUNT(*) FROM answers WHERE oracle = ?", (oracle_key,))[0][0])

    def oracles(self) -> list:
        """Oracle keys present in the store."""
        return [r[0] for r in self._q("SELECT DISTINCT oracle FROM answers ORDER BY oracle")]

    def close(self) -> None:
        """Close the SQLite connection (again: a no-op)."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
