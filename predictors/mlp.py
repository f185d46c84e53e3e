"""``mlp``: a small fully-connected regressor (torch, CPU) as a weak predictor.

138 features (136 + log MACs/params) -> 128 -> 128 -> 1 with ReLU; Adam (lr 1e-2, L2 0.1, cosine
schedule), 300 full-batch epochs; features and targets standardised; trained from scratch by each
``fit``; deterministic for a seed (its own torch generator). Settings chosen by measurement
(docs/predictors.md): strong L2 matters most on a few hundred points.
"""

from __future__ import annotations

import numpy as np

from hwnas.errors import HwnasError
from hwnas.space import get_space

from .base import Predictor
from .features import features


class MLPPredictor(Predictor):
    """``mlp``: a small fully-connected torch regressor (see the module docstring)."""

    name = "mlp"

    def __init__(
        self,
        seed: int = 0,
        space=None,
        with_cost: bool = True,
        hidden: int = 128,
        epochs: int = 300,
        lr: float = 1e-2,
        weight_decay: float = 0.1,
        batch_size: int = 65536,
        threads: int = 1,
        subsample=None,
    ):
        # ``subsample`` (row subsampling, a tree setting the ensemble may pass every member) does
        # not
        # apply to full-batch training: accepted so callers need no per-predictor branch, and unused
        self.seed = int(seed)
        self.space = get_space(1.2 if space is None else space)
        self.with_cost = with_cost
        self.hidden, self.epochs, self.lr, self.weight_decay = hidden, epochs, lr, weight_decay
        self.batch_size = batch_size
        # torch threads while fitting/predicting (1: robust on a shared machine)
        self.threads = threads
        self._net = None
        self._mu = self._sd = None

    def _features(self, X):
        return features(X, self.space, with_cost=self.with_cost)

    def fit(self, X, y) -> "MLPPredictor":
        """Train from scratch on ``(N, 46)`` archs and accuracies (fractions 0..1); returns self."""
        import torch

        n = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            return self._fit(X, y)
        finally:
            torch.set_num_threads(n)

    def _fit(self, X, y) -> "MLPPredictor":
        import torch
        from torch import nn

        F = self._features(X)
        y = np.asarray(y, dtype=np.float64)
        self._y_mean, self._y_std = float(y.mean()), float(y.std()) or 1.0
        self._mu = F.mean(axis=0)
        self._sd = F.std(axis=0) + 1e-3
        g = torch.Generator().manual_seed(self.seed)
        net = nn.Sequential(
            nn.Linear(F.shape[1], self.hidden),
            nn.ReLU(),
            nn.Linear(self.hidden, self.hidden),
            nn.ReLU(),
            nn.Linear(self.hidden, 1),
        )
        with torch.no_grad():
            for m in net:
                if isinstance(m, nn.Linear):
                    bound = 1.0 / np.sqrt(m.in_features)
                    m.weight.copy_(
                        torch.empty(m.weight.shape).uniform_(-bound, bound, generator=g)
                        * np.sqrt(3)
                    )
                    m.bias.zero_()
        xt = torch.from_numpy((F - self._mu) / self._sd)
        yt = torch.from_numpy(((y - self._y_mean) / self._y_std).astype(np.float32))[:, None]
        opt = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, self.epochs)
        net.train()
        for _ in range(self.epochs):
            opt.zero_grad()
            loss = torch.mean((net(xt) - yt) ** 2)
            loss.backward()
            opt.step()
            sched.step()
        self._net = net.eval()
        return self

    def predict(self, X) -> np.ndarray:
        """Predicted accuracy per row (fraction 0..1): float64 ``(N,)``."""
        return self.predict_features(self._features(np.asarray(X)))

    def predict_features(self, F) -> np.ndarray:
        """Predict from precomputed :func:`features` (lets an ensemble compute them once)."""
        import torch

        if self._net is None:
            raise HwnasError("predictor mlp is not fitted; call fit(X, y) first")
        out = np.empty(len(F), dtype=np.float64)
        n = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        with torch.inference_mode():
            for s in range(0, len(F), self.batch_size):
                f = torch.from_numpy((F[s : s + self.batch_size] - self._mu) / self._sd)
                out[s : s + self.batch_size] = self._net(f)[:, 0].double().numpy()
        torch.set_num_threads(n)
        return out * self._y_std + self._y_mean
