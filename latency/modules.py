"""Real OFA modules for table entries and whole subnets (exported by :mod:`latency.onnx_io`).

Each table entry (:class:`latency.keys.LayerSpec`) is built with
``ofa.utils.layers.set_layer_from_config`` from the same config ``hwnas.ofa_interop.net_config``
puts in a subnet, so a block is measured as the very module the subnet runs. ``AvgPool2D`` is OFA's
``MyGlobalAvgPool2d`` and ``Logits`` is the subnet's ``view`` + classifier, as in
``MobileNetV3.forward``.
"""

from __future__ import annotations

import copy

from hwnas.ofa_compat import install_torchvision_stand_in, ofa_mobilenet_v3_class
from hwnas.ofa_interop import net_config

from .onnx_io import onnx_bytes as export_onnx  # noqa: F401  (its name here before onnx_io existed)


def _torch():
    import torch

    return torch


def build_layer(spec):
    """An eval-mode ``torch.nn.Module`` for one table entry."""
    torch = _torch()
    install_torchvision_stand_in()
    from ofa.utils.layers import set_layer_from_config
    from ofa.utils.pytorch_modules import MyGlobalAvgPool2d

    if spec.kind == "AvgPool2D":
        module = MyGlobalAvgPool2d(keep_dim=True)
    elif spec.kind == "Logits":
        classifier = set_layer_from_config(copy.deepcopy(spec.config))

        class Logits(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.classifier = classifier

            def forward(self, x):
                return self.classifier(x.view(x.size(0), -1))

        module = Logits()
    else:
        module = set_layer_from_config(copy.deepcopy(spec.config))
    return module.eval()


def build_subnet_module(space, arch):
    """The materialised OFA ``MobileNetV3`` of ``arch`` (random weights: latency does not depend on
    them)."""
    return ofa_mobilenet_v3_class().build_from_config(net_config(space, arch)).eval()


def input_shape_for(spec_or_arch, batch_size: int = 1) -> tuple:
    """NCHW input shape for a LayerSpec or an Arch, with ``batch_size``."""
    shape = getattr(spec_or_arch, "input_shape", None)
    if shape is None:
        r = spec_or_arch.r
        shape = (1, 3, r, r)
    return (int(batch_size),) + tuple(shape[1:])
