"""``supernet``: the real measurement. Take the subnet out of an OFA supernet checkpoint,
recalibrate its BatchNorm on K calibration images, measure top-1 on held-out images. CPU or CUDA.

Data layout: ``DATA/train/<class>/*`` and ``DATA/val/<class>/*`` (calibration from train, accuracy
on val), or a single ``DATA/<class>/*`` folder, in which case the first ``calib_images`` images of
its class-balanced order calibrate and the next ``eval_images`` are measured (defaults 2000 and
10000, OFA's protocol size; ``eval_images=None`` measures all). Images are decoded once per
resolution and kept as uint8 (10,000 at 224 px: 1.5 GB).
Labels are the sorted class-folder names' indices, which matches ImageNet's standard 1000-class
order.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np

from hwnas.arch import Arch, validate
from hwnas.data import load_image_folder_uint8, normalize, recalibrate_bn
from hwnas.errors import HwnasError
from hwnas.ofa_interop import build_subnet, load_supernet
from hwnas.paths import WEIGHTS_FIX, check_checkpoint

from .assets import sha256_file
from .base import Answer, Oracle


class SupernetOracle(Oracle):
    """``supernet``: measured top-1 accuracy of a subnet of an OFA checkpoint (see the module
    docstring)."""

    name = "supernet"
    reads = ("weights", "data", "device")

    def __init__(
        self,
        space,
        weights,
        data,
        device: str = "cpu",
        calib_images: int = 2000,
        eval_images=10000,
        batch_size: int = 100,
    ):
        super().__init__(space)
        self.weights = str(weights)
        self.data = str(data)
        self.device = str(device)
        self.calib_images = int(calib_images)
        self.eval_images = None if eval_images is None else int(eval_images)
        self.batch_size = int(batch_size)
        check_checkpoint(self.weights, "weights file", WEIGHTS_FIX)
        if not Path(self.data).is_dir():
            raise HwnasError(f"data folder {self.data!r} does not exist")
        if self.device != "cpu" and not self.device.startswith("cuda"):
            raise HwnasError(f"device {self.device!r} is not supported; allowed: cpu, cuda, cuda:N")
        # what a remote executor must reserve for one query of this oracle
        self.resources = {"num_gpus": 1} if self.device.startswith("cuda") else {"num_cpus": 1}
        if self.calib_images < 1:
            raise HwnasError(f"calib_images {self.calib_images} must be at least 1")

        data = Path(self.data).resolve()
        ident = f"{sha256_file(self.weights)}|{data}|{self.calib_images}|{self.eval_images}"
        # answers of another checkpoint, data set or protocol never mix
        self.version = "1+" + hashlib.sha1(ident.encode()).hexdigest()[:8]
        split = Path(self.data) / "train", Path(self.data) / "val"
        self._split = split[0].is_dir() and split[1].is_dir()
        self._net = None
        self._cache = {}

    @classmethod
    def from_settings(cls, space, settings, **kw) -> "SupernetOracle":
        """See :meth:`Oracle.from_settings`: reads ``weights`` and ``data`` (required),
        ``device``."""
        if settings.get("weights") is None or settings.get("data") is None:
            raise HwnasError(
                "oracle supernet needs --weights FILE (an OFA supernet checkpoint) "
                "and "
                "--data DIR (an ImageFolder-style image folder)"
            )
        return cls(
            space,
            weights=settings["weights"],
            data=settings["data"],
            device=settings.get("device", "cpu"),
            **kw,
        )

    def __getstate__(self):
        d = dict(self.__dict__)
        d["_net"], d["_cache"] = None, {}
        return d

    def _supernet(self):
        if self._net is None:
            import torch

            if self.device.startswith("cuda") and not torch.cuda.is_available():
                raise HwnasError(
                    f"device {self.device!r} asked for but CUDA is not available; use device cpu"
                )
            self._net = load_supernet(self.space, self.weights)
        return self._net

    def _images(self, r: int):
        """``(calib uint8, eval uint8, eval labels)`` for resolution r, cached for the last
        resolution."""
        if r not in self._cache:
            self._cache.clear()
            if self._split:
                calib, _ = load_image_folder_uint8(
                    Path(self.data) / "train", r, limit=self.calib_images
                )
                ev, labels = load_image_folder_uint8(
                    Path(self.data) / "val", r, limit=self.eval_images
                )
            else:
                calib, _ = load_image_folder_uint8(self.data, r, limit=self.calib_images)
                ev, labels = load_image_folder_uint8(
                    self.data, r, limit=self.eval_images, offset=self.calib_images
                )
            self._cache[r] = (calib, ev, labels)
        return self._cache[r]

    def measure(self, arch: Arch) -> float:
        """Top-1 accuracy (fraction) of one subnet after BN recalibration."""
        import torch

        calib, ev, labels = self._images(arch.r)
        sub = build_subnet(self.space, arch, self._supernet(), preserve_weight=True).to(self.device)
        recalibrate_bn(sub, normalize(calib), batch_size=self.batch_size)
        correct = 0
        with torch.no_grad():
            for s in range(0, len(ev), self.batch_size):
                x = normalize(ev[s : s + self.batch_size]).to(self.device)
                pred = sub(x).argmax(dim=1).cpu().numpy()
                correct += int((pred == labels[s : s + self.batch_size]).sum())
        return correct / len(ev)

    def evaluate_iter(self, X):
        """Measure each row, grouped by resolution; yield ``(row_index, Answer)``: top-1 (fraction
        0..1), seconds."""
        X = validate(X)
        # group by resolution: images load once per size
        order = np.argsort(X[:, -1], kind="stable")
        for i in order:
            t0 = time.perf_counter()
            try:
                acc = self.measure(Arch.from_array(X[i]))
                yield int(i), Answer(float(acc), time.perf_counter() - t0)
            except HwnasError:
                raise  # bad setup (missing file, wrong checkpoint): no point going on
            # one arch failing (e.g. out of memory) does not stop the batch
            except Exception as exc:
                yield (
                    int(i),
                    Answer(
                        float("nan"),
                        time.perf_counter() - t0,
                        f"{type(exc).__name__}: {exc}"[:2000],
                    ),
                )

    def evaluate(self, X) -> list:
        """One Answer per row, in order: measured top-1 accuracy (fraction 0..1) and seconds."""
        out = [None] * len(X)
        for i, a in self.evaluate_iter(X):
            out[i] = a
        return out
