"""Batched small least squares, optionally non-negative: the linear step of variable-projection starts.

For a grid of G cells, each a (K, n) design of K basis functions on n runs, solve min_c sum w (design^T c - y)^2
for every cell at once. Used by a law's own ``grid_candidates`` (Kaplan's) and by the general solver, so it lives
with the laws, below the solver.
"""

from __future__ import annotations

import itertools

import numpy as np


def batched_solve(matrix: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve (G, K, K) x = (G, K); singular or non-finite cells get NaN (they are then never chosen)."""
    ok = np.all(np.isfinite(matrix), axis=(-2, -1)) & np.all(np.isfinite(rhs), axis=-1)
    out = np.full(rhs.shape, np.nan)
    with np.errstate(all="ignore"):
        try:
            out[ok] = np.linalg.solve(matrix[ok], rhs[ok, :, None])[..., 0]
        except np.linalg.LinAlgError:
            out[ok] = (np.linalg.pinv(matrix[ok]) @ rhs[ok, :, None])[..., 0]
    return out


def lsq_coefficients(design: np.ndarray, target: np.ndarray, weights: np.ndarray, nonneg: bool):
    """min_c sum w (design^T c - target)^2 for every cell; design (G, K, n), target (G, n). Returns c (G, K)."""
    wd = design * weights
    gram = wd @ np.swapaxes(design, -1, -2)
    rhs = np.einsum("gkn,gn->gk", wd, target)
    total = np.einsum("gn,gn->g", target * weights, target)
    n_cells, k = rhs.shape
    if not nonneg:
        return np.nan_to_num(batched_solve(gram, rhs))
    best_c = np.zeros((n_cells, k))
    best_rss = total.copy()
    for size in range(1, k + 1):
        for support in itertools.combinations(range(k), size):
            idx = np.array(support)
            sub = gram[:, idx[:, None], idx[None, :]]
            sol = batched_solve(sub, rhs[:, idx])
            rss = total - np.einsum("gk,gk->g", sol, rhs[:, idx])
            ok = np.all(sol > 0, axis=1) & np.isfinite(rss) & (rss < best_rss)
            best_rss = np.where(ok, rss, best_rss)
            full = np.zeros((n_cells, k))
            full[:, idx] = sol
            best_c = np.where(ok[:, None], full, best_c)
    return best_c
