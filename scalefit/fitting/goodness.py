"""Goodness of fit: the numbers a statsmodels or lmfit summary shows, for a fitted scaling law.

Everything is computed on the log residuals r_i = log(predicted_i) - log(observed_i) of the fit (``fit.residuals``),
with the fit's per-run weights w_i as frequency weights (1 by default).

Likelihood (stated, because a Huber fit has no likelihood of its own)
---------------------------------------------------------------------
The fit minimises sum_i w_i rho(r_i), with rho the Huber function (threshold delta, in log-loss units) or
r^2/2 (least squares). We read rho as the negative log-density of the log residuals::

    f(r; s) = exp(-rho(r) / s^2) / Z(s),     Z(s) = integral exp(-rho(r) / s^2) dr
            = s sqrt(2 pi) erf(delta / (s sqrt 2)) + (2 s^2 / delta) exp(-delta^2 / (2 s^2))   (Huber)
            = s sqrt(2 pi)                                                                     (least squares)

For every scale s the law parameters that maximise sum_i w_i log f(r_i; s) are exactly the fitted ones (the
s^2 only rescales the objective), so the fit together with the maximum-likelihood scale s_hat is the joint
maximum-likelihood estimate under this density: the *Huber pseudo-log-likelihood* reported here is
``loglik = -sum_i w_i rho(r_i) / s_hat^2 - n_w log Z(s_hat)`` with n_w = sum_i w_i. For least squares
s_hat^2 = sum w r^2 / n_w and this is the usual Gaussian log-likelihood -n_w/2 (log(2 pi s_hat^2) + 1).
As delta grows the Huber density tends to the Gaussian with sd s; for a small delta (Hoffmann et al.'s 1e-3)
it is close to a Laplace density with scale s^2 / delta.

It is a density of the *log* loss; the density of the loss itself differs by the Jacobian -sum log(loss_i),
which is the same for every law fitted to the same runs, so AIC and BIC differences are unaffected.

Parameter count: k = free law parameters + 1 (the noise scale s). AIC = 2k - 2 loglik,
BIC = k log(n_w) - 2 loglik. Compare AIC/BIC only between fits to the *same* runs with the *same*
objective (and delta): the likelihood depends on both.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special

__all__ = ["goodness_of_fit", "huber_log_normaliser", "log_likelihood", "residuals_by_group"]


def huber_log_normaliser(delta: float, s: float | np.ndarray) -> np.ndarray:
    """log Z(s) for the density exp(-rho_delta(r) / s^2) / Z(s) on the real line (delta, s > 0, log units).

    Examples
    --------
    >>> round(float(huber_log_normaliser(1e6, 1.0)), 6) == round(0.5 * math.log(2 * math.pi), 6)  # ~Gaussian
    True
    """
    s = np.asarray(s, dtype=float)
    core = np.log(s * math.sqrt(2 * math.pi) * special.erf(delta / (s * math.sqrt(2.0))))
    tails = np.log(2.0 * s * s / delta) - delta * delta / (2.0 * s * s)
    return np.logaddexp(core, tails)


def log_likelihood(residuals: np.ndarray, objective: Any, weights: np.ndarray | None = None,
                   scale: float | None = None) -> tuple[float, float]:
    """(log-likelihood, scale s) of log residuals (n,) under the density in the module docstring.

    ``objective`` needs ``kind`` ("huber" or "ls"), ``delta`` and ``rho(r)`` (e.g. ``fit.objective``).
    ``scale=None`` (default) maximises over s; a number evaluates the log-likelihood at that s.

    Examples
    --------
    >>> from scalefit.solver.objective import Objective
    >>> ll, s = log_likelihood(np.array([0.1, -0.1]), Objective("ls"))
    >>> round(s, 12), round(ll, 6) == round(-(math.log(2 * math.pi * 0.01) + 1), 6)
    (0.1, True)
    """
    r = np.asarray(residuals, dtype=float)
    w = np.ones_like(r) if weights is None else np.asarray(weights, dtype=float)
    n_w = float(w.sum())
    total_rho = float(np.sum(w * objective.rho(r)))
    if objective.kind == "ls":
        def log_z(s):
            return np.log(np.asarray(s, dtype=float) * math.sqrt(2 * math.pi))
    else:
        def log_z(s):
            return huber_log_normaliser(objective.delta, s)

    def loglik(s: float) -> float:
        return float(-total_rho / (s * s) - n_w * log_z(s))

    if scale is not None:
        return loglik(float(scale)), float(scale)
    if total_rho <= 0.0:  # a perfect fit: the likelihood grows without bound as s -> 0
        return math.inf, 0.0
    if objective.kind == "ls":
        s_hat = math.sqrt(2.0 * total_rho / n_w)
        return loglik(s_hat), s_hat
    # profile over log s: bracket between the Laplace-like and the Gaussian-like scales, then Brent
    rms = math.sqrt(float(np.sum(w * r * r)) / n_w)
    mean_abs = float(np.sum(w * np.abs(r))) / n_w
    candidates = [rms, math.sqrt(objective.delta * mean_abs)]
    lo, hi = math.log(min(candidates) / 20.0), math.log(max(candidates) * 20.0)
    grid = np.linspace(lo, hi, 81)
    values = [-loglik(math.exp(g)) for g in grid]
    i = int(np.argmin(values))
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    best = optimize.minimize_scalar(lambda g: -loglik(math.exp(g)), bounds=(a, b), method="bounded",
                                    options={"xatol": 1e-10})
    s_hat = math.exp(float(best.x))
    return loglik(s_hat), s_hat


def _free_parameters(fit: Any) -> int:
    """Number of free law parameters: ``fit.law.free_names`` when a law declares fixed ones, else all."""
    free = getattr(fit.law, "free_names", None)
    return len(free) if free is not None else len(fit.params)


def goodness_of_fit(fit: Any) -> dict[str, float]:
    """Goodness-of-fit numbers of a fitted law (see the module docstring for the likelihood).

    Returns a dict: ``n`` (runs), ``n_params`` (free law parameters), ``k`` (n_params + 1 for the noise scale),
    ``dof`` (n - n_params), ``residual_sd`` (sqrt(sum w r^2 / dof), log-loss units, about a relative error),
    ``rmse`` (sqrt(mean w r^2)), ``mean_abs_residual``, ``max_abs_residual``, ``scale`` (the ML scale s),
    ``loglik``, ``aic``, ``bic``, ``aicc`` (small-sample AIC; nan when n_w - k - 1 <= 0), ``objective``.

    Any object with ``residuals``, ``weights``, ``params``, ``objective`` and ``law`` will do.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from scalefit.solver.objective import Objective
    >>> fake = SimpleNamespace(residuals=np.array([0.1, -0.1, 0.2, -0.2]), weights=np.ones(4),
    ...                        params={"E": 1.0}, objective=Objective("ls"), law=SimpleNamespace())
    >>> g = goodness_of_fit(fake)
    >>> g["n"], g["n_params"], g["dof"], round(g["residual_sd"], 6)
    (4, 1, 3, 0.182574)
    """
    r = np.asarray(fit.residuals, dtype=float)
    w = np.asarray(fit.weights, dtype=float) if getattr(fit, "weights", None) is not None else np.ones_like(r)
    n = int(r.size)
    n_w = float(w.sum())
    p = _free_parameters(fit)
    k = p + 1
    dof = n - p
    loglik, scale = log_likelihood(r, fit.objective, w)
    ss = float(np.sum(w * r * r))
    aic = 2 * k - 2 * loglik
    return {
        "n": n,
        "n_params": p,
        "k": k,
        "dof": dof,
        "residual_sd": math.sqrt(ss / dof) if dof > 0 else math.nan,
        "rmse": math.sqrt(ss / n_w),
        "mean_abs_residual": float(np.sum(w * np.abs(r)) / n_w),
        "max_abs_residual": float(np.max(np.abs(r))),
        "scale": scale,
        "loglik": loglik,
        "aic": aic,
        "bic": k * math.log(n_w) - 2 * loglik,
        "aicc": aic + 2 * k * (k + 1) / (n_w - k - 1) if n_w - k - 1 > 0 else math.nan,
        "objective": fit.objective.describe() if hasattr(fit.objective, "describe") else str(fit.objective.kind),
    }


def residuals_by_group(fit: Any) -> pd.DataFrame:
    """Log residuals log(pred/obs) summarised per model size: one row per group of runs, sorted by N.

    Groups are the run table's ``group`` column (by default one per model size; N values equal within a
    tolerance), or the distinct N when the runs carry no groups. Columns: ``group``, ``N`` (median parameters
    of the group), ``runs``, ``bias`` (mean log residual: > 0 means the law over-predicts this size's loss),
    ``mean_abs`` and ``max_abs`` (|log residual|, about a relative error), ``rms``. A size whose bias stands
    out from the others is one the law's functional form does not capture.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> fake = SimpleNamespace(residuals=np.array([0.1, 0.3, -0.2]),
    ...                        runs=SimpleNamespace(N=np.array([1e6, 1e6, 1e7])))
    >>> residuals_by_group(fake)[["N", "runs", "bias", "max_abs"]].round(6).to_dict("list")
    {'N': [1000000.0, 10000000.0], 'runs': [2, 1], 'bias': [0.2, -0.2], 'max_abs': [0.3, 0.2]}
    """
    r = np.asarray(fit.residuals, dtype=float)
    n = np.asarray(fit.runs.N, dtype=float)
    groups = getattr(fit.runs, "groups", None)
    groups = n if groups is None else np.asarray(groups)
    frame = pd.DataFrame({"group": groups, "N": n, "r": r, "abs": np.abs(r), "sq": r * r})
    grouped = frame.groupby("group", sort=False)
    out = pd.DataFrame({
        "N": grouped["N"].median(),
        "runs": grouped.size().astype(int),
        "bias": grouped["r"].mean(),
        "mean_abs": grouped["abs"].mean(),
        "max_abs": grouped["abs"].max(),
        "rms": np.sqrt(grouped["sq"].mean()),
    }).reset_index()
    return out.sort_values("N", kind="stable").reset_index(drop=True)
