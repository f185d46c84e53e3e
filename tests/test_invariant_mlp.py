"""Batch-invariant MLP answers: bit-exact across batch sizes and positions, equal to exact rounding."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from predictors.invariant_mlp import InvariantMLP, _binary_exact_columns


def _mlp(seed, sizes=(24, 64, 64, 1)):
    torch.manual_seed(seed)
    layers = []
    for i, (k, j) in enumerate(zip(sizes, sizes[1:])):
        layers += [torch.nn.Linear(k, j)] + ([torch.nn.ReLU()] if i < len(sizes) - 2 else [])
    return torch.nn.Sequential(*layers).eval()


def _exact_reference(module, X):
    """Each layer: float32 of the correctly rounded (math.fsum) dot product + bias, then ReLU."""
    h = np.asarray(X, np.float32)
    lins = [m for m in module if isinstance(m, torch.nn.Linear)]
    for i, lin in enumerate(lins):
        W = lin.weight.detach().double().numpy()
        b = lin.bias.detach().double().numpy()
        out = np.empty((len(h), len(b)), np.float32)
        for r in range(len(h)):
            x = h[r].astype(np.float64)
            for c in range(len(b)):
                out[r, c] = math.fsum(list(x * W[c]) + [b[c]])
        h = np.maximum(out, 0) if i < len(lins) - 1 else out
    return h


def test_every_answer_is_the_exactly_rounded_layer_by_layer_value():
    module = _mlp(0)
    X = np.random.default_rng(0).standard_normal((150, 24)).astype(np.float32)
    m = InvariantMLP(module, chunk=64)
    np.testing.assert_array_equal(m(X), _exact_reference(module, X))


def test_batch_size_and_position_do_not_change_a_single_bit():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((1000, 24)).astype(np.float32)
    m = InvariantMLP(_mlp(1, (24, 256, 256, 1)), chunk=128)
    full = m(X)
    assert m.n_fallback > 0  # the boundary cases (fixed-order recomputation) were exercised
    for n in (1, 2, 3, 17, 128, 129):
        parts = np.concatenate([m(X[s:s + n]) for s in range(0, len(X), n)])
        assert parts.tobytes() == full.tobytes(), n
    perm = rng.permutation(len(X))
    assert m(X[perm]).tobytes() == full[perm].tobytes()
    stacked = np.concatenate([X[::-1], X])  # each row at two other positions in a bigger batch
    out = m(stacked)
    assert out[len(X):].tobytes() == full.tobytes() and out[:len(X)][::-1].tobytes() == full.tobytes()
    assert m(X[:0]).shape == (0, 1)


def test_a_sum_exactly_between_two_float32_numbers_is_recomputed_and_rounds_to_even():
    lin = torch.nn.Linear(2, 1)
    with torch.no_grad():
        lin.weight[:] = torch.tensor([[1.0, 2.0 ** -24]])
        lin.bias[:] = 0.0
    m = InvariantMLP(torch.nn.Sequential(lin))
    # 1.5 + 2**-24 lies exactly halfway between float32 1.5 and 1.5 + 2**-23; 1.5 + 1.25 * 2**-24 does not
    y = m(np.array([[1.5, 1.0], [1.5, 1.25]], np.float32))[:, 0]
    assert m.n_fallback == 1
    assert y[0] == np.float32(1.5) and y[1] == np.float32(1.5 + 2.0 ** -23)  # tie -> even significand


def test_binary_exactness_rule():
    W = np.array([[1.0, 2.0 ** -30], [3.0, 1.0]], np.float32)
    b = np.array([0.5, 2.0 ** 30], np.float32)
    # column 0: multiples of 2**-24-ish, tiny sums: exact; column 1 spans 2**-30 .. 2**30 (> 53 bits)
    assert _binary_exact_columns(W, b).tolist() == [True, False]


def test_rejects_layers_it_cannot_evaluate():
    with pytest.raises(TypeError, match="Tanh"):
        InvariantMLP(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Tanh()))
