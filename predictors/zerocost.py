"""``zerocost``: a training-free proxy, the offline fallback of ``--oracle auto``. NOT an accuracy.

Scores are computed on the randomly initialised supernet (fixed seed) of the space, with synthetic
input; no data, no training, no download. Three proxies are implemented:

- ``zen``: Zen-score (Lin et al. 2021): log of the pre-pooling feature change under a small Gaussian
  input perturbation, plus the log BN scaling of every layer, BN in batch-statistics mode.
- ``synflow``: SynFlow (Tanaka et al. 2020): log sum |theta * dR/dtheta| with |weights| and an
all-ones
  input, float64, BN in eval mode.
- ``flops``: log MACs of the subnet (the baseline every proxy must beat); ``params``: log params.

The default was picked by measurement: Spearman rank correlation with OFA's accuracy predictor on
1,000 random archs (``scripts/bench_predictors.py --zerocost``; see docs/predictors.md). Scores are
mapped into 0..1 by a fixed monotone squash so that they fit the store's accuracy column; only their
order means anything, and ``is_proxy = True`` makes results and the console say a proxy was used.
"""

from __future__ import annotations

import math
import time

import numpy as np

from hwnas.arch import Arch, validate
from hwnas.cost import macs_params
from hwnas.errors import HwnasError, allowed
from hwnas.ofa_interop import build_subnet, build_supernet

from .base import Answer, Oracle

PROXIES = ("flops", "params", "zen", "synflow")
DEFAULT_PROXY = "flops"
# score -> (0, 1): logistic around a centre, with a scale, per proxy (chosen from the observed score
# range)
_SQUASH = {"flops": (8.5, 0.2), "params": (6.8, 0.15), "zen": (90.0, 15.0), "synflow": (80.0, 15.0)}


def _squash(score: float, proxy: str) -> float:
    c, s = _SQUASH[proxy]
    return 1.0 / (1.0 + math.exp(-(score - c) / s))


class ZeroCostOracle(Oracle):
    """A training-free proxy score in 0..1 (order only). ``proxy``: one of ``PROXIES``."""

    name = "zerocost"
    reads = ("device",)
    is_proxy = True

    def __init__(
        self, space, proxy: str = DEFAULT_PROXY, device: str = "cpu", batch: int = 2, seed: int = 0
    ):
        super().__init__(space)
        if proxy not in PROXIES:
            raise HwnasError(f"zero-cost proxy {proxy!r} is unknown; allowed: {allowed(PROXIES)}")
        self.proxy, self.device, self.batch, self.seed = proxy, str(device), int(batch), int(seed)
        self.version = f"1+{proxy}-b{self.batch}-s{self.seed}"
        self._net = None

    @classmethod
    def from_settings(cls, space, settings, **kw) -> "ZeroCostOracle":
        """See :meth:`Oracle.from_settings`: reads ``device``."""
        return cls(space, device=settings.get("device", "cpu"), **kw)

    @property
    def key(self) -> str:
        """The store key, naming the proxy and its settings: ``zerocost-PROXY@VERSION/wWIDTH``."""
        return f"{self.name}-{self.proxy}@{self.version}/w{self.space.width}"

    def __getstate__(self):
        d = dict(self.__dict__)
        d["_net"] = None
        return d

    def _supernet(self):
        if self._net is None:
            import torch

            with torch.random.fork_rng():
                torch.manual_seed(self.seed)
                self._net = build_supernet(self.space)
        return self._net

    # -- proxies -------------------------------------------------------------------------------
    def scores(self, X) -> np.ndarray:
        """Raw proxy scores (higher = predicted better), float64 ``(N,)``."""
        X = validate(X)
        if self.proxy in ("flops", "params"):
            macs, params = macs_params(self.space, X)
            return np.log10((macs if self.proxy == "flops" else params).astype(np.float64))
        fn = self._zen if self.proxy == "zen" else self._synflow
        return np.array([fn(Arch.from_array(row)) for row in X], dtype=np.float64)

    def _subnet(self, arch):
        return build_subnet(self.space, arch, self._supernet(), preserve_weight=True).to(
            self.device
        )

    def _zen(self, arch) -> float:
        import torch
        from torch import nn

        net = self._subnet(arch)
        with torch.no_grad():
            for m in net.modules():  # Zen-NAS re-initialises with N(0, 1)
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    g = torch.Generator().manual_seed(self.seed)
                    m.weight.copy_(torch.randn(m.weight.shape, generator=g))
                    if m.bias is not None:
                        m.bias.zero_()
        net.train()
        g = torch.Generator().manual_seed(self.seed + 1)
        x = torch.randn(self.batch, 3, arch.r, arch.r, generator=g).to(self.device)
        dx = torch.randn(self.batch, 3, arch.r, arch.r, generator=g).to(self.device)
        bn_vars = []

        def hook(_m, inp, _out):
            bn_vars.append(float(inp[0].var(dim=(0, 2, 3)).mean()))

        def features(inp):
            out = net.first_conv(inp)
            for blk in net.blocks:
                out = blk(out)
            return net.final_expand_layer(out)

        with torch.no_grad():
            diff = (features(x) - features(x + 1e-2 * dx)).abs().mean()
            handles = [
                m.register_forward_hook(hook)
                for m in net.modules()
                if isinstance(m, nn.BatchNorm2d)
            ]
            features(x)
            for h in handles:
                h.remove()
        return float(torch.log(diff + 1e-30)) + sum(0.5 * math.log(v + 1e-30) for v in bn_vars)

    def _synflow(self, arch) -> float:
        import torch

        net = self._subnet(arch).double().eval()
        with torch.no_grad():
            signs = {}
            for name, p in net.state_dict().items():
                signs[name] = torch.sign(p)
                p.abs_()
        net.zero_grad()
        x = torch.ones(1, 3, arch.r, arch.r, dtype=torch.float64, device=self.device)
        net(x).sum().backward()
        with torch.no_grad():
            total = sum(
                float((p * p.grad).abs().sum()) for p in net.parameters() if p.grad is not None
            )
        return math.log(total + 1e-300)

    def evaluate(self, X) -> list:
        """One Answer per row: the proxy score squashed into 0..1 (its order only; not an
        accuracy)."""
        X = validate(X)
        t0 = time.perf_counter()
        if self.proxy in ("flops", "params"):
            s = self.scores(X)
            per = (time.perf_counter() - t0) / max(len(X), 1)
            return [Answer(_squash(v, self.proxy), per) for v in s]
        return [a for _, a in sorted(self.evaluate_iter(X), key=lambda t: t[0])]

    def evaluate_iter(self, X):
        """Yield ``(row_index, Answer)`` as each score is computed (flops and params: all at
        once)."""
        if self.proxy in ("flops", "params"):
            yield from enumerate(self.evaluate(X))
            return
        X = validate(X)
        for i, row in enumerate(X):
            t0 = time.perf_counter()
            try:
                v = self.scores(row[None, :])[0]
                yield i, Answer(_squash(v, self.proxy), time.perf_counter() - t0)
            except Exception as exc:
                yield (
                    i,
                    Answer(
                        float("nan"),
                        time.perf_counter() - t0,
                        f"{type(exc).__name__}: {exc}"[:2000],
                    ),
                )
