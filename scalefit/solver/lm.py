"""Batched Levenberg-Marquardt on the robust objective, for B problems (or B starts of one problem) at once.

Each row carries its own parameters z (P,), observation weights and log losses. One iteration builds, in
blocks of rows, the gradient g = J' W psi(r) and the Gauss-Newton matrix H = J' W C J (C: the objective's
curvature weights) for every active row with ``matmul`` on (B, rows, P) arrays, scales H to unit diagonal
(so units and the near-collinearity of log A with alpha do not matter), and solves the damped system for
every row at once. Singular systems are flagged by :func:`linalg.safe_solve`, never raised.

Convergence is a per-row test on the *Newton decrement* g' H^-1 g / 2 -- the reduction the local quadratic
model still promises -- relative to the objective. It does not depend on the last step having been accepted,
so a row sitting at its optimum (where rounding makes every trial step fail) is recognised as converged
instead of stalling. Rows that pass leave the active set and cost nothing afterwards.

The damped solve, the trial point and the acceptance test are shared with the general solver's loop
(:mod:`.lm_core`). What stays different, and why: this loop scales H to unit diagonal and damps with
Nielsen's rule (:data:`.lm_core.NIELSEN`) from a start tuned per objective (LAMBDA_START), and stops on the
Newton decrement. The general loop (:mod:`.general`) damps Marquardt's way and stops on relative gains.
Moving the separable path to the general rule would change the Epoch fit's iterates and iteration counts,
and the decrement test is what lets warm-started bootstrap rows (already at their optimum) retire at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import objective as obj
from .compact import AffineRows
from .linalg import row_blocks, safe_solve, take_rows
from .lm_core import LAMBDA_FLOOR, NIELSEN, accept, bound_arrays, damped_system, trial_point

CONVERGED_RTOL = 1e-13  # Newton decrement / objective below which a row has converged
STALL_RTOL = 1e-9  # a row where no step helps any more (damping at its ceiling) with a decrement below this: converged
LAMBDA_MAX = 1e10
GOOD_SHRINK = 0.1  # damping factor after a step the quadratic model predicted well (ratio > 0.75)
LAMBDA_START = {"ls": 1e-8, "huber": 1e-4}  # on the unit-diagonal system; measured on 1,000 warm-started Epoch
# replicates: least squares 5.5 mean iterations at 1e-8 (7.0 at 1e-4, 9 at 1e-3); Huber 8.5 at 1e-4 (11.3 at 1e-8)
LM_BLOCK = 1 << 19  # elements (rows x replicates) per block of the derivative passes
TINY = 1e-300
ROUNDING_FLOOR = 1e-20  # objective per unit weight treated as zero (log residuals at rounding level)
DAMPING = NIELSEN  # the damping rule of this loop (see lm_core)


@dataclass(frozen=True)
class BatchResult:
    """Result of :func:`refine` for B starts: z (B, P), value (B,), gradient (B, P), converged (B,), n_iter (B,)."""

    z: np.ndarray
    value: np.ndarray
    grad: np.ndarray
    converged: np.ndarray
    n_iter: np.ndarray


def constant_basis_jacobian(law, theta: np.ndarray, features) -> np.ndarray | None:
    """d g / d theta (K, n, p) when it does not depend on theta (log-linear bases such as Chinchilla's:
    g_A = -alpha log N), else None. Checked at two distinct points; lets every iteration reuse one array."""
    first = law.log_basis_jacobian(theta, features)
    other = law.log_basis_jacobian(theta * 1.37 + 0.011, features)
    return first if np.array_equal(first, other) else None


def derivatives(law, objective: obj.Objective, z: np.ndarray, features, log_loss: np.ndarray, weights: np.ndarray,
                basis_jac: np.ndarray | None = None):
    """Objective (B,), gradient (B, P) and Gauss-Newton matrix (B, P, P) at z (B, P); rows in blocks.

    ``log_loss`` and ``weights`` are (B, n); ``basis_jac`` (K, n, p) a theta-independent basis Jacobian
    (see :func:`constant_basis_jacobian`) or None to ask the law at every call.
    """
    batch, n_par = z.shape
    k = len(law.linear_names)
    n = log_loss.shape[-1]
    value = np.zeros(batch)
    grad = np.zeros((batch, n_par))
    hess = np.zeros((batch, n_par, n_par))
    live = None if basis_jac is None else [j for j in range(k) if np.any(basis_jac[j])]
    bjt = None if basis_jac is None else np.moveaxis(basis_jac, -1, -2)  # (K, p, n)
    for rows in row_blocks(batch * k * max(n_par - k, 1), n, LM_BLOCK):
        feats = take_rows(features, rows)
        log_pred, share = obj.log_predict(law, z, feats)
        # the Jacobian transposed, (B, P, m): rows of parameters, contiguous along the data rows
        jac_t = np.empty((batch, n_par, share.shape[-1]))
        jac_t[:, :k, :] = share
        if bjt is None:
            jac = obj.residual_jacobian(share, law.log_basis_jacobian(z[:, k:], feats))
            jac_t[:, k:, :] = np.swapaxes(jac[:, :, k:], 1, 2)
        elif not live:
            jac_t[:, k:, :] = 0.0
        else:
            block = bjt[:, :, rows]
            jac_t[:, k:, :] = share[:, live[0], None, :] * block[live[0]]
            for j in live[1:]:
                jac_t[:, k:, :] += share[:, j, None, :] * block[j]
        r = log_pred - log_loss[:, rows]
        w = weights[:, rows]
        rho, psi, curvature = objective.parts(r)
        value += np.sum(w * rho, axis=-1)
        grad += (jac_t @ (w * psi)[:, :, None])[:, :, 0]
        hess += (jac_t * (w * curvature)[:, None, :]) @ np.swapaxes(jac_t, 1, 2)
    return value, grad, hess


def shared_start_derivatives(law, objective: obj.Objective, z0: np.ndarray, features, log_loss: np.ndarray,
                             weights: np.ndarray):
    """:func:`derivatives` for B weight rows (B, n) at one shared point z0 (P,): every quantity is linear in
    the weights, so one matrix product of the weights with per-row terms replaces a (B, n, P) pass
    (the first iteration of a warm-started bootstrap)."""
    k = len(law.linear_names)
    log_pred, share = obj.log_predict(law, z0, features)
    jac = obj.residual_jacobian(share, law.log_basis_jacobian(z0[k:], features))  # (n, P)
    rho, psi, curvature = objective.parts(log_pred - log_loss)
    p = jac.shape[1]
    per_row = np.concatenate([rho[:, None], psi[:, None] * jac,
                              (curvature[:, None, None] * jac[:, :, None] * jac[:, None, :]).reshape(-1, p * p)],
                             axis=1)
    stats = weights @ per_row
    return stats[:, 0], stats[:, 1:1 + p], stats[:, 1 + p:].reshape(-1, p, p)


def refine(problem, z0: np.ndarray, weights: np.ndarray | None = None, max_iter: int = 500,
           same_problem: bool = False, log_loss: np.ndarray | None = None,
           same_optimum_rtol: float = 1e-7, rtol: float = CONVERGED_RTOL) -> BatchResult:
    """Levenberg-Marquardt from the starts z0 (B, P) to a per-row convergence test.

    ``weights`` (B, n) are per-row observation weights (bootstrap multiplicities times base weights);
    default: the problem's. ``log_loss`` (B, n) are per-row observed log losses; default: the problem's.
    ``same_problem=True`` says the rows are starts of one problem: a row whose objective is within
    ``same_optimum_rtol`` of a converged row's has reached that optimum and retires as converged.
    ``rtol``: a row has converged when its Newton decrement is below rtol x its objective.
    Damping follows Nielsen's rule (shrink by the model's agreement ratio, grow geometrically on failure);
    a row whose damping passes LAMBDA_MAX has stalled and is converged only if its decrement is tiny.
    """
    law, objective, feats = problem.law, problem.objective, problem.features
    lo, hi = bound_arrays(problem.bounds())
    z = np.clip(np.array(z0, dtype=float), lo, hi)
    batch, n_par = z.shape
    n_obs = problem.log_loss.shape[-1]
    w_all = np.broadcast_to(problem.weights if weights is None else weights, (batch, n_obs))
    y_all = np.broadcast_to(problem.log_loss if log_loss is None else log_loss, (batch, n_obs))
    bjac = constant_basis_jacobian(law, z[0, problem.n_linear:], feats) if batch else None
    packed = None if bjac is None else AffineRows.build(law, feats, z[0, problem.n_linear:], bjac,
                                                        problem.log_loss if log_loss is None else y_all, w_all)

    def evaluate(points: np.ndarray, rows: np.ndarray):
        if packed is None:
            return derivatives(law, objective, points, feats, y_all[rows], w_all[rows], bjac)
        f_p, g_p, h_p, bad = packed.derivatives(objective, points, rows)
        if bad.any():  # prediction under- or overflowed without log-sum-exp: the stable pass for those rows
            f_p[bad], g_p[bad], h_p[bad] = derivatives(law, objective, points[bad], feats, y_all[rows[bad]],
                                                       w_all[rows[bad]], bjac)
        return f_p, g_p, h_p

    if batch > 1 and log_loss is None and weights is not None and np.all(z == z[0]):
        f, g, h = shared_start_derivatives(law, objective, z[0], feats, problem.log_loss, w_all)
    else:
        f, g, h = evaluate(z, np.arange(batch))
    floor = ROUNDING_FLOOR * np.abs(w_all).sum(axis=1)
    lam = np.full(batch, LAMBDA_START.get(objective.kind, 1e-4))
    nu = np.full(batch, 2.0)
    done = ~np.isfinite(f)
    converged = np.zeros(batch, dtype=bool)
    n_iter = np.zeros(batch, dtype=int)
    eye = np.eye(n_par)
    for _ in range(max_iter):
        act = np.flatnonzero(~done)
        if act.size == 0:
            break
        za, fa, ga, ha = z[act], f[act], g[act], h[act]
        scaled_h, scaled_g, scale = _scaled_system(za, ga, ha, lo, hi)
        # the Newton system (for the decrement) and the damped one (for the step) in one batched solve
        both, solved_both = safe_solve(np.concatenate([scaled_h, damped_system(scaled_h, lam[act])]),
                                       -np.concatenate([scaled_g, scaled_g]))
        decrement = _decrement(scaled_h, scaled_g, eye, both[:act.size], solved_both[:act.size])
        fscale = np.maximum(np.abs(fa), floor[act])
        finished = decrement <= rtol * fscale
        converged[act[finished]] = True
        done[act[finished]] = True
        keep = ~finished
        act, za, fa, ga, ha = act[keep], za[keep], fa[keep], ga[keep], ha[keep]
        scale, decrement = scale[keep], decrement[keep]
        step, solved = both[keep.size:][keep], solved_both[keep.size:][keep]  # the damped half
        if act.size == 0:
            break
        trial = trial_point(za, step / scale, lo, hi)
        taken = trial - za
        predicted = -np.sum(ga * taken, axis=-1) - 0.5 * np.einsum("bp,bpq,bq->b", taken, ha, taken)
        f_t, g_t, h_t = evaluate(trial, act)
        better = accept(fa, f_t, solved)
        ratio = (fa - f_t) / np.maximum(predicted, TINY)
        z[act] = np.where(better[:, None], trial, za)
        f[act] = np.where(better, f_t, fa)
        g[act] = np.where(better[:, None], g_t, ga)
        h[act] = np.where(better[:, None, None], h_t, ha)
        nielsen = np.maximum(1.0 / 3.0, 1.0 - (2.0 * np.clip(ratio, 0.0, 1.0) - 1.0) ** 3)
        shrink = np.where(ratio > 0.75, GOOD_SHRINK, nielsen)
        lam[act] = np.where(better, np.maximum(lam[act] * shrink, LAMBDA_FLOOR), lam[act] * nu[act])
        nu[act] = np.where(better, 2.0, nu[act] * 2.0)
        n_iter[act] += 1
        stalled = lam[act] > LAMBDA_MAX
        converged[act] |= stalled & (decrement <= STALL_RTOL * np.maximum(np.abs(fa), floor[act]))
        done[act] |= stalled
        if same_problem and converged.any():
            best = np.min(f[converged])
            reached = np.abs(f - best) <= same_optimum_rtol * np.abs(best)  # lower rows keep going
            converged |= reached
            done |= reached
    return BatchResult(z=z, value=f, grad=g, converged=converged, n_iter=n_iter)


def _decrement(scaled_h, scaled_g, eye, newton=None, solved=None):
    """Newton decrement g' H^-1 g / 2 per row (inf where H is singular even with a 1e-15 ridge).

    ``newton``, ``solved``: the solution of H x = -g and its mask when already computed."""
    if newton is None:
        newton, solved = safe_solve(scaled_h, -scaled_g)
    if not solved.all():
        ridge, solved_r = safe_solve(scaled_h + 1e-15 * eye, -scaled_g)
        newton = np.where(solved[:, None], newton, ridge)
        solved = solved | solved_r
    dec = -0.5 * np.sum(newton * scaled_g, axis=-1)
    return np.where(solved & (dec >= 0), dec, np.inf)


def _scaled_system(z, grad, hess, lo, hi):
    """The Gauss-Newton system scaled to unit diagonal, with frozen components (at a bound and pushed out
    of it, or carrying no information) replaced by identity rows; returns (H~, g~, scale (B, P))."""
    diag = np.einsum("bpp->bp", hess)
    top = np.max(diag, axis=-1, keepdims=True)
    frozen = ((z <= lo) & (grad > 0)) | ((z >= hi) & (grad < 0)) | ~(diag > 1e-30 * top)
    scale = np.where(frozen, 1.0, np.sqrt(np.where(frozen, 1.0, diag)))
    scaled_h = hess / (scale[:, :, None] * scale[:, None, :])
    mask = frozen[:, :, None] | frozen[:, None, :]
    scaled_h = np.where(mask, 0.0, scaled_h)
    idx = np.arange(z.shape[1])
    scaled_h[:, idx, idx] = np.where(frozen, 1.0, scaled_h[:, idx, idx])
    scaled_g = np.where(frozen, 0.0, grad / scale)
    return scaled_h, scaled_g, scale
