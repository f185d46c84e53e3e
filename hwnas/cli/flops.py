"""``hwnas flops``: exact MACs ("FLOPs", OFA's convention) and parameters of one subnet."""

from __future__ import annotations

from ..arch import Arch, load_json
from ..cost import macs_params
from ..errors import HwnasError
from ..ofa_interop import arch_from_net_config
from ..space import NET_RESOLUTIONS_TEXT, get_space


def add_arguments(p) -> None:
    p.description = (
        "Exact multiply-accumulates (OFA's 'FLOPs': convs incl. SE, and "
        "the classifier) "
        "and parameter count of one subnet."
    )
    p.add_argument(
        "arch", nargs="?", help='arch JSON file ({"ks":[20],"e":[20],"d":[5],"r":224}) or best.json'
    )
    p.add_argument(
        "--net-config", metavar="FILE", help="an OFA MobileNetV3 net.config JSON instead of ARCH"
    )
    p.add_argument(
        "--resolution",
        type=int,
        metavar="R",
        help="input resolution (px) for --net-config, 128..256",
    )
    p.add_argument(
        "--width", type=float, default=None, help="width multiplier 1.2 (default) or 1.0"
    )


def run(args) -> dict:
    if (args.arch is None) == (args.net_config is None):
        raise HwnasError("give exactly one of ARCH (an arch JSON file) or --net-config FILE")
    if args.net_config is not None:
        if args.resolution is None:
            raise HwnasError(f"--net-config needs --resolution R; allowed: {NET_RESOLUTIONS_TEXT}")
        arch, space = arch_from_net_config(load_json(args.net_config), args.resolution, args.width)
    else:
        arch = Arch.load(args.arch)
        space = get_space(1.2 if args.width is None else args.width)
    macs, params = macs_params(space, arch.to_array()[None, :])
    return {
        "arch_id": arch.id,
        "width": space.width,
        "resolution": arch.r,
        "mflops": float(macs[0]) / 1e6,
        "params_m": float(params[0]) / 1e6,
        "macs": int(macs[0]),
        "params": int(params[0]),
    }


def human(result: dict) -> str:
    return (
        f"arch {result['arch_id']} (w{result['width']}, r={result['resolution']}): "
        f"{result['mflops']:.2f} MFLOPs (multiply-accumulates), {result['params_m']:.3f} M "
        f"params"
    )
