"""The run-to-run noise model: a one-way random-effects model on log losses.

log L_i = log L(N_i, D_i) + u_g(i) + e_i, with u_g ~ N(0, sd_between^2) shared by the runs of a group (what a
model size's runs have in common: code, data order) and e_i ~ N(0, sd_within^2). The two sds are the
method-of-moments (ANOVA) estimates from a fit's log residuals. The simulation studies draw data from it; the
new-run and extrapolation intervals add it to the law's uncertainty.

Runs the outlier rule flags (:func:`scalefit.fitting.outliers.flag_outliers`: more than 5 robust sd and 0.1 in
log loss from the median residual) do not enter the estimate: one loss pasted x10 made the sd of a 40-run
sweep 0.52 instead of 0.004 and the new-run interval of a 70B target [0.71, 5.33] nats/token. Clean data are
never flagged (the Epoch data, the bundled example, simulated normal noise), so their noise is unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..fitting.outliers import flag_outliers


def estimate_noise(log_residuals: np.ndarray, groups: np.ndarray) -> dict[str, float]:
    """Between-group and within-group sd of log residuals (one-way random effects, method of moments).

    With every run in its own group the between-group part is not identified and all noise is within. Runs
    flagged as outliers are left out (unless that would leave fewer than three runs).
    """
    r = np.asarray(log_residuals, dtype=float)
    groups = np.asarray(groups)
    keep = ~flag_outliers(r).mask
    if keep.sum() >= 3 and not keep.all():
        r, groups = r[keep], groups[keep]
    _, codes, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    n_groups, rows = sizes.size, r.size
    if n_groups == rows:
        return {"sd_between": 0.0, "sd_within": float(np.std(r, ddof=1))}
    means = np.bincount(codes, weights=r) / sizes
    within_ss = np.sum((r - means[codes]) ** 2)
    var_within = within_ss / (rows - n_groups)
    between_ms = np.sum(sizes * (means - r.mean()) ** 2) / (n_groups - 1)
    n0 = (rows - np.sum(sizes**2) / rows) / (n_groups - 1)  # effective group size (unbalanced ANOVA)
    var_between = max((between_ms - var_within) / n0, 0.0)
    return {"sd_between": float(np.sqrt(var_between)), "sd_within": float(np.sqrt(var_within))}


def noise_sd(noise: Mapping[str, float]) -> float:
    """sd of a new run's log loss around the true curve: hypot(sd_between, sd_within)."""
    return float(np.hypot(noise["sd_between"], noise["sd_within"]))


def fit_noise(fit) -> dict[str, float]:
    """Run-to-run noise of a fit: {sd_between, sd_within} of its log residuals by group (log-loss units)."""
    return estimate_noise(fit.residuals, fit.runs.groups)
