"""The OFA MobileNetV3 search space: its genes and its block list.

This module is the single source of truth for the structure of the space: channel widths, strides,
activations and squeeze-excite placement per block, and how feature-map sizes follow from the input
resolution. Costs (``hwnas.cost``), OFA net.configs (``hwnas.ofa_interop``), latency-table keys
(``latency.keys``) and predictor features all read it from here.

Numbers follow OFA's ``OFAMobileNetV3`` exactly (``ofa/imagenet_classification/elastic_nn``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import HwnasError, allowed

KERNEL_SIZES = (3, 5, 7)
EXPAND_RATIOS = (3, 4, 6)
DEPTHS = (2, 3, 4)
N_STAGES = 5
MAX_DEPTH = 4
N_BLOCKS = N_STAGES * MAX_DEPTH  # 20 elastic blocks
N_GENES = 2 * N_BLOCKS + N_STAGES + 1  # ks[20] + e[20] + d[5] + r = 46
# Input resolutions (px). OFA's supernets were trained at 128..224: a search samples only there, and
# predictor features scale the resolution over that range.
MIN_RESOLUTION, MAX_RESOLUTION = 128, 224
# Any subnet runs at any input size. Counting, net.configs, latency tables and export accept
# 128..256, which holds every net OFA published (they run at up to 236 px; OFA's accuracy predictor
# encodes 112..239).
MIN_NET_RESOLUTION, MAX_NET_RESOLUTION = 128, 256
DEFAULT_RESOLUTIONS = (160, 176, 192, 208, 224)
WIDTHS = (1.0, 1.2)

# Columns of the batched (N x 46) form.
KS_COLS = slice(0, N_BLOCKS)
E_COLS = slice(N_BLOCKS, 2 * N_BLOCKS)
D_COLS = slice(2 * N_BLOCKS, 2 * N_BLOCKS + N_STAGES)
R_COL = N_GENES - 1

_BASE_WIDTHS = (16, 16, 24, 40, 80, 112, 160, 960, 1280)  # stem, block0, stages 1..5, head, last
_STAGE_STRIDES = (2, 2, 2, 1, 2)
_STAGE_ACTS = ("relu", "relu", "h_swish", "h_swish", "h_swish")
_STAGE_SE = (False, True, False, True, True)
CHANNEL_DIVISIBLE = 8
SE_REDUCTION = 4
N_CLASSES = 1000
DROPOUT = 0.1


def make_divisible(v: float, divisor: int = CHANNEL_DIVISIBLE) -> int:
    """OFA's (and TF-slim's) channel rounding: nearest multiple of ``divisor``, never 10% below."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return int(new_v)


def conv_out(size, stride: int):
    """Output side of an odd-kernel 'same'-padded conv (OFA pads kernel//2): ceil(size / stride)."""
    return (size - 1) // stride + 1


@dataclass(frozen=True)
class Block:
    """One elastic MBConv slot of the supernet (kernel and expand ratio are chosen per arch)."""

    index: int  # 0..19
    stage: int  # 0..4
    position: int  # 0..3 within the stage
    in_channels: int
    out_channels: int
    stride: int
    act: str
    se: bool

    @property
    def identity_skip(self) -> bool:
        """True when the block has a residual connection (stride 1, as many input as output
        channels)."""
        return self.stride == 1 and self.in_channels == self.out_channels

    def mid_channels(self, expand_ratio: int) -> int:
        """Channels of the expanded (depthwise) layer: input channels x ``expand_ratio``, made
        divisible."""
        return make_divisible(round(self.in_channels * expand_ratio))

    def se_channels(self, expand_ratio: int) -> int:
        """Channels of the squeeze-and-excitation bottleneck at ``expand_ratio``, made divisible."""
        return make_divisible(self.mid_channels(expand_ratio) // SE_REDUCTION)


@dataclass(frozen=True)
class Space:
    """The OFA MobileNetV3 space at one width multiplier.

    ``resolutions`` are the input sizes (pixels) that sampling and search use, integers in 128..224
    (OFA's training range); an :class:`~hwnas.arch.Arch` may have any resolution in 128..256.
    """

    width: float = 1.2
    resolutions: tuple = DEFAULT_RESOLUTIONS
    blocks: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.width not in WIDTHS:
            raise HwnasError(f"width {self.width!r} is not supported; allowed: {allowed(WIDTHS)}")
        res = tuple(sorted({check_search_range(r) for r in self.resolutions}))
        if not res:
            raise HwnasError("resolutions must not be empty")
        object.__setattr__(self, "resolutions", res)
        object.__setattr__(self, "blocks", tuple(self._build_blocks()))

    # -- names -------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """``ofa-mbv3-w{width}``, e.g. ``ofa-mbv3-w1.2``."""
        return f"ofa-mbv3-w{self.width}"

    @property
    def ofa_name(self) -> str:
        """The name OFA's model zoo gives this supernet."""
        return f"ofa_mbv3_d234_e346_k357_w{self.width}"

    # -- channel widths ------------------------------------------------------------------------
    @property
    def widths(self) -> tuple:
        """Channels of the stem, the first block and the five stages, scaled by ``width``, made
        divisible."""
        return tuple(make_divisible(w * self.width) for w in _BASE_WIDTHS[:-2])

    @property
    def stem_channels(self) -> int:
        """Output channels of the stem convolution."""
        return self.widths[0]

    @property
    def first_block_channels(self) -> int:
        """Output channels of the fixed first block."""
        return self.widths[1]

    @property
    def stage_channels(self) -> tuple:
        """Output channels of each of the five searchable stages."""
        return self.widths[2:]

    @property
    def head_channels(self) -> int:
        """Output of the final 1x1 expand conv (960 x width)."""
        return make_divisible(_BASE_WIDTHS[-2] * self.width)

    @property
    def last_channels(self) -> int:
        """Output of the feature-mix conv, input of the classifier (1280 x width)."""
        return make_divisible(_BASE_WIDTHS[-1] * self.width)

    def _build_blocks(self):
        cin = self.first_block_channels
        for stage, cout in enumerate(self.stage_channels):
            for pos in range(MAX_DEPTH):
                yield Block(
                    index=stage * MAX_DEPTH + pos,
                    stage=stage,
                    position=pos,
                    in_channels=cin,
                    out_channels=cout,
                    stride=_STAGE_STRIDES[stage] if pos == 0 else 1,
                    act=_STAGE_ACTS[stage],
                    se=_STAGE_SE[stage],
                )
                cin = cout

    # -- feature-map sizes ---------------------------------------------------------------------
    def feature_sizes(self, r):
        """Side lengths for input resolution(s) ``r`` (int or int array, pixels).

        Returns ``(stem_out, block_in, block_out, final)``: the stem's output side, the input and
        output sides of each of the 20 blocks (arrays ``r.shape + (20,)``), and the last side.
        """
        r = np.asarray(r, dtype=np.int64)
        side = conv_out(r, 2)  # stem: 3x3 stride 2; first block keeps the size
        stem = side
        ins, outs = [], []
        for stride in _STAGE_STRIDES:
            for pos in range(MAX_DEPTH):
                ins.append(side)
                if pos == 0:
                    side = conv_out(side, stride)
                outs.append(side)
        return stem, np.stack(ins, axis=-1), np.stack(outs, axis=-1), side

    # -- validation --------------------------------------------------------------------------
    def check_search_resolution(self, r) -> int:
        """``r`` (px) as an int if this space searches it, else a one-line HwnasError naming those
        it does."""
        r = check_resolution(r)
        if r not in self.resolutions:
            raise HwnasError(
                f"resolution {r} is not in this space's resolutions; allowed: "
                f"{allowed(self.resolutions)}"
            )
        return r

    def to_dict(self) -> dict:
        """The space as run.yaml records it: ``{"name", "width", "resolutions"}``."""
        return {"name": self.name, "width": self.width, "resolutions": list(self.resolutions)}

    @classmethod
    def from_dict(cls, d: dict) -> "Space":
        """A Space from the :meth:`to_dict` form (missing keys: width 1.2, the default
        resolutions)."""
        return cls(
            width=float(d.get("width", 1.2)),
            resolutions=tuple(d.get("resolutions", DEFAULT_RESOLUTIONS)),
        )


NET_RESOLUTIONS_TEXT = f"integers {MIN_NET_RESOLUTION}..{MAX_NET_RESOLUTION}"


def check_resolution(r) -> int:
    """An input resolution of a subnet in pixels: an integer in 128..256."""
    if isinstance(r, bool) or not isinstance(r, (int, np.integer)):
        if isinstance(r, float) and r.is_integer():
            r = int(r)
        else:
            raise HwnasError(f"resolution {r!r} is not an integer; allowed: {NET_RESOLUTIONS_TEXT}")
    r = int(r)
    if not MIN_NET_RESOLUTION <= r <= MAX_NET_RESOLUTION:
        raise HwnasError(f"resolution {r} is out of range; allowed: {NET_RESOLUTIONS_TEXT}")
    return r


def check_search_range(r) -> int:
    """A resolution a search may sample (pixels): an integer in 128..224, OFA's training range."""
    r = check_resolution(r)
    if not MIN_RESOLUTION <= r <= MAX_RESOLUTION:
        raise HwnasError(
            f"search resolution {r} is outside OFA's training range; allowed: integers "
            f"{MIN_RESOLUTION}..{MAX_RESOLUTION} (a single net may be counted, profiled and "
            f"exported at {MIN_NET_RESOLUTION}..{MAX_NET_RESOLUTION})"
        )
    return r


def check_width(width) -> float:
    """``width`` as a float if it is a supported width multiplier (``WIDTHS``), else a one-line
    HwnasError."""
    try:
        w = float(width)
    except (TypeError, ValueError):
        raise HwnasError(f"width {width!r} is not a number; allowed: {allowed(WIDTHS)}") from None
    if w not in WIDTHS:
        raise HwnasError(f"width {width!r} is not supported; allowed: {allowed(WIDTHS)}")
    return w


_SPACES: dict = {}


def get_space(name_or_width="ofa-mbv3-w1.2", resolutions=DEFAULT_RESOLUTIONS) -> Space:
    """Registry lookup: ``get_space("ofa-mbv3-w1.0")`` or ``get_space(1.0)``."""
    if isinstance(name_or_width, Space):
        return name_or_width
    if isinstance(name_or_width, str) and name_or_width.startswith("ofa-mbv3-w"):
        width = name_or_width[len("ofa-mbv3-w") :]
    else:
        width = name_or_width
    key = (check_width(width), tuple(resolutions))
    if key not in _SPACES:
        _SPACES[key] = Space(width=key[0], resolutions=key[1])
    return _SPACES[key]


SPACE_NAMES = tuple(f"ofa-mbv3-w{w}" for w in WIDTHS)
