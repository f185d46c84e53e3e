"""``ALGORITHMS``: the table of search algorithms (``--algorithm``). Light: nothing is imported
until :meth:`~hwnas.registry.Registry.load`. Each target is an
:class:`~hwnas.search.algorithm.Algorithm` subclass with its ``Options``."""

from __future__ import annotations

from ..registry import Registry

ALGORITHMS = Registry(
    "algorithm",
    [
        (
            "weaknas",
            "hwnas.search.weaknas:WeakNAS",
            "GP predictor, inner evolution on its UCB, GP-BUCB batches (default)",
        ),
        (
            "weaknas-pool",
            "hwnas.search.weaknas:WeakNASPool",
            "the paper's WeakNAS: XGBoost top-N of a fixed random pool",
        ),
        (
            "random",
            "hwnas.search.baselines:RandomSearch",
            "uniform random subnets within the budgets",
        ),
        (
            "evolution",
            "hwnas.search.baselines:OFAEvolution",
            "OFA's own EvolutionFinder, stopped at the budget",
        ),
        (
            "regularized",
            "hwnas.search.baselines:RegularizedEvolution",
            "regularized (aging) evolution, Real et al. 2019",
        ),
        ("nsga2", "hwnas.search.baselines:NSGA2", "pymoo's NSGA-II directly on the oracle"),
        (
            "optuna-tpe",
            "hwnas.search.optuna_tpe:OptunaTPE",
            "Optuna's TPE sampler (pip install hwnas[optuna])",
        ),
        (
            "local-search",
            "hwnas.search.local_search:LocalSearch",
            "single-gene hill climbing from the best of a few random subnets, with restarts",
        ),
    ],
)
