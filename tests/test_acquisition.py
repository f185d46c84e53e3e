"""Acquisition functions: log expected improvement against exact arithmetic, and the option in a
search."""

import numpy as np
import pytest

from hwnas import get_space
from hwnas.errors import HwnasError
from hwnas.search import SearchConfig, run_search
from hwnas.search.acquisition import log_expected_improvement, scorer
from predictors.store import EvalStore

from .search_helpers import SyntheticOracle

SPACE = get_space(1.2)


def _exact_log_ei(z: float, sd: float) -> float:
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 60
    z = mp.mpf(z)
    phi = mp.exp(-z * z / 2) / mp.sqrt(2 * mp.pi)
    return float(mp.log(sd * (z * mp.ncdf(z) + phi)))


@pytest.mark.parametrize(
    "z", [4.0, 0.5, 0.0, -1.0, -2.99, -3.01, -8.0, -25.0, -39.9, -40.1, -300.0]
)
def test_log_ei_matches_exact_arithmetic_far_below_the_best(z):
    sd, best = 0.004, 0.85
    got = log_expected_improvement(np.array([best + z * sd]), np.array([sd]), best)[0]
    # beyond 40 sd below the best the log uses the series' first term: 3 / z^2 relative
    tol = 1e-9 if z > -40 else 3 / z**2
    assert np.isfinite(got) and abs(got - _exact_log_ei(z, sd)) < tol


def test_log_ei_orders_by_mean_and_by_sd_below_the_best():
    best = 0.85
    means = np.array([0.70, 0.80, 0.84, 0.85, 0.86])
    ei = log_expected_improvement(means, np.full(5, 0.002), best)
    assert np.all(np.diff(ei) > 0)  # plain EI would score the first two exactly 0
    sds = np.array([0.001, 0.002, 0.01])
    ei = log_expected_improvement(np.full(3, 0.83), sds, best)
    assert np.all(np.diff(ei) > 0)  # below the best, more doubt is more hope


def test_scorer_ucb_is_mean_plus_kappa_sd_and_ei_needs_no_kappa():
    mean, sd = np.array([0.80, 0.82]), np.array([0.01, 0.0])
    np.testing.assert_array_equal(scorer("ucb", 2.0, 0.9)(mean, sd), mean + 2.0 * sd)
    ei = scorer("ei", 2.0, 0.81)(mean, sd)
    assert ei[1] == pytest.approx(np.log(0.01), abs=1e-9)  # sd 0 at 0.82: 0.01 above 0.81
    assert ei[0] == pytest.approx(_exact_log_ei(-1.0, 0.01), abs=1e-9)  # 0.80 +- 0.01: less
    np.testing.assert_array_equal(ei, scorer("ei", 7.0, 0.81)(mean, sd))


def _history(options) -> list:
    """The arch ids a 45-query search under 600M measured, in order."""
    oracle = SyntheticOracle(SPACE)
    cfg = SearchConfig(flops="600M", queries=45, seed=1, options=options)
    with EvalStore(":memory:") as store:
        run_search(cfg, oracle=oracle, store=store, progress=False)
        return [row["arch_id"] for row in store.rows(oracle.key)]


def test_expected_improvement_in_a_search_is_deterministic_and_changes_the_batches():
    ei = {"acquisition": "ei", "trust_region": True}
    a, b = _history(ei), _history(ei)
    ucb = _history({"trust_region": True})
    assert len(a) == len(ucb) == 45 and a == b
    assert a[:20] == ucb[:20]  # the same first design
    assert a[20:] != ucb[20:]  # then other picks


def test_a_run_yaml_from_before_the_option_resumes_as_ucb(tmp_path):
    """Runs started before ``acquisition`` existed stored no such key: they resume unchanged."""
    import yaml

    from hwnas.search import resume_config

    out = tmp_path / "old"
    cfg = SearchConfig(flops="600M", queries=30, seed=2, out=str(out))
    run_search(cfg, oracle=SyntheticOracle(SPACE))
    doc = yaml.safe_load((out / "run.yaml").read_text())
    assert doc["settings"]["options"].pop("acquisition") == "ucb"
    (out / "run.yaml").write_text(yaml.safe_dump(doc))
    more = run_search(
        resume_config(out, {"queries": 40}), oracle=SyntheticOracle(SPACE), resume=True
    )
    fresh = SearchConfig(flops="600M", queries=40, seed=2, out=str(tmp_path / "fresh"))
    assert more["best"] == run_search(fresh, oracle=SyntheticOracle(SPACE))["best"]
    with pytest.raises(HwnasError, match="acquisition"):  # a changed option is refused
        resume_config(out, {"options": {"acquisition": "ei"}})
