"""``Arch``: one subnet of the OFA MobileNetV3 space, and its batched numpy form.

An Arch is validated when made and stored in canonical form: the kernel size and expand ratio of a
block beyond its stage's depth do not change the network, so they are set to the smallest value
(3 and 3). Equal networks therefore compare and hash equal, and share one ``id``.

The batched form is an ``(N, 46)`` int64 array: columns 0..19 kernel sizes, 20..39 expand ratios,
40..44 stage depths, 45 input resolution (pixels). Everything vectorised (costs, latency tables,
predictor features, search operators) works on it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import HwnasError, allowed
from .paths import parse_json, read_json
from .space import (
    D_COLS,
    DEPTHS,
    E_COLS,
    EXPAND_RATIOS,
    KERNEL_SIZES,
    KS_COLS,
    MAX_DEPTH,
    N_BLOCKS,
    N_GENES,
    N_STAGES,
    NET_RESOLUTIONS_TEXT,
    R_COL,
    check_resolution,
)

_DOMAINS = {"ks": KERNEL_SIZES, "e": EXPAND_RATIOS, "d": DEPTHS}
_LENGTHS = {"ks": N_BLOCKS, "e": N_BLOCKS, "d": N_STAGES}
_WHAT = {"ks": "kernel size", "e": "expand ratio", "d": "depth"}


def _gene_list(name, values) -> tuple:
    if not isinstance(values, (list, tuple, np.ndarray)):
        raise HwnasError(f"{name} must be a list of {_LENGTHS[name]} integers, got {values!r}")
    if len(values) != _LENGTHS[name]:
        per = "one per block: 5 stages x 4" if name != "d" else "one per stage"
        raise HwnasError(
            f"{name} has {len(values)} values; allowed: exactly {_LENGTHS[name]} ({per})"
        )
    out = []
    for i, v in enumerate(values):
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            # one rule for every number of an arch: integral floats (3.0, 224.0) are integers
            v = int(v)
        if (
            isinstance(v, (bool, np.bool_))
            or not isinstance(v, (int, np.integer))
            or int(v) not in _DOMAINS[name]
        ):
            raise HwnasError(
                f"{_WHAT[name]} {v!r} at {name}[{i}] is not allowed; allowed: "
                f"{allowed(_DOMAINS[name])}"
            )
        out.append(int(v))
    return tuple(out)


@dataclass(frozen=True)
class Arch:
    """A subnet: kernel sizes ``ks`` (20), expand ratios ``e`` (20), depths ``d`` (5), resolution
    ``r`` (px)."""

    ks: tuple
    e: tuple
    d: tuple
    r: int

    def __post_init__(self):
        ks = _gene_list("ks", self.ks)
        e = _gene_list("e", self.e)
        d = _gene_list("d", self.d)
        r = check_resolution(self.r)
        ks, e = list(ks), list(e)
        for stage, depth in enumerate(d):
            for pos in range(depth, MAX_DEPTH):
                ks[stage * MAX_DEPTH + pos] = KERNEL_SIZES[0]
                e[stage * MAX_DEPTH + pos] = EXPAND_RATIOS[0]
        object.__setattr__(self, "ks", tuple(ks))
        object.__setattr__(self, "e", tuple(e))
        object.__setattr__(self, "d", d)
        object.__setattr__(self, "r", r)

    # -- identity ------------------------------------------------------------------------------
    @property
    def id(self) -> str:
        """Stable short id (12 hex chars) of the canonical genes; the same in every process."""
        text = "ks" + "".join(map(str, self.ks)) + "e" + "".join(map(str, self.e))
        text += "d" + "".join(map(str, self.d)) + "r" + str(self.r)
        return hashlib.sha1(text.encode()).hexdigest()[:12]

    def active_blocks(self) -> list:
        """Indices (0..19) of the blocks this subnet runs."""
        return [s * MAX_DEPTH + p for s in range(N_STAGES) for p in range(self.d[s])]

    # -- JSON ------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The arch as a JSON-ready dict ``{"ks", "e", "d", "r"}`` (lists of ints; ``r`` in px)."""
        return {"ks": list(self.ks), "e": list(self.e), "d": list(self.d), "r": self.r}

    def to_json(self) -> str:
        """The arch as one line of JSON (the :meth:`to_dict` form)."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, obj) -> "Arch":
        """Accepts ``{"ks","e","d","r"}``; ``"r": [224]`` (OFA) and ``"image_size": 224`` too."""
        if not isinstance(obj, dict):
            raise HwnasError(
                f"an arch must be a JSON object with keys ks, e, d, r; got {type(obj).__name__}"
            )
        missing = [k for k in ("ks", "e", "d") if k not in obj]
        if missing:
            raise HwnasError(f"arch is missing {', '.join(missing)}; required keys: ks, e, d, r")
        if "r" in obj:
            r = obj["r"]
        elif "image_size" in obj:
            r = obj["image_size"]
        else:
            raise HwnasError('arch has no resolution; give "r": 224 (or "image_size": 224)')
        if isinstance(r, (list, tuple)):
            if len(r) != 1:
                raise HwnasError(
                    f"resolution {r!r} must be one integer; allowed: {NET_RESOLUTIONS_TEXT}"
                )
            r = r[0]
        return cls(ks=obj["ks"], e=obj["e"], d=obj["d"], r=r)

    @classmethod
    def from_json(cls, text: str) -> "Arch":
        """An Arch from JSON text in any form :meth:`from_dict` accepts; bad text: a one-line
        HwnasError."""
        return cls.from_dict(parse_json(text, "arch JSON"))

    @classmethod
    def load(cls, path) -> "Arch":
        """Read an arch JSON file; a ``best.json`` (with an ``"arch"`` key) works too."""
        obj = load_json(path)
        if isinstance(obj, dict) and "arch" in obj and isinstance(obj["arch"], dict):
            obj = obj["arch"]
        return cls.from_dict(obj)

    def save(self, path) -> None:
        """Write the arch to ``path`` as one line of JSON."""
        Path(path).write_text(self.to_json() + "\n")

    # -- batched form ----------------------------------------------------------------------------
    def to_array(self) -> np.ndarray:
        """The arch as one row of the batch form: int64 ``(46,)``, ``ks + e + d + (r,)``."""
        return np.array(self.ks + self.e + self.d + (self.r,), dtype=np.int64)

    @classmethod
    def from_array(cls, row) -> "Arch":
        """An Arch from one row of the batch form (the inverse of :meth:`to_array`)."""
        row = [int(v) for v in row]
        return cls(ks=row[KS_COLS], e=row[E_COLS], d=row[D_COLS], r=row[R_COL])

    # -- convenient constructors -------------------------------------------------------------------
    @classmethod
    def largest(cls, r: int = 224) -> "Arch":
        """Every block at kernel 7 and expand 6, every stage at depth 4, at ``r`` px."""
        return cls(ks=(7,) * N_BLOCKS, e=(6,) * N_BLOCKS, d=(4,) * N_STAGES, r=r)

    @classmethod
    def smallest(cls, r: int = 160) -> "Arch":
        """Every block at kernel 3 and expand 3, every stage at depth 2, at ``r`` px."""
        return cls(ks=(3,) * N_BLOCKS, e=(3,) * N_BLOCKS, d=(2,) * N_STAGES, r=r)

    def __str__(self) -> str:
        return f"Arch({self.id}: d={list(self.d)} r={self.r})"


def load_json(path, what: str = "file"):
    """Read a JSON file with one-line errors (missing, a directory, empty, binary, malformed, too
    deep)."""
    return read_json(path, what)


# ==== batched (N x 46) operations =================================================================


def encode(archs) -> np.ndarray:
    """Archs -> ``(N, 46)`` int64 array (canonical, since Archs are)."""
    archs = list(archs)
    if not archs:
        return np.zeros((0, N_GENES), dtype=np.int64)
    return np.stack([a.to_array() for a in archs])


def decode(X) -> list:
    """``(N, 46)`` array -> list of Archs (validated)."""
    return [Arch.from_array(row) for row in np.asarray(X)]


def active_mask(X) -> np.ndarray:
    """``(N, 20)`` bool: block i is run by arch n."""
    return np.asarray(X)[:, _DEPTH_COL] > _POSITION[None, :]


_DEPTH_COL = D_COLS.start + np.arange(N_BLOCKS) // MAX_DEPTH  # the depth gene of each block's stage
_POSITION = np.arange(N_BLOCKS) % MAX_DEPTH  # its position in the stage: run if below the depth


def canonicalize(X) -> np.ndarray:
    """Set genes of inactive blocks to the smallest value, like :class:`Arch` does."""
    X = np.array(X, dtype=np.int64, copy=True)
    inactive = ~active_mask(X)
    ks = X[:, KS_COLS]  # basic slices are views: writing them writes X
    ks[inactive] = KERNEL_SIZES[0]
    e = X[:, E_COLS]
    e[inactive] = EXPAND_RATIOS[0]
    return X


def validate(X) -> np.ndarray:
    """Check a batched array gene by gene; returns it as int64 (canonical)."""
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != N_GENES:
        raise HwnasError(f"batched archs must have shape (N, {N_GENES}); got {X.shape}")
    for cols, name in ((KS_COLS, "ks"), (E_COLS, "e"), (D_COLS, "d")):
        bad = ~np.isin(X[:, cols], _DOMAINS[name])
        if bad.any():
            n, i = np.argwhere(bad)[0]
            raise HwnasError(
                f"{_WHAT[name]} {X[n, cols][i]} in row {n} is not allowed; allowed: "
                f"{allowed(_DOMAINS[name])}"
            )
    for r in np.unique(X[:, R_COL]):
        check_resolution(int(r))
    return canonicalize(X)


def row_keys(X) -> tuple:
    """Two uint64 keys per row that identify a canonical arch exactly (for fast dedup and lookups).

    The 40 kernel/expand genes are base-3 digits (3**40 < 2**64); depths and resolution fit the
    second key.
    """
    X = np.asarray(X, dtype=np.int64)
    # each half (the kernel digits, the expand digits) is below 3**20 < 2**53, so float64 matrix
    # products (BLAS) are exact, and several times faster than uint64 ones
    lo, hi = _KS_DIGIT[X[:, KS_COLS]] @ _POW3_HALF, _E_DIGIT[X[:, E_COLS]] @ _POW3_HALF
    k1 = hi.astype(np.uint64) * np.uint64(3**N_BLOCKS) + lo.astype(np.uint64)
    depths = (X[:, D_COLS] - 2) @ _POW3_DEPTH
    return k1, (depths * 1024 + X[:, R_COL]).astype(np.uint64)


def value_index(values) -> np.ndarray:
    """``table[v]`` = position of gene value v in ``values`` (int64, -1 for other values), so a
    batch's genes index it directly: ``value_index(KERNEL_SIZES)[X[:, KS_COLS]]``."""
    table = np.full(max(values) + 1, -1, dtype=np.int64)
    table[list(values)] = np.arange(len(values))
    return table


_POW3_HALF = 3.0 ** np.arange(N_BLOCKS)
_POW3_DEPTH = 3 ** np.arange(N_STAGES, dtype=np.int64)
# base-3 digits as float64 for the exact BLAS products of row_keys
_KS_DIGIT, _E_DIGIT = (value_index(v).astype(np.float64) for v in (KERNEL_SIZES, EXPAND_RATIOS))


def first_occurrences(X) -> np.ndarray:
    """Indices of the first row of each distinct (canonical) arch in ``X``, ascending."""
    X = np.asarray(X)
    if len(X) < 2:
        return np.arange(len(X))
    k1, k2 = row_keys(X)
    order = np.lexsort((k2, k1))  # stable: the first occurrence leads each group
    k1, k2 = k1[order], k2[order]
    first = np.ones(len(X), dtype=bool)
    first[1:] = (k1[1:] != k1[:-1]) | (k2[1:] != k2[:-1])
    return np.sort(order[first])


def unique_rows(X) -> np.ndarray:
    """Drop duplicate (canonical) archs, keeping first occurrences in order."""
    X = np.asarray(X)
    return X if len(X) < 2 else X[first_occurrences(X)]


def row_ids(X) -> list:
    """Stable ids of each row, equal to ``Arch.id``."""
    return [Arch.from_array(row).id for row in np.asarray(X)]


def sample(n: int, rng: np.random.Generator, resolutions) -> np.ndarray:
    """``n`` archs, each gene uniform over its values (OFA's ``sample_active_subnet``),
    canonical."""
    X = np.empty((n, N_GENES), dtype=np.int64)
    X[:, KS_COLS] = rng.choice(KERNEL_SIZES, size=(n, N_BLOCKS))
    X[:, E_COLS] = rng.choice(EXPAND_RATIOS, size=(n, N_BLOCKS))
    X[:, D_COLS] = rng.choice(DEPTHS, size=(n, N_STAGES))
    X[:, R_COL] = rng.choice(np.asarray(resolutions), size=n)
    return canonicalize(X)


def mutate(X, rng: np.random.Generator, prob: float, resolutions) -> np.ndarray:
    """Resample each gene with probability ``prob`` (OFA's EvolutionFinder mutation), canonical."""
    X = np.asarray(X)
    fresh = sample(len(X), rng, resolutions) if len(X) else X
    # ``sample`` canonicalised inactive genes; draw fresh kernel/expand genes for every block
    # instead.
    fresh[:, KS_COLS] = rng.choice(KERNEL_SIZES, size=(len(X), N_BLOCKS))
    fresh[:, E_COLS] = rng.choice(EXPAND_RATIOS, size=(len(X), N_BLOCKS))
    take = rng.random(X.shape) < prob
    return canonicalize(np.where(take, fresh, X))


def crossover(A, B, rng: np.random.Generator) -> np.ndarray:
    """Uniform crossover: each gene from ``A`` or ``B`` with equal chance, canonical."""
    A, B = np.asarray(A), np.asarray(B)
    take = rng.random(A.shape) < 0.5
    return canonicalize(np.where(take, A, B))
