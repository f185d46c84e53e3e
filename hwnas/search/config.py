"""``SearchConfig``: every setting of a search; it round-trips through ``run.yaml``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from predictors.registry import (
    AUTO,
    ORACLE_CHOICES,
    PREDICTORS,
    SETTING_DEFAULTS,
    oracle_reads,
    oracles_reading,
)

from ..errors import HwnasError, allowed
from ..executor import EXECUTORS
from ..paths import read_yaml
from ..space import DEFAULT_RESOLUTIONS, check_width
from ..units import format_count, parse_count, parse_ms
from .algorithms import ALGORITHMS
from .predictor_options import parse_predictor_options
from .problem import OBJECTIVE_SETS

_PATHS = (
    "device",
    "acc_predictor",
    "oracle_table",
    "weights",
    "data",
    "out",
    "export_onnx",
    "ray_address",
    "oracle_device",
    "oracle",
)
# settings that may differ when a run is resumed: where it runs and what is done with its result
RESUME_FREE = ("out", "executor", "ray_address", "export_onnx")
# setting -> flag, where not --<name>
FLAGS = {
    "latency_ms": "--latency",
    "oracle_table": "--table",
    "predictor_options": "--predictor-option",
}
# keyword settings -> the setting whose keywords they are (another one drops them)
KEYWORD_SETTINGS = {"options": "algorithm", "predictor_options": "predictor"}
# make_oracle's settings -> the field that holds each
ORACLE_SETTINGS = {
    "acc_predictor": "acc_predictor",
    "table": "oracle_table",
    "weights": "weights",
    "data": "data",
    "device": "oracle_device",
}


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
    # keywords of the predictor's constructor, e.g. {"mean": "trend"}
    predictor_options: dict = field(default_factory=dict)
    seed: int = 0
    width: float = 1.2
    resolutions: list = field(default_factory=lambda: list(DEFAULT_RESOLUTIONS))
    out: str | None = None
    executor: str = "local"
    ray_address: str | None = None
    export_onnx: str | None = None
    pool: str | None = None  # CSV or JSON-lines file of the only archs the search may measure
    options: dict = field(default_factory=dict)  # the algorithm's Options, e.g. {"kappa": 2.0}

    def __post_init__(self):
        if self.flops is not None:
            self.flops = parse_count(self.flops, "--flops")
        if self.params is not None:
            self.params = parse_count(self.params, "--params")
        if self.latency_ms is not None:
            self.latency_ms = parse_ms(self.latency_ms, "--latency")
        algorithm = ALGORITHMS.load(ALGORITHMS.check(self.algorithm))
        algorithm.require()  # an optional extra: say so before a run folder is made
        self.objectives = ",".join(s.strip() for s in str(self.objectives).split(","))
        if self.objectives not in OBJECTIVE_SETS:
            raise HwnasError(
                f"objectives {self.objectives!r} not allowed; allowed: {allowed(OBJECTIVE_SETS)}"
            )
        if isinstance(self.queries, bool) or not isinstance(self.queries, int) or self.queries < 1:
            raise HwnasError(f"--queries {self.queries!r} must be a positive integer")
        if (
            isinstance(self.seed, bool)
            or not isinstance(self.seed, int)
            or not 0 <= self.seed < 2**63
        ):
            raise HwnasError(f"--seed {self.seed!r} is not allowed; allowed: integers 0..2**63-1")
        EXECUTORS.check(self.executor)

        if self.oracle not in ORACLE_CHOICES:
            raise HwnasError(
                f"oracle {self.oracle!r} is unknown; allowed: {allowed(ORACLE_CHOICES)}"
            )
        PREDICTORS.check(self.predictor)  # whatever the algorithm: a typo is never silently ignored
        self.predictor_options = parse_predictor_options(self.predictor, self.predictor_options)
        for name in _PATHS:
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise HwnasError(f"setting {name} {value!r} is not allowed; allowed: a string")
        if isinstance(self.width, bool) or not isinstance(self.width, (int, float)):
            raise HwnasError(f"--width {self.width!r} is not allowed; allowed: 1.2, 1.0")
        self.width = check_width(self.width)
        if (
            not isinstance(self.resolutions, (list, tuple))
            or not self.resolutions
            or not all(isinstance(r, int) and not isinstance(r, bool) for r in self.resolutions)
        ):
            raise HwnasError(
                f"--resolutions {self.resolutions!r} is not allowed; allowed: a list of integers"
            )
        self.resolutions = [int(r) for r in self.resolutions]
        if not isinstance(self.options, dict):
            raise HwnasError(f"setting options {self.options!r} is not allowed; allowed: a mapping")
        options = algorithm.Options.parse(self.options, self.algorithm)
        idle = _idle_options(options, self.objectives, self.pool, self.predictor)
        if idle:
            key, needs = next(iter(idle.items()))
            shown = _show_option(getattr(options, key))
            raise HwnasError(f"--option {key}={shown} is not used by this search; it needs {needs}")
        # typed, with every default filled in, so run.yaml records exactly what ran
        self.options = options.to_dict()
        self._check_unused(algorithm)

    def _check_unused(self, algorithm) -> None:
        """A setting that this search would not use (``algorithm``: the class) is an error, never
        silently ignored."""
        reads, auto_reads = oracle_reads(self.oracle), oracle_reads(AUTO)
        unused = [("ray_address", self.executor != "ray", "--executor ray")]
        for setting, name in ORACLE_SETTINGS.items():  # who reads what: the oracle classes say
            if getattr(self, name) == SETTING_DEFAULTS.get(setting):
                continue  # not set, or set to its default
            needs = " or ".join(f"--oracle {o}" for o in oracles_reading(setting))
            needs += " (or auto)" if setting in auto_reads else ""
            idle = setting not in reads
            if setting == "weights":  # --export-onnx builds the chosen subnet from them too
                idle, needs = idle and not self.export_onnx, f"{needs} or --export-onnx"
            unused.append((name, idle, needs))
        unused += [
            (
                "device",
                self.latency_ms is None
                and "latency" not in self.objectives
                and not self.export_onnx,
                "--latency, --objectives acc,latency or --export-onnx",
            ),
        ]
        # set to another than the class's default, for an algorithm that picks no weak predictor
        if _idle_predictor(algorithm, self.predictor):
            unused.append(("predictor", True, _predictor_readers()))
        if self.predictor_options and not algorithm.reads_predictor:
            key, value = next(iter(self.predictor_options.items()))
            raise HwnasError(
                f"--predictor-option {key}={_show_option(value)} is not used by this search; "
                f"it needs {_predictor_readers()}"
            )
        for name, idle, needs in unused:
            if getattr(self, name) is not None and idle:
                raise HwnasError(
                    f"{_flag(name)} {getattr(self, name)!r} is not used by this search; "
                    f"it needs {needs}"
                )

    def to_dict(self) -> dict:
        """Every setting as a plain dict (what run.yaml stores)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "SearchConfig":
        """A SearchConfig from a mapping of settings (run.yaml); an unknown setting: a one-line
        HwnasError."""
        if not isinstance(d, dict):
            raise HwnasError("a search config must be a mapping of settings")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise HwnasError(
                f"unknown setting {unknown[0]!r} in search config; allowed: "
                f"{allowed(sorted(names))}"
            )
        return cls(**d)

    @classmethod
    def load(cls, path) -> "SearchConfig":
        """Read the ``settings`` of a ``run.yaml`` (or a plain mapping of settings)."""
        return cls.from_dict(_settings(path))

    @classmethod
    def load_stored(cls, path) -> tuple:
        """``(config, dropped)``: ``load`` for ``--resume``. A ``run.yaml`` written before a
        setting the search does not read became an error (``--predictor`` with an algorithm that
        fits none, an ``--option`` idle for its objectives, ``--pool`` or predictor) loads without
        that setting; ``dropped`` spells each (``--option kappa=1.5``). The run never read them,
        so it continues exactly as it would have."""
        doc = _settings(path)
        if not isinstance(doc, dict) or not isinstance(doc.get("options", {}), dict):
            return cls.from_dict(doc), []  # the usual error
        name = doc.get("algorithm", cls.algorithm)
        algorithm = ALGORITHMS.load(name)
        dropped = []
        predictor = doc.get("predictor", cls.predictor)
        # a name never valid stays the usual error
        if predictor in PREDICTORS.names() and _idle_predictor(algorithm, predictor):
            dropped.append(f"--predictor {doc.pop('predictor')}")
            predictor = cls.predictor
        options = algorithm.Options.parse(doc.get("options", {}), name)
        idle = _idle_options(
            options, doc.get("objectives", cls.objectives), doc.get("pool"), predictor
        )
        if idle:
            doc["options"] = {k: v for k, v in doc["options"].items() if k not in idle}
            dropped += [f"--option {k}={_show_option(getattr(options, k))}" for k in idle]
        return cls.from_dict(doc), dropped

    def check_resume(self, stored: "SearchConfig") -> None:
        """A resumed run keeps its settings: any difference but :data:`RESUME_FREE` is an error.

        ``queries`` may grow (the run continues to the larger budget) but not shrink.
        """
        mine, theirs = self.to_dict(), stored.to_dict()
        for name in mine:
            if name in RESUME_FREE or mine[name] == theirs[name]:
                continue
            if name == "queries" and mine[name] > theirs[name]:
                continue
            flag = _flag(name)
            why = "; a run's budget can grow, not shrink" if name == "queries" else ""
            raise HwnasError(
                f"--resume: {flag} {_show(name, mine[name])} conflicts with the run's "
                f"{_show(name, theirs[name])} (run.yaml){why}; drop {flag} or start a "
                f"new --out"
            )


def oracle_flags() -> dict:
    """make_oracle's setting -> the flag that sets it (its ``labels``, so errors name the flag)."""
    return {k: _flag(v) for k, v in ORACLE_SETTINGS.items()}


def _flag(name: str) -> str:
    return FLAGS.get(name, "--" + name.replace("_", "-"))


def merge_keywords(base: dict, given: dict) -> dict:
    """``options`` and ``predictor_options`` of the settings ``given`` over those of ``base``, key
    by key; ``base``'s are dropped where ``given`` names another algorithm (or predictor): they were
    its own."""
    merged = {}
    for name, owner in KEYWORD_SETTINGS.items():
        same = given.get(owner, base.get(owner)) == base.get(owner)
        mine = (base.get(name) or {}) if same else {}
        merged[name] = {**mine, **given.get(name, {})}
    return merged


def _predictor_readers() -> str:
    """``--algorithm NAME or ...`` for the algorithms that fit a weak predictor (loads them all:
    only for an error message)."""
    names = [n for n in ALGORITHMS.names() if ALGORITHMS.load(n).reads_predictor]
    return " or ".join(f"--algorithm {n}" for n in names)


def _idle_predictor(algorithm, predictor) -> bool:
    """Whether ``predictor``, another than the default, is set for an algorithm (the class) that
    fits no weak predictor."""
    return predictor != SearchConfig.predictor and not algorithm.reads_predictor


def _idle_options(options, objectives, pool, predictor) -> dict:
    """``options.idle`` for a search with these ``objectives`` (``"acc,flops"``), ``pool`` (a
    path or None) and ``predictor``: ``{key: what it needs}``."""
    return options.idle(len(str(objectives).split(",")) > 1, pool is not None, predictor)


def _settings(path):
    """The ``settings`` mapping of a ``run.yaml`` (a copy), or the whole of a plain config file."""
    doc = read_yaml(path, "--config")
    if isinstance(doc, dict) and isinstance(doc.get("settings"), dict):
        return dict(doc["settings"])
    return doc


def _show_option(value) -> str:
    """An option's value as ``--option KEY=VALUE`` spells it."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _show(name, value) -> str:
    if value is None:
        return "(not set)"
    if name in ("flops", "params"):
        return format_count(value)
    if name == "latency_ms":
        return f"{value:g}ms"
    if name == "resolutions":
        return ",".join(map(str, value))
    if name == "predictor_options":
        return ",".join(f"{k}={_show_option(v)}" for k, v in value.items()) or "(none)"
    return str(value)
