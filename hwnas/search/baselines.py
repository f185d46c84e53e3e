"""Baselines, run with the same oracle and the same query budget as WeakNAS.

- ``random``: uniform random subnets within the budgets.
- ``evolution``: OFA's own tutorial ``EvolutionFinder`` (the ``ofa`` package's code, its defaults:
  population 100, 500 generations, parents 25%, mutation 50%, mutate prob 0.1), stopped at the
  budget.
- ``regularized``: regularized (aging) evolution, Real et al. 2019 (population 50, tournament 10).
- ``nsga2``: pymoo's NSGA-II directly on the oracle (population 50; constraints as inequalities).

With ``--pool`` every proposal is snapped to its nearest pool member (``Problem.snap``) before it is
measured; OFA's finder keeps its own population, whose members are answered for their snapped archs.
"""

from __future__ import annotations

import contextlib
import io
import random
from dataclasses import dataclass

import numpy as np

from ..arch import Arch, canonicalize, mutate
from ..ofa_compat import ofa_evolution_finder_class
from ..space import DEPTHS, EXPAND_RATIOS, KERNEL_SIZES, N_BLOCKS, N_STAGES
from .algorithm import Loop, Options, StepAlgorithm
from .queries import BudgetExhausted


@dataclass(frozen=True)
class RandomOptions(Options):
    """Options of ``random``: ``chunk`` archs are proposed per ask."""

    chunk: int = 100  # archs per ask


class RandomSearch(StepAlgorithm):
    """``random``: uniform random feasible subnets, drawn once for the budget and asked in
    chunks."""

    Options = RandomOptions

    def steps(self):
        """Yield the budget's worth of random feasible archs, ``chunk`` at a time."""
        X = self.problem.sample_feasible(self.archive.budget, self.rng, tilt=False)
        for start in range(0, len(X), self.options.chunk):
            yield X[start : start + self.options.chunk]


def _budget_ratio(problem, X):
    """max over budgets of cost / budget: <= 1 means feasible (one number for OFA's single
    constraint)."""
    costs = problem.costs(X)
    ratio = np.zeros(len(X))
    for key, limit, scale in (
        ("mflops", problem.flops, 1e6),
        ("params_m", problem.params, 1e6),
        ("latency_ms", problem.latency_ms, 1.0),
    ):
        if limit is not None:
            ratio = np.maximum(ratio, costs[key] * scale / limit)
    return ratio


def _row(sample) -> np.ndarray:
    r = sample["r"][0] if isinstance(sample["r"], list) else sample["r"]
    return Arch(ks=sample["ks"], e=sample["e"], d=sample["d"], r=r).to_array()


class _OFAEfficiency:
    def __init__(self, problem):
        self.problem = problem

    def predict_efficiency(self, sample):
        return float(_budget_ratio(self.problem, _row(sample)[None, :])[0])


class _OFAAccuracy:
    def __init__(self, measure, archive):
        self.measure, self.archive = measure, archive

    def predict_accuracy(self, samples):
        acc = self.measure(np.stack([_row(s) for s in samples]))
        if np.isnan(acc).any() and self.archive.exhausted:
            raise BudgetExhausted
        return [_Item(0.0 if np.isnan(a) else a) for a in acc]


class _Item(float):
    def item(self):
        return float(self)


@dataclass(frozen=True)
class EvolutionOptions(Options):
    """OFA's tutorial defaults; ``generations`` is the finder's ``max_time_budget``."""

    population: int = 100
    generations: int = 500
    parent_ratio: float = 0.25
    mutation_ratio: float = 0.5
    mutate_prob: float = 0.1


class OFAEvolution(Loop):
    """OFA's own ``EvolutionFinder`` drives; each of its accuracy calls is one measurement."""

    Options = EvolutionOptions

    def run(self, measure):
        """Run OFA's EvolutionFinder under our budgets (its seed from ours); each accuracy through
        ``measure``."""
        o, problem = self.options, self.problem
        finder_cls = ofa_evolution_finder_class()
        # The finder checks its constraint against a fixed range and asks on stdin if outside it; it
        # is built with an in-range value and then given our normalised constraint (cost / budget <=
        # 1).
        finder = finder_cls(
            "flops",
            600,
            _OFAEfficiency(problem),
            _OFAAccuracy(measure, self.archive),
            population_size=o.population,
            max_time_budget=o.generations,
            parent_ratio=o.parent_ratio,
            mutation_ratio=o.mutation_ratio,
            mutate_prob=o.mutate_prob,
        )
        finder.set_efficiency_constraint(1.0 if _has_budget(problem) else float("inf"))
        finder.arch_manager.resolutions = list(problem.space.resolutions)
        seed = int(self.rng.integers(2**31))
        py_state, np_state = random.getstate(), np.random.get_state()
        random.seed(seed)
        np.random.seed(seed)
        quiet = (
            contextlib.redirect_stderr(io.StringIO())
            if not self.progress
            else contextlib.nullcontext()
        )
        try:
            with quiet:
                finder.run_evolution_search()
        except BudgetExhausted:
            pass
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


def _has_budget(problem):
    return any(v is not None for v in (problem.flops, problem.params, problem.latency_ms))


@dataclass(frozen=True)
class RegularizedOptions(Options):
    """Options of ``regularized``: population, tournament size, per-gene mutation probability,
    mutants drawn per round."""

    population: int = 50
    tournament: int = 10
    mutate_prob: float = 0.1
    children: int = 32  # mutants drawn per round; the first new feasible one is measured
    stall: int | None = 1000


class RegularizedEvolution(StepAlgorithm):
    """``regularized``: aging evolution (Real et al. 2019); a tournament picks the parent, the
    oldest member dies."""

    Options = RegularizedOptions

    def steps(self):
        """Yield the first population, then one new feasible mutant per round."""
        q, rng, problem, o = self.archive, self.rng, self.problem, self.options
        pop = problem.sample_feasible(min(o.population, q.budget), rng, tilt=False)
        pop_acc = list((yield pop))
        pop = list(pop)
        self._phase = "evolve"
        while True:
            contenders = rng.choice(len(pop), size=min(o.tournament, len(pop)), replace=False)
            parent = pop[max(contenders, key=lambda i: np.nan_to_num(pop_acc[i], nan=-1.0))]
            kids = mutate(
                np.repeat(parent[None, :], o.children, axis=0),
                rng,
                o.mutate_prob,
                problem.space.resolutions,
            )
            kids = problem.snap(kids)  # with --pool: the nearest members (no pool: unchanged)
            kids = kids[
                problem.feasible(kids) & ~q.measured_mask(kids) & (kids != parent).any(axis=1)
            ]
            if len(kids) == 0:
                yield kids  # a round that measures nothing: counts towards the stall limit
                continue
            child = kids[0]
            pop.append(child)
            pop_acc.append(float((yield child[None, :])[0]))
            pop.pop(0)  # aging: the oldest dies, not the worst
            pop_acc.pop(0)


@dataclass(frozen=True)
class NSGA2Options(Options):
    """Options of ``nsga2``: ``pop_size``, the population of each generation."""

    pop_size: int = 50
    stall: int | None = 200  # a converged population may only re-propose measured archs


class NSGA2(StepAlgorithm):
    """``nsga2``: pymoo's NSGA-II directly on the oracle (accuracy, and the cost when there are two
    objectives)."""

    Options = NSGA2Options

    def steps(self):
        """Yield each NSGA-II generation's archs; each yield returns their accuracies."""
        return _nsga2_steps(self.problem, self.rng, self.options.pop_size)


def _nsga2_steps(problem, rng, pop_size):
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.evaluator import Evaluator
    from pymoo.core.problem import Problem as PymooProblem
    from pymoo.core.termination import NoTermination
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.mutation.pm import PM
    from pymoo.operators.repair.rounding import RoundingRepair
    from pymoo.operators.sampling.rnd import IntegerRandomSampling
    from pymoo.problems.static import StaticProblem

    values = (
        [KERNEL_SIZES] * N_BLOCKS
        + [EXPAND_RATIOS] * N_BLOCKS
        + [DEPTHS] * N_STAGES
        + [problem.space.resolutions]
    )
    xu = np.array([len(v) - 1 for v in values])
    lookup = [np.asarray(v) for v in values]
    n_obj = 2 if problem.multi_objective else 1
    n_constr = max(
        1, sum(v is not None for v in (problem.flops, problem.params, problem.latency_ms))
    )
    pp = PymooProblem(n_var=len(values), n_obj=n_obj, n_ieq_constr=n_constr, xl=0, xu=xu, vtype=int)
    algorithm = NSGA2(
        pop_size=pop_size,
        sampling=IntegerRandomSampling(),
        crossover=SBX(prob=0.9, eta=15, vtype=float, repair=RoundingRepair()),
        mutation=PM(eta=20, vtype=float, repair=RoundingRepair()),
        eliminate_duplicates=True,
    )
    algorithm.setup(pp, termination=NoTermination(), seed=int(rng.integers(2**31)), verbose=False)

    while True:
        pop = algorithm.ask()
        V = np.clip(np.rint(pop.get("X")).astype(np.int64), 0, xu)
        rows = canonicalize(np.column_stack([lookup[j][V[:, j]] for j in range(len(values))]))
        # the population walks inside the pool: it takes the snapped genes
        if problem.pool is not None:
            rows = problem.snap(rows)
            pop.set(
                "X",
                np.column_stack(
                    [np.searchsorted(lookup[j], rows[:, j]) for j in range(len(values))]
                ),
            )
        costs = problem.costs(rows)
        feas = problem.feasible(rows, costs)
        acc = np.zeros(len(rows))
        answer = yield rows[feas]
        if feas.any():
            acc[feas] = np.nan_to_num(answer, nan=0.0)
        F = -acc[:, None] if n_obj == 1 else np.column_stack([-acc, costs[problem.cost_key]])
        G = _constraint_matrix(problem, costs, n_constr)
        Evaluator().eval(StaticProblem(pp, F=F, G=G), pop)
        algorithm.tell(infills=pop)


def _constraint_matrix(problem, costs, n_constr):
    cols = []
    for key, limit, scale in (
        ("mflops", problem.flops, 1e6),
        ("params_m", problem.params, 1e6),
        ("latency_ms", problem.latency_ms, 1.0),
    ):
        if limit is not None:
            cols.append(costs[key] * scale / limit - 1.0)
    if not cols:
        cols = [np.full(len(costs["mflops"]), -1.0)]
    return np.column_stack(cols)[:, :n_constr]
