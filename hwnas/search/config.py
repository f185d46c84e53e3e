"""``SearchConfig``: every setting of a search; it round-trips through ``run.yaml``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..errors import HwnasError, allowed
from ..space import DEFAULT_RESOLUTIONS
from ..units import parse_count, parse_ms

ALGORITHM_NAMES = ("weaknas", "weaknas-pool", "random", "evolution", "regularized", "nsga2", "optuna-tpe")
OBJECTIVE_SETS = ("acc", "acc,flops", "acc,latency", "acc,params")


@dataclass
class SearchConfig:
    """Budgets are in plain units: ``flops`` MACs, ``params`` count, ``latency_ms`` milliseconds."""

    flops: float | None = None
    params: float | None = None
    latency_ms: float | None = None
    device: str | None = None
    objectives: str = "acc"
    oracle: str = "auto"
    acc_predictor: str | None = None
    oracle_table: str | None = None
    weights: str | None = None
    data: str | None = None
    oracle_device: str = "cpu"  # where the supernet oracle evaluates: cpu, cuda, cuda:N
    queries: int = 300
    algorithm: str = "weaknas"
    predictor: str = "gp"
    seed: int = 0
    width: float = 1.2
    resolutions: list = field(default_factory=lambda: list(DEFAULT_RESOLUTIONS))
    out: str | None = None
    executor: str = "local"
    ray_address: str | None = None
    export_onnx: str | None = None
    pool: str | None = None  # CSV or JSON-lines file of the only archs the search may measure
    options: dict = field(default_factory=dict)  # algorithm knobs, e.g. {"optimism": 0.5}

    def __post_init__(self):
        if self.flops is not None:
            self.flops = parse_count(self.flops, "--flops")
        if self.params is not None:
            self.params = parse_count(self.params, "--params")
        if self.latency_ms is not None:
            self.latency_ms = parse_ms(self.latency_ms, "--latency")
        if self.algorithm not in ALGORITHM_NAMES:
            raise HwnasError(f"algorithm {self.algorithm!r} is unknown; allowed: {allowed(ALGORITHM_NAMES)}")
        if self.algorithm == "optuna-tpe":  # an optional extra: say so before a run folder is made
            from .optuna_tpe import require_optuna

            require_optuna()
        self.objectives = ",".join(s.strip() for s in str(self.objectives).split(","))
        if self.objectives not in OBJECTIVE_SETS:
            raise HwnasError(f"objectives {self.objectives!r} not allowed; allowed: {allowed(OBJECTIVE_SETS)}")
        if isinstance(self.queries, bool) or not isinstance(self.queries, int) or self.queries < 1:
            raise HwnasError(f"--queries {self.queries!r} must be a positive integer")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise HwnasError(f"--seed {self.seed!r} must be an integer")
        if self.executor not in ("local", "ray"):
            raise HwnasError(f"executor {self.executor!r} is unknown; allowed: local, ray")
        self.resolutions = [int(r) for r in self.resolutions]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "SearchConfig":
        if not isinstance(d, dict):
            raise HwnasError("a search config must be a mapping of settings")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise HwnasError(f"unknown setting {unknown[0]!r} in search config; allowed: {allowed(sorted(names))}")
        return cls(**d)

    @classmethod
    def load(cls, path) -> "SearchConfig":
        """Read the ``settings`` of a ``run.yaml`` (or a plain mapping of settings)."""
        import yaml

        p = Path(path)
        if not p.is_file():
            raise HwnasError(f"config file {str(path)!r} does not exist")
        try:
            doc = yaml.safe_load(p.read_text())
        except yaml.YAMLError as exc:
            raise HwnasError(f"config file {str(path)!r} is not valid YAML: {str(exc).splitlines()[0]}") from None
        if isinstance(doc, dict) and isinstance(doc.get("settings"), dict):
            doc = doc["settings"]
        return cls.from_dict(doc or {})
