"""Predictor features of an ``(N, 46)`` batch, vectorised.

Layout (float32): kernel-size one-hot (20 blocks x 3, order 3,5,7), expand-ratio one-hot (20 x 3,
order 3,4,6) -- both all-zero for blocks beyond their stage's depth --, depth one-hot (5 stages x 3,
order 2,3,4), and the resolution scaled to 0..1 over 128..224 px: 136 columns. ``with_cost=True``
appends log10 MACs and log10 params of the subnet (exact, from :mod:`hwnas.cost`): 138 columns.
The predictors use ``with_cost=True`` by default: it ranks better at small training sizes and never
worse (docs/predictors.md).
"""

from __future__ import annotations

import numpy as np

from hwnas.arch import active_mask, value_index
from hwnas.cost import macs_params
from hwnas.space import (
    D_COLS,
    DEPTHS,
    E_COLS,
    EXPAND_RATIOS,
    KERNEL_SIZES,
    KS_COLS,
    MAX_RESOLUTION,
    MIN_RESOLUTION,
    R_COL,
    get_space,
)

_KS_IDX, _E_IDX, _D_IDX = (
    value_index(KERNEL_SIZES),
    value_index(EXPAND_RATIOS),
    value_index(DEPTHS),
)
N_BASE_FEATURES = 20 * 3 + 20 * 3 + 5 * 3 + 1


def one_hot(idx: np.ndarray, n: int, mask=None) -> np.ndarray:
    """``(N, B)`` indices -> ``(N, B * n)`` float32 one-hot; rows/blocks with ``mask`` False are
    zero."""
    out = idx[:, :, None] == np.arange(n)[None, None, :]
    if mask is not None:
        out &= mask[:, :, None]
    return out.reshape(len(idx), -1).astype(np.float32)


def features(X, space_or_width=1.2, with_cost: bool = False) -> np.ndarray:
    """Float32 ``(N, 136)`` (or ``(N, 138)`` with cost) features of an ``(N, 46)`` int batch."""
    X = np.asarray(X, dtype=np.int64)
    n = len(X)
    width = N_BASE_FEATURES + (2 if with_cost else 0)
    out = np.zeros((n, width), dtype=np.float32)
    active = active_mask(X)
    base = np.arange(n, dtype=np.int64)[:, None] * width
    blocks3 = np.arange(20, dtype=np.int64)[None, :] * 3
    flat = out.reshape(-1)
    # kernel one-hot, active blocks only
    flat[(base + blocks3 + _KS_IDX[X[:, KS_COLS]])[active]] = 1.0
    flat[(base + 60 + blocks3 + _E_IDX[X[:, E_COLS]])[active]] = 1.0  # expand one-hot
    # depth one-hot
    flat[(base + 120 + np.arange(5)[None, :] * 3 + _D_IDX[X[:, D_COLS]]).ravel()] = 1.0
    out[:, N_BASE_FEATURES - 1] = (X[:, R_COL] - MIN_RESOLUTION) / (MAX_RESOLUTION - MIN_RESOLUTION)
    if with_cost:
        macs, params = macs_params(get_space(space_or_width), X)
        out[:, N_BASE_FEATURES] = np.log10(macs)
        out[:, N_BASE_FEATURES + 1] = np.log10(params)
    return out
