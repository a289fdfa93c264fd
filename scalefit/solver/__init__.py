"""Stage 3, solver: the numerical engine, a global start by variable projection, then a tight polish of all parameters.

Knows laws and objectives; nothing about files, results or reports.

1. Grid: for every cell of a grid over the nonlinear parameters theta (the exponents), the law is linear
   in its coefficients c >= 0. The best c for a relative least-squares fit, sum w (sum_k c_k X_k / L - 1)^2,
   is solved exactly for all cells at once (non-negative least squares by enumerating active sets, batched
   normal equations accumulated over blocks of rows), and the true objective is evaluated there. Tables
   larger than GRID_ROWS give the grid a fixed random subset of rows: it only chooses starting points.
2. Widening: a best cell on the edge of the grid widens the grid on that side (up to the law's limits),
   so an edge value is never returned because the grid was too small.
3. Polish: the best few cells that are not neighbours are polished together in all parameters by a
   batched Levenberg-Marquardt on the analytic Jacobian (:func:`refine`, :mod:`.lm`), run to a per-start
   Newton-decrement test, i.e. to machine precision of the objective (scipy's default L-BFGS-B
   tolerances stop early on objectives of order 1e-3: that made the original Chinchilla intervals too
   narrow). A start that stalls gets L-BFGS-B with tight
   tolerances and a stationarity test. The best polished point wins; how many starts reached it is reported.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.optimize import minimize

from ..laws.base import Law
from . import identify, lm, varpro
from . import objective as obj
from .lm import BatchResult

LOG_COEF_BOUNDS = (-50.0, 200.0)  # log c: exp(-50) ~ 2e-22 counts as "term absent"
GRID_POINTS = 16
MAX_WIDENINGS = 8
N_POLISH = 4
SAME_OPTIMUM_RTOL = 1e-7
STATIONARY_RTOL = 1e-4  # max |projected gradient| / objective value below which a stopped run is stationary
MAX_ITER = 500
FTOL = 1e-14
GRID_ROWS = 4096  # above this many rows the grid (which only picks starts) sees a fixed random subset


@dataclass(frozen=True)
class Problem:
    """What the solver fits: a law, its precomputed features, log losses (n,), weights (n,) and objective."""

    law: Law
    features: Mapping[str, np.ndarray]
    log_loss: np.ndarray
    weights: np.ndarray
    objective: obj.Objective

    @classmethod
    def build(cls, law: Law, data: Mapping[str, np.ndarray], loss: np.ndarray, objective: obj.Objective,
              weights: np.ndarray | None = None) -> Problem:
        loss = np.asarray(loss, dtype=float)
        w = np.ones_like(loss) if weights is None else np.asarray(weights, dtype=float)
        return cls(law, law.features(data), np.log(loss), w, objective)

    @property
    def n_linear(self) -> int:
        return len(self.law.linear_names)

    def value_and_grad(self, z: np.ndarray, weights: np.ndarray | None = None):
        return obj.value_and_grad(self.law, self.objective, z, self.features, self.log_loss,
                                  self.weights if weights is None else weights)

    def value(self, z: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        return obj.value(self.law, self.objective, z, self.features, self.log_loss,
                         self.weights if weights is None else weights)

    def bounds(self) -> list[tuple[float, float]]:
        return [LOG_COEF_BOUNDS] * self.n_linear + list(self.law.nonlinear_limits)

    def subset(self, rows: int) -> Problem:
        """The problem on a fixed random subset of ``rows`` rows (itself when it has no more than that).

        Deterministic (seed 0); used where only a starting point is needed (the grid), so a table of 10^5
        rows costs the grid what 4,096 rows do, and the polish still fits every row."""
        n = self.log_loss.shape[-1]
        if n <= rows:
            return self
        idx = np.sort(np.random.default_rng(0).choice(n, size=rows, replace=False))
        return replace(self, features={k: v[idx] for k, v in self.features.items()}, log_loss=self.log_loss[idx],
                       weights=self.weights[idx])

    def reweighted(self, multiplicity: np.ndarray, log_loss: np.ndarray | None = None) -> Problem:
        """The same problem with every run's weight multiplied by ``multiplicity`` (n,) (a bootstrap draw)
        and, optionally, new log losses (n,) (a residual-bootstrap or simulated dataset)."""
        return replace(self, weights=self.weights * multiplicity,
                       log_loss=self.log_loss if log_loss is None else np.asarray(log_loss, dtype=float))


@dataclass(frozen=True)
class Solution:
    """Result of :func:`solve`: internal parameters z = (log c, theta) and how they were found."""

    z: np.ndarray
    value: float
    grad: np.ndarray
    converged: bool
    message: str
    n_iter: int
    n_evaluations: int
    starts: int
    starts_at_optimum: int
    start_values: np.ndarray
    grid_range: tuple[tuple[float, float], ...]
    grid_edge: tuple[bool, ...]
    at_bounds: tuple[str, ...] = field(default=())
    #: why the data cannot identify the law ("" entries never; empty when they can): e.g. "only one value of N"
    degenerate: tuple[str, ...] = field(default=())

    @property
    def grad_norm(self) -> float:
        return float(np.max(np.abs(self.grad)))


def relative_lsq_coefficients(log_basis: np.ndarray, log_loss: np.ndarray, weights: np.ndarray):
    """Exact non-negative least squares of sum_i w_i (sum_k c_k X_ki / L_i - 1)^2 for every grid cell.

    ``log_basis`` is (G, K, n). Returns c (G, K) >= 0 and the residual sum of squares (G,); singular
    cells are infeasible supports, never errors (see :func:`varpro.nnls_from_normal`).
    """
    design = np.exp(log_basis - log_loss)
    wd = design * weights
    return varpro.nnls_from_normal(wd @ np.swapaxes(design, -1, -2), wd.sum(axis=-1), weights.sum())


def grid_search(problem: Problem, ranges: tuple[tuple[float, float], ...], points: int = GRID_POINTS):
    """Objective at the variable-projection optimum of every cell of a geometric grid over theta.

    Returns ``(axes, z (G, K + p), values (G,))`` with cells in C order over ``axes``. Rows are processed
    in blocks (sufficient statistics), so memory is O(G + block), not O(G x rows).
    """
    axes, theta = varpro.theta_grid(ranges, points)
    gram, rhs, total = varpro.cell_statistics(problem, theta)
    coef, _ = varpro.nnls_from_normal(gram, rhs, total)
    z = varpro.coefficients_to_z(coef, theta, LOG_COEF_BOUNDS)
    values = varpro.cell_values(problem, z)
    values = np.where(np.isfinite(values), values, np.inf)
    return axes, z, values


def separated_best(values: np.ndarray, shape: tuple[int, ...], count: int) -> list[int]:
    """Indices of the ``count`` best cells such that no two are grid neighbours (incl. diagonals)."""
    chosen: list[tuple[int, ...]] = []
    for flat in np.argsort(values, kind="stable"):
        if not np.isfinite(values[flat]):
            break
        cell = np.unravel_index(flat, shape)
        if all(max(abs(a - b) for a, b in zip(cell, other, strict=True)) > 1 for other in chosen):
            chosen.append(cell)
        if len(chosen) == count:
            break
    return [int(np.ravel_multi_index(c, shape)) for c in chosen]


def refine(problem: Problem, z0: np.ndarray, weights: np.ndarray | None = None, max_iter: int = MAX_ITER,
           ftol: float = FTOL, same_problem: bool = False, log_loss: np.ndarray | None = None) -> BatchResult:
    """Batched Levenberg-Marquardt from the starts z0 (B, P); see :func:`lm.refine`.

    ``ftol`` is kept for compatibility; convergence is the per-row Newton-decrement test of :mod:`lm`.
    """
    del ftol
    return lm.refine(problem, z0, weights, max_iter=max_iter, same_problem=same_problem, log_loss=log_loss,
                     same_optimum_rtol=SAME_OPTIMUM_RTOL)


def polish(problem: Problem, z0: np.ndarray, max_iter: int = 20000):
    """L-BFGS-B on the analytic gradient with tolerances that do not stop early.

    ``ftol=0`` disables the relative-reduction test; the run ends when the projected gradient is below
    ``gtol`` (relative to the objective's scale) or when no line search can make progress any more, i.e.
    at machine precision of the objective. Used by the Hoffmann-grid reference and as a fallback.
    """
    scale = max(float(problem.value(z0)), 1e-300)
    bounds = problem.bounds()
    z0 = np.clip(z0, [b[0] for b in bounds], [b[1] for b in bounds])

    def fun(z):
        v, g = problem.value_and_grad(z)
        return float(v) / scale, g / scale

    result = minimize(fun, z0, jac=True, method="L-BFGS-B", bounds=bounds,
                      options={"ftol": 0.0, "gtol": 1e-12, "maxiter": max_iter, "maxcor": 20,
                               "maxls": 50})
    return result.x, float(result.fun) * scale, result


def projected_gradient(z: np.ndarray, grad: np.ndarray, bounds: list[tuple[float, float]]) -> np.ndarray:
    """The gradient with components that push against an active bound set to zero."""
    lo = np.array([b[0] for b in bounds])
    hi = np.array([b[1] for b in bounds])
    g = grad.copy()
    g[(z <= lo) & (g > 0)] = 0.0
    g[(z >= hi) & (g < 0)] = 0.0
    return g


def is_stationary(problem: Problem, z: np.ndarray, value: float) -> bool:
    """Max |projected gradient| <= STATIONARY_RTOL x objective value: a point no descent direction improves."""
    return _stationary(final_gradient(problem, z), value)


def _stationary(pgrad: np.ndarray, value: float) -> bool:
    return float(np.max(np.abs(pgrad))) <= STATIONARY_RTOL * max(value, 1e-300)


def final_gradient(problem: Problem, z: np.ndarray) -> np.ndarray:
    """Projected gradient of the objective at z (components pushing against an active bound are zero)."""
    _, grad = problem.value_and_grad(z)
    return projected_gradient(z, grad, problem.bounds())


def params_at_bounds(problem: Problem, z: np.ndarray) -> tuple[str, ...]:
    """Names of the parameters whose internal value sits on a solver bound."""
    names = problem.law.param_names
    return tuple(names[j] for j, (lo, hi) in enumerate(problem.bounds())
                 if np.isclose(z[j], lo, atol=1e-9) or np.isclose(z[j], hi, atol=1e-9))


def rescue(problem: Problem, z: np.ndarray) -> tuple[np.ndarray, float, bool]:
    """L-BFGS-B from a point Levenberg-Marquardt stalled at; returns (z, value, converged)."""
    z_alt, value, result = polish(problem, z)
    return z_alt, value, bool(result.success or is_stationary(problem, z_alt, value))


def solve(problem: Problem, n_polish: int = N_POLISH, points: int = GRID_POINTS,
          extra_starts: np.ndarray | None = None) -> Solution:
    """Global optimum: variable-projection grid (widened at edges), then polish of the best separated cells.

    ``extra_starts`` (S, P) are polished alongside the grid's cells (e.g. a first-pass optimum). On tables
    larger than GRID_ROWS the starts are polished on the grid's subset of rows and the distinct optima found
    there on every row; ``start_values`` and ``starts_at_optimum`` then describe the subset stage.
    """
    law = problem.law
    ranges = tuple(law.grid_range)
    limits = law.nonlinear_limits
    on_grid = problem.subset(GRID_ROWS)
    for _ in range(MAX_WIDENINGS + 1):
        axes, z_grid, values = grid_search(on_grid, ranges, points)
        shape = tuple(len(a) for a in axes)
        best = np.unravel_index(int(np.argmin(values)), shape)
        new_ranges, widened = [], False
        for j, (lo, hi) in enumerate(ranges):
            new_lo = max(lo / 4, limits[j][0]) if best[j] == 0 and lo > limits[j][0] else lo
            new_hi = min(hi * 2, limits[j][1]) if best[j] == shape[j] - 1 and hi < limits[j][1] else hi
            widened |= (new_lo, new_hi) != (lo, hi)
            new_ranges.append((new_lo, new_hi))
        if not widened:
            break
        ranges = tuple(new_ranges)
    edge = tuple(bool(best[j] in (0, shape[j] - 1)) for j in range(len(shape)))
    starts = separated_best(values, shape, n_polish)
    z_starts = z_grid[starts] if extra_starts is None else np.vstack([z_grid[starts], extra_starts])
    batch = refine(on_grid, z_starts, same_problem=True)
    start_values = np.sort(batch.value)
    reached = int(np.sum(start_values <= start_values[0] * (1 + SAME_OPTIMUM_RTOL) + 1e-300))
    if on_grid is not problem:  # starts were polished on the subset: polish its distinct optima on every row
        order = np.argsort(batch.value)
        distinct = [i for j, i in enumerate(order)
                    if j == 0 or batch.value[i] > batch.value[order[j - 1]] * (1 + SAME_OPTIMUM_RTOL)]
        batch = refine(problem, batch.z[distinct], same_problem=True)
    best = int(np.argmin(batch.value))
    z_best, best_value = batch.z[best], float(batch.value[best])
    converged, message, n_iter = bool(batch.converged[best]), "Levenberg-Marquardt converged", \
        int(batch.n_iter[best])
    if not converged:  # fall back on L-BFGS-B from the best point; keep whichever is lower
        z_alt, v_alt, converged = rescue(problem, z_best)
        if v_alt < best_value:
            z_best, best_value = z_alt, v_alt
        message = "L-BFGS-B fallback after Levenberg-Marquardt stalled"
    if on_grid is problem:
        reached = int(np.sum(start_values <= best_value * (1 + SAME_OPTIMUM_RTOL) + 1e-300))
    why = str(identify.reasons(law, problem.features, z_best, problem.weights[None, :])[0])
    return Solution(z=z_best, value=best_value, grad=final_gradient(problem, z_best), converged=converged,
                    message=message, n_iter=n_iter, n_evaluations=int(batch.n_iter.sum()), starts=len(z_starts),
                    starts_at_optimum=reached, start_values=start_values, grid_range=ranges, grid_edge=edge,
                    at_bounds=params_at_bounds(problem, z_best), degenerate=(why,) if why else ())


def hoffmann_grid_starts(law: Law) -> np.ndarray:
    """Hoffmann et al.'s 4,500 initialisations for the Chinchilla law, as z = (e, a, b, alpha, beta).

    alpha, beta in {0, 0.5, ..., 2}, e in {-1, -0.5, ..., 1}, a, b in {0, 5, ..., 25}.
    """
    if law.param_names != ("E", "A", "B", "alpha", "beta"):
        raise ValueError("the Hoffmann grid is defined for the Chinchilla law only")
    exps = np.arange(0.0, 2.5, 0.5)
    es = np.arange(-1.0, 1.5, 0.5)
    ab = np.arange(0.0, 30.0, 5.0)
    grid = itertools.product(es, ab, ab, exps, exps)
    return np.array(list(grid), dtype=float)


def solve_hoffmann_grid(problem: Problem, starts: np.ndarray | None = None) -> Solution:
    """Reference method: L-BFGS-B from each of Hoffmann et al.'s 4,500 starts; the best result wins.

    Each run uses the same tight tolerances as :func:`polish`, so the reference is as strong as it can be.
    """
    starts = hoffmann_grid_starts(problem.law) if starts is None else starts
    bounds = problem.bounds()
    lo = np.array([b[0] for b in bounds])
    results = []
    for z0 in starts:
        z0 = np.maximum(z0, lo)
        z, val, res = polish(problem, z0)
        results.append((val, z, res))
    results.sort(key=lambda item: item[0])
    best_value, z_best, res_best = results[0]
    values = np.array([r[0] for r in results])
    pgrad = final_gradient(problem, z_best)
    return Solution(z=z_best, value=best_value, grad=pgrad,
                    converged=bool(res_best.success or _stationary(pgrad, best_value)),
                    message=f"L-BFGS-B: {res_best.message}", n_iter=int(res_best.nit),
                    n_evaluations=int(sum(r[2].nfev for r in results)), starts=len(results),
                    starts_at_optimum=int(np.sum(values <= best_value * (1 + SAME_OPTIMUM_RTOL))),
                    start_values=values, grid_range=(), grid_edge=(), at_bounds=params_at_bounds(problem, z_best))
