"""Variable projection on a grid of the nonlinear parameters theta: exact non-negative linear coefficients.

For fixed theta the law is linear in its coefficients c >= 0, so the best c for the relative least-squares
criterion sum_i w_i (sum_k c_k X_ki / L_i - 1)^2 follows from the normal equations alone: the Gram matrix
sum_i w_i X_ki X_li / L_i^2, the right-hand side sum_i w_i X_ki / L_i and the total weight. Those are
*sufficient statistics*: they are accumulated over blocks of rows, so memory never holds a
(cells x rows) array, and for many replicates that share the rows (bootstrap multiplicities) they are one
matrix product of the weights with per-row products.

Shapes: G grid cells, K linear coefficients, p nonlinear parameters, n rows, B replicates.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from . import objective as obj
from .linalg import row_blocks, safe_solve, take_rows

LOG_COEF_FLOOR = -50.0  # log c of an absent term (kept in step with solver.LOG_COEF_BOUNDS)


def nnls_from_normal(gram: np.ndarray, rhs: np.ndarray, total: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact NNLS from normal equations for a stack of problems: gram (..., K, K), rhs (..., K), total (...).

    Enumerates the 2^K - 1 supports; the optimum is the best unconstrained solution on a support whose
    coefficients are all positive. A singular support is infeasible (skipped), never an error.
    Returns c (..., K) >= 0 and the residual sum of squares (...,) (``total`` where c = 0 is best).
    """
    shape, k = rhs.shape[:-1], rhs.shape[-1]
    best_c = np.zeros((*shape, k))
    best_rss = np.array(np.broadcast_to(total, shape), dtype=float)
    for size in range(1, k + 1):
        for support in itertools.combinations(range(k), size):
            idx = np.array(support)
            sub_rhs = rhs[..., idx]
            if size == 1:
                diag = gram[..., idx[0], idx[0]]
                solved = diag > 0
                with np.errstate(all="ignore"):
                    sol = np.where(solved, sub_rhs[..., 0] / np.where(solved, diag, 1.0), 0.0)[..., None]
            elif size in (2, 3):
                sol, solved = _cramer(gram[..., idx[:, None], idx[None, :]], sub_rhs)
            else:
                sol, solved = safe_solve(gram[..., idx[:, None], idx[None, :]], sub_rhs)
            rss = np.asarray(total) - np.einsum("...k,...k->...", sol, sub_rhs)
            ok = solved & np.all(sol > 0, axis=-1) & np.isfinite(rss) & (rss < best_rss)
            best_rss = np.where(ok, rss, best_rss)
            full = np.zeros((*shape, k))
            full[..., idx] = sol
            best_c = np.where(ok[..., None], full, best_c)
    return best_c, best_rss


def best_cells(gram: np.ndarray, rhs: np.ndarray, total: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per problem, the grid cell of least NNLS residual: gram (B, G, K, K), rhs (B, G, K), total (B,).

    Returns ``(best (B,), c (B, K), rss (B,))`` as :func:`nnls_from_normal` over every cell followed by an
    argmin would, without enumerating supports where no cell can win: where the unconstrained solution
    is positive it is the NNLS solution (the problem is convex), and elsewhere the unconstrained residual
    is a lower bound, so a cell whose bound is not below the problem's best feasible residual is skipped.
    """
    batch, cells, k = rhs.shape
    sol, solved = (_cramer(gram, rhs) if k in (2, 3) else safe_solve(gram, rhs))
    rss = total[:, None] - np.einsum("bgk,bgk->bg", sol, rhs)
    finite = solved & np.isfinite(rss)
    feasible = finite & np.all(sol > 0, axis=-1)
    cell_rss = np.where(feasible, rss, np.inf)
    bound = np.minimum(cell_rss.min(axis=1), total)
    open_cells = ~feasible & (np.where(finite, rss, -np.inf) < bound[:, None])
    coef = np.where(feasible[..., None], sol, 0.0)
    if open_cells.any():
        c_open, rss_open = nnls_from_normal(gram[open_cells], rhs[open_cells], np.broadcast_to(
            total[:, None], (batch, cells))[open_cells])
        cell_rss[open_cells] = np.where(np.isfinite(rss_open), rss_open, np.inf)
        coef[open_cells] = c_open
    best = np.argmin(cell_rss, axis=1)
    pick = np.arange(batch)
    return best, coef[pick, best], cell_rss[pick, best]


SINGULAR_RTOL = 1e-14  # |det| / product of the diagonal (rounding level) below which a Gram block is singular


def _cramer(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form solve of symmetric positive semi-definite 2x2 or 3x3 systems a (..., q, q), b (..., q).

    Tens of thousands of tiny systems (cells x replicates) cost a few array operations instead of one
    LAPACK call each. ``ok`` is False where the matrix is singular relative to its diagonal.
    """
    q = a.shape[-1]
    scale = np.prod(np.einsum("...ii->...i", a), axis=-1)
    with np.errstate(all="ignore"):
        if q == 2:
            a00, a01, a11 = a[..., 0, 0], a[..., 0, 1], a[..., 1, 1]
            det = a00 * a11 - a01 * a01
            x = np.stack([(a11 * b[..., 0] - a01 * b[..., 1]), (a00 * b[..., 1] - a01 * b[..., 0])], axis=-1)
        else:
            c00 = a[..., 1, 1] * a[..., 2, 2] - a[..., 1, 2] * a[..., 2, 1]
            c01 = a[..., 0, 2] * a[..., 2, 1] - a[..., 0, 1] * a[..., 2, 2]
            c02 = a[..., 0, 1] * a[..., 1, 2] - a[..., 0, 2] * a[..., 1, 1]
            c11 = a[..., 0, 0] * a[..., 2, 2] - a[..., 0, 2] * a[..., 2, 0]
            c12 = a[..., 0, 2] * a[..., 1, 0] - a[..., 0, 0] * a[..., 1, 2]
            c22 = a[..., 0, 0] * a[..., 1, 1] - a[..., 0, 1] * a[..., 1, 0]
            det = a[..., 0, 0] * c00 + a[..., 0, 1] * c01 + a[..., 0, 2] * c02
            x = np.stack([c00 * b[..., 0] + c01 * b[..., 1] + c02 * b[..., 2],
                          c01 * b[..., 0] + c11 * b[..., 1] + c12 * b[..., 2],
                          c02 * b[..., 0] + c12 * b[..., 1] + c22 * b[..., 2]], axis=-1)
        ok = np.isfinite(det) & (np.abs(det) > SINGULAR_RTOL * np.abs(scale)) & (scale > 0)
        x = x / np.where(ok, det, 1.0)[..., None]
    ok &= np.isfinite(x).all(axis=-1)
    return np.where(ok[..., None], x, 0.0), ok


def cell_statistics(problem, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Normal equations of every cell for the problem's own weights: gram (G, K, K), rhs (G, K), total.

    Accumulated over blocks of rows.
    """
    law, n = problem.law, problem.log_loss.shape[-1]
    k = len(law.linear_names)
    g = theta.shape[0]
    gram, rhs = np.zeros((g, k, k)), np.zeros((g, k))
    for rows in row_blocks(g * k, n):
        design = np.exp(law.log_basis(theta, take_rows(problem.features, rows)) - problem.log_loss[rows])
        weighted = design * problem.weights[rows]
        gram += weighted @ np.swapaxes(design, -1, -2)
        rhs += weighted.sum(axis=-1)
    return gram, rhs, float(problem.weights.sum())


def cell_values(problem, z: np.ndarray) -> np.ndarray:
    """True objective at many parameter rows z (G, P) on the problem's rows, accumulated over row blocks."""
    n = problem.log_loss.shape[-1]
    out = np.zeros(z.shape[0])
    for rows in row_blocks(z.shape[0] * len(problem.law.linear_names), n):
        out += obj.value(problem.law, problem.objective, z, take_rows(problem.features, rows),
                         problem.log_loss[rows], problem.weights[rows])
    return out


def coefficients_to_z(coef: np.ndarray, theta: np.ndarray, log_coef_bounds: tuple[float, float]) -> np.ndarray:
    """(c (..., K), theta (..., p)) -> internal z (..., K + p) with log c clipped to the solver's bounds."""
    with np.errstate(divide="ignore"):
        logc = np.clip(np.log(coef), *log_coef_bounds)
    return np.concatenate([logc, np.broadcast_to(theta, (*coef.shape[:-1], theta.shape[-1]))], axis=-1)


def theta_grid(ranges, points: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Geometric axes over each range and the cells (G, p) in C order over the axes."""
    axes = [np.geomspace(lo, hi, points) for lo, hi in ranges]
    theta = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(axes))
    return axes, theta


# -- many replicates sharing the rows ------------------------------------------------------------------

def group_products(problem, theta: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Per-row normal-equation products of every cell summed within groups of rows: (U, G, K^2 + K).

    ``codes`` (n,) label the rows (0..U-1) whose weights are always equal (a cluster bootstrap's groups);
    the products do not depend on any replicate's weights, so one pass over the rows serves every chunk.
    """
    law, n = problem.law, problem.log_loss.shape[-1]
    k = len(law.linear_names)
    g = theta.shape[0]
    n_codes = int(codes.max()) + 1 if codes.size else 0
    order = np.argsort(codes, kind="stable")
    products = np.zeros((n_codes, g, k * k + k))
    for rows in row_blocks(g * (k * k + k), n):
        idx = order[rows]
        feats = {key: v[idx] for key, v in problem.features.items()}
        design = np.exp(law.log_basis(theta, feats) - problem.log_loss[idx])  # (G, K, m)
        per_row = np.concatenate([(design[:, :, None, :] * design[:, None, :, :]).reshape(g, k * k, -1),
                                  design], axis=1)  # (G, K^2 + K, m)
        block_codes = codes[idx]
        starts = np.flatnonzero(np.r_[True, block_codes[1:] != block_codes[:-1]])
        summed = np.add.reduceat(np.moveaxis(per_row, -1, 0), starts, axis=0)  # (groups in block, G, K^2+K)
        products[block_codes[starts]] += summed
    return products


def statistics_from_products(compact: np.ndarray, products: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normal equations (gram (B, G, K, K), rhs (B, G, K)) from group weights (B, U) and
    :func:`group_products` (U, G, K^2 + K)."""
    n_codes, g, width = products.shape
    k = math.isqrt(4 * width + 1) // 2  # width = K^2 + K
    stats = (compact @ products.reshape(n_codes, -1)).reshape(compact.shape[0], g, width)
    return stats[..., : k * k].reshape(-1, g, k, k), stats[..., k * k:]
