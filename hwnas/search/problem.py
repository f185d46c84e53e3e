"""The search problem: a space, budgets on its costs, and the objectives.

Costs are exact (MACs, params) or table-predicted (latency, corrected); all are computed for whole
``(N, 46)`` batches at once. ``sample_feasible`` draws archs that meet the budgets directly, without
endless rejection loops for tight budgets. With a ``pool`` (``--pool FILE``) the candidates are its
feasible members only: ``sample_feasible`` draws from them and ``snap``/``repair`` map any rows onto
them.
"""

from __future__ import annotations

import numpy as np

from ..arch import Arch, active_mask, canonicalize, mutate, unique_rows
from ..cost import macs_params
from ..errors import HwnasError, allowed
from ..space import (
    D_COLS,
    DEPTHS,
    E_COLS,
    EXPAND_RATIOS,
    KERNEL_SIZES,
    KS_COLS,
    N_BLOCKS,
    N_GENES,
    N_STAGES,
    R_COL,
    Space,
)
from ..units import format_count
from .pool import Pool

COST_OBJECTIVES = {"flops": "mflops", "latency": "latency_ms", "params": "params_m"}
# accuracy alone, or accuracy and one cost: the spellings --objectives accepts
OBJECTIVE_SETS = ("acc",) + tuple(f"acc,{cost}" for cost in COST_OBJECTIVES)
COST_LABELS = {
    "mflops": "MFLOPs (multiply-accumulates)",
    "latency_ms": "latency (ms)",
    "params_m": "parameters (M)",
}


class Problem:
    """Budgets: ``flops`` (MACs), ``params`` (count), ``latency_ms`` (needs ``device``);
    ``objectives`` like ``("acc",)`` or ``("acc", "latency")``. ``pool``: an (N, 46) array of the
    only archs allowed (those outside the budgets or the space's resolutions are dropped;
    ``pool_label`` names it in errors), ``pool_seed`` seeds the tie rule of ``snap``."""

    def __init__(
        self,
        space: Space,
        flops=None,
        params=None,
        latency_ms=None,
        device=None,
        objectives=("acc",),
        pool=None,
        pool_seed: int = 0,
        pool_label: str = "pool",
    ):
        self.space = space
        self.flops, self.params, self.latency_ms, self.device = flops, params, latency_ms, device
        objectives = tuple(objectives)
        spelled = ",".join(objectives)
        if spelled not in OBJECTIVE_SETS:
            raise HwnasError(
                f"objectives {spelled!r} not allowed; allowed: {allowed(OBJECTIVE_SETS)}"
            )
        self.objectives = objectives
        if latency_ms is not None and device is None:
            raise HwnasError("--latency needs --device NAME (a shipped device or a device folder)")
        if "latency" in objectives and device is None:
            raise HwnasError(
                "objective latency needs --device NAME (a shipped device or a device folder)"
            )
        self._check_achievable()
        self._pool = None if pool is None else self._make_pool(pool, pool_seed, pool_label)

    def _make_pool(self, X, seed, label) -> Pool:
        X = unique_rows(canonicalize(X))
        ok = np.isin(X[:, R_COL], self.space.resolutions)
        ok[ok] = self.feasible(X[ok])
        if not ok.any():
            raise HwnasError(
                f"{label}: none of its {len(X)} archs is within {self.describe()} at "
                f"resolutions {','.join(map(str, self.space.resolutions))}; allowed: "
                f"a pool "
                "with feasible archs"
            )
        self.pool_dropped = int((~ok).sum())  # archs of the file outside the budgets or resolutions
        return Pool(X[ok], seed)

    @property
    def pool(self):
        """None, or the (P, 46) int64 feasible canonical archs of the pool."""
        return None if self._pool is None else self._pool.members

    def snap(self, X) -> np.ndarray:
        """Each row replaced by its nearest pool member (Hamming on genes, seeded ties); no pool:
        ``X`` unchanged."""
        return np.asarray(X, dtype=np.int64) if self._pool is None else self._pool.snap(X)

    @property
    def multi_objective(self) -> bool:
        """True when there are two objectives (accuracy and a cost)."""
        return len(self.objectives) == 2

    @property
    def cost_key(self) -> str:
        """The cost that Pareto fronts use: the second objective, else latency if a device is set,
        else MACs."""
        if self.multi_objective:
            return COST_OBJECTIVES[self.objectives[1]]
        return "latency_ms" if self.device is not None else "mflops"

    def costs(self, X) -> dict:
        """``{"mflops", "params_m"[, "latency_ms"]}``: float64 arrays (N,)."""
        macs, params = macs_params(self.space, X)
        out = {"mflops": macs / 1e6, "params_m": params / 1e6}
        if self.device is not None:
            out["latency_ms"] = self.device.predict_ms(X)
        return out

    def feasible(self, X, costs=None) -> np.ndarray:
        """Boolean mask ``(N,)``: rows within every budget (MACs, params, latency in ms)."""
        costs = self.costs(X) if costs is None else costs
        ok = np.ones(len(X), dtype=bool)
        if self.flops is not None:
            ok &= costs["mflops"] * 1e6 <= self.flops
        if self.params is not None:
            ok &= costs["params_m"] * 1e6 <= self.params
        if self.latency_ms is not None:
            ok &= costs["latency_ms"] <= self.latency_ms
        return ok

    def _check_achievable(self):
        # MACs and params grow with every gene, so the smallest arch at the lowest resolution is the
        # least of both.
        macs, params = macs_params(self.space, self._smallest_candidates())
        if self.flops is not None and self.flops < macs.min():
            raise HwnasError(
                f"--flops {format_count(self.flops)} is below what any subnet needs; "
                f"the smallest achievable "
                f"is {macs.min() / 1e6:.2f}M MACs (at {self.space.resolutions[0]} px)"
            )
        if self.params is not None and self.params < params.min():
            raise HwnasError(
                f"--params {format_count(self.params)} is below what any subnet has; "
                f"the smallest achievable "
                f"is {params.min() / 1e6:.3f}M parameters"
            )
        if self.latency_ms is not None:
            least = self.device.min_latency_ms(self.space.resolutions)
            if self.latency_ms < least:
                raise HwnasError(
                    f"--latency {self.latency_ms:g}ms is below what any subnet takes "
                    f"on {self.device.name}; "
                    f"the smallest achievable is {least:.2f}ms"
                )
        elif not self.feasible(self._smallest_candidates()).any():
            raise HwnasError("no subnet meets all budgets together; loosen one of them")

    def _smallest_candidates(self):
        return np.stack([Arch.smallest(r).to_array() for r in self.space.resolutions])

    # -- sampling under the budgets ----------------------------------------------------------------
    def sample(self, n: int, rng: np.random.Generator, tilt: bool = True) -> np.ndarray:
        """``n`` archs; with ``tilt``, each arch draws its genes from a random bias toward small
        values (each gene is the smallest of 1..4 uniform draws), so tight budgets still get many
        candidates."""
        X = np.empty((n, N_GENES), dtype=np.int64)
        draws = rng.integers(1, 5, size=(n, 1)) if tilt else np.ones((n, 1), dtype=np.int64)

        def gene(values, cols):
            idx = rng.integers(0, len(values), size=(n, cols, 4))
            mask = np.arange(4)[None, None, :] < draws[:, :, None]
            idx = np.where(mask, idx, len(values)).min(axis=2)
            return np.asarray(values)[idx]

        X[:, KS_COLS] = gene(KERNEL_SIZES, N_BLOCKS)
        X[:, E_COLS] = gene(EXPAND_RATIOS, N_BLOCKS)
        X[:, D_COLS] = gene(DEPTHS, N_STAGES)
        X[:, R_COL] = gene(self.space.resolutions, 1)[:, 0]
        return canonicalize(X)

    def sample_feasible(
        self,
        n: int,
        rng: np.random.Generator,
        tilt: bool = True,
        exclude=None,
        max_rounds: int = 50,
    ):
        """Up to ``n`` unique feasible archs (fewer only if the feasible region is that small).

        ``tilt=False`` is plain uniform sampling with rejection (the paper's pool). With a pool: a
        uniform draw of its members (``tilt`` does not apply).
        """
        if self._pool is not None:
            return self._pool.sample(n, rng, exclude)
        seen = set() if exclude is None else set(map(bytes, np.asarray(exclude, dtype=np.int64)))

        def fresh(X):
            """The feasible rows of ``X`` not seen before (all of them join ``seen``)."""
            X = unique_rows(X[self.feasible(X)])
            keep = [i for i, row in enumerate(X) if bytes(row) not in seen]
            seen.update(bytes(X[i]) for i in keep)
            return X[keep]

        chunks, have = [], 0
        for _ in range(max_rounds):
            chunks.append(fresh(self.sample(max(2 * (n - have), 1024), rng, tilt))[: n - have])
            have += len(chunks[-1])
            if have >= n:
                break
        if have < n:  # a very tight budget: grow outward from the smallest feasible nets
            base = self._smallest_candidates()
            base = base[self.feasible(base)]
            for _ in range(max_rounds):
                X = fresh(mutate(np.repeat(base, 64, axis=0), rng, 0.15, self.space.resolutions))
                chunks.append(X[: n - have])
                have += len(chunks[-1])
                base = np.concatenate([base, X])[-4096:]
                if have >= n:
                    break
        return np.concatenate(chunks)[:n] if chunks else np.zeros((0, N_GENES), dtype=np.int64)

    def repair(self, X, rng: np.random.Generator, max_rounds: int = 80) -> np.ndarray:
        """Shrink infeasible archs until they meet the budgets: each round lowers one random active
        kernel size or expand ratio by one step (or, when none is left, a depth or the resolution).

        Evolution can then walk along the budget boundary instead of having every larger move
        rejected. Rows still infeasible after ``max_rounds`` are dropped. With a pool: ``snap(X)``.
        """
        if self._pool is not None:
            return self._pool.snap(X)
        X = canonicalize(X)
        res = np.asarray(self.space.resolutions)
        bad = np.flatnonzero(~self.feasible(X))
        for _ in range(max_rounds):
            if len(bad) == 0:
                return X
            B = X[bad]

            act = active_mask(B)
            genes = np.concatenate([B[:, KS_COLS], B[:, E_COLS]], axis=1)
            reducible = np.concatenate([act, act], axis=1) & (genes > 3)
            score = np.where(reducible, rng.random(reducible.shape), -1.0)
            col = score.argmax(axis=1)
            has = score.max(axis=1) >= 0
            rows = np.flatnonzero(has)
            c = col[rows]
            is_ks = c < N_BLOCKS
            ks_rows, ks_cols = rows[is_ks], c[is_ks]
            B[ks_rows, ks_cols] -= 2  # 7 -> 5 -> 3
            e_rows, e_cols = rows[~is_ks], c[~is_ks]  # expand: 6 -> 4 -> 3
            cur = B[e_rows, e_cols]
            B[e_rows, e_cols] = np.where(cur == 6, 4, 3)
            stuck = np.flatnonzero(~has)
            if len(stuck):
                d = B[stuck][:, D_COLS]
                deep = np.where(d > 2, rng.random(d.shape), -1.0)
                st = deep.argmax(axis=1)
                can = deep.max(axis=1) >= 0
                B[stuck[can], D_COLS.start + st[can]] -= 1
                low = stuck[~can]
                ri = np.searchsorted(res, B[low, R_COL])
                B[low, R_COL] = res[np.maximum(ri - 1, 0)]
            X[bad] = canonicalize(B)
            bad = bad[~self.feasible(X[bad])]  # only changed rows can change their feasibility
        keep = np.ones(len(X), dtype=bool)
        keep[bad] = False
        return X[keep]

    def describe(self) -> str:
        """The budgets in words, e.g. ``MACs <= 600M, latency <= 25 ms on cpu-ort``."""
        parts = []
        if self.flops is not None:
            parts.append(f"MACs <= {format_count(self.flops)}")
        if self.params is not None:
            parts.append(f"params <= {format_count(self.params)}")
        if self.latency_ms is not None:
            parts.append(f"latency <= {self.latency_ms:g} ms on {self.device.name}")
        return ", ".join(parts) or "no budget"
