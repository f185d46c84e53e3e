"""OFA interop: real supernet/subnet modules, and Arch <-> OFA ``net.config``.

``net_config`` is computed from the space's block list without torch, and equals the ``.config`` of
the subnet that ``OFAMobileNetV3.get_active_subnet`` materialises (tested). ``arch_from_net_config``
reads such a config back, checking that it is an OFA MobileNetV3 of the expected width.
"""

from __future__ import annotations

from .arch import Arch
from .errors import HwnasError, allowed
from .ofa_compat import ofa_mbv3_class
from .space import (
    DEPTHS,
    DROPOUT,
    EXPAND_RATIOS,
    KERNEL_SIZES,
    MAX_DEPTH,
    N_STAGES,
    WIDTHS,
    Space,
    get_space,
)

_BN = {"momentum": 0.1, "eps": 1e-05, "ws_eps": None}


def _conv_layer(cin, cout, kernel, stride, act, use_bn=True):
    return {
        "name": "ConvLayer",
        "kernel_size": kernel,
        "stride": stride,
        "dilation": 1,
        "groups": 1,
        "bias": False,
        "has_shuffle": False,
        "use_se": False,
        "in_channels": cin,
        "out_channels": cout,
        "use_bn": use_bn,
        "act_func": act,
        "dropout_rate": 0,
        "ops_order": "weight_bn_act",
    }


def _identity(c):
    return {
        "name": "IdentityLayer",
        "in_channels": c,
        "out_channels": c,
        "use_bn": False,
        "act_func": None,
        "dropout_rate": 0,
        "ops_order": "weight_bn_act",
    }


def _mbconv(cin, cout, kernel, stride, expand, mid, act, se):
    return {
        "name": "MBConvLayer",
        "in_channels": cin,
        "out_channels": cout,
        "kernel_size": kernel,
        "stride": stride,
        "expand_ratio": expand,
        "mid_channels": mid,
        "act_func": act,
        "use_se": se,
        "groups": None,
    }


def block_config(block, kernel: int, expand: int) -> dict:
    """OFA's ``ResidualBlock`` config of one searchable block (a ``space.blocks[i]``) at ``kernel``
    (px) and ``expand`` (ratio): the MBConv layer plus its identity shortcut where it has one."""
    return {
        "name": "ResidualBlock",
        "conv": _mbconv(
            block.in_channels,
            block.out_channels,
            kernel,
            block.stride,
            expand,
            block.mid_channels(expand),
            block.act,
            block.se,
        ),
        "shortcut": _identity(block.in_channels) if block.identity_skip else None,
    }


def net_config(space: Space, arch: Arch) -> dict:
    """The OFA ``net.config`` of ``arch``'s subnet (``MobileNetV3.build_from_config`` rebuilds
    it)."""
    c0, c1 = space.stem_channels, space.first_block_channels
    blocks = [
        {
            "name": "ResidualBlock",
            "conv": _mbconv(c0, c1, 3, 1, 1, None, "relu", False),
            "shortcut": _identity(c0) if c0 == c1 else None,
        }
    ]
    for i in arch.active_blocks():
        blocks.append(block_config(space.blocks[i], arch.ks[i], arch.e[i]))
    return {
        "name": "MobileNetV3",
        "bn": dict(_BN),
        "first_conv": _conv_layer(3, c0, 3, 2, "h_swish"),
        "blocks": blocks,
        "final_expand_layer": _conv_layer(
            space.stage_channels[-1], space.head_channels, 1, 1, "h_swish"
        ),
        "feature_mix_layer": _conv_layer(
            space.head_channels, space.last_channels, 1, 1, "h_swish", use_bn=False
        ),
        "classifier": {
            "name": "LinearLayer",
            "in_features": space.last_channels,
            "out_features": 1000,
            "bias": True,
            "use_bn": False,
            "act_func": None,
            "dropout_rate": DROPOUT,
            "ops_order": "weight_bn_act",
        },
    }


def _width_of(config: dict) -> float:
    try:
        stem = config["first_conv"]["out_channels"]
    except (KeyError, TypeError):
        raise HwnasError(
            "net.config has no first_conv.out_channels; expected an OFA MobileNetV3 net.config"
        ) from None
    for w in WIDTHS:
        if get_space(w).stem_channels == stem:
            return w
    raise HwnasError(
        f"net.config stem has {stem} channels, which matches no supported width; "
        f"allowed widths: {allowed(WIDTHS)}"
    )


def arch_from_net_config(config, resolution, width=None) -> tuple:
    """Read an OFA MobileNetV3 ``net.config`` (dict) back into ``(Arch, Space)``.

    ``width`` (1.0 or 1.2), when given, must match the config's; otherwise it is inferred.
    """
    if not isinstance(config, dict):
        raise HwnasError(f"net.config must be a JSON object, got {type(config).__name__}")
    name = config.get("name")
    if name not in ("MobileNetV3", "OFAMobileNetV3"):
        raise HwnasError(
            f"net.config is of family {name!r}; allowed: MobileNetV3 (OFA MobileNetV3 space)"
        )
    found = _width_of(config)
    if width is not None and float(width) != found:
        raise HwnasError(
            f"net.config is width {found} but width {width} was asked for; allowed here: {found}"
        )
    space = get_space(found)
    blocks = config.get("blocks")
    if not isinstance(blocks, list) or len(blocks) < 1 + N_STAGES * min(DEPTHS):
        raise HwnasError("net.config has too few blocks for an OFA MobileNetV3 subnet")
    stage_of = {c: s for s, c in enumerate(space.stage_channels)}
    ks, e, d = [KERNEL_SIZES[0]] * 20, [EXPAND_RATIOS[0]] * 20, [0] * N_STAGES
    for j, blk in enumerate(blocks[1:], start=1):
        conv = (blk or {}).get("conv") or (blk or {}).get("mobile_inverted_conv") or {}
        cout = conv.get("out_channels")
        if cout not in stage_of:
            raise HwnasError(
                f"net.config block {j} has {cout} output channels; allowed for width "
                f"{found}: {allowed(space.stage_channels)}"
            )
        s = stage_of[cout]
        if d[s] >= MAX_DEPTH or any(d[t] for t in range(s + 1, N_STAGES)):
            raise HwnasError(
                f"net.config block {j} breaks the stage order of OFA MobileNetV3 (stage {s + 1})"
            )
        i = s * MAX_DEPTH + d[s]
        b = space.blocks[i]
        k, er = conv.get("kernel_size"), conv.get("expand_ratio")
        if k not in KERNEL_SIZES:
            raise HwnasError(
                f"net.config block {j} has kernel size {k!r}; allowed: {allowed(KERNEL_SIZES)}"
            )
        if er not in EXPAND_RATIOS:
            raise HwnasError(
                f"net.config block {j} has expand ratio {er!r}; allowed: {allowed(EXPAND_RATIOS)}"
            )
        if conv.get("in_channels") != b.in_channels or conv.get("stride") != b.stride:
            raise HwnasError(
                f"net.config block {j} has in_channels {conv.get('in_channels')} stride "
                f"{conv.get('stride')}; "
                f"expected {b.in_channels} and {b.stride} at this place of OFA MobileNetV3 "
                f"w{found}"
            )
        ks[i], e[i] = int(k), int(er)
        d[s] += 1
    for s, depth in enumerate(d):
        if depth not in DEPTHS:
            raise HwnasError(
                f"net.config stage {s + 1} has depth {depth}; allowed: {allowed(DEPTHS)}"
            )
    arch = Arch(ks=ks, e=e, d=d, r=resolution)
    expected = net_config(space, arch)
    for key in ("first_conv", "final_expand_layer", "feature_mix_layer"):
        if {
            k: v for k, v in (config.get(key) or {}).items() if k in ("in_channels", "out_channels")
        } != {k: expected[key][k] for k in ("in_channels", "out_channels")}:
            raise HwnasError(f"net.config {key} does not match OFA MobileNetV3 w{found}")
    return arch, space


# ---- real modules (need torch and ofa) -----------------------------------------------------------


def build_supernet(space: Space, n_classes: int = 1000):
    """A fresh ``ofa`` ``OFAMobileNetV3`` supernet (random weights) for the space."""
    return ofa_mbv3_class()(
        n_classes=n_classes,
        dropout_rate=DROPOUT,
        width_mult=space.width,
        ks_list=list(KERNEL_SIZES),
        expand_ratio_list=list(EXPAND_RATIOS),
        depth_list=list(DEPTHS),
    )


def set_active(supernet, arch: Arch) -> None:
    """Make ``arch`` the active subnet of an OFA ``supernet`` (kernels, expand ratios, depths; the
    resolution is the input's)."""
    supernet.set_active_subnet(ks=list(arch.ks), e=list(arch.e), d=list(arch.d))


def build_subnet(space: Space, arch: Arch, supernet=None, preserve_weight: bool = True):
    """Materialise ``arch`` as an ``ofa`` ``MobileNetV3`` module (weights from ``supernet`` if
    given)."""
    if supernet is None:
        supernet, preserve_weight = build_supernet(space), False
    set_active(supernet, arch)
    return supernet.get_active_subnet(preserve_weight=preserve_weight)


def _ofa_key(key: str, model_keys) -> str:
    """Map a checkpoint key to the supernet's naming (official checkpoints use older module
    names)."""
    key = key[len("module.") :] if key.startswith("module.") else key
    key = key.replace(".mobile_inverted_conv.", ".conv.")
    if key in model_keys:
        return key
    for old, new in (
        (".bn.bn.", ".bn."),
        (".conv.conv.weight", ".conv.weight"),
        (".linear.linear.", ".linear."),
        (".linear.", ".linear.linear."),
        ("bn.", "bn.bn."),
        ("conv.weight", "conv.conv.weight"),
    ):
        if old in key and key.replace(old, new) in model_keys:
            return key.replace(old, new)
    return key


def _load_failure(exc) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, in words fit for one line."""
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    if "Weights only load failed" in text:
        return (
            "it holds Python objects besides tensors, which hwnas never unpickle; save the "
            "state dict alone: torch.save(model.state_dict(), PATH)"
        )
    return (text.strip().splitlines() or [type(exc).__name__])[0][:200]


def load_supernet(space: Space, path):
    """An ``OFAMobileNetV3`` with weights from an OFA supernet state dict (official ``ofa_mbv3_*``
    files).

    Read with ``torch.load(..., weights_only=True)``; a checkpoint of another width or family is a
    one-line error naming the mismatching keys.
    """
    from pathlib import Path

    import torch

    p = Path(path)
    if not p.is_file():
        raise HwnasError(f"weights file {str(path)!r} does not exist")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    # torch raises many types for a bad file; say which file and why, briefly
    except Exception as exc:
        raise HwnasError(
            f"weights file {str(path)!r} is not a torch state dict: {_load_failure(exc)}"
        ) from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(torch.is_tensor(v) for v in obj.values()):
        raise HwnasError(f"weights file {str(path)!r} holds no state dict of tensors")
    net = build_supernet(space)
    model = net.state_dict()
    mapped = {_ofa_key(k, model): v for k, v in obj.items()}
    unknown = sorted(k for k in mapped if k not in model)
    missing = sorted(k for k in model if k not in mapped and not k.endswith("num_batches_tracked"))
    if unknown or missing:
        sample = ", ".join((unknown or missing)[:3])
        raise HwnasError(
            f"weights {str(path)!r} are not an OFA MobileNetV3 w{space.width} "
            f"supernet: "
            f"{len(unknown)} unexpected and {len(missing)} missing keys (e.g. "
            f"{sample})"
        )
    wrong = [k for k, v in mapped.items() if tuple(v.shape) != tuple(model[k].shape)]
    if wrong:
        k = wrong[0]
        raise HwnasError(
            f"weights {str(path)!r} do not fit OFA MobileNetV3 w{space.width}: "
            f"{len(wrong)} keys differ in "
            f"shape, e.g. {k} is {tuple(mapped[k].shape)}, expected "
            f"{tuple(model[k].shape)} (another width?)"
        )
    model.update(mapped)
    torch.nn.Module.load_state_dict(net, model)
    return net
