"""Search: WeakNAS and baselines under FLOPs/params/latency budgets (see ``run_search``)."""

from .algorithms import ALGORITHMS
from .config import SearchConfig
from .problem import Problem
from .run import resume_config, run_search

__all__ = ["SearchConfig", "Problem", "run_search", "resume_config", "ALGORITHMS"]
