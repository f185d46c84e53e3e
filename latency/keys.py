"""Latency-table keys in OFA's format: the one module that knows how a layer is named in a table.

OFA's ``MBv3LatencyTable`` (``ofa/nas/efficiency_predictor/latency_lookup_table.py``) names each
layer of a MobileNetV3 subnet by its type and shapes (height x width x channels, NHWC order), e.g.::

    Conv-input:224x224x3-output:112x112x24                       stem 3x3 conv, stride 2
    expanded_conv-input:112x112x24-output:112x112x24-expand:24-kernel:3-stride:1-idskip:1-se:0-hs:0
                                                                  the fixed first block (expand 1)
    expanded_conv-input:112x112x24-output:56x56x32-expand:144-kernel:3-stride:2-idskip:0-se:0-hs:0
                                                                  an elastic block; "expand" is the
                                                                  *mid channel count*, not the ratio
    Conv_1-input:7x7x192-output:7x7x1152                         final 1x1 expand conv
    AvgPool2D-input:7x7x1152-output:1x1x1152                     global average pooling
    Conv_2-input:1x1x1152-output:1x1x1536                        feature-mix 1x1 conv
    Logits-input:1x1x1536-output:1000                            flatten + classifier

``se`` and ``hs`` come from the stage (squeeze-excite, h-swish activation), as ``hwnas.space`` says.
All shapes and channel counts are computed from :class:`hwnas.space.Space` (its block list and
``feature_sizes``); nothing here hard-codes a width. Every key is paired with the OFA layer config
that the profilers build a real module from (``ofa.utils.layers.set_layer_from_config``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hwnas.arch import Arch
from hwnas.ofa_interop import block_config, net_config
from hwnas.space import EXPAND_RATIOS, KERNEL_SIZES, MAX_DEPTH, N_CLASSES, Space, conv_out

FIXED_KINDS = ("Conv", "first_block", "Conv_1", "AvgPool2D", "Conv_2", "Logits")


def _shape(*dims) -> str:
    return "x".join(str(int(d)) for d in dims)


def conv_key(kind: str, in_hwc, out_hwc) -> str:
    """Key of a non-MBConv layer (``Conv``, ``Conv_1``, ``AvgPool2D``, ``Conv_2``, ``Logits``)."""
    return f"{kind}-input:{_shape(*in_hwc)}-output:{_shape(*out_hwc)}"


def mbconv_key(
    in_side: int,
    cin: int,
    out_side: int,
    cout: int,
    mid: int,
    kernel: int,
    stride: int,
    idskip: bool,
    se: bool,
    hs: bool,
) -> str:
    """Key of an MBConv block (OFA's ``expanded_conv``); ``mid`` is the mid (expanded) channel
    count."""
    return (
        f"expanded_conv-input:{_shape(in_side, in_side, cin)}"
        f"-output:{_shape(out_side, out_side, cout)}"
        f"-expand:{int(mid)}-kernel:{int(kernel)}-stride:{int(stride)}-idskip:{int(bool(idskip))}"
        f"-se:{int(bool(se))}-hs:{int(bool(hs))}"
    )


@dataclass(frozen=True)
class LayerSpec:
    """One table entry: its key, what it is, and how to build and feed it.

    ``input_shape`` is NCHW with batch 1 (the profilers scale the batch). ``config`` is an OFA layer
    config (``set_layer_from_config``) or ``None`` for ``AvgPool2D``/``Logits`` (see
    ``latency.modules``). ``kind`` is one of ``FIXED_KINDS`` or ``"block"``;
    ``block``/``kernel``/``expand`` name the elastic block slot (0..19), kernel size and expand
    ratio for ``"block"`` entries.
    """

    key: str
    kind: str
    resolution: int
    input_shape: tuple
    config: dict | None = field(default=None, compare=False, hash=False)
    block: int | None = None
    kernel: int | None = None
    expand: int | None = None


def block_key(space: Space, index: int, kernel: int, expand: int, resolution: int) -> str:
    """Key of elastic block ``index`` (0..19) with kernel ``kernel`` and expand ratio ``expand`` at
    ``resolution`` px."""
    b = space.blocks[index]
    _, ins, outs, _ = space.feature_sizes(resolution)
    return mbconv_key(
        int(ins[index]),
        b.in_channels,
        int(outs[index]),
        b.out_channels,
        b.mid_channels(expand),
        kernel,
        b.stride,
        b.identity_skip,
        b.se,
        b.act == "h_swish",
    )


def fixed_specs(space: Space, resolution: int) -> list:
    """The six layers every subnet runs at ``resolution``: stem, first block, head and
    classifier."""
    cfg = net_config(space, Arch.smallest(resolution))
    stem, _, _, final = space.feature_sizes(resolution)
    stem, final = int(stem), int(final)
    r = int(resolution)
    c0, c1 = space.stem_channels, space.first_block_channels
    c5, head, last = space.stage_channels[-1], space.head_channels, space.last_channels
    first = cfg["blocks"][0]
    first_conv = first["conv"]
    # OFA's table names the first block's mid channels round(in * 1) when its config says None.
    first_mid = first_conv["mid_channels"] or round(
        first_conv["in_channels"] * first_conv["expand_ratio"]
    )
    return [
        LayerSpec(
            conv_key("Conv", (r, r, 3), (stem, stem, c0)),
            "Conv",
            r,
            (1, 3, r, r),
            cfg["first_conv"],
        ),
        LayerSpec(
            mbconv_key(
                stem,
                c0,
                stem,
                c1,
                first_mid,
                first_conv["kernel_size"],
                1,
                first["shortcut"] is not None,
                False,
                False,
            ),
            "first_block",
            r,
            (1, c0, stem, stem),
            first,
        ),
        LayerSpec(
            conv_key("Conv_1", (final, final, c5), (final, final, head)),
            "Conv_1",
            r,
            (1, c5, final, final),
            cfg["final_expand_layer"],
        ),
        LayerSpec(
            conv_key("AvgPool2D", (final, final, head), (1, 1, head)),
            "AvgPool2D",
            r,
            (1, head, final, final),
        ),
        LayerSpec(
            conv_key("Conv_2", (1, 1, head), (1, 1, last)),
            "Conv_2",
            r,
            (1, head, 1, 1),
            cfg["feature_mix_layer"],
        ),
        LayerSpec(
            conv_key("Logits", (1, 1, last), (N_CLASSES,)),
            "Logits",
            r,
            (1, last, 1, 1),
            cfg["classifier"],
        ),
    ]


def block_spec(space: Space, index: int, kernel: int, expand: int, resolution: int) -> LayerSpec:
    """The :class:`LayerSpec` of block ``index`` at ``kernel``, ``expand`` and ``resolution`` px."""
    b = space.blocks[index]
    _, ins, _, _ = space.feature_sizes(resolution)
    side = int(ins[index])
    config = block_config(b, kernel, expand)
    return LayerSpec(
        block_key(space, index, kernel, expand, resolution),
        "block",
        int(resolution),
        (1, b.in_channels, side, side),
        config,
        block=index,
        kernel=kernel,
        expand=expand,
    )


def table_specs(space: Space, resolution: int) -> list:
    """Exactly the distinct entries a table at ``resolution`` needs (96 for OFA MobileNetV3), in
    table order.

    Per stage, the first block (stride, channel change) and the repeated blocks (positions 1..3
    share one key) each come in 3 kernels x 3 expand ratios; plus the six fixed layers.
    """
    specs = list(fixed_specs(space, resolution))
    seen = {s.key for s in specs}
    for b in space.blocks:
        for k in KERNEL_SIZES:
            for e in EXPAND_RATIOS:
                s = block_spec(space, b.index, k, e, resolution)
                if s.key not in seen:
                    seen.add(s.key)
                    specs.append(s)
    return specs


def stem_channels_of_table(keys) -> int | None:
    """The stem width a table was measured for (from its ``Conv-input:RxRx3-output:SxSxC`` key), or
    None."""
    for k in keys:
        if k.startswith("Conv-input:"):
            try:
                return int(k.rsplit("x", 1)[1])
            except ValueError:
                return None
    return None


def resolution_of_table(keys) -> int | None:
    """The input resolution a table was measured at (from its ``Conv`` key), or None."""
    for k in keys:
        if k.startswith("Conv-input:"):
            try:
                return int(k[len("Conv-input:") :].split("x", 1)[0])
            except ValueError:
                return None
    return None


__all__ = [
    "FIXED_KINDS",
    "LayerSpec",
    "block_key",
    "block_spec",
    "conv_key",
    "fixed_specs",
    "mbconv_key",
    "resolution_of_table",
    "stem_channels_of_table",
    "table_specs",
    "MAX_DEPTH",
    "conv_out",
]
