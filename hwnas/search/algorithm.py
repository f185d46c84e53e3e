"""The search-algorithm contract: ``Options``, one stopping rule (``Stop``), ask/tell ``Algorithm``.

pymoo's model: an algorithm is set up once, then ``ask()`` returns archs to measure and ``tell()``
gets their accuracies, until the shared stopping rule says done. ``run_search`` owns the query
budget, the progress bar and storage; an algorithm only proposes. A third-party loop that must call
us (OFA's ``EvolutionFinder``) is wrapped as a :class:`Loop` instead. Most algorithms here are
written as one generator (:class:`StepAlgorithm`): ``acc = yield X`` is one ask/tell round, so each
draws from its seeded RNG in exactly the order of a plain loop.
"""

from __future__ import annotations

import dataclasses
import typing
from abc import ABC, abstractmethod
from typing import Callable, ClassVar

import numpy as np

from ..errors import HwnasError, allowed

_CONVERT = {int: int, float: float, str: str}


@dataclasses.dataclass(frozen=True)
class Options:
    """Base of an algorithm's knobs: subclasses are frozen dataclasses with typed defaults.

    ``stall`` (``None``: no limit) stops a search after that many ask/tell rounds in a row that
    measured nothing new; it is read by :class:`Stop`, the same rule for every algorithm.
    """

    stall: int | None = None

    @classmethod
    def parse(cls, given: dict, algorithm: str = "this algorithm") -> "Options":
        """Options from ``given``: run.yaml values, or the strings of the CLI's ``--option k=v``.

        An unknown key, a value of the wrong type, or a negative number is an :class:`HwnasError`
        naming the key, the value and what is allowed.
        """
        hints = typing.get_type_hints(cls)
        names = [f.name for f in dataclasses.fields(cls)]
        values = {}
        for key, value in dict(given).items():
            if key not in names:
                raise HwnasError(
                    f"option {key!r} is unknown for {algorithm}; allowed: {allowed(names)}"
                )
            values[key] = convert_value(key, value, hints[key], algorithm)
        return cls(**values)

    def to_dict(self) -> dict:
        """Every option with its value (defaults included), as echoed into run.yaml."""
        return dataclasses.asdict(self)

    def idle(self, multi_objective: bool, pool: bool, predictor: str) -> dict:
        """``{key: what it needs}`` for the options set away from their defaults that a search
        with these objectives, ``--pool`` (given or not) and ``--predictor`` would not read (a
        config makes them an error)."""
        return {}

    def changed(self) -> list:
        """The keys whose value differs from the default."""
        default = type(self)()
        return [
            f.name
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != getattr(default, f.name)
        ]


def convert_value(key, value, hint, algorithm):
    """``value`` (a string from the CLI or a run.yaml value) as type ``hint``: bool, int, float,
    str, optional (``none``) or a ``Literal`` of names; else a one-line :class:`HwnasError` naming
    ``key``, the value, ``algorithm`` (who reads it) and what is allowed."""
    if typing.get_origin(hint) is typing.Literal:  # one of a few names
        names = typing.get_args(hint)
        if value not in names:
            raise HwnasError(
                f"option {key}={value!r} for {algorithm} is not allowed; allowed: {allowed(names)}"
            )
        return value
    kinds = typing.get_args(hint) or (hint,)
    optional = type(None) in kinds
    kind = next(k for k in kinds if k is not type(None))
    what = f"option {key}={value!r} for {algorithm} is not allowed; allowed: "
    want = {bool: "true or false", int: "an integer >= 0", float: "a number >= 0", str: "a string"}[
        kind
    ]
    want += " or none" if optional else ""
    if optional and (value is None or (isinstance(value, str) and value.lower() == "none")):
        return None
    if kind is bool:
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise HwnasError(what + want)
        return value
    if isinstance(value, bool):
        raise HwnasError(what + want)
    try:
        if isinstance(value, str):
            out = _CONVERT[kind](value)
        elif kind is float and isinstance(value, (int, float)):
            out = float(value)
        elif isinstance(value, kind):
            out = value
        else:
            raise ValueError
    except ValueError:
        raise HwnasError(what + want) from None
    if kind in (int, float) and not out >= 0:
        raise HwnasError(what + want)
    return out


class Stop:
    """One stopping rule for every algorithm: the query ``budget`` is spent, or ``stall`` rounds
    in a row measured nothing new (``None``: no stall limit)."""

    def __init__(self, budget: int, stall: int | None = None):
        self.budget, self.stall = int(budget), stall
        self.n, self.stalled = 0, 0

    def update(self, n_measured: int) -> None:
        """After each round: ``n_measured`` is the run's query count now."""
        self.stalled = self.stalled + 1 if n_measured == self.n else 0
        self.n = n_measured

    @property
    def done(self) -> bool:
        """The budget is spent or the stall limit reached."""
        return self.n >= self.budget or (self.stall is not None and self.stalled >= self.stall)


class Algorithm(ABC):
    """A search algorithm: ``setup`` once, then ``ask``/``tell`` rounds until :class:`Stop` is done.

    ``archive`` (a :class:`~hwnas.search.queries.Queries`) is read-only here: what this run has
    measured (``X()``, ``y()``, ``measured_mask``, ``n``, ``remaining``, ``exhausted``).
    """

    Options: ClassVar[type[Options]] = Options
    # whether ``--predictor`` picks this algorithm's weak predictor (another one set: an error)
    reads_predictor: ClassVar[bool] = False

    def setup(
        self,
        problem,
        rng: np.random.Generator,
        options: Options,
        make_predictor: Callable,
        archive,
        progress: bool = False,
    ) -> None:
        """Once, before the first ask: ``make_predictor(name=None)`` builds a fresh predictor
        (``--predictor`` by default); ``progress`` says a progress bar is shown."""
        self.problem, self.rng, self.options = problem, rng, options
        self.make_predictor, self.archive, self.progress = make_predictor, archive, progress
        self._phase = "init"

    @classmethod  # noqa: B027 - most algorithms need nothing optional
    def require(cls) -> None:
        """Raise :class:`HwnasError` if an optional dependency is missing (at config time)."""

    @abstractmethod
    def ask(self) -> np.ndarray | None:
        """(k, 46) archs to measure next (may be empty); ``None`` once the algorithm is done."""

    @abstractmethod
    def tell(self, X: np.ndarray, y: np.ndarray) -> None:
        """The accuracies of the archs of the last ``ask`` (NaN past the budget)."""

    def phase(self) -> str:
        """The phase the next asked archs are recorded under in history.csv."""
        return self._phase


class StepAlgorithm(Algorithm):
    """An algorithm written as one generator ``steps()``: ``y = yield X`` is one ask/tell round."""

    def setup(self, *args, **kwargs) -> None:  # noqa: D102 (Algorithm.setup)
        super().setup(*args, **kwargs)
        self._gen, self._y = self.steps(), None

    @abstractmethod
    def steps(self):
        """Yield arrays of archs to measure; each ``yield`` returns their accuracies."""

    def ask(self):  # noqa: D102 (Algorithm.ask)
        try:
            return next(self._gen) if self._y is None else self._gen.send(self._y)
        except StopIteration:
            return None

    def tell(self, X, y):  # noqa: D102 (Algorithm.tell)
        self._y = y


class Loop(Algorithm):
    """Adapter for a third-party loop that calls us: :meth:`run` gets ``measure(X) -> accuracies``
    and returns once the loop stops (it raises ``BudgetExhausted`` inside to stop at the budget)."""

    def ask(self):  # noqa: D102 (not asked)
        raise TypeError(f"{type(self).__name__} is a Loop: call run(measure)")

    def tell(self, X, y):  # noqa: D102 (not told)
        raise TypeError(f"{type(self).__name__} is a Loop: call run(measure)")

    @abstractmethod
    def run(self, measure: Callable[[np.ndarray], np.ndarray]) -> None:
        """Run the third-party loop to its end, each evaluation through ``measure``."""


def drive(alg: Algorithm, measure: Callable, stop: Stop) -> None:
    """Run ``alg`` to the end: its asks measured by ``measure(X, phase)``, ``stop`` updated."""
    if isinstance(alg, Loop):
        alg.run(lambda X: measure(X, alg.phase()))
        return
    while not stop.done:
        X = alg.ask()
        if X is None:
            return
        y = measure(X, alg.phase()) if len(X) else np.empty(0)
        stop.update(alg.archive.n)
        alg.tell(X, y)
