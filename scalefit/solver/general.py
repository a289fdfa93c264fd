"""The general solver: any law with a ``predict`` (and optionally an analytic ``log_jacobian``).

Laws that are not separable (Kaplan's joint form, user-defined forms) are fitted here with the same
objective and the same checks as the variable-projection solver:

1. Grid: a grid over the free nonlinear parameters (geometric for positive ranges and log-scale
   parameters). Parameters the law declares linear are projected out in every cell: for fixed nonlinear
   parameters the best coefficients of the relative least-squares problem sum w ((L0 + sum c_k X_k)/L - 1)^2
   are solved exactly (non-negative when their lower bound is 0, by enumerating active sets); without a
   declared linear part every free parameter is on the grid. A best cell on the grid's edge widens it.
2. Polish: the best separated cells are polished together by a batched Levenberg-Marquardt on the
   Jacobian of the log prediction (analytic when the law gives one, central differences otherwise),
   run to machine precision of the objective; a start that stalls gets L-BFGS-B with tolerances scaled
   to the objective (ftol=0, tiny gtol).
3. Checks: stationarity (projected gradient relative to the objective), how many starts reached the
   optimum, parameters at their bounds, grid edges after widening.

Internal parameters z: the free parameters, as log(value) for log-scale ones. Shapes: z (..., F);
predictions (..., n).

The damped solve, the trial point and the acceptance test of :func:`refine` are shared with the separable
loop (:mod:`.lm_core`). What stays different, and why: this loop damps Marquardt's way, lambda diag(H), /3 on
success and x4 on failure (:data:`.lm_core.MARQUARDT`), and stops after two accepted steps that each gain
less than ``ftol`` relative to the objective: it serves laws with finite-difference Jacobians, where a
Newton-decrement test on a differenced H is less reliable than one on the objective. One rule for both loops
would change the iterates of every general-path fit and bootstrap; tests/test_solver_lm_core.py pins the rule
each loop uses and that both reach the same optimum on the Epoch data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import minimize

from ..core.errors import FitError
from ..laws.base import Law
from ..laws.nnls import lsq_coefficients
from . import Solution
from . import objective as obj
from .lm import BatchResult
from .lm_core import LAMBDA_FLOOR, MARQUARDT, accept, bound_arrays, damped_solve, trial_point

LOG_FLOOR = -50.0  # log of the smallest positive value a log-scale parameter takes (exp(-50) ~ 2e-22)
LOG_CEIL = 200.0
MAX_CELLS = 4096
MAX_POINTS = 16
MAX_WIDENINGS = 6
N_POLISH = 4
SAME_OPTIMUM_RTOL = 1e-7
STATIONARY_RTOL = 1e-4
MAX_ITER = 500
FTOL = 1e-14
DAMPING = MARQUARDT  # the damping rule of refine (see lm_core)


@dataclass(frozen=True)
class GeneralProblem:
    """A law, inputs {name: (n,)}, log losses (n,), weights (n,) and the objective."""

    law: Law
    data: Mapping[str, np.ndarray]
    log_loss: np.ndarray
    weights: np.ndarray
    objective: obj.Objective

    @classmethod
    def build(cls, law: Law, data: Mapping[str, np.ndarray], loss: np.ndarray, objective: obj.Objective,
              weights: np.ndarray | None = None) -> GeneralProblem:
        loss = np.asarray(loss, dtype=float)
        w = np.ones_like(loss) if weights is None else np.asarray(weights, dtype=float)
        return cls(law, {k: np.asarray(data[k], dtype=float) for k in law.inputs}, np.log(loss), w, objective)

    def reweighted(self, multiplicity: np.ndarray, log_loss: np.ndarray | None = None) -> GeneralProblem:
        return replace(self, weights=self.weights * multiplicity,
                       log_loss=self.log_loss if log_loss is None else np.asarray(log_loss, dtype=float))

    # -- parametrisation --------------------------------------------------------------------------------------
    @property
    def free_specs(self):
        return tuple(s for s in self.law.specs if s.free)

    @property
    def internal_names(self) -> tuple[str, ...]:
        return tuple(f"log {s.name}" if s.log_scale else s.name for s in self.free_specs)

    def bounds(self) -> list[tuple[float, float]]:
        out = []
        for s in self.free_specs:
            lo, hi = s.bounds
            if s.log_scale:
                out.append((max(np.log(lo), LOG_FLOOR) if lo > 0 else LOG_FLOOR,
                            min(np.log(hi), LOG_CEIL) if np.isfinite(hi) else LOG_CEIL))
            else:
                out.append((float(lo), float(hi)))
        return out

    def to_public(self, z: np.ndarray) -> np.ndarray:
        """Internal rows (..., F) -> the law's full parameter rows (..., P)."""
        z = np.asarray(z, dtype=float)
        logs = np.array([s.log_scale for s in self.free_specs])
        free = np.where(logs, np.exp(np.where(logs, z, 0.0)), z)
        return self.law.expand(free)

    def to_internal(self, params: np.ndarray) -> np.ndarray:
        free = self.law.reduce(params)
        logs = np.array([s.log_scale for s in self.free_specs])
        with np.errstate(divide="ignore"):
            return np.where(logs, np.log(np.where(logs, np.maximum(free, np.exp(LOG_FLOOR)), 1.0)), free)

    # -- objective --------------------------------------------------------------------------------------------
    def log_predict(self, z: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return self.law.log_predict(self.to_public(z), self.data)

    def residual_jacobian(self, z: np.ndarray) -> np.ndarray:
        """d log prediction / d z, shape (..., n, F)."""
        z = np.asarray(z, dtype=float)
        full = self.to_public(z)
        with np.errstate(all="ignore"):
            jac_full = self.law.log_jacobian(full, self.data)  # (..., n, P)
        names = self.law.param_names
        free_names = self.law.free_names
        jac = np.zeros((*jac_full.shape[:-1], len(free_names)))
        for s in self.law.specs:
            if s.fixed is None:
                jac[..., free_names.index(s.tied or s.name)] += jac_full[..., names.index(s.name)]
        for i, s in enumerate(self.free_specs):
            if s.log_scale:
                jac[..., i] *= np.exp(z[..., i, None])
        return jac

    def value(self, z: np.ndarray, weights: np.ndarray | None = None, log_loss: np.ndarray | None = None):
        r = self.log_predict(z) - (self.log_loss if log_loss is None else log_loss)
        w = self.weights if weights is None else weights
        v = np.sum(w * self.objective.rho(r), axis=-1)
        return np.where(np.isfinite(v), v, np.inf)

    def value_and_grad(self, z: np.ndarray, weights: np.ndarray | None = None, log_loss: np.ndarray | None = None):
        r = self.log_predict(z) - (self.log_loss if log_loss is None else log_loss)
        w = self.weights if weights is None else weights
        jac = self.residual_jacobian(z)
        value = np.sum(w * self.objective.rho(r), axis=-1)
        grad = np.einsum("...n,...np->...p", w * self.objective.psi(r), jac)
        return value, grad


# -- grid -----------------------------------------------------------------------------------------------------------
def _axis(lo: float, hi: float, points: int, log_scale: bool) -> np.ndarray:
    if log_scale:
        return np.linspace(lo, hi, points)  # z is already log(value)
    if lo > 0:
        return np.geomspace(lo, hi, points)
    return np.linspace(lo, hi, points)


def grid_ranges(problem: GeneralProblem) -> tuple[list[int], list[tuple[float, float]]]:
    """Indices (into the free parameters) searched by the grid and their internal ranges."""
    specs = problem.free_specs
    project = _projectable(problem)
    dims, ranges = [], []
    for i, s in enumerate(specs):
        if i in project:
            continue
        lo, hi = s.search_range
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise FitError(f"parameter {s.name} of the {problem.law.name} law needs finite bounds or a grid range "
                           "for the global search (e.g. CustomLaw(..., params={name: (lo, hi)}))")
        if s.log_scale:
            lo, hi = np.log(lo), np.log(hi)
        dims.append(i)
        ranges.append((float(lo), float(hi)))
    return dims, ranges


def _projectable(problem: GeneralProblem) -> list[int]:
    """Free parameters declared linear whose value only scales a term (projected out on the grid)."""
    return [i for i, s in enumerate(problem.free_specs) if s.linear]


def grid_search(problem: GeneralProblem, ranges: list[tuple[float, float]], points: int):
    """Objective at every cell (linear parameters projected out): (axes, z (G, F), values (G,))."""
    specs = problem.free_specs
    dims, _ = grid_ranges(problem)
    project = _projectable(problem)
    axes = [_axis(lo, hi, points, specs[i].log_scale) for i, (lo, hi) in zip(dims, ranges, strict=True)]
    cells = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(axes)) if axes else np.zeros((1, 0))
    n_cells = cells.shape[0]
    lo = np.array([b[0] for b in problem.bounds()])
    hi = np.array([b[1] for b in problem.bounds()])
    z = np.zeros((n_cells, len(specs)))
    z[:, dims] = cells
    if project:
        # basis X_k: prediction with coefficient k at 1 (others 0) minus the offset (all coefficients 0)
        free = np.where([s.log_scale for s in specs], np.exp(np.clip(z, -700, 700)), z)
        stack = []
        for k in [None, *project]:
            f = free.copy()
            f[:, project] = 0.0
            if k is not None:
                f[:, k] = 1.0
            with np.errstate(all="ignore"):
                stack.append(problem.law.predict(problem.law.expand(f), problem.data))
        offset, basis = stack[0], np.stack([s - stack[0] for s in stack[1:]], axis=1)  # (G, n), (G, K, n)
        loss = np.exp(problem.log_loss)
        nonneg = all(specs[i].bounds[0] >= 0 for i in project)
        coef = lsq_coefficients(np.nan_to_num(basis / loss), 1.0 - np.nan_to_num(offset / loss),
                                 problem.weights[None, :], nonneg)
        for j, i in enumerate(project):
            if specs[i].log_scale:
                with np.errstate(divide="ignore"):
                    z[:, i] = np.log(np.maximum(coef[:, j], 0.0))
            else:
                z[:, i] = coef[:, j]
    z = np.clip(np.nan_to_num(z, neginf=-np.inf), lo, hi)
    values = problem.value(z)
    return axes, z, values


def separated_best(values: np.ndarray, shape: tuple[int, ...], count: int) -> list[int]:
    """Indices of the ``count`` best cells such that no two are grid neighbours (incl. diagonals)."""
    chosen: list[tuple[int, ...]] = []
    for flat in np.argsort(values, kind="stable"):
        if not np.isfinite(values[flat]):
            break
        cell = np.unravel_index(flat, shape)
        if all(max((abs(a - b) for a, b in zip(cell, other, strict=True)), default=2) > 1 for other in chosen):
            chosen.append(cell)
        if len(chosen) == count:
            break
    return [int(np.ravel_multi_index(c, shape)) for c in chosen]


# -- polish ---------------------------------------------------------------------------------------------------------
def refine(problem: GeneralProblem, z0: np.ndarray, weights: np.ndarray | None = None,
           log_loss: np.ndarray | None = None, max_iter: int = MAX_ITER, ftol: float = FTOL) -> BatchResult:
    """Batched Levenberg-Marquardt on the (IRLS-weighted) objective from every row of z0 (B, F).

    ``weights`` (B, n) and ``log_loss`` (B, n) give each row its own problem (bootstrap replicates).
    """
    z = np.array(z0, dtype=float, copy=True)
    batch, _ = z.shape
    n_obs = problem.log_loss.size
    w_all = np.broadcast_to(problem.weights if weights is None else weights, (batch, n_obs))
    y_all = np.broadcast_to(problem.log_loss if log_loss is None else log_loss, (batch, n_obs))
    lo, hi = bound_arrays(problem.bounds())
    z = np.clip(z, lo, hi)
    objective = problem.objective
    f = problem.value(z, w_all, y_all)
    lam = np.full(batch, 1e-4)
    quiet = np.zeros(batch, dtype=int)
    done = np.zeros(batch, dtype=bool)
    converged = np.zeros(batch, dtype=bool)
    n_iter = np.zeros(batch, dtype=int)
    for _ in range(max_iter):
        act = np.flatnonzero(~done)
        if act.size == 0:
            break
        za, wa, ya = z[act], w_all[act], y_all[act]
        r = problem.log_predict(za) - ya
        jac = np.nan_to_num(problem.residual_jacobian(za))
        grad = np.einsum("bn,bnp->bp", wa * objective.psi(r), jac)
        hess = np.swapaxes(jac * (wa * objective.curvature(r))[..., None], 1, 2) @ jac
        diag = np.maximum(np.einsum("bpp->bp", hess), 1e-300)
        step, _ = damped_solve(hess, grad, lam[act], diag)  # an unsolvable row gets step 0: never taken
        trial = trial_point(za, np.nan_to_num(step), lo, hi)
        f_trial = problem.value(trial, wa, ya)
        better = accept(f[act], f_trial)
        gain = np.where(better, (f[act] - f_trial) / np.maximum(np.abs(f[act]), 1e-300), 0.0)
        z[act] = np.where(better[:, None], trial, za)
        f[act] = np.where(better, f_trial, f[act])
        lam[act] = np.where(better, np.maximum(lam[act] / 3.0, LAMBDA_FLOOR), lam[act] * 4.0)
        quiet[act] = np.where(better & (gain < ftol), quiet[act] + 1, np.where(better, 0, quiet[act]))
        n_iter[act] += 1
        converged[act] = (quiet[act] >= 2) | ((lam[act] > 1e10) & (quiet[act] >= 1))
        done[act] = converged[act] | (lam[act] > 1e10)
    _, grad = problem.value_and_grad(z, w_all, y_all)
    return BatchResult(z=z, value=f, grad=grad, converged=converged, n_iter=n_iter)


def polish(problem: GeneralProblem, z0: np.ndarray, max_iter: int = 20000):
    """L-BFGS-B with tolerances scaled to the objective (ftol=0; stops at machine precision)."""
    scale = max(float(problem.value(z0)), 1e-300)
    bounds = problem.bounds()
    z0 = np.clip(z0, [b[0] for b in bounds], [b[1] for b in bounds])

    def fun(z):
        v, g = problem.value_and_grad(z)
        return float(v) / scale, np.nan_to_num(g) / scale

    result = minimize(fun, z0, jac=True, method="L-BFGS-B", bounds=[(lo if np.isfinite(lo) else None,
                                                                     hi if np.isfinite(hi) else None)
                                                                    for lo, hi in bounds],
                      options={"ftol": 0.0, "gtol": 1e-12, "maxiter": max_iter, "maxcor": 20, "maxls": 50})
    return result.x, float(result.fun) * scale, result


def projected_gradient(problem: GeneralProblem, z: np.ndarray) -> np.ndarray:
    """Gradient at z with components pushing against an active bound set to zero."""
    _, grad = problem.value_and_grad(z)
    lo = np.array([b[0] for b in problem.bounds()])
    hi = np.array([b[1] for b in problem.bounds()])
    g = np.array(grad, dtype=float)
    g[(z <= lo) & (g > 0)] = 0.0
    g[(z >= hi) & (g < 0)] = 0.0
    return g


def is_stationary(problem: GeneralProblem, z: np.ndarray, value: float) -> bool:
    """Max |projected gradient| <= STATIONARY_RTOL x objective, or an objective at rounding level (exact data)."""
    if value <= 1e-24 * problem.log_loss.size:
        return True
    return float(np.max(np.abs(projected_gradient(problem, z)), initial=0.0)) <= STATIONARY_RTOL * max(value, 1e-300)


def rescue(problem: GeneralProblem, z: np.ndarray) -> tuple[np.ndarray, float, bool]:
    """L-BFGS-B from a point Levenberg-Marquardt stalled at: (z, value, converged)."""
    z_alt, value, result = polish(problem, z)
    return z_alt, value, bool(result.success or is_stationary(problem, z_alt, value))


def params_at_bounds(problem: GeneralProblem, z: np.ndarray) -> tuple[str, ...]:
    names = [s.name for s in problem.free_specs]
    return tuple(names[j] for j, (lo, hi) in enumerate(problem.bounds())
                 if np.isclose(z[j], lo, atol=1e-9) or np.isclose(z[j], hi, atol=1e-9))


def solve(problem: GeneralProblem, n_polish: int = N_POLISH, points: int | None = None,
          extra_starts: np.ndarray | None = None) -> Solution:
    """Global optimum: grid over the nonlinear parameters (widened at edges), then polish of the best cells."""
    candidates = getattr(problem.law, "grid_candidates", None)
    if callable(candidates) and all(s.free for s in problem.law.specs):
        return _solve_from_candidates(problem, candidates, n_polish, extra_starts)
    dims, ranges = grid_ranges(problem)
    specs = problem.free_specs
    if points is None:
        points = int(np.clip(np.floor(MAX_CELLS ** (1.0 / max(len(dims), 1))), 4, MAX_POINTS))
    limits = [problem.bounds()[i] for i in dims]
    for _ in range(MAX_WIDENINGS + 1):
        axes, z_grid, values = grid_search(problem, ranges, points)
        shape = tuple(len(a) for a in axes) or (1,)
        best = np.unravel_index(int(np.argmin(values)), shape)
        new_ranges, widened = [], False
        for j, (lo, hi) in enumerate(ranges):
            lo_lim, hi_lim = limits[j]
            span = hi - lo
            geometric = not specs[dims[j]].log_scale and lo > 0
            new_lo, new_hi = lo, hi
            if best[j] == 0 and lo > lo_lim:
                new_lo = max(lo / 4, lo_lim) if geometric else max(lo - span, lo_lim)
            if best[j] == shape[j] - 1 and hi < hi_lim:
                new_hi = min(hi * 2, hi_lim) if geometric else min(hi + span, hi_lim)
            widened |= (new_lo, new_hi) != (lo, hi)
            new_ranges.append((new_lo, new_hi))
        if not widened:
            break
        ranges = new_ranges
    edge = tuple(bool(best[j] in (0, shape[j] - 1)) for j in range(len(dims)))
    starts = separated_best(values, shape, n_polish)
    z_starts = z_grid[starts] if extra_starts is None else np.vstack([z_grid[starts], extra_starts])
    return _polish_starts(problem, z_starts, tuple(tuple(r) for r in ranges), edge)


def _solve_from_candidates(problem: GeneralProblem, candidates, n_polish, extra_starts) -> Solution:
    """The law's own grid of starting rows (e.g. variable projection on a transformed form), then polish."""
    rows, shape, ranges = candidates(problem.data, np.exp(problem.log_loss), problem.weights)
    z_grid = problem.to_internal(rows)
    values = problem.value(z_grid)
    starts = separated_best(values, shape, n_polish)
    z_starts = z_grid[starts] if extra_starts is None else np.vstack([z_grid[starts], extra_starts])
    solution = _polish_starts(problem, z_starts, tuple(tuple(r) for r in ranges), ())
    # edge check on the polished optimum: an exponent outside (or on the edge of) the searched range
    final = dict(zip(problem.law.param_names, problem.to_public(solution.z), strict=True))
    names = [s.name for s in problem.law.specs if not s.log_scale]
    edge = tuple(bool(final[n] <= lo * (1 + 1e-6) or final[n] >= hi * (1 - 1e-6))
                 for n, (lo, hi) in zip(names, ranges, strict=True))
    return replace(solution, grid_edge=edge)


def _polish_starts(problem: GeneralProblem, z_starts: np.ndarray, ranges, edge) -> Solution:
    """Batched Levenberg-Marquardt from every start, L-BFGS-B where it stalls, and the checks."""
    batch = refine(problem, z_starts)
    best_i = int(np.argmin(batch.value))
    z_best, best_value = batch.z[best_i], float(batch.value[best_i])
    converged, message = bool(batch.converged[best_i]), "Levenberg-Marquardt converged (general solver)"
    if not converged:
        z_alt, v_alt, converged = rescue(problem, z_best)
        if v_alt < best_value:
            z_best, best_value = z_alt, v_alt
        converged = converged and is_stationary(problem, z_best, best_value)
        message = "L-BFGS-B after Levenberg-Marquardt (general solver)"
    start_values = np.sort(batch.value)
    reached = int(np.sum(start_values <= best_value * (1 + SAME_OPTIMUM_RTOL) + 1e-300))
    return Solution(z=z_best, value=best_value, grad=projected_gradient(problem, z_best), converged=converged,
                    message=message, n_iter=int(batch.n_iter[best_i]), n_evaluations=int(batch.n_iter.sum()),
                    starts=len(z_starts), starts_at_optimum=reached, start_values=start_values,
                    grid_range=ranges, grid_edge=edge,
                    at_bounds=params_at_bounds(problem, z_best))
