"""Search: WeakNAS and baselines under FLOPs/params/latency budgets (see ``run_search``)."""

from .config import ALGORITHM_NAMES, SearchConfig
from .problem import Problem
from .run import ALGORITHMS, resume_config, run_search

__all__ = ["SearchConfig", "Problem", "run_search", "resume_config", "ALGORITHMS", "ALGORITHM_NAMES"]
