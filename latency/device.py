"""Devices: a folder of per-resolution latency tables (+ ``device.yaml``), and vectorised
prediction.

A device folder holds ``{r}_lookup_table.yaml`` files (OFA's format, ms) and, for devices hwnas
measured, a ``device.yaml`` describing how (backend, execution provider, precision, threads, batch
size, machine, library versions, date) and the linear ``correction: {slope, intercept}`` fitted by
``hwnas validate-latency --out`` or ``hwnas calibrate`` (table sum -> measured end-to-end). A folder
of OFA tables without ``device.yaml`` (e.g. OFA's published Note10 tables) is a device as it is,
with no correction.

Names: a shipped device (``hwnas.devices`` package data, e.g. ``cpu-ort``), ``note10`` when the OFA
assets are reachable through ``HWNAS_ASSETS``, or any folder path.

Prediction is a numpy gather over an array ``(resolutions, 20 blocks, kernel 0..7, expand 0..6)`` of
block times plus a per-resolution fixed part (stem, first block, head, classifier); missing entries
are NaN and are reported by key.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hwnas.arch import validate
from hwnas.errors import HwnasError, allowed
from hwnas.gather import gather_blocks
from hwnas.space import (
    DEPTHS,
    E_COLS,
    EXPAND_RATIOS,
    KERNEL_SIZES,
    KS_COLS,
    MAX_DEPTH,
    N_BLOCKS,
    N_STAGES,
    R_COL,
    WIDTHS,
    check_resolution,
    check_width,
    get_space,
)

from . import keys as K
from .fingerprint import notice_if_foreign
from .profilers.registry import BACKENDS
from .table import load_table, read_yaml, table_path, table_resolutions

DEVICE_FILE = "device.yaml"
PRECISIONS = ("fp32", "fp16")
_REPO_DEVICES = Path(__file__).resolve().parent.parent / "devices"


# ---- finding devices -----------------------------------------------------------------------------


def _shipped_root():
    """The folder of shipped devices: package data ``hwnas.devices``, else the repo's
    ``devices/``."""
    try:
        root = importlib.resources.files("hwnas.devices")
        p = Path(str(root))
        if p.is_dir():
            return p
    except (ModuleNotFoundError, TypeError):
        pass
    return _REPO_DEVICES


def shipped_roots() -> tuple:
    """Folders whose contents are shipped data and never written by a command: the installed
    ``hwnas.devices`` package and the repo's ``devices/``."""
    return tuple({_shipped_root().resolve(), _REPO_DEVICES.resolve()})


def check_writable_folder(folder, what: str = "--out") -> Path:
    """``folder`` as given, or a one-line HwnasError when it lies inside shipped device data."""
    p = Path(folder).expanduser().resolve()
    for root in shipped_roots():
        if p == root or root in p.parents:
            raise HwnasError(
                f"{what} {str(folder)!r} is inside the shipped devices ({root}), "
                f"which no command "
                f"modifies; write to a folder of your own, e.g. --out "
                f"~/hwnas-devices/NAME"
            )
    return Path(folder)


def _rebuild_folder(folder) -> str:
    """Where a rebuild command should write: the folder itself, or NEW_DIR for shipped data."""
    try:
        return str(check_writable_folder(folder))
    except HwnasError:
        return "NEW_DIR"


def _is_device_folder(p: Path) -> bool:
    return p.is_dir() and ((p / DEVICE_FILE).is_file() or bool(table_resolutions(p)))


def _assets_devices() -> dict:
    """OFA's published tables reachable through ``HWNAS_ASSETS`` (``note10``)."""
    root = os.environ.get("HWNAS_ASSETS")
    out = {}
    if root:
        p = Path(root) / "ofa" / "note10"
        if _is_device_folder(p):
            out["note10"] = p
    return out


def _named_devices() -> dict:
    found = {}
    for root in (_shipped_root(), _REPO_DEVICES):
        if root.is_dir():
            for p in sorted(root.iterdir()):
                if _is_device_folder(p) and p.name not in found:
                    found[p.name] = p
    for name, p in _assets_devices().items():
        found.setdefault(name, p)
    return found


def known_devices() -> list:
    """Names ``--device`` accepts besides folder paths (shipped devices, and ``note10`` via
    HWNAS_ASSETS)."""
    return sorted(_named_devices())


def device_folder(name_or_path) -> Path:
    """Resolve a device name or folder path to its folder (HwnasError listing known names
    otherwise)."""
    s = str(name_or_path)
    named = _named_devices()
    if s in named and os.sep not in s:
        return named[s]
    p = Path(s).expanduser()
    if p.is_dir():
        if not _is_device_folder(p):
            raise HwnasError(
                f"device folder {s!r} has no device.yaml and no {{r}}_lookup_table.yaml files"
            )
        return p
    known = ", ".join(sorted(named)) or "(none)"
    raise HwnasError(
        f"device {s!r} is unknown; known devices: {known}; or give a folder of "
        f"{{r}}_lookup_table.yaml files"
    )


def read_device_meta(folder) -> dict:
    """A folder's ``device.yaml`` (``{}`` if it has none), checked by :func:`check_device_meta`."""
    p = Path(folder) / DEVICE_FILE
    if not p.is_file():
        return {}
    meta = read_yaml(p)
    if meta is None:
        return {}
    check_device_meta(meta, p)
    return meta


def _positive_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 1


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and bool(np.isfinite(v))


def check_device_meta(meta, path) -> None:
    """The one check of a ``device.yaml`` mapping, for every command that reads or writes one.

    Values a device cannot physically have are one-line HwnasErrors naming the file, the value and
    what is allowed: a correction slope that is not a finite number > 0, an intercept that is not a
    finite number (ms), threads or batch size below 1, an unknown width, backend or precision, a
    resolution outside 128..256.
    """
    where = f"corrupt device file {str(path)!r}"
    if not isinstance(meta, dict):
        raise HwnasError(f"{where}: expected a mapping, got {type(meta).__name__}")

    def bad(key, allowed_text):
        raise HwnasError(f"{where}: {key} {meta[key]!r} is not allowed; allowed: {allowed_text}")

    if "name" in meta and not (isinstance(meta["name"], str) and meta["name"].strip()):
        bad("name", "a non-empty string")
    if "backend" in meta and meta["backend"] not in BACKENDS.names():
        bad("backend", allowed(BACKENDS.names()))
    if "width" in meta and (not _number(meta["width"]) or float(meta["width"]) not in WIDTHS):
        bad("width", allowed(WIDTHS))
    if "precision" in meta and meta["precision"] not in PRECISIONS:
        bad("precision", allowed(PRECISIONS))
    for key in ("threads", "batch_size"):
        if key in meta and not _positive_int(meta[key]):
            bad(key, "an integer >= 1")
    if "resolutions" in meta:
        res = meta["resolutions"]
        if not isinstance(res, list):
            bad("resolutions", "a list of integers 128..256 (px)")
        for r in res:
            try:
                check_resolution(r)
            except HwnasError as exc:
                raise HwnasError(f"{where}: {exc}") from None
    if meta.get("correction") is not None:
        corr = meta["correction"]
        refit = (
            f"delete its correction entry and refit it with: hwnas validate-latency --device "
            f"{Path(path).parent}"
        )
        fields = ("slope", "intercept")
        if not (isinstance(corr, dict) and all(_number(corr.get(k, 0.0)) for k in fields)):
            raise HwnasError(
                f"{where}: correction must be {{slope: number, intercept: number}} "
                f"(ms), got {corr!r}; {refit}"
            )
        if float(corr.get("slope", 1.0)) <= 0:
            raise HwnasError(
                f"{where}: correction slope {corr['slope']!r} is not allowed "
                f"(predicted latency would not grow with the table sum); allowed: a "
                f"number > 0; {refit}"
            )


# ---- the device ----------------------------------------------------------------------------------


@dataclass
class Device:
    """Latency tables of one device at one width; predicts subnet latency in milliseconds."""

    name: str
    folder: Path
    width: float
    resolutions: tuple
    meta: dict = field(default_factory=dict, repr=False)
    tables: dict = field(default_factory=dict, repr=False)  # r -> {key: entry}

    def __post_init__(self):
        space = get_space(self.width)
        self.space = space
        nr = len(self.resolutions)
        self._res_index = {r: i for i, r in enumerate(self.resolutions)}
        self._blocks = np.full(
            (nr, N_BLOCKS, max(KERNEL_SIZES) + 1, max(EXPAND_RATIOS) + 1), np.nan
        )
        self._fixed = np.full(nr, np.nan)
        self._missing_fixed = {}
        for i, r in enumerate(self.resolutions):
            t = self.tables[r]
            total, missing = 0.0, None
            for spec in K.fixed_specs(space, r):
                if spec.key in t:
                    total += float(t[spec.key]["mean"])
                elif missing is None:
                    missing = spec.key
            if missing is None:
                self._fixed[i] = total
            else:
                self._missing_fixed[r] = missing
            for b in range(N_BLOCKS):
                for k in KERNEL_SIZES:
                    for e in EXPAND_RATIOS:
                        key = K.block_key(space, b, k, e, r)
                        if key in t:
                            self._blocks[i, b, k, e] = float(t[key]["mean"])
        check_device_meta(self.meta, Path(self.folder) / DEVICE_FILE)
        corr = self.meta.get("correction") or {}
        self.slope = float(corr.get("slope", 1.0))
        self.intercept = float(corr.get("intercept", 0.0))
        self._check_positive_predictions()

    # -- descriptions ------------------------------------------------------------------------------
    @property
    def digest(self) -> str:
        """sha256 of everything a prediction reads (block and fixed tables at every resolution, the
        correction): two devices with one digest predict the same milliseconds."""
        h = hashlib.sha256(repr((self.resolutions, self.slope, self.intercept)).encode())
        for a in (self._blocks, self._fixed):
            h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
        return h.hexdigest()

    @property
    def backend(self):
        """The profiler backend that measured the tables (``ort``, ``torch``, ...); None for tables
        measured elsewhere."""
        return self.meta.get("backend")

    @property
    def correction(self) -> dict:
        """``{"slope", "intercept"}``: predicted ms = slope x table sum (ms) + intercept (ms)."""
        return {"slope": self.slope, "intercept": self.intercept}

    def rebuild_command(self, resolution) -> str:
        """The ``hwnas profile`` command that measures this device's tables at ``resolution`` px."""
        if not self.backend:  # OFA tables measured elsewhere: hwnas cannot complete them in place
            return (
                f"hwnas profile --device NAME --out NEW_DIR --resolutions {resolution} "
                f"(a new device: {self.folder} holds tables hwnas did not measure)"
            )
        out = _rebuild_folder(self.folder)
        return f"hwnas profile --device {self.name} --out {out} --resolutions {resolution}"

    # -- prediction --------------------------------------------------------------------------------
    def _check(self, X) -> tuple:
        X = np.asarray(X)
        X = validate(X[None, :] if X.ndim == 1 else X)
        r = X[:, R_COL]
        lut = np.full(max(max(self.resolutions), int(r.max(initial=0))) + 1, -1, dtype=np.int64)
        for res, i in self._res_index.items():
            lut[res] = i
        ridx = lut[r]
        if (ridx < 0).any():
            bad = int(r[np.argmax(ridx < 0)])
            raise HwnasError(
                f"device {self.name!r} has no latency table for resolution {bad}; it has: "
                f"{allowed(self.resolutions)}; "
                f"build it with: {self.rebuild_command(bad)}"
            )
        return X, ridx

    def table_ms(self, X) -> np.ndarray:
        """Uncorrected table sum (ms), float64 ``(N,)``, for an ``(N, 46)`` batch of archs."""
        X, ridx = self._check(X)
        if len(X) == 0:
            return np.zeros(0)
        per_block = gather_blocks(self._blocks, X, ridx)  # inactive blocks: 0, never NaN
        fixed = self._fixed[ridx]
        bad_block = np.isnan(per_block)
        if bad_block.any() or np.isnan(fixed).any():
            self._raise_missing(X, ridx, bad_block, fixed)
        return fixed + per_block.sum(axis=1)

    def predict_ms(self, X) -> np.ndarray:
        """Predicted latency (ms), float64 ``(N,)``: the table sum with the device's linear
        correction."""
        return self.slope * self.table_ms(X) + self.intercept

    def _raise_missing(self, X, ridx, bad_block, fixed):
        if np.isnan(fixed).any():
            r = self.resolutions[int(ridx[np.argmax(np.isnan(fixed))])]
            key = self._missing_fixed[r]
        else:
            n, b = np.argwhere(bad_block)[0]
            r = self.resolutions[int(ridx[n])]
            key = K.block_key(self.space, int(b), int(X[n, KS_COLS][b]), int(X[n, E_COLS][b]), r)
        raise HwnasError(
            f"device {self.name!r} table {r}_lookup_table.yaml has no entry {key!r}; "
            f"rebuild it with: {self.rebuild_command(r)}"
        )

    def min_latency_ms(self, resolutions=None) -> float:
        """Exact smallest predicted (corrected) latency (ms) over the whole space at
        ``resolutions``.

        Latency is a sum of independent per-block choices, so per stage the minimum over depths of
        the cumulative per-block minima, plus the fixed part, is exact (the correction is
        increasing).
        """
        resolutions = self.resolutions if resolutions is None else tuple(map(int, resolutions))
        return float(min(self.slope * self._min_table_ms(r) + self.intercept for r in resolutions))

    def _min_table_ms(self, r) -> float:
        """Exact smallest table sum (ms) at resolution ``r``; a missing entry is a HwnasError."""
        if r not in self._res_index:
            raise HwnasError(
                f"device {self.name!r} has no latency table for resolution {r}; it "
                f"has: {allowed(self.resolutions)}; build it with: "
                f"{self.rebuild_command(r)}"
            )
        i = self._res_index[r]
        if np.isnan(self._fixed[i]):
            raise HwnasError(
                f"device {self.name!r} table {r}_lookup_table.yaml has no entry "
                f"{self._missing_fixed[r]!r}; rebuild it with: "
                f"{self.rebuild_command(r)}"
            )
        total = float(self._fixed[i])
        for s in range(N_STAGES):
            mins = []
            for pos in range(max(DEPTHS)):
                b = s * MAX_DEPTH + pos
                vals = self._blocks[i, b][np.ix_(KERNEL_SIZES, EXPAND_RATIOS)]
                if np.isnan(vals).any():
                    kk, ee = np.argwhere(np.isnan(vals))[0]
                    key = K.block_key(self.space, b, KERNEL_SIZES[kk], EXPAND_RATIOS[ee], r)
                    raise HwnasError(
                        f"device {self.name!r} table {r}_lookup_table.yaml has no "
                        f"entry {key!r}; rebuild it with: {self.rebuild_command(r)}"
                    )
                mins.append(float(vals.min()))
            cum = np.cumsum(mins)
            total += min(float(cum[d - 1]) for d in DEPTHS)
        return total

    def _check_positive_predictions(self) -> None:
        """The correction must keep every prediction > 0 ms (checked on the complete tables)."""
        for r in self.resolutions:
            try:
                least = self._min_table_ms(r)
            except HwnasError:  # an incomplete table: its missing entries are reported when used
                continue
            fastest = self.slope * least + self.intercept
            if fastest <= 0:
                raise HwnasError(
                    f"corrupt device file {str(Path(self.folder) / DEVICE_FILE)!r}: correction "
                    f"{self.correction} predicts {fastest:.3f} ms for the fastest subnet at {r} "
                    f"px; allowed: a correction whose predictions are > 0 ms; delete its "
                    f"correction entry and refit it with: hwnas validate-latency --device "
                    f"{self.folder}"
                )

    def describe(self) -> dict:
        """Name, folder, width, resolutions, correction and measuring settings (what ``hwnas
        latency`` prints)."""
        keep = ("backend", "execution_provider", "precision", "threads", "batch_size", "date")
        out = {
            "name": self.name,
            "folder": str(self.folder),
            "width": self.width,
            "resolutions": list(self.resolutions),
            "correction": self.correction,
        }
        out.update({k: self.meta[k] for k in keep if k in self.meta})
        return out


def _width_of_table(r, table, path) -> float | None:
    stem = K.stem_channels_of_table(table)
    if stem is None:
        return None
    for w in WIDTHS:
        if get_space(w).stem_channels == stem:
            return w
    raise HwnasError(
        f"latency table {str(path)!r} has a {stem}-channel stem, which matches no "
        f"supported width; "
        f"allowed widths: {allowed(WIDTHS)}"
    )


def load_device(name_or_path, width: float = 1.2, resolutions=None, notice: bool = True) -> Device:
    """Load a device by shipped name (see ``known_devices()``) or folder path, for the space at
    ``width``.

    ``resolutions`` limits which tables are read (default: all in the folder). Tables of another
    width, corrupt YAML, or a missing folder are one-line HwnasErrors. With ``notice``, a device
    measured on another machine prints one notice on stderr naming ``hwnas calibrate``
    (``latency.fingerprint``).
    """
    width = check_width(width)
    folder = device_folder(name_or_path)
    meta = read_device_meta(folder)
    s = str(name_or_path)
    name = meta.get("name") or (s if os.sep not in s else folder.name)
    if "width" in meta and meta["width"] != width:
        raise HwnasError(
            f"device {name!r} was measured for width {meta['width']}, not {width}; "
            f"build a table for width {width} with: hwnas profile --device NAME "
            f"--width {width}"
        )
    have = table_resolutions(folder)
    wanted = have if resolutions is None else tuple(sorted({int(r) for r in resolutions}))
    missing = [r for r in wanted if r not in have]
    if missing:
        raise HwnasError(
            f"device {name!r} has no latency table for resolution {missing[0]}; it "
            f"has: {allowed(have) or '(none)'}; "
            f"build it with: hwnas profile --device {name} --out "
            f"{_rebuild_folder(folder)} "
            f"--resolutions {missing[0]}"
        )
    if not wanted:
        raise HwnasError(
            f"device {name!r} ({folder}) has no {{r}}_lookup_table.yaml tables yet; "
            f"build them with: hwnas profile --device {name} --out "
            f"{_rebuild_folder(folder)}"
        )
    tables = {}
    for r in wanted:
        path = table_path(folder, r)
        t = load_table(path)
        w = _width_of_table(r, t, path)
        if w is not None and w != width:
            raise HwnasError(
                f"latency table {str(path)!r} is for width {w}, not {width}; "
                f"use --width {w} or build a width-{width} table with: hwnas profile "
                f"--width {width} --out DIR"
            )
        tables[r] = t
    if notice:
        notice_if_foreign(name, folder, meta)
    return Device(
        name=name, folder=folder, width=width, resolutions=tuple(wanted), meta=meta, tables=tables
    )
