"""``RayExecutor``: run independent tasks (oracle queries, profiling jobs) on a Ray cluster.

Each item becomes one Ray task. Results are yielded the moment each task finishes (``ray.wait``), so
the caller (the Evaluator, the profiler) stores every answer as it arrives: a worker or node that
dies loses only the task it was running. Ray re-runs such a task up to ``max_retries`` times (system
failures only: a dead worker process or node); an exception raised by the task itself is not retried
and is yielded as that item's result, as :class:`~hwnas.executor.LocalExecutor` does.

Resources: ``{"num_gpus": 1}`` makes every task hold a GPU; ``{"device:note10": 1}`` sends it to a
node started with ``--resources '{"device:note10": 1}'``. ``num_cpus`` defaults to 1 per task.

Needs the optional extra: ``pip install 'hwnas[ray]'``. See docs/ray.md.
"""

from __future__ import annotations

import logging
import socket
from typing import Callable, Iterator

import ray

from .errors import HwnasError
from .executor import Executor

_STANDARD = {"num_cpus", "num_gpus", "memory"}


def _call(fn: Callable, item):
    """The Ray task: one item. ``fn`` arrives once per worker through the object store."""
    return fn(item)


_remote_call = None


def _remote():
    global _remote_call
    if _remote_call is None:
        _remote_call = ray.remote(_call)
    return _remote_call


def task_options(resources: dict | None, max_retries: int) -> dict:
    """Ray task options from an executor resource request.

    ``num_cpus`` (default 1), ``num_gpus`` and ``memory`` (bytes) are Ray's own; every other key is
    a custom resource (``"device:note10"``). Amounts must be non-negative numbers. Tasks are spread
    over the nodes (Ray's ``SPREAD`` strategy).
    """
    # SPREAD: independent, long tasks go round the nodes instead of queueing on the driver's own
    # node first (measured: a more even split and a shorter batch; see docs/ray.md)
    opts = {
        "num_cpus": 1,
        "max_retries": int(max_retries),
        "retry_exceptions": False,
        "scheduling_strategy": "SPREAD",
    }
    custom = {}
    for key, amount in (resources or {}).items():
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount < 0:
            raise HwnasError(
                f"resource {key!r} amount {amount!r} is not allowed; allowed: a number >= 0"
            )
        if key in _STANDARD:
            opts[key] = amount
        else:
            custom[str(key)] = float(amount)
    if custom:
        opts["resources"] = custom
    return opts


def _probe(address: str | None, timeout: float = 5.0) -> None:
    """Fail in seconds, in one line, when ``HOST:PORT`` does not answer (Ray itself retries for
    minutes)."""
    if not address or address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[-1]
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        raise HwnasError(
            f"Ray address {address!r} is not HOST:PORT; allowed: the HOST:PORT "
            f"printed by "
            "`ray start --head` (e.g. 10.0.0.5:6379), 'auto', or ray://HOST:PORT"
        )
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise HwnasError(
            f"no Ray cluster answers at {address} ({exc.strerror or exc}); start one "
            f"with "
            "`ray start --head --port PORT`, or pass the address it printed"
        ) from None


class RayExecutor(Executor):
    """Run tasks on a Ray cluster.

    ``address``: ``"HOST:PORT"`` of a running cluster's head (``ray start --head`` prints it), or
    ``"auto"`` for the cluster this machine belongs to, or ``"ray://HOST:PORT"`` (Ray Client);
    ``None`` follows Ray's rules: ``$RAY_ADDRESS``, else the cluster last started on this machine,
    else a private single-node Ray started for this process. ``max_retries``: how many times a task
    whose worker died is re-run before its item is reported failed. ``runtime_env``: passed to
    ``ray.init`` (e.g. ``{"working_dir": "."}`` when workers lack this code). If Ray is already
    initialised in this process (by the caller), that connection is used and left open on close.
    """

    name = "ray"

    @classmethod
    def from_settings(cls, address=None, max_retries=3, **settings) -> "RayExecutor":
        """See :meth:`hwnas.executor.Executor.from_settings`: reads ``address`` and
        ``max_retries``."""
        return cls(address=address, max_retries=int(max_retries))

    def __init__(
        self, address: str | None = None, max_retries: int = 3, runtime_env: dict | None = None
    ):
        if int(max_retries) < 0:
            raise HwnasError(
                f"max_retries {max_retries!r} is not allowed; allowed: an integer >= 0"
            )
        self.address = address or None
        self.max_retries = int(max_retries)
        self._owns_connection = False
        if ray.is_initialized():
            return
        # Workers' prints stay in the cluster's logs: stdout is for the CLI's one JSON object.
        kwargs = dict(address=self.address, log_to_driver=False, logging_level=logging.WARNING)
        if runtime_env:
            kwargs["runtime_env"] = runtime_env
        _probe(self.address)
        try:
            ray.init(**kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = self.address or "a new local Ray instance"
            raise HwnasError(
                f"cannot connect to the Ray cluster at {where} "
                f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); "
                "allowed: the HOST:PORT printed by `ray start --head`, or 'auto' on a "
                "cluster node"
            ) from None
        self._owns_connection = True

    def cluster_resources(self) -> dict:
        """Total resources of the cluster's live nodes, e.g. ``{"CPU": 3.0, "device:test":
        1.0}``."""
        return dict(ray.cluster_resources())

    def check_resources(self, resources: dict | None) -> None:
        """Raise HwnasError if no live node can ever satisfy ``resources`` (instead of hanging
        forever)."""
        opts = task_options(resources, self.max_retries)
        need = {
            "CPU": opts.get("num_cpus", 1),
            "GPU": opts.get("num_gpus", 0),
            **opts.get("resources", {}),
        }
        need = {k: v for k, v in need.items() if v}
        nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
        if not any(all(node.get(k, 0) >= v for k, v in need.items()) for node in nodes):
            have = sorted(
                {
                    k
                    for node in nodes
                    for k in node
                    if not k.startswith("node:") and k not in ("memory", "object_store_memory")
                }
            )
            raise HwnasError(
                f"no node of the Ray cluster offers {need}; resources declared: "
                f"{', '.join(have) or 'none'}"
            )

    def map_unordered(self, fn, items, resources=None) -> Iterator:
        """One Ray task per item (``resources`` become task options); yields ``(index, result or
        exception)`` as tasks finish."""
        items = list(items)
        if not items:
            return
        self.check_resources(resources)
        task = _remote().options(**task_options(resources, self.max_retries))
        fn_ref = ray.put(fn)  # shipped once, not once per task
        pending = {task.remote(fn_ref, item): i for i, item in enumerate(items)}
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                if len(pending) > 1:  # collect everything else already finished in the same pass
                    more, _ = ray.wait(list(pending), num_returns=len(pending), timeout=0)
                    ready = list(dict.fromkeys(ready + more))
                for ref in ready:
                    i = pending.pop(ref)
                    try:
                        result = ray.get(ref)
                    # the task raised: hand back its own exception
                    except ray.exceptions.RayTaskError as exc:
                        cause = getattr(exc, "cause", None)
                        result = cause if isinstance(cause, BaseException) else exc
                    # worker/node died more than max_retries times
                    except ray.exceptions.RayError as exc:
                        result = exc
                    yield i, result
        finally:
            # the caller stopped early (error, Ctrl-C): don't leave work running
            for ref in pending:
                try:
                    ray.cancel(ref, force=False)
                except Exception:  # pragma: no cover - best effort
                    pass

    def close(self) -> None:
        """Disconnect from Ray if this executor connected; a connection the caller made stays
        open."""
        if self._owns_connection and ray.is_initialized():
            ray.shutdown()
        self._owns_connection = False
