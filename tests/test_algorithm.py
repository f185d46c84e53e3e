"""The search-algorithm contract: typed options, one stopping rule, the ALGORITHMS table."""

import pytest
import yaml

from hwnas import get_space
from hwnas.errors import HwnasError
from hwnas.search import ALGORITHMS, SearchConfig, run_search
from hwnas.search.algorithm import Algorithm, Loop, Options, Stop

from .conftest import run_cli
from .search_helpers import SyntheticOracle

SPACE = get_space(1.2)


@pytest.mark.parametrize("name", ALGORITHMS.names())
def test_every_member_is_an_algorithm_with_options(name):
    cls = ALGORITHMS.load(name)
    assert issubclass(cls, Algorithm) and issubclass(cls.Options, Options)
    assert cls.Options.parse({}).to_dict()["stall"] is cls.Options().stall


def test_options_are_typed_from_strings_and_values():
    opts = ALGORITHMS.load("weaknas").Options
    o = opts.parse({"kappa": "1.5", "n_init": "7", "bucb": "false", "gp_points": "none"})
    assert (o.kappa, o.n_init, o.bucb, o.gp_points) == (1.5, 7, False, None)
    assert opts.parse({"acquisition": "ei"}).acquisition == "ei"
    assert opts.parse({"kappa": 1, "gp_points": 300}).kappa == 1.0


@pytest.mark.parametrize(
    "given, needle",
    [
        ({"kapa": 1}, "option 'kapa' is unknown for weaknas; allowed: "),
        (
            {"n_init": "seven"},
            "option n_init='seven' for weaknas is not allowed; allowed: an integer",
        ),
        ({"n_init": 2.5}, "n_init=2.5"),
        ({"kappa": -1}, "allowed: a number >= 0"),
        ({"bucb": 1}, "allowed: true or false"),
        ({"n_init": True}, "n_init=True"),
        ({"acquisition": "pi"}, "acquisition='pi' for weaknas is not allowed; allowed: ucb, ei"),
    ],
)
def test_bad_options_are_one_line_errors(given, needle):
    with pytest.raises(HwnasError) as err:
        SearchConfig(flops="600M", algorithm="weaknas", options=given)
    assert needle in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    "settings, needle",
    [
        (
            {"objectives": "acc,flops", "options": {"trust_region": True}},
            "--option trust_region=true is not used by this search; it needs a single objective",
        ),
        ({"objectives": "acc,flops", "options": {"kappa": 3}}, "--option kappa=3.0"),
        ({"objectives": "acc,flops", "options": {"islands": 2}}, "--option islands=2"),
        ({"options": {"mo_kappa": 2}}, "it needs two objectives (--objectives acc,COST)"),
        ({"options": {"front_gain": False}}, "--option front_gain=false"),
        ({"options": {"tr_init": 8}}, "it needs --option trust_region=true"),
        ({"options": {"islands_until": 300}}, "it needs --option islands=N"),
        ({"pool": "pool.csv", "options": {"islands": 2}}, "it needs no --pool"),
        ({"pool": "pool.csv", "options": {"generations": 30}}, "--option generations=30"),
        (
            {"predictor": "xgb", "options": {"bucb": False}},
            "--option bucb=false is not used by this search; it needs a predictor that picks",
        ),
        ({"predictor": "linear", "options": {"gp_points": 300}}, "a cap on its training set"),
        ({"objectives": "acc,flops", "options": {"acquisition": "ei"}}, "a single objective"),
        ({"predictor": "xgb", "options": {"acquisition": "ei"}}, "a predictor with an uncertainty"),
        (
            {"options": {"acquisition": "ei", "kappa": 1}},
            "--option kappa=1.0 is not used by this search; it needs --option acquisition=ucb",
        ),
    ],
)
def test_an_option_this_search_would_not_read_is_an_error(settings, needle):
    with pytest.raises(HwnasError) as err:
        SearchConfig(flops="600M", **settings)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_options_at_their_defaults_or_read_by_the_search_are_accepted():
    SearchConfig(flops="600M", objectives="acc,flops", options={"kappa": 2.0, "mo_kappa": 1.5})
    SearchConfig(flops="600M", options={"trust_region": True, "tr_init": 8, "kappa": 1.0})
    SearchConfig(flops="600M", options={"islands": 2, "islands_until": 300})
    SearchConfig(flops="600M", pool="pool.csv", options={"trust_region": True, "kappa": 1.0})
    SearchConfig(flops="600M", options={"bucb": False, "gp_points": 300})
    SearchConfig(flops="600M", predictor="xgb", options={"kappa": 1.0, "n_init": 10})
    for predictor in ("gp", "ensemble", "linear-bayes"):
        SearchConfig(flops="600M", predictor=predictor, options={"acquisition": "ei"})
    SearchConfig(flops="600M", options={"acquisition": "ei", "trust_region": True, "bucb": False})


def test_stop_counts_budget_and_stalls():
    stop = Stop(10, stall=2)
    for n in (4, 4, 4):
        stop.update(n)
    assert stop.done and stop.stalled == 2
    stop = Stop(10)
    stop.update(10)
    assert stop.done
    stop = Stop(10)
    for _ in range(50):
        stop.update(3)
    assert not stop.done


def test_a_changed_option_changes_the_run_and_run_yaml_records_every_option(tmp_path):
    def run(options, out):
        cfg = SearchConfig(
            flops="600M",
            queries=30,
            seed=0,
            algorithm="regularized",
            options=options,
            out=str(tmp_path / out),
        )
        return run_search(cfg, oracle=SyntheticOracle(SPACE))

    run({}, "a"), run({"population": 10}, "b")
    doc = yaml.safe_load((tmp_path / "b" / "run.yaml").read_text())
    assert doc["settings"]["options"] == {
        "stall": 1000,
        "population": 10,
        "tournament": 10,
        "mutate_prob": 0.1,
        "children": 32,
    }
    a, b = ((tmp_path / d / "history.csv").read_text() for d in "ab")
    assert a != b and b.count(",evolve,") == 20  # 10 initial, then one child per round


def test_cli_option_flag(tmp_path):
    out = tmp_path / "r"
    bad = run_cli(
        "search",
        "--flops",
        "600M",
        "--queries",
        "5",
        "--oracle",
        "zerocost",
        "--algorithm",
        "random",
        "--option",
        "chunks=2",
        "--out",
        out,
        "--no-progress",
    )
    assert bad.returncode == 2 and not out.exists()
    assert bad.stderr.strip().splitlines()[-1] == (
        "hwnas: error: option 'chunks' is unknown for random; allowed: stall, chunk"
    )
    bad = run_cli("search", "--flops", "600M", "--option", "chunk", "--no-progress")
    assert bad.returncode == 2 and "is not KEY=VALUE" in bad.stderr


def test_a_loop_is_run_not_asked():
    assert issubclass(ALGORITHMS.load("evolution"), Loop)
    with pytest.raises(TypeError):
        ALGORITHMS.load("evolution")().ask()
