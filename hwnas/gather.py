"""One gather for per-block tables indexed by (block, kernel size, expand ratio).

The cost model (MACs, params) and the latency tables both hold one value per elastic block and
choice, indexed by the gene values themselves (``table[block, ks, e]``); an arch's total is the sum
over its active blocks. :func:`gather_blocks` is that lookup, once, for a whole batch.
"""

from __future__ import annotations

import numpy as np

from .arch import active_mask
from .space import E_COLS, KS_COLS, N_BLOCKS


def gather_blocks(table, X, ridx=None, active=None) -> np.ndarray:
    """Per-block values ``(N, 20)`` of an ``(N, 46)`` batch; 0 for blocks the arch does not run.

    ``table``: ``(20, K, E)`` indexed by (block, kernel size, expand ratio), in its own unit and
    dtype (kept); or ``(R, 20, K, E)`` with ``ridx`` (``(N,)`` ints) naming each arch's ``R`` row
    (e.g. its resolution's table). ``active``: ``active_mask(X)`` if the caller has it already.
    """
    X, table = np.asarray(X), np.ascontiguousarray(table)
    k, e = table.shape[-2:]
    # one flat index is several times faster than fancy indexing on three or four axes
    idx = _BLOCK_ROWS * (k * e) + X[:, KS_COLS] * e + X[:, E_COLS]
    if ridx is not None:
        idx = idx + (np.asarray(ridx, dtype=np.int64) * (N_BLOCKS * k * e))[:, None]
    values = table.reshape(-1)[idx]
    return np.where(active_mask(X) if active is None else active, values, 0)


_BLOCK_ROWS = np.arange(N_BLOCKS, dtype=np.int64)[None, :]
