"""The tables of weak predictors and oracles: name -> lazily imported class and a one-line summary.

Light on purpose (imports only :mod:`hwnas.registry`): the CLI builds its choices and help from
these tables without importing torch or xgboost, and no member is imported until it is made (or,
for an oracle, asked which settings it reads: :func:`oracle_reads`; those modules import neither).
Adding a member is one new module plus one line here.
"""

from __future__ import annotations

from hwnas.registry import Registry

PREDICTORS = Registry(
    "predictor",
    [
        (
            "linear",
            "predictors.linear:LinearPredictor",
            "ridge regression on gene one-hots plus stage-depth x resolution; closed form, "
            "milliseconds",
        ),
        (
            "linear-bayes",
            "predictors.linear_bayes:BayesLinearPredictor",
            "linear + predictive spread",
        ),
        (
            "xgb",
            "predictors.xgb:XGBPredictor",
            "XGBoost gbtree, depth 2, 300 rounds, on genes and cost features",
        ),
        (
            "xgb-paper",
            "predictors.xgb:XGBPredictor.paper",
            "the WeakNAS paper's XGBoost: gbtree, depth 20, 1000 rounds",
        ),
        (
            "mlp",
            "predictors.mlp:MLPPredictor",
            "torch CPU regressor 138 -> 128 -> 128 -> 1, strong L2, full batch",
        ),
        (
            "ensemble",
            "predictors.ensemble:EnsemblePredictor",
            "3 xgb + 1 mlp; predict_dist gives their mean and spread",
        ),
        (
            "gp",
            "predictors.gp:GPPredictor",
            "Gaussian process on gene one-hots, hyperparameters by marginal likelihood; mean and "
            "sd",
        ),
    ],
)

ORACLES = Registry(
    "oracle",
    [
        (
            "ofa-mlp",
            "predictors.ofa_mlp:OfaMlpOracle",
            "OFA's published ImageNet accuracy predictor (w1.2 only)",
        ),
        (
            "supernet",
            "predictors.supernet:SupernetOracle",
            "the real thing: subnet of an OFA checkpoint, BN recalibrated, top-1 on held-out "
            "images",
        ),
        ("table", "predictors.table:TableOracle", "a CSV of accuracies measured elsewhere"),
        (
            "surrogate",
            "predictors.surrogate:SurrogateOracle",
            "table + a predictor for unlisted archs",
        ),
        (
            "zerocost",
            "predictors.zerocost:ZeroCostOracle",
            "a training-free proxy (not an accuracy)",
        ),
    ],
)

AUTO = "auto"
ORACLE_CHOICES = (AUTO, *ORACLES.names())  # what --oracle accepts: `auto` resolves to a member
AUTO_STANDS_FOR = ("ofa-mlp", "zerocost")  # what `auto` may resolve to: predictors.resolve_auto
SETTING_DEFAULTS = {"device": "cpu"}  # an oracle setting at its default is not "set"


def oracle_reads(name: str) -> frozenset:
    """The oracle settings (:func:`predictors.make_oracle`'s keywords) that oracle ``name`` reads:
    its class's ``reads``; for ``auto``, those of every oracle it may stand for. Imports the
    classes, which import neither torch nor xgboost."""
    names = AUTO_STANDS_FOR if name == AUTO else (ORACLES.check(name),)
    return frozenset(s for n in names for s in ORACLES.load(n).reads)


def oracles_reading(setting: str) -> tuple[str, ...]:
    """The oracles (table order, ``auto`` left out) that read the oracle setting ``setting``."""
    return tuple(n for n in ORACLES.names() if setting in ORACLES.load(n).reads)
