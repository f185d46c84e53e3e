"""Exact cost model: multiply-accumulates ("FLOPs" in OFA's convention) and parameters.

OFA (and so hwnas) counts *multiply-accumulates* of every convolution, squeeze-excite 1x1 convs
included, and of the classifier; batch norm, activations, pooling, biases and the residual adds are
not counted. This equals ``ofa.utils.count_net_flops`` on the materialised subnet. Parameters are
every trainable tensor of the materialised subnet (conv and linear weights, biases, BN scale and
shift).

``macs_params`` is vectorised over an ``(N, 46)`` batch; ``macs_params_reference`` is the same
formula written per arch in plain Python, kept for the benchmark and as a cross-check in the tests.
"""

from __future__ import annotations

import numpy as np

from .arch import Arch, active_mask
from .gather import gather_blocks
from .space import EXPAND_RATIOS, KERNEL_SIZES, MAX_NET_RESOLUTION, N_CLASSES, R_COL, Space


def _mid_tables(space: Space):
    """``mid[i, e]`` and ``se_mid[i, e]`` for block i and expand ratio e (indexed by the ratio
    itself)."""
    top = max(EXPAND_RATIOS) + 1
    mid = np.zeros((len(space.blocks), top), dtype=np.int64)
    se = np.zeros_like(mid)
    for b in space.blocks:
        for e in EXPAND_RATIOS:
            mid[b.index, e] = b.mid_channels(e)
            se[b.index, e] = b.se_channels(e) if b.se else 0
    return mid, se


def _fixed_layers(space: Space, stem_side, final_side):
    """MACs and params of the layers every subnet has: stem, first block, head, classifier."""
    c0, c1, h, last = (
        space.stem_channels,
        space.first_block_channels,
        space.head_channels,
        space.last_channels,
    )
    c5 = space.stage_channels[-1]
    s2 = stem_side * stem_side
    macs = 3 * 9 * c0 * s2  # stem 3x3 conv
    macs = macs + c0 * 9 * s2 + c0 * c1 * s2  # first block: depthwise 3x3 + pointwise
    macs = macs + c5 * h * final_side * final_side  # final 1x1 expand
    macs = macs + h * last + last * N_CLASSES  # feature mix (1x1 after pooling) + classifier
    params = (
        27 * c0
        + 2 * c0
        + 9 * c0
        + 2 * c0
        + c0 * c1
        + 2 * c1
        + c5 * h
        + 2 * h
        + h * last
        + last * N_CLASSES
        + N_CLASSES
    )
    return macs, params


class CostModel:
    """Vectorised MACs/params for one space. Build once; call on batches of any size.

    Per-block costs depend only on (block, kernel, expand ratio) and, for MACs, the resolution: they
    are tabulated once (MACs once per resolution), so a batch costs two gathers and two row sums.
    """

    _K = max(KERNEL_SIZES) + 1  # tables are indexed by the gene values themselves

    def __init__(self, space: Space):
        self.space = space
        self.mid, self.se_mid = _mid_tables(space)
        self.cin = np.array([b.in_channels for b in space.blocks], dtype=np.int64)
        self.cout = np.array([b.out_channels for b in space.blocks], dtype=np.int64)
        k = np.arange(self._K)[None, :, None]
        mid, sem = self.mid[:, None, :], self.se_mid[:, None, :]
        params = (
            self.cin[:, None, None] + 4 + k * k + self.cout[:, None, None]
        ) * mid + 2 * self.cout[:, None, None]
        params = params + 2 * mid * sem + np.where(sem > 0, sem + mid, 0)
        self._params = params  # (block, kernel size, expand ratio) -> params
        _, self.fixed_params = _fixed_layers(space, 0, 0)
        # MACs per resolution, tabulated on first use: row ``_row[r]`` of ``_macs`` (R, block,
        # kernel size, expand ratio) and of ``_fixed_macs``; -1 where not tabulated yet
        self._row = np.full(MAX_NET_RESOLUTION + 1, -1, dtype=np.int64)
        self._macs = np.zeros((0, *params.shape), dtype=np.int64)
        self._fixed_macs = np.zeros(0, dtype=np.int64)

    def _tabulate(self, r: int) -> None:
        stem, hin, hout, final = self.space.feature_sizes(r)
        k = np.arange(self._K)[None, :, None]
        hin2, hout2 = (hin * hin)[:, None, None], (hout * hout)[:, None, None]
        mid, sem = self.mid[:, None, :], self.se_mid[:, None, :]
        macs = (
            self.cin[:, None, None] * hin2 + k * k * hout2 + self.cout[:, None, None] * hout2
        ) * mid
        macs = macs + 2 * mid * sem
        fixed = int(_fixed_layers(self.space, int(stem), int(final))[0])
        self._macs = np.concatenate([self._macs, macs[None]])
        self._fixed_macs = np.append(self._fixed_macs, fixed)
        self._row[r] = len(self._fixed_macs) - 1  # last: a reader never sees a row not there

    def _resolution_rows(self, r) -> np.ndarray:
        """Each arch's row in the MACs tables, tabulating resolutions not seen before."""
        rows = self._row[r]
        if (rows < 0).any():
            for res in np.unique(r[rows < 0]):
                self._tabulate(int(res))
            rows = self._row[r]
        return rows

    def block_macs(self, X) -> np.ndarray:
        """``(N, 20)`` int64: the MACs of each elastic block of each arch, 0 where not run."""
        X = np.asarray(X, dtype=np.int64)
        rows = self._resolution_rows(X[:, R_COL])  # first: it may grow the tables
        return gather_blocks(self._macs, X, rows)

    def __call__(self, X) -> tuple:
        """Return ``(macs, params)``: int64 arrays of shape (N,) for an ``(N, 46)`` batch."""
        X = np.asarray(X, dtype=np.int64)
        active = active_mask(X)
        params = self.fixed_params + gather_blocks(self._params, X, active=active).sum(axis=1)
        rows = self._resolution_rows(X[:, R_COL])
        macs = self._fixed_macs[rows] + gather_blocks(self._macs, X, rows, active).sum(axis=1)
        return macs, params


_MODELS: dict = {}


def cost_model(space: Space) -> CostModel:
    """The :class:`CostModel` of ``space``'s width, built on first use and then reused."""
    if space.width not in _MODELS:
        _MODELS[space.width] = CostModel(space)
    return _MODELS[space.width]


def macs_params(space: Space, X) -> tuple:
    """Vectorised MACs and parameter counts (int64 arrays) of an ``(N, 46)`` batch."""
    return cost_model(space)(X)


def mflops(space: Space, X) -> np.ndarray:
    """Millions of MACs ("MFLOPs" in OFA's convention) per arch, float64."""
    return macs_params(space, X)[0] / 1e6


def macs_params_reference(space: Space, arch: Arch) -> tuple:
    """The same numbers, one arch at a time in plain Python (benchmark baseline and cross-check)."""
    stem, hin, hout, final = space.feature_sizes(arch.r)
    macs, params = _fixed_layers(space, int(stem), int(final))
    for i in arch.active_blocks():
        b = space.blocks[i]
        k, mid = arch.ks[i], b.mid_channels(arch.e[i])
        si, so = int(hin[i]), int(hout[i])
        macs += b.in_channels * mid * si * si  # 1x1 expand
        macs += mid * k * k * so * so  # depthwise
        macs += mid * b.out_channels * so * so  # 1x1 project
        params += (
            b.in_channels * mid
            + 2 * mid
            + mid * k * k
            + 2 * mid
            + mid * b.out_channels
            + 2 * b.out_channels
        )
        if b.se:
            sm = b.se_channels(arch.e[i])
            macs += 2 * mid * sm
            params += 2 * mid * sm + sm + mid
    return int(macs), int(params)
