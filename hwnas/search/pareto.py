"""Pareto fronts of measured archs (maximise accuracy, minimise a cost) and their hypervolume."""

from __future__ import annotations

import numpy as np


def pareto_mask(acc, cost) -> np.ndarray:
    """True for points no other point beats on both (higher accuracy, lower cost); NaN never on
    it."""
    acc, cost = np.asarray(acc, float), np.asarray(cost, float)
    ok = ~np.isnan(acc)
    mask = np.zeros(len(acc), dtype=bool)
    idx = np.flatnonzero(ok)
    order = idx[np.lexsort((-acc[idx], cost[idx]))]  # cost ascending, ties: best accuracy first
    best = -np.inf
    for i in order:
        if acc[i] > best:
            mask[i] = True
            best = acc[i]
    return mask


def hypervolume(acc, cost, cost_ref: float) -> float:
    """Hypervolume of the front in (error = 1 - accuracy, cost / cost_ref), reference point (1, 1).

    pymoo's HV indicator; larger is better. ``cost_ref`` is the budget of that cost (or the largest
    net's cost when there is no budget), so a front's HV is comparable across runs of one problem.
    """
    from pymoo.indicators.hv import HV

    acc, cost = np.asarray(acc, float), np.asarray(cost, float)
    m = pareto_mask(acc, cost) & (cost <= cost_ref)
    if not m.any():
        return 0.0
    F = np.column_stack([1.0 - acc[m], cost[m] / cost_ref])
    return float(HV(ref_point=np.array([1.0, 1.0]))(F))


def plot_front(path, acc, cost, cost_label, title, budget=None):
    """Scatter of all measured archs with the front as a step line; axes labelled with units."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    acc, cost = np.asarray(acc, float), np.asarray(cost, float)
    m = pareto_mask(acc, cost)
    order = np.flatnonzero(m)[np.argsort(cost[m])]
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    ax.scatter(cost, acc * 100, s=8, c="0.7", label="measured")
    ax.step(cost[order], acc[order] * 100, where="post", c="C3", lw=1.5)
    ax.scatter(cost[order], acc[order] * 100, s=18, c="C3", label="Pareto front", zorder=3)
    if budget is not None:
        ax.axvline(budget, c="0.4", ls="--", lw=1, label="budget")
    ax.set_xlabel(cost_label)
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
