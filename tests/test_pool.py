"""``--pool FILE``: every algorithm stays inside the pool; bad pool files are one-line errors."""

import csv
import json

import numpy as np
import pytest

from hwnas import get_space
from hwnas.arch import Arch, row_ids
from hwnas.errors import HwnasError
from hwnas.ofa_interop import net_config
from hwnas.search import ALGORITHMS, SearchConfig, run_search
from hwnas.search.problem import Problem
from predictors.table import write_table

from .conftest import run_cli
from .search_helpers import SyntheticOracle

SPACE = get_space(1.2)


def make_pool(n=300, seed=7):
    """``n`` feasible archs under 600M plus a few too big ones (they must be dropped)."""
    rng = np.random.default_rng(seed)
    problem = Problem(SPACE, flops=600e6)
    big = np.stack([Arch.largest(224).to_array(), Arch.largest(208).to_array()])
    return np.concatenate([problem.sample_feasible(n, rng, tilt=False), big])


def write_jsonl(path, X, acc=None):
    with open(path, "w") as f:
        for i, row in enumerate(X):
            obj = Arch.from_array(row).to_dict()
            if acc is not None:
                obj["accuracy"] = float(acc[i])
            f.write(json.dumps(obj) + "\n")


@pytest.fixture(scope="module")
def pool_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("pool") / "pool.jsonl"
    X = make_pool()
    write_jsonl(path, X)
    return path, X


@pytest.mark.parametrize("algorithm", ALGORITHMS.names())
def test_every_algorithm_proposes_only_pool_members(tmp_path, pool_file, algorithm):
    if algorithm == "optuna-tpe":
        pytest.importorskip("optuna", reason="needs pip install hwnas[optuna]")
    path, X = pool_file
    cfg = SearchConfig(
        flops="600M",
        queries=40,
        seed=0,
        algorithm=algorithm,
        pool=str(path),
        out=str(tmp_path / "run"),
    )
    r = run_search(cfg, oracle=SyntheticOracle(SPACE))
    members = set(row_ids(X[:-2]))  # the two too-big archs are not members
    with open(tmp_path / "run" / "history.csv") as f:
        ids = [row["arch_id"] for row in csv.DictReader(f)]
    assert ids and set(ids) <= members
    assert r["queries"] == 40 and len(set(ids)) == 40
    assert r["pool_size"] == 300 and r["pool_dropped"] == 2


def test_snap_is_nearest_member_and_seeded(pool_file):
    _, X = pool_file
    problem = Problem(SPACE, flops=600e6, pool=X, pool_seed=0)
    members = problem.pool
    assert np.array_equal(problem.snap(members), members)  # members map to themselves
    rng = np.random.default_rng(0)
    from hwnas.arch import mutate

    rows = mutate(members[rng.integers(len(members), size=50)], rng, 0.3, SPACE.resolutions)
    snapped = problem.snap(rows)
    dist = (rows[:, None, :] != members[None, :, :]).sum(axis=2)
    assert np.array_equal((snapped != rows).sum(axis=1), dist.min(axis=1))  # nearest by Hamming
    again = Problem(SPACE, flops=600e6, pool=X, pool_seed=0).snap(rows)
    assert np.array_equal(snapped, again)  # a pure function of (rows, pool, seed)
    # a tie: a row exactly between two members goes where the seed says, the same every time
    a, b = members[0].copy(), members[0].copy()
    b[45] = 224 if a[45] != 224 else 208
    tie_pool = np.stack([a, b])
    mid = a.copy()
    mid[45] = ({160, 176, 192, 208, 224} - {int(a[45]), int(b[45])}).pop()
    picks = {
        bytes(Problem(SPACE, pool=tie_pool, pool_seed=s).snap(mid[None])[0]) for s in range(20)
    }
    assert picks == {bytes(a), bytes(b)}


def test_sample_feasible_draws_from_the_pool(pool_file):
    _, X = pool_file
    problem = Problem(SPACE, flops=600e6, pool=X)
    got = problem.sample_feasible(1000, np.random.default_rng(1))
    assert len(got) == 300 and len({bytes(r) for r in got}) == 300
    part = problem.sample_feasible(50, np.random.default_rng(1), exclude=got[:280])
    assert len(part) == 20 and not ({bytes(r) for r in part} & {bytes(r) for r in got[:280]})


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_pool_with_accuracies_serves_as_table_oracle(tmp_path, fmt):
    X = make_pool(120)
    acc = np.array([a.accuracy for a in SyntheticOracle(SPACE).evaluate(X)])
    path = tmp_path / f"pool.{fmt}"
    (write_table if fmt == "csv" else write_jsonl)(path, X, acc)
    cfg = SearchConfig(
        flops="600M",
        queries=120,
        seed=0,
        algorithm="random",
        pool=str(path),
        oracle="table",
        oracle_table=str(path),
        out=str(tmp_path / "run"),
    )
    r = run_search(cfg)
    feasible = Problem(SPACE, flops=600e6).feasible(X)
    assert r["queries"] == int(feasible.sum())  # the whole feasible pool, then nothing more to ask
    assert r["best"]["accuracy"] == pytest.approx(acc[feasible].max())


def test_net_config_rows(tmp_path):
    X = make_pool(5)[:5]
    path = tmp_path / "pool.jsonl"
    with open(path, "w") as f:
        for row in X:
            arch = Arch.from_array(row)
            f.write(json.dumps({"net_config": net_config(SPACE, arch), "r": arch.r}) + "\n")
    problem = Problem(SPACE, pool=_read(path))
    assert {bytes(r) for r in problem.pool} == {bytes(r) for r in X}


def _read(path):
    from hwnas.archfile import read_arch_list

    return read_arch_list(path, what="--pool", width=1.2).X


@pytest.mark.parametrize(
    "content, needle",
    [
        (None, "does not exist"),
        ("", "is empty"),
        ("arch,accuracy\n", "has no rows"),
        ("name,accuracy\nx,0.5\n", "required: arch"),
        ('{"ks": [3], "e": [3], "d": [2], "r": 160}\n', "line 1: ks has 1 values"),
        ('{"ks": [3]\n', "line 1: malformed JSON"),
        (
            "[1, 2]\n",
            "required: arch",
        ),  # not an object: read as CSV, which then lacks an arch column
        (json.dumps({**Arch.smallest(160).to_dict(), "accuracy": 78.5}) + "\n", "not percent"),
        ('{"blocks": []}\n', "no resolution"),
    ],
)
def test_bad_pool_files_are_one_line_errors(tmp_path, content, needle):
    path = tmp_path / "pool.txt"
    if content is not None:
        path.write_text(content)
    cfg = SearchConfig(flops="600M", queries=10, pool=str(path), out=str(tmp_path / "run"))
    with pytest.raises(HwnasError, match=needle) as info:
        run_search(cfg, oracle=SyntheticOracle(SPACE))
    assert "\n" not in str(info.value) and "--pool" in str(info.value)


def test_infeasible_pool_is_an_error(tmp_path):
    path = tmp_path / "big.jsonl"
    # too big, too big, and a resolution outside the searched 160..224
    write_jsonl(
        path,
        np.stack(
            [
                Arch.largest(224).to_array(),
                Arch.largest(208).to_array(),
                Arch.smallest(128).to_array(),
            ]
        ),
    )
    with pytest.raises(HwnasError, match="none of its 3 archs is within MACs <= 600M at resolut"):
        run_search(
            SearchConfig(flops="600M", pool=str(path), out=str(tmp_path / "run")),
            oracle=SyntheticOracle(SPACE),
        )


def test_cli_pool_errors_exit_2_and_run_yaml_records_it(tmp_path, pool_file):
    bad = tmp_path / "bad.csv"
    bad.write_text('arch\n"{""ks"": 1}"\n')
    out = run_cli(
        "search", "--flops", "600M", "--pool", bad, "--out", tmp_path / "x", "--oracle", "zerocost"
    )
    assert out.returncode == 2
    assert out.stderr.startswith("hwnas: error: --pool") and "line 2" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    path, _ = pool_file
    cfg = SearchConfig(flops="600M", queries=10, pool=str(path), out=str(tmp_path / "ok"))
    run_search(cfg, oracle=SyntheticOracle(SPACE))
    from hwnas.search import resume_config

    assert resume_config(tmp_path / "ok").pool == str(path)


def test_resume_refuses_an_edited_pool_file_and_another_oracle(tmp_path, pool_file):
    from hwnas.search import resume_config

    _, X = pool_file
    path = tmp_path / "pool.jsonl"
    write_jsonl(path, X)
    out = tmp_path / "run"
    run_search(
        SearchConfig(flops="600M", queries=10, pool=str(path), out=str(out)),
        oracle=SyntheticOracle(SPACE),
    )
    stored = {f: (out / f).read_bytes() for f in ("run.yaml", "evals.sqlite", "history.csv")}
    write_jsonl(path, X[:-3])  # same path, one member fewer (the last two are dropped anyway)
    with pytest.raises(HwnasError) as exc:
        run_search(resume_config(out, {"queries": 20}), oracle=SyntheticOracle(SPACE), resume=True)
    msg = str(exc.value)
    assert msg.startswith("--resume: the --pool file's archs changed since the run started")
    assert "restore it or start a new --out" in msg and "\n" not in msg

    class Other(SyntheticOracle):
        version = "2"

    write_jsonl(path, X)  # the pool restored: now the oracle differs
    with pytest.raises(HwnasError, match=r"the oracle changed .*synthetic@2/w1.2 now, synthetic@1"):
        run_search(resume_config(out, {"queries": 20}), oracle=Other(SPACE), resume=True)
    assert stored == {f: (out / f).read_bytes() for f in stored}  # nothing touched
    r = run_search(resume_config(out, {"queries": 20}), oracle=SyntheticOracle(SPACE), resume=True)
    assert r["queries"] == 20
