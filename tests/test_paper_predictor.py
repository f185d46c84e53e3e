"""``weaknas-pool``'s predictor is the WeakNAS paper's: raw gene values, its XGBoost settings."""

import numpy as np

from hwnas import get_space
from hwnas.arch import sample
from predictors import make_predictor
from predictors.xgb import XGBPredictor

SPACE = get_space(1.2)


def test_paper_predictor_features_and_settings():
    X = sample(200, np.random.default_rng(0), SPACE.resolutions)
    p = make_predictor("xgb-paper", seed=0, space=SPACE)
    assert p.encoding == "genes" and not p.with_cost
    assert np.array_equal(p._features(X), X.astype(np.float32))  # the 46 genes as they are
    settings = (p.params["max_depth"], p.params["n_estimators"], p.params["learning_rate"])
    assert settings == (20, 1000, 0.3)
    y = 0.7 + 0.01 * (X[:, :20] == 7).sum(axis=1) + 0.02 * (X[:, -1] == 224)
    pred = p.fit(X[:150], y[:150]).predict(X[150:])
    assert np.corrcoef(pred, y[150:])[0, 1] > 0.5  # it learns from raw genes
    default = XGBPredictor(seed=0, space=SPACE)
    assert default.encoding == "onehot" and default._features(X).shape == (200, 138)
