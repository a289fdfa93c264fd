"""The algebra of Approach 2: grouping runs into compute budgets, batched weighted least-squares parabolas in
ln N (free or with a fixed curvature), their vertices, and the power law of the vertices against compute.
"""

from __future__ import annotations

import numpy as np


def bin_budgets(compute: np.ndarray, tolerance: float = 0.05) -> np.ndarray:
    """Budget index of each run: sorted log10 C split where neighbours differ by more than ``tolerance``.

    Returns integer labels (n,) numbered by increasing compute.
    """
    log_c = np.log10(np.asarray(compute, dtype=float))
    order = np.argsort(log_c, kind="stable")
    breaks = np.diff(log_c[order]) > tolerance
    labels = np.empty(len(log_c), dtype=int)
    labels[order] = np.concatenate([[0], np.cumsum(breaks)])
    return labels


def _design(x: np.ndarray) -> np.ndarray:
    return np.stack([np.ones_like(x), x, x * x], axis=-1)


def fit_parabolas(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted least-squares parabolas y = c0 + c1 x + c2 x^2 for weight rows (B, n): coefficients (B, 3)."""
    design = _design(x)
    xtwx = np.einsum("bn,ni,nj->bij", weights, design, design)
    xtwy = np.einsum("bn,ni,n->bi", weights, design, y)
    with np.errstate(all="ignore"):
        det = np.linalg.det(xtwx)
        ok = np.abs(det) > 1e-12 * np.abs(np.einsum("bii->b", xtwx)) ** 3
        safe = np.where(ok[:, None, None], xtwx, np.eye(3))
        coef = np.linalg.solve(safe, xtwy[..., None])[..., 0]
    coef[~ok] = np.nan
    return coef


def fit_fixed_curvature(x: np.ndarray, y: np.ndarray, weights: np.ndarray, curvature: float) -> np.ndarray:
    """Parabolas with c2 fixed: least-squares c0, c1 of y - c2 x^2 for weight rows (B, n) -> (B, 3)."""
    design = np.stack([np.ones_like(x), x], axis=-1)
    target = y - curvature * x * x
    xtwx = np.einsum("bn,ni,nj->bij", weights, design, design)
    xtwy = np.einsum("bn,ni,n->bi", weights, design, target)
    with np.errstate(all="ignore"):
        det = np.linalg.det(xtwx)
        ok = np.abs(det) > 1e-12 * np.abs(np.einsum("bii->b", xtwx)) ** 2
        coef = np.linalg.solve(np.where(ok[:, None, None], xtwx, np.eye(2)), xtwy[..., None])[..., 0]
    coef[~ok] = np.nan
    return np.concatenate([coef, np.full((len(coef), 1), curvature)], axis=1)


def vertex(coef: np.ndarray, centre: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(x*, y*) of parabolas (..., 3) in centred x; NaN where the parabola opens downwards."""
    c0, c1, c2 = coef[..., 0], coef[..., 1], coef[..., 2]
    with np.errstate(all="ignore"):
        xs = np.where(c2 > 0, -c1 / (2 * c2), np.nan)
    return xs + centre, c0 + c1 * xs + c2 * xs * xs


def power_law(log_c: np.ndarray, log_y: np.ndarray) -> np.ndarray:
    """Least-squares slope and intercept of log_y on log_c along the last axis, ignoring NaN: (..., 2)."""
    log_c = np.broadcast_to(log_c, log_y.shape)
    ok = np.isfinite(log_y)
    n = ok.sum(-1)
    with np.errstate(all="ignore"):
        mc = np.where(ok, log_c, 0).sum(-1) / n
        my = np.where(ok, log_y, 0).sum(-1) / n
        dc = np.where(ok, log_c - mc[..., None], 0)
        slope = (dc * np.where(ok, log_y - my[..., None], 0)).sum(-1) / (dc * dc).sum(-1)
    slope = np.where(n >= 2, slope, np.nan)
    return np.stack([slope, my - slope * mc], axis=-1)


def assign_budgets(compute: np.ndarray, budgets: np.ndarray, tolerance: float) -> np.ndarray:
    """Index of the nearest nominal budget within ``tolerance`` decades, or -1 (n,)."""
    log_c = np.log10(np.asarray(compute, dtype=float))[:, None]
    dist = np.abs(log_c - np.log10(np.asarray(budgets, dtype=float))[None, :])
    nearest = np.argmin(dist, axis=1)
    return np.where(dist[np.arange(len(log_c)), nearest] <= tolerance, nearest, -1)
