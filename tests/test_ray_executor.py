"""The Ray executor on a real local Ray cluster: a head and one worker node (``device:test``),
127.0.0.1.

No mocks: real ``ray start`` processes, real Ray tasks, a real SQLite store, a worker process killed
with SIGKILL mid-batch. One cluster serves the whole module (starting one costs ~10-20 s here).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip(
    "ray", reason="Ray is not installed (optional extra: pip install 'hwnas[ray]')"
)

from hwnas.arch import Arch, sample  # noqa: E402
from hwnas.errors import HwnasError  # noqa: E402
from hwnas.executor import LocalExecutor, make_executor  # noqa: E402
from hwnas.space import Space  # noqa: E402
from predictors.evaluator import Evaluator  # noqa: E402
from predictors.store import EvalStore  # noqa: E402

from .conftest import run_cli  # noqa: E402
from .ray_helpers import (  # noqa: E402
    LocalRayCluster,
    SleepOracle,
    arch_accuracy,
    read_events,
    row_key,
    sleep_task,
    where_task,
)


@pytest.fixture(scope="module")
def cluster():
    c = LocalRayCluster(head_cpus=1, workers=1, worker_cpus=1, worker_resources={"device:test": 1})
    c.start()
    try:
        ray.init(address=c.address, log_to_driver=False, logging_level="ERROR")
        # warm both nodes' worker processes so timings and placement below are not start-up noise
        pids = {
            p
            for _, p in make_executor("ray", address=c.address).map_unordered(
                sleep_task, [0.5, 0.5]
            )
        }
        assert len(pids) == 2, pids
        yield c
    finally:
        ray.shutdown()
        c.stop()


@pytest.fixture
def ex(cluster):
    e = make_executor("ray", address=cluster.address, max_retries=2)
    yield e
    e.close()


def _rows(n, seed=0):
    return sample(n, np.random.default_rng(seed), Space().resolutions)


# -- the executor itself ------------------------------------------------------------------------


def test_results_come_in_completion_order_with_indices(ex):
    out = list(ex.map_unordered(sleep_task, [1.5, 0.0, 0.0, 0.0]))
    assert sorted(i for i, _ in out) == [0, 1, 2, 3]
    order = [i for i, _ in out]
    # yielded as they finish: fast ones did not wait for the slow one
    assert order[0] != 0 and order.index(0) >= 2
    assert all(isinstance(p, int) for _, p in out)


def test_custom_resource_sends_tasks_to_the_node_that_declares_it(ex):
    out = list(ex.map_unordered(where_task, range(4), resources={"device:test": 1}))
    assert len(out) == 4
    assert all(devs == ["device:test"] for _, (_, devs, _) in out)  # all on the worker node
    plain = list(ex.map_unordered(where_task, range(6)))
    assert len({node for _, (node, _, _) in plain}) >= 1


def test_unsatisfiable_resource_is_a_clear_error_not_a_hang(ex):
    with pytest.raises(HwnasError, match="device:nope"):
        list(ex.map_unordered(sleep_task, [0.0], resources={"device:nope": 1}))
    with pytest.raises(HwnasError, match="num_gpus"):
        list(ex.map_unordered(sleep_task, [0.0], resources={"num_gpus": -1}))


def test_task_exception_is_yielded_like_local(ex):
    ray_out = dict(ex.map_unordered(int, ["7", "x", "9"]))
    local_out = dict(LocalExecutor().map_unordered(int, ["7", "x", "9"]))
    assert ray_out[0] == 7 and ray_out[2] == 9
    assert type(ray_out[1]) is type(local_out[1]) is ValueError
    assert str(ray_out[1]) == str(local_out[1])


# -- the Evaluator over Ray ---------------------------------------------------------------------


def test_evaluator_over_ray_equals_local_and_stores_every_answer(ex, tmp_path):
    X = _rows(30, seed=1)
    oracle = SleepOracle(Space(), seconds=0.02)
    with EvalStore(tmp_path / "ray.sqlite") as s_ray, EvalStore(tmp_path / "local.sqlite") as s_loc:
        acc_ray = Evaluator(oracle, s_ray, ex).evaluate(X)
        acc_loc = Evaluator(oracle, s_loc).evaluate(X)
        assert np.array_equal(acc_ray, acc_loc)
        assert np.allclose(acc_ray, arch_accuracy(X))
        assert s_ray.count(oracle.key) == len({Arch.from_array(r).id for r in X})
        # a second pass asks nothing: every answer came from the store
        again = Evaluator(oracle, s_ray, ex)
        assert np.array_equal(again.evaluate(X), acc_ray) and again.n_asked == 0


def test_worker_dying_every_time_is_retried_a_bounded_number_of_times_then_recorded_failed(
    cluster, tmp_path
):
    X = _rows(4, seed=2)
    victim = row_key(X[1])
    oracle = SleepOracle(Space(), log_dir=tmp_path, die_keys={victim})
    ex = make_executor("ray", address=cluster.address, max_retries=1)
    with EvalStore(tmp_path / "e.sqlite") as store:
        ev = Evaluator(oracle, store, ex)
        acc = ev.evaluate(X)
        assert np.isnan(acc[1]) and np.allclose(acc[[0, 2, 3]], arch_accuracy(X[[0, 2, 3]]))
        assert ev.n_failed == 1
        (row,) = [r for r in store.rows(oracle.key) if r["arch_id"] == Arch.from_array(X[1]).id]
        assert row["error"] and ("died" in row["error"].lower() or "crash" in row["error"].lower())
    starts = [e for e in read_events(tmp_path) if e["event"] == "start" and e["key"] == victim]
    assert len(starts) == 2  # first try + max_retries=1, then given up


# -- the search over Ray ------------------------------------------------------------------------

SEARCH = dict(flops="400M", queries=40, algorithm="random", seed=5)


def _search(out, oracle, **kw):
    from hwnas.search import SearchConfig, run_search

    cfg = SearchConfig(**{**SEARCH, **kw}, out=str(out))
    return run_search(cfg, oracle=oracle)


def _history(out):
    with open(Path(out) / "history.csv", newline="") as f:
        return [(r["arch_id"], round(float(r["accuracy"]), 12)) for r in csv.DictReader(f)]


@pytest.fixture(scope="module")
def local_search(tmp_path_factory):
    pytest.importorskip("hwnas.search", reason="hwnas.search is not there yet")
    out = tmp_path_factory.mktemp("local") / "run"
    res = _search(out, SleepOracle(Space()))
    return res, _history(out)


def test_search_on_ray_gives_the_same_result_as_local(cluster, local_search, tmp_path):
    res_local, hist_local = local_search
    res = _search(
        tmp_path / "run",
        SleepOracle(Space(), seconds=0.01, log_dir=tmp_path),
        executor="ray",
        ray_address=cluster.address,
    )
    pids = {e["pid"] for e in read_events(tmp_path)}
    # the queries ran on the cluster
    assert pids and pids <= cluster.worker_pids() and os.getpid() not in pids
    assert res["best"]["arch_id"] == res_local["best"]["arch_id"]
    assert res["best"]["accuracy"] == res_local["best"]["accuracy"]
    assert _history(tmp_path / "run") == hist_local
    assert res["queries"] == SEARCH["queries"]


def test_search_with_the_real_default_oracle_on_ray_gives_the_same_result_as_local(
    cluster, tmp_path
):
    """OFA's accuracy predictor (``ofa-mlp``): answers must not depend on the batch a task
    carries."""
    acc = Path(os.environ.get("HWNAS_ASSETS", "/nonexistent")) / "ofa" / "acc_predictor.pth"
    if not acc.is_file():
        pytest.skip(
            "OFA's acc_predictor.pth not found: set HWNAS_ASSETS to the shared assets folder"
        )
    from predictors import make_oracle

    kw = dict(algorithm="weaknas", queries=60, seed=3)
    local = _search(tmp_path / "local", make_oracle("ofa-mlp", Space()), **kw)
    res = _search(
        tmp_path / "ray",
        make_oracle("ofa-mlp", Space()),
        executor="ray",
        ray_address=cluster.address,
        **kw,
    )
    assert res["best"]["arch_id"] == local["best"]["arch_id"]
    assert res["best"]["accuracy"] == local["best"]["accuracy"]
    assert _history(tmp_path / "ray") == _history(tmp_path / "local")


def test_worker_killed_mid_batch_search_finishes_nothing_lost_nothing_twice(
    cluster, local_search, tmp_path
):
    res_local, hist_local = local_search
    archs = _arch_rows(local_search)
    victim = row_key(archs[len(archs) // 2].to_array())  # a task in the middle of the one batch
    logs = tmp_path / "log"
    logs.mkdir()
    oracle = SleepOracle(Space(), seconds=0.05, log_dir=logs, hang_keys={victim}, hang_s=30)
    killed = {}

    def killer():
        marker = logs / f"hang-{victim}.pid"
        end = time.monotonic() + 60
        while time.monotonic() < end and not marker.exists():
            time.sleep(0.05)
        pid = int(marker.read_text())
        assert pid in cluster.worker_pids()  # only ever kill this cluster's worker
        killed["time"] = time.time()
        os.kill(pid, signal.SIGKILL)
        killed["pid"] = pid

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    res = _search(tmp_path / "run", oracle, executor="ray", ray_address=cluster.address)
    t.join(timeout=5)
    assert killed.get("pid"), (
        "the worker running the victim task was not killed (see the killer thread)"
    )

    # the search finished, with the same result as without the failure
    assert res["best"]["arch_id"] == res_local["best"]["arch_id"]
    assert _history(tmp_path / "run") == hist_local
    # nothing stored is lost: every answer is in the store, none failed; those finished before the
    # kill
    # had been committed before it (the driver stores answers as they arrive, not at the end of the
    # batch)
    with EvalStore(tmp_path / "run" / "evals.sqlite") as store:
        rows = store.rows(oracle.key)
    assert len(rows) == SEARCH["queries"] and all(r["error"] is None for r in rows)
    events = read_events(logs)
    done_before = {e["key"] for e in events if e["event"] == "done" and e["t"] < killed["time"]}
    stored_before = sum(r["time"] < killed["time"] for r in rows)
    # at most the in-flight ones
    assert len(done_before) >= 1 and stored_before >= len(done_before) - 2
    # nothing evaluated twice: each arch finished exactly once; only the victim was started twice
    done = [e["key"] for e in events if e["event"] == "done"]
    assert len(done) == len(set(done)) == SEARCH["queries"]
    starts = [e["key"] for e in events if e["event"] == "start"]
    assert starts.count(victim) == 2 and len(starts) == SEARCH["queries"] + 1


def _arch_rows(local_search):
    res, _ = local_search
    out = Path(res["out"])
    with open(out / "history.csv", newline="") as f:
        return [Arch.from_dict(json.loads(r["arch"])) for r in csv.DictReader(f)]


def test_cli_search_with_executor_ray(cluster, local_search, tmp_path):
    """``hwnas search --executor ray --ray-address ADDR``: a separate driver process, a table
    oracle."""
    res_local, hist_local = local_search
    table = tmp_path / "acc.csv"
    archs = _arch_rows(local_search)
    acc = arch_accuracy(np.stack([a.to_array() for a in archs]))
    with open(table, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arch", "accuracy"])
        for a, y in zip(archs, acc, strict=True):
            w.writerow([a.to_json(), repr(float(y))])
    r = run_cli(
        "search",
        "--executor",
        "ray",
        "--ray-address",
        cluster.address,
        "--oracle",
        "table",
        "--table",
        table,
        "--flops",
        SEARCH["flops"],
        "--queries",
        SEARCH["queries"],
        "--algorithm",
        SEARCH["algorithm"],
        "--seed",
        SEARCH["seed"],
        "--out",
        tmp_path / "run",
        "--no-progress",
        "--json",
        timeout=180,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    # exactly one JSON object: worker output does not leak into stdout
    result = json.loads(r.stdout)
    assert result["best"]["arch_id"] == res_local["best"]["arch_id"]
    assert result["queries"] == SEARCH["queries"]


# -- profiling through Ray -------------------------------------------------------------------------


def test_profile_device_runs_on_the_node_holding_the_device_resource(ex, tmp_path):
    """``hwnas profile --executor ray --device test``: one task per resolution, resource
    ``device:test``."""
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
    build = pytest.importorskip("latency.build", reason="latency.build is not there yet")
    from latency.table import load_table, table_path

    out = tmp_path / "test"
    res = build.profile_device(
        "test",
        out=out,
        resolutions=[160],
        rounds=1,
        warmup=0,
        sample_ms=0.05,
        executor=ex,
        progress=False,
    )
    assert res["device"] == "test" and res["measured"] == 96 and res["resolutions"] == [160]
    table = load_table(table_path(out, 160))
    assert len(table) == 96 and all(v["mean"] > 0 for v in table.values())
    # a device no node declares is refused at once, nothing is measured
    with pytest.raises(HwnasError, match="device:elsewhere"):
        build.profile_device(
            "elsewhere",
            out=tmp_path / "elsewhere",
            resolutions=[160],
            rounds=1,
            warmup=0,
            executor=ex,
            progress=False,
        )
    assert not table_path(tmp_path / "elsewhere", 160).exists()
