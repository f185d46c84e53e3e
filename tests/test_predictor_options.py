"""--predictor-option: the weak predictor's constructor keywords, typed, checked, recorded and kept
on --resume."""

import pytest
import yaml

from hwnas import get_space
from hwnas.cli import build_parser
from hwnas.cli.search import config_from_args
from hwnas.errors import HwnasError
from hwnas.search import SearchConfig, resume_config, run_search
from hwnas.search.predictor_options import parse_predictor_options, settable
from predictors.store import EvalStore

from .search_helpers import SyntheticOracle

SPACE = get_space(1.2)


def test_settable_keywords_come_from_each_constructor_minus_what_hwnas_sets():
    assert set(settable("gp")) == {"with_cost", "mean"}
    assert {"encoding", "with_cost", "n_jobs"} <= set(settable("xgb"))
    assert {"hidden", "epochs", "lr"} <= set(settable("mlp"))
    for name in ("gp", "xgb", "mlp", "linear", "ensemble", "linear-bayes"):
        assert not {"seed", "space", "max_points"} & set(settable(name))


def test_values_are_typed_from_strings():
    got = parse_predictor_options("gp", {"with_cost": "true", "mean": "trend"})
    assert got == {"with_cost": True, "mean": "trend"}
    assert parse_predictor_options("mlp", {"hidden": "64", "lr": "0.05"}) == {
        "hidden": 64,
        "lr": 0.05,
    }


@pytest.mark.parametrize(
    "predictor, given, needle",
    [
        (
            "gp",
            {"meen": "trend"},
            "--predictor-option 'meen' is unknown for predictor gp; allowed:",
        ),
        ("gp", {"max_points": 3}, "max_points is set by --option gp_points"),
        ("gp", {"seed": 3}, "seed is set by --seed"),
        ("gp", {"with_cost": "maybe"}, "with_cost='maybe' for predictor gp is not allowed"),
        ("gp", {"mean": "foo"}, "gp mean 'foo' is not known; allowed: constant, trend"),
        ("xgb", {"encoding": "bits"}, "xgb encoding 'bits' is unknown"),
        ("mlp", {"hidden": -4}, "hidden=-4 for predictor mlp is not allowed"),
    ],
)
def test_bad_predictor_options_are_one_line_errors(predictor, given, needle):
    with pytest.raises(HwnasError) as err:
        SearchConfig(flops="600M", predictor=predictor, predictor_options=given)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_predictor_options_for_a_search_that_fits_no_predictor_are_an_error():
    with pytest.raises(
        HwnasError, match="--predictor-option mean=trend is not used by this search"
    ):
        SearchConfig(flops="600M", algorithm="random", predictor_options={"mean": "trend"})


def _run(out, **kw):
    oracle = SyntheticOracle(SPACE)
    cfg = SearchConfig(flops="600M", queries=30, seed=3, out=str(out), **kw)
    run_search(cfg, oracle=oracle)
    with EvalStore(str(out / "evals.sqlite")) as store:
        return [row["arch_id"] for row in store.rows(oracle.key)]


def test_a_predictor_option_changes_the_run_is_recorded_and_kept_on_resume(tmp_path):
    trend = _run(tmp_path / "trend", predictor_options={"mean": "trend"})
    default = _run(tmp_path / "default")
    assert trend[:20] == default[:20] and trend[20:] != default[20:]  # same start, other picks
    doc = yaml.safe_load((tmp_path / "trend" / "run.yaml").read_text())
    assert doc["settings"]["predictor_options"] == {"mean": "trend"}
    assert resume_config(tmp_path / "trend", {"queries": 40}).predictor_options == {"mean": "trend"}
    with pytest.raises(HwnasError) as err:
        resume_config(tmp_path / "trend", {"predictor_options": {"mean": "constant"}})
    assert "--predictor-option mean=constant conflicts with the run's mean=trend" in str(err.value)


def test_cli_flags_and_a_config_file_merge_per_predictor(tmp_path):
    conf = tmp_path / "search.yaml"
    conf.write_text(yaml.safe_dump({"flops": 6e8, "predictor_options": {"mean": "trend"}}))

    def config(*flags):
        return config_from_args(build_parser("search").parse_args(["search", *flags]))

    assert config("--config", str(conf)).predictor_options == {"mean": "trend"}
    both = config("--config", str(conf), "--predictor-option", "with_cost=true")
    assert both.predictor_options == {"mean": "trend", "with_cost": True}
    # another predictor: the config's keywords were its own predictor's
    assert config("--config", str(conf), "--predictor", "xgb").predictor_options == {}
