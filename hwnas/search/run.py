"""``run_search``: one search from settings to a run folder.

A run folder holds ``run.yaml`` (every setting, seed, versions, oracle), ``evals.sqlite`` (every
oracle answer, committed as it arrives), ``history.csv`` (every query in order),
``pareto.csv``/``pareto.png`` (the measured front), and ``best.json``. ``resume=True`` re-runs the
same seeded decisions in the same folder: every answer already stored is read back instead of asked
again, so the result equals an uninterrupted run's.
"""

from __future__ import annotations

import csv
import hashlib
import json
import platform
import time
from pathlib import Path

import numpy as np

from latency import load_device
from predictors import make_oracle, make_predictor
from predictors.evaluator import Evaluator
from predictors.registry import oracle_reads
from predictors.store import EvalStore

from .. import __version__
from ..arch import Arch
from ..archfile import read_arch_list
from ..errors import HwnasError
from ..executor import make_executor
from ..export import export_onnx
from ..notices import notice
from ..ofa_interop import net_config
from ..paths import WEIGHTS_FIX, check_checkpoint, read_yaml
from ..space import Space
from .algorithm import Stop, drive
from .algorithms import ALGORITHMS
from .config import ORACLE_SETTINGS, SearchConfig, merge_keywords, oracle_flags
from .folder import RunFolder, check_export_path
from .pareto import hypervolume, pareto_mask, plot_front
from .problem import COST_LABELS, Problem
from .queries import Queries


def _versions() -> dict:
    import importlib.metadata as md

    out = {"hwnas": __version__, "python": platform.python_version()}
    for pkg in ("numpy", "torch", "ofa", "xgboost", "xgboost-cpu", "pymoo", "onnxruntime"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def build_problem(config: SearchConfig) -> Problem:
    """The :class:`Problem` a config describes: space, budgets, objectives, device (for latency),
    pool."""
    space = Space(width=float(config.width), resolutions=tuple(config.resolutions))
    device = None
    if config.device is not None:
        device = load_device(config.device, width=space.width)
    objectives = tuple(config.objectives.split(","))
    pool = None
    if config.pool is not None:
        pool = read_arch_list(config.pool, what="--pool", width=space.width).X
    return Problem(
        space,
        flops=config.flops,
        params=config.params,
        latency_ms=config.latency_ms,
        device=device,
        objectives=objectives,
        pool=pool,
        pool_seed=config.seed,
        pool_label=f"--pool {config.pool!r}",
    )


def resume_config(out, overrides: dict | None = None) -> SearchConfig:
    """The settings a run folder was started with (its ``run.yaml``), with ``overrides`` applied.

    ``overrides`` may only change :data:`~hwnas.search.config.RESUME_FREE` settings and raise
    ``queries``; anything else that differs is an :class:`HwnasError` naming both values.
    """
    stored, dropped = _stored_config(Path(out))
    for what in dropped:
        notice(
            f"hwnas: notice: {Path(out) / 'run.yaml'} sets {what}, which this search never read; "
            f"resuming without it"
        )
    stored.out = str(out)
    overrides = dict(overrides or {})
    settings = stored.to_dict()
    # --option and --predictor-option change the keys they name only
    overrides.update(merge_keywords(settings, overrides))
    config = SearchConfig.from_dict({**settings, **overrides})
    config.check_resume(stored)
    return config


def _inputs(problem, oracle) -> dict:
    """What a run reads besides its settings, as ``run.yaml`` records it: the oracle's key (it
    names the oracle's files by hash), with ``--pool`` the sha256 of the pool's members, with a
    latency device the digest of its tables and correction (:attr:`latency.Device.digest`)."""
    out = {"oracle": oracle.key}
    if problem.device is not None:
        out["device_sha256"] = problem.device.digest
    if problem.pool is not None:
        members = np.ascontiguousarray(problem.pool, dtype=np.int64)
        out["pool_sha256"] = hashlib.sha256(members.tobytes()).hexdigest()
    return out


def _check_resume_inputs(out: Path, mine: dict) -> None:
    """A resumed run reads the same oracle, pool and latency tables as it started with: the same
    flags naming changed files (another predictor file, an edited --table or --pool, a re-profiled
    or recalibrated --device) are an error."""
    stored = read_yaml(out / "run.yaml", "--resume: the run's run.yaml")
    what = {
        "oracle": "the oracle",
        "pool_sha256": "the --pool file's archs",
        "device_sha256": "the --device's latency tables or correction",
    }
    for key, label in what.items():
        theirs = stored.get(key) if isinstance(stored, dict) else None
        if theirs is not None and mine.get(key) != theirs:
            raise HwnasError(
                f"--resume: {label} changed since the run started ({mine.get(key)} now, "
                f"{theirs} in run.yaml); restore it or start a new --out"
            )


def _stored_config(out: Path) -> tuple:
    """``SearchConfig.load_stored`` of the run folder ``out``: ``(config, dropped)``."""
    if not out.is_dir():
        raise HwnasError(
            f"--resume: run folder {str(out)!r} "
            + ("is a file" if out.exists() else "does not exist")
        )
    if not (out / "run.yaml").is_file():
        raise HwnasError(
            f"--resume: {str(out)!r} holds no hwnas run (it has no run.yaml); "
            "start a new run there without --resume"
        )
    try:
        return SearchConfig.load_stored(out / "run.yaml")
    except HwnasError as exc:
        raise HwnasError(f"--resume: the run's run.yaml cannot be used: {exc}") from None


def run_search(
    config: SearchConfig, oracle=None, resume: bool = False, progress: bool = False, store=None
) -> dict:
    """Run one search; returns ``{"best": <best.json>, "queries": n, "out": folder, ...}``.

    ``oracle`` overrides ``config.oracle`` with an Oracle object (tests, custom oracles).
    """

    t0 = time.perf_counter()
    # everything is checked before the run folder is touched: a bad setting leaves no folder behind
    problem = build_problem(config)
    if config.export_onnx:
        check_export_path(config.export_onnx)
        if config.weights:
            check_checkpoint(config.weights, "weights file", WEIGHTS_FIX)
    if resume and config.out is not None:
        config.check_resume(_stored_config(Path(config.out))[0])
    if oracle is None:
        settings = {k: getattr(config, v) for k, v in ORACLE_SETTINGS.items()}
        if "weights" not in oracle_reads(config.oracle):  # then they are for --export-onnx
            settings["weights"] = None
        oracle = make_oracle(config.oracle, problem.space, labels=oracle_flags(), **settings)
    # an unreachable cluster: now
    executor = make_executor(config.executor, address=config.ray_address)
    inputs = _inputs(problem, oracle)
    folder = None
    try:
        folder = RunFolder(config.out, resume) if config.out is not None else None
        if resume and folder is not None:  # under the folder's lock, before anything is written
            _check_resume_inputs(folder.path, inputs)
        return _run(config, problem, oracle, inputs, folder, store, executor, progress, t0)
    finally:
        executor.close()
        if folder is not None:
            folder.release()


def _run(config, problem, oracle, inputs, folder, store, executor, progress, t0) -> dict:
    out = folder.path if folder is not None else None
    if out is not None:  # a resumed run records a raised --queries here too
        _write_yaml(
            out / "run.yaml",
            {
                "settings": config.to_dict(),
                **inputs,
                "oracle_is_proxy": bool(oracle.is_proxy),
                "versions": _versions(),
                "started": folder.started or time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
        )
    own_store = store is None
    if store is None:
        store = EvalStore(out / "evals.sqlite" if out is not None else ":memory:")
    try:
        # remote executors place each query where the oracle can run (an oracle may ask for
        # {"num_gpus": 1})
        evaluator = Evaluator(
            oracle,
            store,
            executor if config.executor != "local" else None,
            resources=getattr(oracle, "resources", None),
        )
        queries = Queries(evaluator, problem, config.queries, progress=progress)
        alg = ALGORITHMS.load(config.algorithm)()
        options = alg.Options.parse(config.options, config.algorithm)
        alg.setup(
            problem,
            np.random.default_rng(config.seed),
            options,
            lambda name=None: make_predictor(
                name or config.predictor,
                seed=config.seed,
                space=problem.space,
                **(config.predictor_options if name in (None, config.predictor) else {}),
            ),
            queries,
            progress,
        )
        try:
            drive(alg, queries.measure, Stop(queries.budget, options.stall))
        finally:
            queries.close()
        result = _summarise(
            config, problem, queries, oracle, inputs, evaluator, out, time.perf_counter() - t0
        )
    finally:
        if own_store:
            store.close()
    if config.export_onnx:
        arch = Arch.from_dict(result["best"]["arch"])
        result["export"] = export_onnx(
            arch, problem.space, config.export_onnx, weights=config.weights, device=config.device
        )
    return result


def _summarise(config, problem, queries, oracle, inputs, evaluator, out, seconds) -> dict:
    history = queries.history()
    row, acc = queries.best()
    if row is None:
        raise HwnasError(
            "the oracle answered no query successfully; see the error column of evals.sqlite"
        )
    arch = Arch.from_array(row)
    costs = problem.costs(row[None, :])
    best = {
        "arch": arch.to_dict(),
        "arch_id": arch.id,
        "accuracy": acc,
        "mflops": float(costs["mflops"][0]),
        "params_m": float(costs["params_m"][0]),
        "latency_ms": float(costs["latency_ms"][0]) if "latency_ms" in costs else None,
        "oracle": oracle.key,
        "oracle_is_proxy": bool(oracle.is_proxy),
        "width": problem.space.width,
        "resolution": arch.r,
        "net_config": net_config(problem.space, arch),
    }
    front = _front(problem, history)
    result = {
        "best": best,
        "queries": queries.n,
        "out": str(out) if out is not None else None,
        "algorithm": config.algorithm,
        "seed": config.seed,
        "budget": problem.describe(),
        "oracle_asked": evaluator.n_asked,
        "oracle_failed": evaluator.n_failed,
        "oracle_seconds": evaluator.oracle_seconds,
        "overhead_seconds": max(0.0, seconds - evaluator.oracle_seconds),
        "pareto_size": len(front["rows"]),
        "hypervolume": front["hv"],
        "pareto_cost": problem.cost_key,
    }
    if problem.pool is not None:
        result.update(pool_size=len(problem.pool), pool_dropped=problem.pool_dropped)
    if out is not None:
        _write_outputs(out, config, problem, inputs, history, front, best, result)
    return result


def _front(problem, history) -> dict:
    key = problem.cost_key
    acc = np.array([h["accuracy"] for h in history], dtype=float)
    cost = np.array([h[key] for h in history], dtype=float)
    mask = pareto_mask(acc, cost)
    rows = sorted((h for h, m in zip(history, mask, strict=True) if m), key=lambda h: h["mflops"])
    ref = _cost_ref(problem, key)
    return {"rows": rows, "hv": hypervolume(acc, cost, ref), "acc": acc, "cost": cost, "ref": ref}


def _cost_ref(problem, key) -> float:
    limit = {
        "mflops": problem.flops and problem.flops / 1e6,
        "params_m": problem.params and problem.params / 1e6,
        "latency_ms": problem.latency_ms,
    }[key]
    if limit:
        return float(limit)
    biggest = Arch.largest(max(problem.space.resolutions)).to_array()[None, :]
    return float(problem.costs(biggest)[key][0])


def _write_outputs(out: Path, config, problem, inputs, history, front, best, result) -> None:
    cols = ["query", "arch_id", "accuracy", "mflops", "params_m", "latency_ms", "phase", "arch"]
    with open(out / "history.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for h in history:
            w.writerow({**{"latency_ms": ""}, **h})
    with open(out / "pareto.csv", "w", newline="") as f:
        w = csv.DictWriter(
            f,
            fieldnames=["arch_id", "accuracy", "mflops", "params_m", "latency_ms", "arch"],
            extrasaction="ignore",
        )
        w.writeheader()
        for h in front["rows"]:
            w.writerow({**{"latency_ms": ""}, **h})
    budget = _cost_ref(problem, problem.cost_key) if problem.cost_key != "params_m" else None
    label = COST_LABELS[problem.cost_key] + (
        f" on {problem.device.name}" if problem.cost_key == "latency_ms" else ""
    )
    proxy = " (zero-cost PROXY, not accuracy)" if best["oracle_is_proxy"] else ""
    plot_front(
        out / "pareto.png",
        front["acc"],
        front["cost"],
        label,
        f"hwnas {config.algorithm}, {len(history)} queries, oracle {best['oracle']}{proxy}",
        budget,
    )
    (out / "best.json").write_text(json.dumps(best, indent=2) + "\n")
    doc = {
        "settings": config.to_dict(),
        **inputs,
        "oracle_is_proxy": best["oracle_is_proxy"],
        "versions": _versions(),
        "summary": {k: v for k, v in result.items() if k not in ("best",)},
    }
    _write_yaml(out / "run.yaml", doc)


def _write_yaml(path: Path, doc: dict) -> None:
    import yaml

    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(yaml.safe_dump(doc, sort_keys=False))
    tmp.replace(path)
