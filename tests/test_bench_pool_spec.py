"""scripts/bench_pool.py's algorithm specs: NAME[+PREDICTOR[(KEY=VALUE,...)]][{KEY=VALUE,...}]."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from hwnas.errors import HwnasError
from hwnas.search import SearchConfig
from hwnas.search.algorithms import ALGORITHMS

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench_pool.py"


@pytest.fixture(scope="module")
def bench_pool():
    spec = importlib.util.spec_from_file_location("bench_pool", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_commas_inside_braces_do_not_split(bench_pool):
    text = (
        "weaknas,weaknas{trust_region=true,tr_init=8},weaknas+linear,"
        "weaknas+gp(mean=trend,with_cost=true){islands=2},weaknas-pool"
    )
    assert bench_pool.split_algorithms(text) == [
        "weaknas",
        "weaknas{trust_region=true,tr_init=8}",
        "weaknas+linear",
        "weaknas+gp(mean=trend,with_cost=true){islands=2}",
        "weaknas-pool",
    ]


def test_spec_gives_algorithm_predictor_and_options(bench_pool):
    assert bench_pool.parse_spec("weaknas-pool") == {"algorithm": "weaknas-pool"}
    assert bench_pool.parse_spec("weaknas+linear{kappa=1, trust_region=true}") == {
        "algorithm": "weaknas",
        "predictor": "linear",
        "options": {"kappa": "1", "trust_region": "true"},
    }
    assert bench_pool.parse_spec("weaknas+gp(mean=trend){islands=2}") == {
        "algorithm": "weaknas",
        "predictor": "gp",
        "predictor_options": {"mean": "trend"},
        "options": {"islands": "2"},
    }


def test_spec_predictor_options_reach_the_predictor(bench_pool):
    config = SearchConfig(flops="600M", **bench_pool.parse_spec("weaknas+gp(with_cost=true)"))
    assert config.predictor_options == {"with_cost": True}
    with pytest.raises(HwnasError, match="'mean' is unknown for predictor linear"):
        SearchConfig(flops="600M", **bench_pool.parse_spec("weaknas+linear(mean=trend)"))


def test_spec_options_are_the_algorithms_own(bench_pool):
    weaknas = ALGORITHMS.load("weaknas")
    given = bench_pool.parse_spec("weaknas{trust_region=true}")
    assert weaknas.Options.parse(given["options"], "weaknas").trust_region is True
    typo = bench_pool.parse_spec("weaknas{trust_regoin=true}")["options"]
    with pytest.raises(HwnasError, match="option 'trust_regoin' is unknown for weaknas"):
        weaknas.Options.parse(typo, "weaknas")


@pytest.mark.parametrize(
    "bad", ["weaknas{trust_region}", "weaknas{a=1", "weak nas", "weaknas+gp(mean)", "weaknas(a=1)"]
)
def test_malformed_spec_is_refused(bench_pool, bad):
    with pytest.raises(SystemExit, match="bench_pool: "):
        bench_pool.parse_spec(bad)
