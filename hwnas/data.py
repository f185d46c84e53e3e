"""Images for measuring subnets, without torchvision: an ImageFolder reader and BN recalibration.

``load_image_folder`` reads ``root/<class>/<image>`` (classes = sorted sub-folder names, labels
0..C-1) with OFA's evaluation transform: resize the shorter side to ``ceil(r / 0.875)`` px
(bilinear), center-crop ``r`` x ``r``, scale to 0..1 and normalise with ImageNet mean/std.
Images are ordered round-robin across classes (class 0 image 0, class 1 image 0, ..., class 0
image 1, ...), so any ``offset``/``limit`` window is class-balanced and windows never overlap.

``recalibrate_bn`` resets every BatchNorm's running statistics to the exact mean/variance of its
input over the given images, as OFA's ``set_running_statistics`` does for a subnet taken from a
supernet.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .errors import HwnasError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
CROP_FRACTION = 0.875


def list_image_folder(root) -> tuple:
    """``(paths, labels, classes)`` in round-robin class order (see module doc)."""
    root = Path(root)
    if not root.is_dir():
        raise HwnasError(f"image folder {str(root)!r} does not exist or is not a directory")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise HwnasError(
            f"image folder {str(root)!r} has no class sub-folders; expected "
            f"ROOT/<class>/<image files>"
        )
    per_class = [
        sorted(
            str(f)
            for f in (root / c).rglob("*")
            if f.suffix.lower() in IMAGE_EXTENSIONS and f.is_file()
        )
        for c in classes
    ]
    paths, labels = [], []
    for k in range(max(len(files) for files in per_class)):
        for label, files in enumerate(per_class):
            if k < len(files):
                paths.append(files[k])
                labels.append(label)
    if not paths:
        raise HwnasError(
            f"image folder {str(root)!r} has no images; allowed extensions: "
            f"{', '.join(IMAGE_EXTENSIONS)}"
        )
    return paths, labels, classes


def load_image_uint8(path, resolution: int) -> np.ndarray:
    """One image as ``(r, r, 3)`` uint8 after OFA's resize + center crop."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            w, h = im.size
            short = int(math.ceil(resolution / CROP_FRACTION))
            if w <= h:
                nw, nh = short, int(short * h / w)
            else:
                nw, nh = int(short * w / h), short
            im = im.resize((nw, nh), Image.BILINEAR)
            top = int(round((nh - resolution) / 2.0))
            left = int(round((nw - resolution) / 2.0))
            im = im.crop((left, top, left + resolution, top + resolution))
            return np.asarray(im, dtype=np.uint8)
    except (OSError, ValueError) as exc:
        raise HwnasError(f"image {str(path)!r} cannot be read: {exc}") from None


def normalize(batch_uint8):
    """``(N, r, r, 3)`` uint8 (numpy or tensor) -> ``(N, 3, r, r)`` float32 tensor,
    ImageNet-normalised."""
    import torch

    x = torch.as_tensor(batch_uint8).permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32)[None, :, None, None]
    std = torch.tensor(IMAGENET_STD, dtype=torch.float32)[None, :, None, None]
    return (x - mean) / std


def load_image_folder_uint8(root, resolution: int, limit=None, offset: int = 0) -> tuple:
    """Like :func:`load_image_folder` but ``(N, r, r, 3)`` uint8 numpy images (4x less memory)."""
    if isinstance(resolution, bool) or int(resolution) != resolution or resolution < 1:
        raise HwnasError(f"resolution {resolution!r} must be a positive integer (px)")
    resolution = int(resolution)
    paths, labels, _ = list_image_folder(root)
    if offset < 0 or (limit is not None and limit < 0):
        raise HwnasError(f"offset {offset} / limit {limit} must not be negative")
    end = len(paths) if limit is None else min(len(paths), offset + limit)
    if offset >= len(paths):
        raise HwnasError(f"offset {offset} is past the {len(paths)} images of {str(root)!r}")
    imgs = np.stack([load_image_uint8(p, resolution) for p in paths[offset:end]])
    return imgs, np.asarray(labels[offset:end], dtype=np.int64)


def load_image_folder(root, resolution: int, limit=None, offset: int = 0) -> tuple:
    """``(images, labels)``: float32 tensor ``(N, 3, r, r)`` (normalised) and int64 tensor ``(N,)``.

    ``offset``/``limit`` select a window of the round-robin order (see module doc); ``resolution``
    in px.
    """
    import torch

    imgs, labels = load_image_folder_uint8(root, resolution, limit, offset)
    return normalize(imgs), torch.from_numpy(labels)


def recalibrate_bn(net, images, batch_size: int = 50) -> None:
    """Set each BatchNorm's running mean/var to its input's exact statistics over ``images``.

    ``images``: float32 tensor ``(N, 3, r, r)`` (moved to the net's device batch by batch). The mean
    and biased variance are averaged over batches weighted by batch size (OFA's method). Leaves
    ``net`` in eval mode.
    """
    import torch
    import torch.nn.functional as F
    from torch import nn

    if len(images) == 0:
        raise HwnasError("BN recalibration needs at least one calibration image")
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        net.eval()
        return
    sums = {id(m): [0.0, 0.0, 0] for m in bns}

    def make_forward(bn):
        def forward(x):
            dims = [0] + list(range(2, x.dim()))
            mean = x.mean(dim=dims)
            var = ((x - mean.view(1, -1, *([1] * (x.dim() - 2)))) ** 2).mean(dim=dims)
            acc = sums[id(bn)]
            acc[0] = acc[0] + mean * x.size(0)
            acc[1] = acc[1] + var * x.size(0)
            acc[2] += x.size(0)
            return F.batch_norm(x, mean, var, bn.weight, bn.bias, False, 0.0, bn.eps)

        return forward

    device = next(net.parameters()).device
    net.eval()
    for m in bns:
        m.forward = make_forward(m)
    try:
        with torch.no_grad():
            for s in range(0, len(images), batch_size):
                net(images[s : s + batch_size].to(device))
    finally:
        for m in bns:
            del m.forward  # back to the class's forward
    with torch.no_grad():
        for m in bns:
            total_mean, total_var, n = sums[id(m)]
            if n:
                m.running_mean.copy_(total_mean / n)
                m.running_var.copy_(total_var / n)
    net.eval()
