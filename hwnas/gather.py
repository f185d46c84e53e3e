"""One gather for per-block tables indexed by (block, kernel size, expand ratio).

The cost model (MACs, params) and the latency tables both hold one value per elastic block and
choice, indexed by the gene values themselves (``table[block, ks, e]``); an arch's total is the sum
over its active blocks. :func:`gather_blocks` is that lookup, once, for a whole batch.
"""

from __future__ import annotations

import numpy as np

from .arch import active_mask
from .space import E_COLS, KS_COLS, N_BLOCKS


def gather_blocks(table, X, ridx=None) -> np.ndarray:
    """Per-block values ``(N, 20)`` of an ``(N, 46)`` batch; 0 for blocks the arch does not run.

    ``table``: ``(20, K, E)`` indexed by (block, kernel size, expand ratio), in its own unit and
    dtype (kept); or ``(R, 20, K, E)`` with ``ridx`` (``(N,)`` ints) naming each arch's ``R`` row
    (e.g. its resolution's table).
    """
    X = np.asarray(X)
    blocks = np.arange(N_BLOCKS)[None, :]
    ks, e = X[:, KS_COLS], X[:, E_COLS]
    if ridx is None:
        values = table[blocks, ks, e]
    else:
        values = table[np.asarray(ridx)[:, None], blocks, ks, e]
    return np.where(active_mask(X), values, 0)
