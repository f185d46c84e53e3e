"""A ReLU MLP whose answer for a row is the same in any batch, at any position, on any executor.

A float32 forward pass through BLAS sums each dot product in an order chosen from the batch shape,
the thread count and the CPU, so an answer moved in its 7th digit with the batch it was evaluated in
(and a Ray run took another path than the local run of the same seed). Here every layer's output is
``float32(z)``, z the dot product plus bias summed (nearly) exactly and rounded once: a fixed
function of the row alone.

It stays fast. z is computed by a float64 GEMM, whose error in any summation order is at most
``e = gamma(K + 2) * (||x|| ||w|| + |b|)`` (gamma(n) = n u / (1 - n u), u = 2**-53; products of
float32 numbers are exact in float64). Wherever ``y +- 4e`` rounds to one float32 number, that number
is the answer. For 0/1 inputs (OFA's one-hot encoding) a column whose float32 weights share a
53-bit window is summed exactly in any order (e = 0). Only where the interval straddles a float32
rounding boundary (about 1 element in 10,000) is z recomputed by a double-double sum in a fixed
order.
"""

from __future__ import annotations

import numpy as np

U = 2.0 ** -53


def _gamma(n: int) -> float:
    return n * U / (1 - n * U)


def _binary_exact_columns(W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Columns whose sums over any 0/1 input are exact in float64, whatever the order.

    Every weight is a multiple of the column's smallest float32 ulp ``2**m``; while every partial sum
    stays below ``2**(m + 53)`` it is representable, hence exact.
    """
    Wb = np.concatenate([W, b[None]]).astype(np.float64)
    _, exps = np.frexp(Wb)
    exps = np.where(Wb == 0, np.iinfo(np.int32).max, exps)
    lsb = exps.min(axis=0) - 24  # float32: 24-bit significand
    return np.abs(Wb).sum(axis=0) < np.ldexp(1.0, np.minimum(lsb, 900) + 53)


def _fixed_order_sum(P: np.ndarray) -> np.ndarray:
    """Row sums of ``(m, K)`` float64 products, double-double in column order (TwoSum)."""
    s = np.zeros(len(P))
    c = np.zeros(len(P))
    for p in P.T:
        t = s + p
        bp = t - s
        c += (s - (t - bp)) + (p - bp)
        s = t
    return s + c


class InvariantMLP:
    """``Linear, ReLU, ..., Linear`` evaluated batch-invariantly; weights taken from a torch module."""

    def __init__(self, module, chunk: int = 2048):
        import torch

        self.layers = []  # (W (K, J), b (J,), slack per input norm, exact-for-0/1-input columns)
        for m in module:
            if isinstance(m, torch.nn.Linear):
                W = m.weight.detach().to(torch.float32).double().T.contiguous()
                b = m.bias.detach().to(torch.float32).double()
                # 4x: both sums' errors and the +-e rounding; 1.001: the float32 norm of x
                g = 4 * _gamma(W.shape[0] + 2) * 1.001
                slack = g * float(torch.sqrt(W.pow(2).sum(0) + b.pow(2)).max())  # |x|.|w|+|b| <= ||(x,1)|| ||(w,b)||
                exact = bool(_binary_exact_columns(W.numpy(), b.numpy()).all())
                self.layers.append((W, b, slack, exact))
            elif not isinstance(m, torch.nn.ReLU):
                raise TypeError(f"InvariantMLP takes Linear and ReLU layers, not {type(m).__name__}")
        self.chunk = int(chunk)
        self._cache = {}
        self.n_fallback = 0  # elements recomputed in fixed order (for the tests and the benchmark)

    def __call__(self, feats: np.ndarray) -> np.ndarray:
        """Float32 ``(N, J_last)`` outputs of float32 ``(N, K)`` features."""
        import torch

        feats = np.ascontiguousarray(feats, dtype=np.float32)
        binary = bool(((feats == 0) | (feats == 1)).all())
        outs = [np.zeros((0, self.layers[-1][0].shape[1]), np.float32)]
        with torch.inference_mode():
            for s in range(0, len(feats), self.chunk):
                h = torch.from_numpy(feats[s:s + self.chunk])
                for i, (W, b, slack, exact) in enumerate(self.layers):
                    relu = i < len(self.layers) - 1
                    h = self._layer(h, W, b, 0.0 if (i == 0 and binary and exact) else slack, relu)
                outs.append(h.numpy())
        return np.concatenate(outs)

    def _layer(self, x32, W, b, slack: float, relu: bool):
        import torch

        # the GEMM in torch (MKL); elementwise work in numpy: one thread, no OpenMP spin-waits
        y = torch.addmm(b, torch.from_numpy(x32.numpy().astype(np.float64)), W).numpy()
        val = y.astype(np.float32)
        if slack:
            x = x32.numpy()
            e = np.sqrt(np.einsum("ij,ij->i", x, x, dtype=np.float64) + 1)[:, None] * slack
            y -= e
            lo = y.astype(np.float32)
            y += 2 * e
            amb = y.astype(np.float32) != lo
            if relu:
                amb &= y > 0
            flat = np.flatnonzero(amb)
            if len(flat):
                rows, cols = np.divmod(flat, W.shape[1])
                Wn, bn = self._np(W, b)
                P = np.concatenate([x[rows].astype(np.float64) * Wn[cols], bn[cols, None]], 1)
                val.reshape(-1)[flat] = _fixed_order_sum(P)
                self.n_fallback += len(flat)
        if relu:
            np.maximum(val, 0, out=val)
        return torch.from_numpy(val)

    def _np(self, W, b):
        """(W transposed, contiguous: one row per output unit, b) as numpy float64."""
        key = id(W)
        if key not in self._cache:
            self._cache[key] = (W.T.contiguous().numpy(), b.numpy())
        return self._cache[key]
