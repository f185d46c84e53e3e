"""``optuna-tpe``: Optuna's TPE sampler as a baseline, set up the way an Optuna user would.

Ask/tell with ``TPESampler(seed=...)`` at its defaults and a define-by-run space: the five depths,
the resolution, then the kernel size and expand ratio of each *active* block only, all categorical.
Budgets are handled with Optuna's own constraint mechanism (``Trial.set_constraint``, Optuna 5;
violation = max over budgets of cost / budget - 1): an infeasible proposal is told to the study
with accuracy 0 and its violation, and is never measured, so only feasible trials spend oracle
queries. A proposal this run already measured is told its stored accuracy without a new query.
Multi-objective mode (``--objectives acc,COST``) uses the same sampler with two directions
(maximise accuracy, minimise the cost). With ``--pool`` a proposal is measured as its nearest
pool member (``Problem.snap``).

Optuna is an optional extra (``pip install hwnas[optuna]``), not a core dependency.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arch import canonicalize
from ..errors import HwnasError
from ..space import (
    D_COLS,
    DEPTHS,
    E_COLS,
    EXPAND_RATIOS,
    KERNEL_SIZES,
    KS_COLS,
    MAX_DEPTH,
    N_GENES,
    N_STAGES,
    R_COL,
)
from .algorithm import Options, StepAlgorithm


def require_optuna():
    """The ``optuna`` module, or a one-line error naming the extra that installs it."""
    try:
        import optuna
    except ImportError:
        raise HwnasError(
            "algorithm optuna-tpe needs Optuna, an optional extra: "
            "pip install hwnas[optuna] (or pip install 'optuna>=5')"
        ) from None
    if not hasattr(optuna.trial.Trial, "set_constraint"):
        raise HwnasError(
            f"algorithm optuna-tpe needs Optuna >= 5 (Trial.set_constraint); found "
            f"{optuna.__version__}: pip install -U 'optuna>=5'"
        )
    return optuna


def _suggest(trial, resolutions) -> np.ndarray:
    row = np.empty(N_GENES, dtype=np.int64)
    row[KS_COLS], row[E_COLS] = KERNEL_SIZES[0], EXPAND_RATIOS[0]
    for s in range(N_STAGES):
        row[D_COLS.start + s] = trial.suggest_categorical(f"d{s}", list(DEPTHS))
    row[R_COL] = trial.suggest_categorical("r", list(resolutions))
    for s in range(N_STAGES):
        for pos in range(int(row[D_COLS.start + s])):
            b = s * MAX_DEPTH + pos
            row[KS_COLS.start + b] = trial.suggest_categorical(f"ks{b}", list(KERNEL_SIZES))
            row[E_COLS.start + b] = trial.suggest_categorical(f"e{b}", list(EXPAND_RATIOS))
    return canonicalize(row[None, :])[0]


def _violation(problem, row) -> float:
    costs = problem.costs(row[None, :])
    worst = -1.0
    for key, limit, scale in (
        ("mflops", problem.flops, 1e6),
        ("params_m", problem.params, 1e6),
        ("latency_ms", problem.latency_ms, 1.0),
    ):
        if limit is not None:
            worst = max(worst, float(costs[key][0]) * scale / limit - 1.0)
    return worst


@dataclass(frozen=True)
class OptunaTPEOptions(Options):
    """Options of ``optuna-tpe``: ``stall``, trials in a row that measure nothing new before it
    stops (a tiny pool fully measured)."""

    stall: int | None = 5000


class OptunaTPE(StepAlgorithm):
    """One trial per ask/tell round; an infeasible trial is told without a measurement."""

    Options = OptunaTPEOptions

    @classmethod
    def require(cls) -> None:
        """Raise HwnasError if optuna is not installed (``pip install hwnas[optuna]``)."""
        require_optuna()

    def steps(self):
        """Ask Optuna's TPE sampler one trial at a time: yield its arch, tell it the accuracy (and
        the cost)."""
        optuna = require_optuna()
        problem = self.problem
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = optuna.samplers.TPESampler(seed=int(self.rng.integers(2**31)))
        directions = ["maximize", "minimize"] if problem.multi_objective else ["maximize"]
        study = optuna.create_study(directions=directions, sampler=sampler)
        while True:
            trial = study.ask()
            # no pool: as is
            row = problem.snap(_suggest(trial, problem.space.resolutions)[None, :])
            violation = _violation(problem, row[0])
            trial.set_constraint("budget", violation)
            answer = yield (row if violation <= 0 else row[:0])
            acc = float(answer[0]) if violation <= 0 else 0.0
            acc = 0.0 if np.isnan(acc) else acc
            if problem.multi_objective:
                study.tell(trial, [acc, float(problem.costs(row)[problem.cost_key][0])])
            else:
                study.tell(trial, acc)
