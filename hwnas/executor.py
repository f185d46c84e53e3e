"""Executors run independent tasks (oracle queries, profiling jobs) and hand back results as they end.

``local`` runs them in this process (or a small process pool); ``ray`` (``hwnas.ray_executor``) runs
them on a Ray cluster. The caller stores each result the moment it arrives, so a lost worker costs
only its own unfinished task.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable, Iterable, Iterator

from .errors import HwnasError


class Executor(ABC):
    name = "executor"

    @abstractmethod
    def map_unordered(self, fn: Callable, items: Iterable, resources: dict | None = None) -> Iterator:
        """Run ``fn(item)`` for each item; yield ``(index, result)`` in completion order.

        A task that fails after the executor's retries yields ``(index, exception)`` instead of
        raising, so one bad task never loses the others' results. ``resources`` (e.g.
        ``{"num_gpus": 1}`` or ``{"device:note10": 1}``) is a request that remote executors honour.
        """

    def close(self) -> None:
        pass


class LocalExecutor(Executor):
    """In-process (``workers=0``, the default) or a process pool of ``workers`` processes."""

    name = "local"

    def __init__(self, workers: int = 0):
        self.workers = workers

    def map_unordered(self, fn, items, resources=None):
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
    if name == "local":
        return LocalExecutor(workers=int(kwargs.get("workers", 0) or 0))
    if name == "ray":
        try:
            from .ray_executor import RayExecutor
        except ImportError as exc:
            raise HwnasError(f"--executor ray needs Ray, which is not installed ({exc}); install it with: pip install 'hwnas[ray]'") from None
        return RayExecutor(address=kwargs.get("address"), max_retries=int(kwargs.get("max_retries", 3)))
    raise HwnasError(f"executor {name!r} is unknown; allowed: local, ray")
