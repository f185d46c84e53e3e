"""A fixed pool of candidate subnets (``--pool FILE``) that a search may not leave.

``Pool.snap`` maps any rows to their nearest members by Hamming distance on the 46 canonical genes;
ties go to the member that comes first in a permutation seeded by the search seed, so snapping is a
pure function of (rows, pool, seed): a resumed run snaps exactly as the first did. Mutation-based
algorithms mutate freely and snap the children, so they walk inside the pool.
"""

from __future__ import annotations

import numpy as np

from ..arch import canonicalize, unique_rows
from ..space import (
    DEPTHS,
    EXPAND_RATIOS,
    KERNEL_SIZES,
    MAX_RESOLUTION,
    MIN_RESOLUTION,
    N_BLOCKS,
    N_GENES,
    N_STAGES,
)


def _codes(values) -> np.ndarray:
    table = np.zeros(max(values) + 1, dtype=np.int64)
    table[list(values)] = np.arange(len(values))
    return table


# One one-hot slot per (gene, value): 3 per kernel/expand/depth gene, one per pixel for resolution.
_CODES = (
    [_codes(KERNEL_SIZES)] * N_BLOCKS
    + [_codes(EXPAND_RATIOS)] * N_BLOCKS
    + [_codes(DEPTHS)] * N_STAGES
    + [_codes(range(MAX_RESOLUTION + 1)) - MIN_RESOLUTION]
)
_OFFSETS = np.cumsum([0] + [3] * (N_GENES - 1))
_SLOTS = int(_OFFSETS[-1]) + MAX_RESOLUTION - MIN_RESOLUTION + 1
_MEMORY_CELLS = 1 << 22  # cells of one (rows x members) distance block: 16 MB float32, 32 MB int64


def _one_hot(X) -> np.ndarray:
    """(N, _SLOTS) float32 with one 1 per gene; the dot product of two rows counts equal genes."""
    X = np.asarray(X, dtype=np.int64)
    slots = np.column_stack([_CODES[c][X[:, c]] for c in range(N_GENES)]) + _OFFSETS[None, :]
    out = np.zeros((len(X), _SLOTS), dtype=np.float32)
    out[np.arange(len(X))[:, None], slots] = 1.0
    return out


class Pool:
    """``members``: (P, 46) unique canonical archs, in file order."""

    def __init__(self, members, seed: int = 0):
        self.members = unique_rows(canonicalize(members))
        n = len(self.members)
        self._index = {bytes(row): i for i, row in enumerate(self.members)}
        self._hot_t = _one_hot(self.members).T.copy()
        # tie-break: a higher score wins; scores are distinct, seeded, and independent of call order
        self._tie = np.empty(n, dtype=np.int64)
        self._tie[np.random.default_rng(seed).permutation(n)] = np.arange(n)[::-1]

    def __len__(self) -> int:
        return len(self.members)

    def contains(self, X) -> np.ndarray:
        """Boolean mask ``(N,)``: which rows of ``X`` are pool members."""
        rows = np.asarray(X, dtype=np.int64)
        return np.fromiter((bytes(r) in self._index for r in rows), dtype=bool, count=len(rows))

    def nearest(self, X) -> np.ndarray:
        """Index of the nearest member of each row of ``X`` (Hamming distance on genes, seeded
        ties)."""
        X = canonicalize(X)
        out = np.empty(len(X), dtype=np.int64)
        n = len(self)
        step = max(1, _MEMORY_CELLS // max(n, 1))
        for start in range(0, len(X), step):
            # genes in common: sums of at most 46 ones, exact in float32
            same = _one_hot(X[start : start + step]) @ self._hot_t
            score = same.astype(np.int64) * n + self._tie[None, :]
            out[start : start + step] = score.argmax(axis=1)
        return out

    def snap(self, X) -> np.ndarray:
        """Each row of ``X`` replaced by its nearest member (members map to themselves)."""
        X = np.asarray(X, dtype=np.int64)
        if not len(X):
            return X.reshape(0, N_GENES)
        return self.members[self.nearest(X)]

    def sample(self, n: int, rng: np.random.Generator, exclude=None) -> np.ndarray:
        """Up to ``n`` distinct members drawn uniformly, none of them in ``exclude``."""
        idx = np.arange(len(self))
        if exclude is not None and len(exclude):
            idx = idx[
                ~np.isin(
                    idx,
                    [self._index.get(bytes(r), -1) for r in np.asarray(exclude, dtype=np.int64)],
                )
            ]
        return self.members[idx[rng.permutation(len(idx))[:n]]]
