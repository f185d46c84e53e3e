"""Import OFA without torchvision.

The ``ofa`` package imports ``torchvision.transforms`` at module level through its data-loader
helpers (``ofa.utils.my_dataloader``), which hwnas never uses; there is no CPU torchvision build on
the registries hwnas installs from. When torchvision is missing we register an empty stand-in module
so the import succeeds; anything that really uses torchvision still fails loudly on first use.
This is the only place that knows about the workaround.
"""

from __future__ import annotations

import importlib.util
import sys
import types


def install_torchvision_stand_in() -> None:
    """Make ``import torchvision`` work for OFA's modules where torchvision is absent (call it
    before importing ``ofa``); a no-op where torchvision is installed."""
    if "torchvision" in sys.modules or importlib.util.find_spec("torchvision") is not None:
        return

    def _missing(name):
        def fail(*_args, **_kwargs):
            raise ImportError(
                f"torchvision.{name} is not installed; hwnas only stands in for its import"
            )

        return fail

    class _StandIn(types.ModuleType):
        def __getattr__(self, name):
            if name.startswith("__"):
                raise AttributeError(name)
            return _missing(name)

    tv, tr, fn = (
        _StandIn("torchvision"),
        _StandIn("torchvision.transforms"),
        _StandIn("torchvision.transforms.functional"),
    )
    tv.transforms, tr.functional = tr, fn
    # ofa subclasses transforms.RandomResizedCrop at import time: it needs a class, not a function.
    tr.RandomResizedCrop = type(
        "RandomResizedCrop", (), {"__init__": _missing("transforms.RandomResizedCrop")}
    )
    sys.modules.update(
        {"torchvision": tv, "torchvision.transforms": tr, "torchvision.transforms.functional": fn}
    )


def ofa_mbv3_class():
    """OFA's ``OFAMobileNetV3`` supernet class."""
    install_torchvision_stand_in()
    from ofa.imagenet_classification.elastic_nn.networks import OFAMobileNetV3

    return OFAMobileNetV3


def ofa_count_net_flops():
    """OFA's ``count_net_flops`` (its MAC counter), with the torchvision stand-in installed
    first."""
    install_torchvision_stand_in()
    from ofa.utils import count_net_flops

    return count_net_flops


def ofa_mobilenet_v3_class():
    """OFA's static ``MobileNetV3`` (a materialised subnet; ``build_from_config`` rebuilds one)."""
    install_torchvision_stand_in()
    from ofa.imagenet_classification.networks import MobileNetV3

    return MobileNetV3


def ofa_evolution_finder_class():
    """OFA's tutorial ``EvolutionFinder``, the baseline search of OFA's own tutorial.

    ``ofa.tutorial``'s package ``__init__`` imports ImageNet helpers that need ``gdown`` and
    torchvision; the finder module itself needs neither, so it is loaded from its file without
    running that ``__init__``.
    """
    import importlib.util
    from pathlib import Path

    install_torchvision_stand_in()
    name = "ofa.tutorial.evolution_finder"
    if name not in sys.modules:
        import ofa

        path = Path(ofa.__file__).parent / "tutorial" / "evolution_finder.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name].EvolutionFinder
