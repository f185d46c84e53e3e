"""``optuna-tpe``: Optuna's TPE sampler as a baseline (an optional extra)."""

import csv
import sys

import pytest

from hwnas import get_space
from hwnas.errors import HwnasError
from hwnas.search import SearchConfig, run_search

from .search_helpers import SyntheticOracle

SPACE = get_space(1.2)


def test_missing_optuna_is_a_one_line_error_naming_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna now raises ImportError
    with pytest.raises(HwnasError, match=r"pip install hwnas\[optuna\]") as info:
        SearchConfig(flops="600M", algorithm="optuna-tpe", out=str(tmp_path / "run"))
    assert "\n" not in str(info.value)
    assert not (tmp_path / "run").exists()


@pytest.fixture
def optuna():
    return pytest.importorskip("optuna", reason="needs the extra: pip install hwnas[optuna]")


def _search(tmp_path, name, **kw):
    cfg = SearchConfig(
        **{
            "flops": "400M",
            "queries": 60,
            "seed": 0,
            "algorithm": "optuna-tpe",
            "out": str(tmp_path / name),
            **kw,
        }
    )
    return run_search(cfg, oracle=SyntheticOracle(SPACE))


def test_tpe_measures_only_feasible_unique_archs_and_is_seeded(tmp_path, optuna):
    a = _search(tmp_path, "a")
    assert a["queries"] == 60 and a["best"]["mflops"] <= 400
    with open(tmp_path / "a" / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert len({r["arch_id"] for r in rows}) == 60
    assert max(float(r["mflops"]) for r in rows) <= 400.0  # infeasible proposals are never measured
    _search(tmp_path, "b")
    history = [(tmp_path / name / "history.csv").read_text() for name in ("a", "b")]
    assert history[0] == history[1]
    c = _search(tmp_path, "c", seed=1)
    assert c["best"] != a["best"]


def test_tpe_multi_objective(tmp_path, optuna):
    r = _search(tmp_path, "mo", objectives="acc,flops")
    assert r["queries"] == 60 and r["pareto_size"] >= 2 and 0 < r["hypervolume"] < 1
