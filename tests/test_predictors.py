"""Weak predictors and their features: correctness, determinism, from-scratch refits, speed."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import kendalltau

import predictors
from hwnas.arch import active_mask, sample
from hwnas.cost import macs_params
from hwnas.errors import HwnasError
from hwnas.space import get_space
from predictors.features import features
from predictors.registry import PREDICTORS

SPACE = get_space(1.2)


def _X(n, seed):
    return sample(n, np.random.default_rng(seed), SPACE.resolutions)


def _target(X):
    """A synthetic accuracy: log-MACs trend plus additive per-gene effects plus an interaction."""
    rng = np.random.default_rng(42)
    F = features(X, SPACE)
    w = rng.normal(0, 0.004, F.shape[1])
    macs = macs_params(SPACE, X)[0]
    return 0.6 + 0.05 * np.log(macs / 1e8) + F @ w + 0.01 * F[:, 0] * F[:, -1]


def test_features_layout():
    X = _X(500, 0)
    F = features(X, SPACE)
    assert F.dtype == np.float32 and F.shape == (500, 136)
    act = active_mask(X)
    ks, e, d = (
        F[:, :60].reshape(500, 20, 3),
        F[:, 60:120].reshape(500, 20, 3),
        F[:, 120:135].reshape(500, 5, 3),
    )
    np.testing.assert_array_equal(ks.sum(axis=2), act)  # one-hot on active blocks, zero on inactive
    np.testing.assert_array_equal(e.sum(axis=2), act)
    np.testing.assert_array_equal(np.array([3, 5, 7])[ks.argmax(axis=2)][act], X[:, :20][act])
    np.testing.assert_array_equal(np.array([2, 3, 4])[d.argmax(axis=2)], X[:, 40:45])
    np.testing.assert_allclose(F[:, 135], (X[:, 45] - 128) / 96, rtol=1e-6)
    Fc = features(X, SPACE, with_cost=True)
    assert Fc.shape == (500, 138)
    macs, params = macs_params(SPACE, X)
    np.testing.assert_allclose(Fc[:, 136], np.log10(macs), rtol=1e-6)
    np.testing.assert_allclose(Fc[:, 137], np.log10(params), rtol=1e-6)


@pytest.mark.parametrize("name", PREDICTORS.names())
def test_predictor_learns_deterministic_and_refits_from_scratch(name):
    Xa, Xb, Xt = _X(200, 1), _X(200, 2), _X(500, 3)
    ya, yb, yt = _target(Xa), _target(Xb), _target(Xt)
    p = predictors.make_predictor(name, seed=3)
    pred = p.fit(Xb, yb).predict(Xt)
    assert pred.dtype == np.float64 and pred.shape == (500,)
    assert kendalltau(pred, yt)[0] > 0.4  # it learned the ranking (chance: 0)
    q = predictors.make_predictor(name, seed=3)
    np.testing.assert_array_equal(q.fit(Xb, yb).predict(Xt), pred)  # deterministic for a seed
    r = predictors.make_predictor(name, seed=3).fit(Xa, ya).fit(Xb, yb)  # fit trains from scratch
    np.testing.assert_allclose(r.predict(Xt), pred, rtol=0, atol=1e-12)
    mean, spread = p.predict_dist(Xt)
    np.testing.assert_allclose(mean, pred, atol=1e-12)
    if p.gives_spread:
        assert (spread > 0).all() and spread.mean() < 0.5 * yt.std()
    else:
        assert (spread == 0).all()


def test_gp_batch_spends_no_query_on_a_duplicate():
    X, Xt = _X(200, 6), _X(300, 7)
    gp = predictors.make_predictor("gp").fit(X, _target(X))
    mean, sd = gp.predict_dist(Xt)
    ucb = mean + 100.0 * sd
    top = int(np.argmax(ucb))
    np.testing.assert_array_equal(gp.select_batch(Xt, 100.0, 1), [top])
    C = np.concatenate([Xt, Xt[top : top + 1]])  # the best row twice: its copy adds nothing
    batch = gp.select_batch(C, 100.0, 5)
    copies = {top, len(C) - 1}
    assert batch[0] in copies and len(copies & set(batch.tolist())) == 1
    assert len(set(batch.tolist())) == 5
    _, sd_train = gp.predict_dist(X)
    assert sd_train.mean() < 0.6 * sd.mean()  # measured archs are known better than unmeasured ones


def test_cost_features_and_space_argument():
    X, Xt = _X(200, 4), _X(300, 5)
    p = predictors.make_predictor("xgb", seed=0, with_cost=True, space=get_space(1.0))
    pred = p.fit(X, _target(X)).predict(Xt)
    assert pred.shape == (300,) and np.isfinite(pred).all()


def test_gp_reads_cost_features_when_asked():
    X, Xt = _X(60, 4), _X(500, 5)
    y, yt = (0.6 + 0.05 * np.log(macs_params(SPACE, A)[0] / 1e8) for A in (X, Xt))
    plain, costed = (predictors.make_predictor("gp", with_cost=c).fit(X, y) for c in (False, True))
    F = costed._features(Xt)
    assert F.shape == (500, 138) and plain._features(Xt).shape == (500, 136)
    assert 0.0 <= F[:, 136:].min() and F[:, 136:].max() <= 2.0  # scaled over the whole space
    # a target that is MACs alone: the cost columns make it easier, so it ranks better
    tau = [kendalltau(p.predict(Xt), yt)[0] for p in (plain, costed)]
    assert tau[1] > tau[0] + 0.02, tau


def test_trend_recovers_a_capacity_law_exactly_and_carries_it_to_unmeasured_sizes():
    from predictors.trend import Trend, trend_features

    w = np.array([0.01, 0.03, 0.02, 0.015, 0.005, 0.04, 0.5])  # 5 stages, resolution, constant
    small = _X(400, 8)
    small = small[macs_params(SPACE, small)[0] < 350e6][:60]
    big = _X(3000, 9)
    big = big[macs_params(SPACE, big)[0] > 450e6][:100]
    assert len(small) == 60 and len(big) == 100
    F = trend_features(SPACE, big)
    assert F.shape == (100, 7) and (F[:, 6] == 1).all() and (F[:, 5] == big[:, 45] / 224).all()
    per_block = macs_params(SPACE, big)[0] - macs_params(SPACE, _smallest_like(big))[0]
    np.testing.assert_allclose(  # stage MACs (100M) add up to what the elastic blocks cost
        F[:, :5].sum(1) - trend_features(SPACE, _smallest_like(big))[:, :5].sum(1),
        per_block / 1e8,
        rtol=1e-9,
    )
    trend = Trend(SPACE).fit(small, trend_features(SPACE, small) @ w)
    np.testing.assert_allclose(trend.predict(big), F @ w, atol=2e-3)


def _smallest_like(X):
    from hwnas.arch import Arch

    return np.stack([Arch.smallest(int(r)).to_array() for r in X[:, 45]])


def test_gp_trend_mean_rates_bigger_nets_where_a_constant_mean_reverts_to_the_average():
    from predictors.trend import trend_features

    X = _X(600, 10)
    X = X[macs_params(SPACE, X)[0] < 300e6][:80]  # measured: small nets only
    Xt = _X(3000, 11)
    Xt = Xt[macs_params(SPACE, Xt)[0] > 450e6][:100]
    assert len(X) == 80 and len(Xt) == 100
    w = np.array([0.004, 0.01, 0.008, 0.006, 0.002, 0.03, 0.6])
    y, yt = (trend_features(SPACE, A) @ w + 0.003 * np.sin(A[:, 20]) for A in (X, Xt))
    err = {
        m: np.abs(predictors.make_predictor("gp", mean=m).fit(X, y).predict(Xt) - yt).mean()
        for m in ("trend", "constant")
    }
    assert err["trend"] < 0.25 * err["constant"], err
    with pytest.raises(HwnasError, match="gp mean 'linear' is not known; allowed: constant, trend"):
        predictors.make_predictor("gp", mean="linear")


def test_errors():
    with pytest.raises(HwnasError, match="allowed: " + ", ".join(PREDICTORS.names())):
        predictors.make_predictor("forest")
    with pytest.raises(HwnasError, match="not fitted"):
        predictors.make_predictor("xgb").predict(_X(2, 0))
    with pytest.raises(HwnasError, match="unknown"):
        predictors.make_predictor("xgb", depth=3)
