"""Executors run independent tasks (oracle queries, profiling jobs), handing back results as they
end.

``local`` runs them in this process (or a small process pool); ``ray`` (``hwnas.ray_executor``) runs
them on a Ray cluster. The caller stores each result the moment it arrives, so a lost worker costs
only its own unfinished task.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable, Iterable, Iterator

from .errors import HwnasError
from .registry import Registry

EXECUTORS = Registry(
    "executor",
    [
        (
            "local",
            "hwnas.executor:LocalExecutor",
            "in this process, one task after another (or a small process pool: workers=N)",
        ),
        (
            "ray",
            "hwnas.ray_executor:RayExecutor",
            "one Ray task per query / per resolution on a Ray cluster (needs hwnas[ray])",
        ),
    ],
)


class Executor(ABC):
    """Runs independent tasks (oracle queries, profiling groups) and yields each result as it
    finishes; the kinds are named in ``EXECUTORS``."""

    name = "executor"

    @abstractmethod
    def map_unordered(
        self, fn: Callable, items: Iterable, resources: dict | None = None
    ) -> Iterator:
        """Run ``fn(item)`` for each item; yield ``(index, result)`` in completion order.

        A task that fails after the executor's retries yields ``(index, exception)`` instead of
        raising, so one bad task never loses the others' results. ``resources`` (e.g.
        ``{"num_gpus": 1}`` or ``{"device:note10": 1}``) is a request that remote executors honour.
        """

    # an optional hook, not abstract: an executor that holds nothing need not define it
    def close(self) -> None:  # noqa: B027
        """Release what the executor holds (a Ray connection it opened); a no-op here."""

    @classmethod
    def from_settings(cls, **settings) -> "Executor":
        """Make one from the run's executor settings, reading those it uses."""
        return cls()


class LocalExecutor(Executor):
    """In-process (``workers=0``, the default) or a process pool of ``workers`` processes."""

    name = "local"

    def __init__(self, workers: int = 0):
        self.workers = workers

    @classmethod
    def from_settings(cls, workers=0, **settings) -> "LocalExecutor":
        """See :meth:`Executor.from_settings`: reads ``workers``."""
        return cls(workers=int(workers or 0))

    def map_unordered(self, fn, items, resources=None):
        """In this process, in order (``workers`` <= 0), or in a process pool; yields ``(index,
        result or exception)``."""
        items = list(items)
        if self.workers <= 0:
            for i, item in enumerate(items):
                try:
                    yield i, fn(item)
                except Exception as exc:  # reported per task, as remote executors do
                    yield i, exc
            return
        with ProcessPoolExecutor(max_workers=self.workers) as pool:
            futures = {pool.submit(fn, item): i for i, item in enumerate(items)}
            for fut in as_completed(futures):
                try:
                    yield futures[fut], fut.result()
                except Exception as exc:
                    yield futures[fut], exc


def make_executor(name: str = "local", **kwargs) -> Executor:
    """An executor by name (a member of :data:`EXECUTORS`); ``kwargs`` are the settings of all
    executors (``workers``, ``address``, ``max_retries``): each reads those it uses
    (:meth:`Executor.from_settings`)."""
    EXECUTORS.check(name)
    try:
        cls = EXECUTORS.load(name)
    except ImportError as exc:  # its optional extra (named as the executor) is not installed
        package = (exc.name or name).split(".")[0].capitalize()
        raise HwnasError(
            f"--executor {name} needs {package}, which is not installed ({exc}); "
            f"install it with: pip install 'hwnas[{name}]'"
        ) from None
    return cls.from_settings(**kwargs)
