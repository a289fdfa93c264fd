"""Bootstrap replicates for either engine: one entry point, :func:`replicates`.

A variable-projection fit is resampled by :func:`scalefit.uncertainty.resampling.run_replicates` (batched
Levenberg-Marquardt on row weights, identification first, a batched global check of every replicate); a fit
through the general solver by :func:`general_replicates` here (batched warm-started refits, L-BFGS-B rescue,
a global re-solve of a few replicates). Both return :class:`scalefit.uncertainty.resampling.Replicates` with
internal parameters z (B, P).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import solver
from ..solver import general as general_solver
from ..solver import lm
from . import resampling

GENERAL_CHECKS = 4  # general path: replicates re-solved from scratch by the global method


def replicates(engine, problem, z0: np.ndarray, groups: np.ndarray, n: int, scheme: str, rng: np.random.Generator,
               n_jobs: int = 1, progress: bool = False, **kwargs: Any) -> resampling.Replicates:
    """``n`` replicates of the problem ``engine`` built, fitted at z0, resampled by ``scheme`` over ``groups``."""
    if engine.kind == "general":
        return general_replicates(problem, z0, groups, n, scheme, rng, **kwargs)
    return resampling.run_replicates(problem, z0, groups, n, scheme, rng, n_jobs, progress, **kwargs)


def general_replicates(problem, z0, groups, n, scheme, rng, verify: int = GENERAL_CHECKS,
                       jackknife: bool = True) -> resampling.Replicates:
    """Bootstrap replicates for the general path: draw, batched warm-started refits, rescue, verify."""
    weights = resampling.resample_weights(groups, n, scheme, rng)
    log_loss = None
    if scheme == "residual":
        log_pred = problem.log_predict(z0)
        resid = problem.log_loss - log_pred
        rows = resid.size
        resid = (resid - resid.mean()) * np.sqrt(rows / max(rows - z0.size, 1))
        log_loss = log_pred + resid[rng.integers(0, rows, size=(n, rows))]
    z, ok = _refits(problem, z0, weights, log_loss)
    picked = rng.choice(np.flatnonzero(ok), size=min(verify, int(ok.sum())), replace=False)
    mismatches = []
    for i in picked:
        sub = problem.reweighted(weights[i], None if log_loss is None else log_loss[i])
        glob = general_solver.solve(sub)
        if glob.value < float(sub.value(z[i])) * (1 - 1e-7):
            mismatches.append(int(i))
            z[i] = glob.z
    checks: dict[str, Any] = {"checked": int(picked.size), "mismatches": mismatches}
    jack = None
    if jackknife:
        jw = resampling.jackknife_weights(groups, scheme)
        jz, jok = _refits(problem, z0, jw, None)
        jack = jz[jok] if jok.sum() > 1 else None
    return resampling.Replicates(z=z, ok=ok, checks=checks, jackknife=jack)


def _refits(problem, z0, weights, log_loss):
    batch = general_solver.refine(problem, np.tile(z0, (len(weights), 1)), weights * problem.weights, log_loss)
    z, ok = batch.z.copy(), batch.converged.copy()
    for i in np.flatnonzero(~ok):
        sub = problem.reweighted(weights[i], None if log_loss is None else log_loss[i])
        z[i], _, ok[i] = general_solver.rescue(sub, z[i])
    return z, ok


def refit_rows(engine, problem, z0: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Warm-started refits of one problem under each row of ``weights`` (B, n) (0 leaves a run out).

    Returns internal parameters z (B, P) and a converged mask (B,); stalled rows go through the engine's
    rescue (L-BFGS-B and a stationarity test). Used by leave-one-out influence, which has no draws.
    """
    weights = np.asarray(weights, dtype=float)
    if engine.kind == "general":
        return _refits(problem, z0, weights, None)
    batch = lm.refine(problem, np.tile(z0, (len(weights), 1)), weights * problem.weights,
                      same_optimum_rtol=solver.SAME_OPTIMUM_RTOL, rtol=resampling.REPLICATE_RTOL)
    z, ok = np.array(batch.z), np.array(batch.converged)
    for i in np.flatnonzero(~ok):
        z[i], _, ok[i] = solver.rescue(problem.reweighted(weights[i]), z[i])
    return z, ok
