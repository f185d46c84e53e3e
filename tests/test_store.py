"""The evaluation store and the Evaluator: persistence, caching, failures, concurrency, kill -9."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hwnas.arch import Arch, row_ids, sample
from hwnas.errors import HwnasError
from hwnas.executor import LocalExecutor
from hwnas.space import get_space
from predictors.base import Answer
from predictors.evaluator import Evaluator, OracleTask
from predictors.store import EvalStore
from predictors.table import TableOracle, write_table

sys.path.insert(0, str(Path(__file__).parent))
from test_pred_support import MacsOracle  # noqa: E402

SPACE = get_space(1.2)
HERE = Path(__file__).parent


def _X(n, seed=0):
    return sample(n, np.random.default_rng(seed), SPACE.resolutions)


def test_put_get_rows_persist(tmp_path):
    path = tmp_path / "evals.sqlite"
    a, b = Arch.largest(224), Arch.smallest(160)
    with EvalStore(path) as s:
        s.put("o@1/w1.2", b.id, b.to_json(), Answer(0.75, 2.0))
        s.put("o@1/w1.2", a.id, a.to_dict(), Answer(0.8, 3.0))
        # NaN without text gets an error
        s.put("o@1/w1.2", "x" * 12, "{}", Answer(float("nan"), 1.0))
        s.put("other@1/w1.2", a.id, a.to_json(), Answer(0.5, 1.0))
    with EvalStore(path) as s:  # reopened: everything is there
        assert s.count("o@1/w1.2") == 3 and s.count("other@1/w1.2") == 1 and s.count("none") == 0
        rows = s.rows("o@1/w1.2")
        assert [r["arch_id"] for r in rows] == [b.id, a.id, "x" * 12]  # insertion order
        assert (
            rows[1]["arch"] == a.to_dict()
            and rows[1]["accuracy"] == 0.8
            and rows[1]["seconds"] == 3.0
        )
        assert rows[0]["time"] > 1.6e9 and rows[0]["error"] is None
        assert np.isnan(rows[2]["accuracy"]) and rows[2]["error"] == "oracle returned NaN"
        got = s.get_many("o@1/w1.2", [a.id, b.id, "missing"])
        assert set(got) == {a.id, b.id} and got[a.id].accuracy == 0.8 and got[a.id].ok
        assert s.get_many("other@1/w1.2", [b.id]) == {}
        # chunked IN queries
        many = s.get_many("o@1/w1.2", [f"id{i}" for i in range(2000)] + [a.id])
        assert list(many) == [a.id]


@pytest.mark.parametrize("content", [b"this is not a database at all" * 100, b""])
def test_damaged_or_foreign_file_is_a_clear_error(tmp_path, content):
    path = tmp_path / "evals.sqlite"
    if content:
        path.write_bytes(content)
        with pytest.raises(HwnasError, match="damaged or not an hwnas store"):
            EvalStore(path)
        assert path.read_bytes() == content  # not reset
    else:  # a valid SQLite file of someone else
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE t (x)")
        db.commit()
        db.close()
        with pytest.raises(HwnasError, match="not an hwnas store"):
            EvalStore(path)


def test_corrupted_pages_are_a_clear_error(tmp_path):
    path = tmp_path / "evals.sqlite"
    with EvalStore(path) as s:
        for i in range(300):
            s.put("o", f"{i:012d}", json.dumps({"pad": "y" * 200}), Answer(0.5, 1.0))
    raw = bytearray(path.read_bytes())
    raw[4096 : 4096 * 3] = os.urandom(4096 * 2)  # overwrite two pages
    path.write_bytes(bytes(raw))
    with pytest.raises(HwnasError, match="damaged"):
        with EvalStore(path) as s:
            s.rows("o")


def test_readers_see_committed_rows_while_a_writer_holds_a_transaction(tmp_path):
    path = tmp_path / "evals.sqlite"
    with EvalStore(path) as s:
        s.put("o", "a" * 12, "{}", Answer(0.5, 1.0))
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute(
        "INSERT INTO answers (oracle, arch_id, arch, accuracy, seconds, time) VALUES "
        "('o', 'b', '{}', 0.6, 1, 0)"
    )
    try:
        code = (
            "import sys; from predictors.store import EvalStore; s = EvalStore(sys.argv[1], "
            "timeout=2); "
            "print(s.count('o'))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, out.stderr
        # reads do not wait for the writer; uncommitted row invisible
        assert out.stdout.strip() == "1"
    finally:
        writer.execute("COMMIT")
        writer.close()
    with EvalStore(path) as s:
        assert s.count("o") == 2


def test_evaluator_caches_dedups_and_records_failures(tmp_path):
    X = _X(12)
    X = np.concatenate([X, X[:3]])  # duplicates
    oracle = MacsOracle(SPACE, fail_every=5)  # answers 5 and 10 fail (one NaN, one with error text)
    with EvalStore(tmp_path / "e.sqlite") as store:
        ev = Evaluator(oracle, store)
        acc = ev.evaluate(X)
        assert acc.dtype == np.float64 and acc.shape == (15,)
        assert ev.n_asked == 12 and oracle.asked == 12 and ev.n_failed == 2
        assert np.isnan(acc).sum() == 2 + np.isnan(acc[12:]).sum()
        np.testing.assert_array_equal(acc[12:], acc[:3])
        rows = store.rows(oracle.key)
        assert len(rows) == 12
        errors = sorted(r["error"] for r in rows if r["error"])
        assert errors == ["oracle returned NaN", "simulated out of memory"]
        # a second evaluation asks nothing, failed archs included
        ev2 = Evaluator(oracle, store)
        np.testing.assert_array_equal(ev2.evaluate(X), acc)
        assert ev2.n_asked == 0 and oracle.asked == 12
        # new archs only
        acc3 = ev2.evaluate(np.concatenate([X[:4], _X(3, seed=9)]))
        assert ev2.n_asked == 3 and np.array_equal(acc3[:4], acc[:4], equal_nan=True)


def test_evaluator_with_process_pool_executor(tmp_path):
    X = _X(6)
    table = tmp_path / "t.csv"
    write_table(table, X[:5], np.linspace(0.7, 0.8, 5))
    oracle = TableOracle(SPACE, table)
    with EvalStore(tmp_path / "e.sqlite") as store:
        ev = Evaluator(oracle, store, executor=LocalExecutor(workers=2))
        acc = ev.evaluate(X[:5])
        np.testing.assert_allclose(acc, np.linspace(0.7, 0.8, 5))
        assert ev.n_asked == 5
        # an arch the table lacks is a user error: raised, not stored as a failed answer
        with pytest.raises(HwnasError, match="not in accuracy table"):
            Evaluator(oracle, store, executor=LocalExecutor(workers=2)).evaluate(X)
        assert store.count(oracle.key) == 5 and store.get_many(oracle.key, row_ids(X[5:])) == {}
    assert isinstance(OracleTask(oracle)(X[0]), Answer)


def test_evaluator_executor_records_crashing_tasks(tmp_path):
    X = _X(6)
    oracle = MacsOracle(SPACE, fail_every=3)  # in-process: asked 3 and 6 fail
    with EvalStore(tmp_path / "e.sqlite") as store:
        ev = Evaluator(oracle, store, executor=LocalExecutor(workers=0))
        acc = ev.evaluate(X)
        assert ev.n_asked == 6 and ev.n_failed == 2 and np.isnan(acc).sum() == 2


def test_kill_9_loses_no_committed_answer(tmp_path):
    path = tmp_path / "evals.sqlite"
    n = 40
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(HERE.parent), str(HERE), os.environ.get("PYTHONPATH", "")]),
    )
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "test_pred_support.py"), str(path), str(n)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        oracle = MacsOracle(SPACE)
        deadline = time.time() + 60
        seen = 0
        with EvalStore(path) as reader:  # reading while the child writes
            while seen < 5 and time.time() < deadline:
                seen = reader.count(oracle.key)
                time.sleep(0.05)
        assert seen >= 5, proc.stderr.read() if proc.poll() is not None else "child too slow"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with EvalStore(path) as store:
        rows = store.rows(oracle.key)
        # every answer seen committed survived; the batch was cut short
        assert seen <= len(rows) < n
        X = sample(n, np.random.default_rng(5), SPACE.resolutions)
        ids = row_ids(X)
        assert [r["arch_id"] for r in rows] == ids[: len(rows)]
        assert all(r["error"] is None and 0.6 < r["accuracy"] < 0.8 for r in rows)
        ev = Evaluator(oracle, store)
        acc = ev.evaluate(X)  # resumes: asks only the rest
        assert ev.n_asked == n - len(rows) and not np.isnan(acc).any()


def test_closed_store_is_a_clear_error(tmp_path):
    s = EvalStore(tmp_path / "e.sqlite")
    s.close()
    with pytest.raises(HwnasError, match="closed"):
        s.count("o")
