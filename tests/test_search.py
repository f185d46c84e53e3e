import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import predictors
from hwnas import get_space
from hwnas.arch import sample
from hwnas.errors import HwnasError
from hwnas.search import SearchConfig, run_search
from hwnas.search.pareto import pareto_mask

from .conftest import ROOT, run_cli
from .search_helpers import SyntheticOracle

SPACE = get_space(1.2)


def search(tmp_path, name, **kw):
    cfg = SearchConfig(
        **{"flops": "600M", "queries": 60, "seed": 0, "out": str(tmp_path / name), **kw}
    )
    return run_search(cfg, oracle=SyntheticOracle(SPACE))


@pytest.mark.parametrize(
    "algorithm", ["weaknas", "weaknas-pool", "random", "evolution", "regularized", "nsga2"]
)
def test_every_algorithm_respects_budget_and_query_count(tmp_path, algorithm):
    r = search(tmp_path, algorithm, algorithm=algorithm, queries=40)
    assert r["queries"] == 40
    hist = (tmp_path / algorithm / "history.csv").read_text().splitlines()
    assert len(hist) == 41
    ids = [line.split(",")[1] for line in hist[1:]]
    assert len(set(ids)) == 40  # never the same arch twice
    mflops = [float(line.split(",")[3]) for line in hist[1:]]
    assert max(mflops) <= 600.0
    assert r["best"]["mflops"] <= 600.0


def test_weaknas_beats_random_on_synthetic(tmp_path):
    wn = [search(tmp_path, f"w{s}", seed=s, queries=80)["best"]["accuracy"] for s in range(2)]
    rs = [
        search(tmp_path, f"r{s}", seed=s, queries=80, algorithm="random")["best"]["accuracy"]
        for s in range(2)
    ]
    assert np.mean(wn) > np.mean(rs)


def test_same_seed_same_result_and_outputs(tmp_path):
    a = search(tmp_path, "a")
    b = search(tmp_path, "b")
    assert a["best"] == b["best"]
    assert (tmp_path / "a" / "history.csv").read_text() == (
        tmp_path / "b" / "history.csv"
    ).read_text()
    search(tmp_path, "c", seed=1)
    assert (tmp_path / "c" / "history.csv").read_text() != (
        tmp_path / "a" / "history.csv"
    ).read_text()
    out = tmp_path / "a"
    for f in ("run.yaml", "evals.sqlite", "history.csv", "pareto.csv", "pareto.png", "best.json"):
        assert (out / f).is_file(), f
    best = json.loads((out / "best.json").read_text())
    assert {"arch", "accuracy", "mflops", "latency_ms", "oracle", "net_config"} <= set(best)
    assert best["net_config"]["name"] == "MobileNetV3"
    rows = (out / "pareto.csv").read_text().splitlines()
    assert rows[0] == "arch_id,accuracy,mflops,params_m,latency_ms,arch"
    acc = np.array([float(r.split(",")[1]) for r in rows[1:]])
    mfl = np.array([float(r.split(",")[2]) for r in rows[1:]])
    assert np.all(np.diff(mfl) >= 0) and np.all(np.diff(acc) > 0) and pareto_mask(acc, mfl).all()
    assert (out / "pareto.png").read_bytes()[:4] == b"\x89PNG"


def test_run_yaml_round_trips_as_config(tmp_path):
    search(tmp_path, "a", algorithm="random", queries=20)
    from hwnas.search import resume_config

    cfg = resume_config(tmp_path / "a")
    assert cfg.algorithm == "random" and cfg.queries == 20 and cfg.flops == 600e6
    assert SearchConfig.from_dict(cfg.to_dict()) == cfg


def test_multi_objective_front_and_hypervolume(tmp_path):
    r = search(tmp_path, "mo", objectives="acc,flops", queries=60)
    assert r["pareto_size"] >= 3 and 0 < r["hypervolume"] < 1
    mfl = [
        float(x.split(",")[2])
        for x in (tmp_path / "mo" / "pareto.csv").read_text().splitlines()[1:]
    ]
    assert max(mfl) - min(mfl) > 100  # spread along the front, not one cluster


def test_tight_budget_samples_without_endless_rejection(tmp_path):
    from hwnas.search.problem import Problem

    p = Problem(SPACE, flops=160e6)  # about 0.1% of uniform random archs fit
    X = p.sample_feasible(300, np.random.default_rng(0))
    assert len(X) == 300 and p.feasible(X).all()


@pytest.mark.parametrize(
    "kw,needle",
    [
        ({"flops": "600X"}, "600X"),
        ({"flops": "10M"}, "smallest achievable"),
        ({"latency_ms": "25 parsecs"}, "25ms"),
        ({"algorithm": "magic"}, "allowed: weaknas"),
        ({"objectives": "acc,beauty"}, "allowed: acc"),
        ({"queries": 0}, "positive integer"),
    ],
)
def test_bad_settings(tmp_path, kw, needle):
    with pytest.raises(HwnasError) as err:
        search(tmp_path, "bad", **kw)
    assert needle in str(err.value)


@pytest.mark.parametrize("objectives", [(), ("flops",), ("acc", "joy"), ("acc", "flops", "params")])
def test_problem_takes_the_objective_sets_the_config_takes(objectives):
    from hwnas.search.problem import OBJECTIVE_SETS, Problem

    with pytest.raises(HwnasError, match="allowed: acc, acc,flops, acc,latency, acc,params$"):
        Problem(SPACE, objectives=objectives)
    for spelled in OBJECTIVE_SETS:  # each spelling the CLI accepts makes a Problem
        needs = {}
        if "latency" in spelled:
            from latency.device import load_device

            needs = {"latency_ms": 25.0, "device": load_device("cpu-ort", notice=False)}
        assert Problem(SPACE, objectives=spelled.split(","), **needs).objectives[0] == "acc"


def test_latency_budget_needs_device(tmp_path):
    with pytest.raises(HwnasError, match="--device"):
        search(tmp_path, "bad", latency_ms="25ms")


def test_existing_out_needs_resume(tmp_path):
    search(tmp_path, "a", algorithm="random", queries=10)
    with pytest.raises(HwnasError, match="--resume"):
        search(tmp_path, "a", algorithm="random", queries=10)


_CHILD = """
import sys
sys.path.insert(0, {root!r})
from hwnas import get_space
from hwnas.search import SearchConfig, run_search, resume_config
from tests.search_helpers import SyntheticOracle
out, resume, sleep = sys.argv[1], sys.argv[2] == "1", float(sys.argv[3])
cfg = resume_config(out) if resume else SearchConfig(flops="600M", queries=50, seed=3, out=out)
r = run_search(cfg, oracle=SyntheticOracle(get_space(1.2), sleep=sleep), resume=resume)
print(r["best"]["arch_id"], r["best"]["accuracy"])
"""


def test_kill9_then_resume_equals_uninterrupted(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(_CHILD.format(root=str(ROOT)))
    ref = subprocess.run(
        [sys.executable, script, tmp_path / "ref", "0", "0"],
        capture_output=True,
        text=True,
        check=True,
    )

    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, script, out, "0", "0.05"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    from predictors.store import EvalStore

    deadline = time.time() + 120
    stored = 0
    while time.time() < deadline:
        time.sleep(0.3)
        if (out / "evals.sqlite").exists():
            with EvalStore(out / "evals.sqlite") as s:
                stored = sum(s.count(k) for k in s.oracles())
            if stored >= 25:
                break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 25 <= stored < 50, stored
    with EvalStore(out / "evals.sqlite") as s:
        before = {r["arch_id"]: r["accuracy"] for k in s.oracles() for r in s.rows(k)}
    assert len(before) >= stored  # nothing committed was lost

    resumed = subprocess.run(
        [sys.executable, script, out, "1", "0"], capture_output=True, text=True, check=True
    )
    assert resumed.stdout == ref.stdout
    assert (out / "history.csv").read_text() == (tmp_path / "ref" / "history.csv").read_text()
    with EvalStore(out / "evals.sqlite") as s:
        rows = [r for k in s.oracles() for r in s.rows(k)]
    assert len(rows) == 50 and len({r["arch_id"] for r in rows}) == 50  # nothing asked twice
    assert all(before[r["arch_id"]] == r["accuracy"] for r in rows if r["arch_id"] in before)


def test_cli_search_json_and_bad_units(tmp_path, assets):
    out = run_cli(
        "search",
        "--flops",
        "600M",
        "--queries",
        "30",
        "--out",
        tmp_path / "cli",
        "--json",
        "--no-progress",
        env={"HWNAS_ASSETS": str(assets)},
    )
    assert out.returncode == 0, out.stderr
    obj = json.loads(out.stdout)
    assert (
        obj["queries"] == 30
        and obj["best"]["mflops"] <= 600
        and obj["best"]["oracle"].startswith("ofa-mlp")
    )
    assert 0.75 < obj["best"]["accuracy"] < 0.86
    bad = run_cli("search", "--flops", "six hundred", "--out", tmp_path / "x")
    assert bad.returncode == 2 and "six hundred" in bad.stderr and "600M" in bad.stderr
    bad = run_cli("search", "--flops", "1M", "--out", tmp_path / "y")
    assert bad.returncode == 2 and "smallest achievable" in bad.stderr


# a value for each oracle setting, as SearchConfig fields (none of them is read before the search)
_ORACLE_VALUES = {"acc_predictor": "a.pth", "table": "t.csv", "weights": "w.pth", "data": "d"}


@pytest.mark.parametrize("name", predictors.registry.ORACLES.names())
def test_config_accepts_exactly_the_settings_its_oracle_reads(name):
    from hwnas.search.config import ORACLE_SETTINGS

    reads = predictors.registry.ORACLES.load(name).reads
    for setting, field in ORACLE_SETTINGS.items():
        kw = {field: _ORACLE_VALUES.get(setting, "cuda")}
        if setting in reads:
            assert getattr(SearchConfig(flops=600e6, oracle=name, **kw), field) == kw[field]
            continue
        with pytest.raises(HwnasError, match="is not used by this search") as err:
            SearchConfig(flops=600e6, oracle=name, **kw)
        readers = predictors.registry.oracles_reading(setting)
        assert readers and all(f"--oracle {o}" in str(err.value) for o in readers)


def test_cli_search_with_the_surrogate_oracle_reads_its_table(tmp_path):
    from predictors.table import write_table

    X = sample(40, np.random.default_rng(0), get_space(1.2).resolutions)  # a budget or not: all
    write_table(tmp_path / "acc.csv", X, 0.7 + 0.1 * np.random.default_rng(1).random(len(X)))
    out = run_cli(
        "search",
        "--flops",
        "600M",
        "--queries",
        "8",
        "--oracle",
        "surrogate",
        "--table",
        tmp_path / "acc.csv",
        "--out",
        tmp_path / "run",
        "--json",
        "--no-progress",
    )
    assert out.returncode == 0, out.stderr
    obj = json.loads(out.stdout)
    assert obj["queries"] == 8 and obj["best"]["oracle"].startswith("surrogate@")


def test_checking_the_oracle_settings_loads_neither_torch_nor_xgboost():
    # SearchConfig asks the oracle classes what they read: their modules must stay light
    code = (
        "import sys\n"
        "from hwnas.search import SearchConfig\n"
        "from predictors.registry import ORACLE_CHOICES\n"
        "for o in ORACLE_CHOICES:\n"
        "    SearchConfig(flops=600e6, oracle=o)\n"
        "print(sorted(m for m in ('torch', 'xgboost') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr[-800:]
