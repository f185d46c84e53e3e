"""The Evaluator: ask the store first, the oracle only for what it has never answered.

Each answer is committed the moment it arrives, so an interrupted batch keeps everything already
measured, and a re-run asks only for the rest. One failing or NaN answer is stored with its error
and the batch goes on; failed archs are not asked again (their accuracy reads as NaN). An
:class:`HwnasError` (bad setup or input: a missing file, an arch not in a table) is raised instead,
after committing every answer that came before it, so it never poisons the store.
"""

from __future__ import annotations

import math

import numpy as np

from hwnas.arch import Arch, validate
from hwnas.errors import HwnasError

from .base import Answer


def _checked(answer) -> Answer:
    """Turn whatever came back into a valid Answer (bad values become errors, not exceptions)."""
    if isinstance(answer, BaseException):
        text = f"{type(answer).__name__}: {answer}".strip()
        return Answer(float("nan"), 0.0, text[:2000])
    if not isinstance(answer, Answer):
        return Answer(float("nan"), 0.0, f"oracle returned {type(answer).__name__}, not an Answer")
    try:
        acc = float(answer.accuracy)
    except (TypeError, ValueError):
        return Answer(
            float("nan"),
            float(answer.seconds or 0.0),
            f"oracle returned accuracy {answer.accuracy!r}",
        )
    if answer.error is not None:
        return Answer(float("nan"), float(answer.seconds or 0.0), str(answer.error))
    if not math.isfinite(acc):
        return Answer(float("nan"), float(answer.seconds or 0.0), "oracle returned NaN")
    if not 0.0 <= acc <= 1.0:
        return Answer(
            float("nan"),
            float(answer.seconds or 0.0),
            f"oracle returned accuracy {acc}, outside 0..1",
        )
    return Answer(acc, float(answer.seconds or 0.0), None)


class OracleTask:
    """A picklable task for executors: evaluate one arch row with ``oracle``; returns an Answer."""

    def __init__(self, oracle):
        self.oracle = oracle

    def __call__(self, row) -> Answer:
        """The oracle's Answer for one arch row; any failure but an HwnasError becomes an Answer
        with ``error``."""
        try:
            return self.oracle.evaluate(np.asarray(row, dtype=np.int64)[None, :])[0]
        except HwnasError:
            raise  # bad setup or input (missing file, arch not in table): the caller must see it
        except Exception as exc:
            return Answer(float("nan"), 0.0, f"{type(exc).__name__}: {exc}"[:2000])


def evaluate_one(oracle, row) -> Answer:
    """Top-level form of :class:`OracleTask` (for executors that want a plain function)."""
    return OracleTask(oracle)(row)


class Evaluator:
    """``Evaluator(oracle, store, executor=None)``; ``evaluate(X)`` -> float64 accuracies (NaN =
    failed)."""

    def __init__(self, oracle, store, executor=None, progress: bool = False, resources=None):
        self.oracle = oracle
        self.store = store
        self.executor = executor
        self.progress = progress
        self.resources = resources
        self.n_asked = 0  # new oracle queries made by this evaluator
        self.n_failed = 0  # of those, how many failed
        self.oracle_seconds = 0.0  # their summed cost (oracle seconds)

    @property
    def key(self) -> str:
        """The oracle's key in the store, e.g. ``ofa-mlp@1/w1.2``."""
        return self.oracle.key

    def evaluate(self, X) -> np.ndarray:
        """Accuracy fraction per row of an ``(N, 46)`` batch, float64; NaN where the oracle
        failed."""
        X = validate(X)
        archs = [Arch.from_array(row) for row in X]
        ids = [a.id for a in archs]
        known = self.store.get_many(self.key, ids)
        todo_ids, todo_rows = [], []
        seen = set(known)
        for i, arch_id in enumerate(ids):
            if arch_id not in seen:
                seen.add(arch_id)
                todo_ids.append(arch_id)
                todo_rows.append(i)
        if todo_rows:
            self._ask(X[todo_rows], todo_ids, [archs[i] for i in todo_rows], known)
        # an id with no answer (the oracle stream ended early) reads as NaN and is asked again next
        # time
        return np.array(
            [known[i].accuracy if i in known and known[i].ok else np.nan for i in ids],
            dtype=np.float64,
        )

    def _ask(self, rows, ids, archs, known) -> None:
        bar = None
        if self.progress:
            from tqdm import tqdm

            bar = tqdm(total=len(ids), desc=f"oracle {self.oracle.name}", unit="arch")
        if self.executor is None:
            stream = self.oracle.evaluate_iter(rows)
        else:
            stream = self.executor.map_unordered(
                OracleTask(self.oracle), list(rows), self.resources
            )
        try:
            for j, answer in stream:
                # not the arch's fault: stop, store nothing for it
                if isinstance(answer, HwnasError):
                    raise answer
                answer = _checked(answer)
                # committed before going on
                self.store.put(self.key, ids[j], archs[j].to_json(), answer)
                known[ids[j]] = answer
                self.n_asked += 1
                self.n_failed += not answer.ok
                self.oracle_seconds += answer.seconds
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()

    def stats(self) -> dict:
        """This evaluator's new oracle queries: oracle key, proxy or not, asked, failed, oracle
        seconds."""
        return {
            "oracle": self.key,
            "is_proxy": bool(getattr(self.oracle, "is_proxy", False)),
            "n_asked": self.n_asked,
            "n_failed": self.n_failed,
            "oracle_seconds": self.oracle_seconds,
        }
