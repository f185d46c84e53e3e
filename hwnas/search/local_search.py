"""``local-search``: single-gene hill climbing, a baseline the issue 12 text measured.

Start from the best of ``n_init`` random feasible subnets; each round measures up to ``batch``
unmeasured feasible neighbours (one kernel size, expand ratio, depth or the resolution changed),
drawn in random order, and moves to the best of them if it beats the current subnet. Once every
neighbour is measured without a gain (a local optimum) it restarts from ``n_init`` fresh subnets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .algorithm import Options, StepAlgorithm
from .inner import neighbours


@dataclass(frozen=True)
class LocalSearchOptions(Options):
    """``n_init`` subnets per (re)start, ``batch`` neighbours per round."""

    n_init: int = 10
    batch: int = 8
    stall: int | None = 100  # rounds in a row that measure nothing (a tiny pool fully measured)


class LocalSearch(StepAlgorithm):
    """Hill climbing with restarts; see the module docstring."""

    Options = LocalSearchOptions

    def steps(self):
        """Restart, then climb until no unmeasured neighbour is left."""
        q, rng, problem, o = self.archive, self.rng, self.problem, self.options
        while True:
            start = problem.sample_feasible(o.n_init, rng, tilt=False)
            acc = np.nan_to_num((yield start), nan=-1.0)
            x, fx = start[int(np.argmax(acc))], float(acc.max())
            self._phase = "climb"
            while True:
                nb = problem.snap(neighbours(x[None, :], problem.space))
                fresh = problem.feasible(nb) & ~q.measured_mask(nb) & (nb != x).any(axis=1)
                nb = np.unique(nb[fresh], axis=0)
                if not len(nb):
                    break  # a local optimum: restart
                nb = nb[rng.permutation(len(nb))[: o.batch]]
                acc = np.nan_to_num((yield nb), nan=-1.0)
                if acc.max() > fx:
                    x, fx = nb[int(np.argmax(acc))], float(acc.max())
            self._phase = "restart"
