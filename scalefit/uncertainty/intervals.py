"""Bootstrap confidence intervals from replicate values: percentile and BCa (bias-corrected, accelerated).

Pure functions on arrays; they know nothing about fits. Replicate values are (B, ...) with the replicate
axis first; every function works elementwise over the trailing shape.

BCa (Efron 1987; Efron & Tibshirani 1993, ch. 14) shifts the percentile levels by a bias correction z0
(from the share of replicates below the estimate) and an acceleration a (from the skewness of jackknife
values). It is second-order accurate when it is stable; it is *not* stable when z0 is infinite (every
replicate on one side of the estimate), when the jackknife gives no acceleration, or when the adjusted
levels fall so far into a tail that fewer than a handful of replicates lie beyond them. There the
percentile interval is returned instead and the fallback is reported.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

MIN_TAIL_REPLICATES = 2  # BCa levels whose tail holds fewer replicates than this fall back to percentile


def percentile_interval(values: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Equal-tailed percentile interval along axis 0: (lo, hi), each shaped like values[0]."""
    lo, hi = np.quantile(np.asarray(values, dtype=float), [(1 - level) / 2, (1 + level) / 2], axis=0)
    return lo, hi


def bca_interval(values: np.ndarray, estimate: np.ndarray, jackknife: np.ndarray,
                 level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BCa interval along axis 0 where it is stable, the percentile interval elsewhere.

    Returns ``(lo, hi, stable)``; ``stable`` (bool, shaped like values[0]) is False where the percentile
    interval was used.

    Parameters
    ----------
    values:
        Bootstrap replicate values, (B, ...).
    estimate:
        The full-data estimate, shaped like values[0].
    jackknife:
        Leave-one-out (or leave-one-group-out) values, (J, ...).
    """
    values = np.asarray(values, dtype=float)
    estimate = np.asarray(estimate, dtype=float)
    jackknife = np.asarray(jackknife, dtype=float)
    n_rep = values.shape[0]
    below = (np.mean(values < estimate, axis=0) + 0.5 * np.mean(values == estimate, axis=0))
    with np.errstate(all="ignore"):
        z0 = ndtri(below)
        dev = np.mean(jackknife, axis=0) - jackknife
        accel = np.sum(dev**3, axis=0) / (6.0 * np.sum(dev**2, axis=0) ** 1.5)
        z_lo, z_hi = ndtri((1 - level) / 2), ndtri((1 + level) / 2)
        p_lo = ndtr(z0 + (z0 + z_lo) / (1 - accel * (z0 + z_lo)))
        p_hi = ndtr(z0 + (z0 + z_hi) / (1 - accel * (z0 + z_hi)))
    tail = MIN_TAIL_REPLICATES / n_rep
    stable = (np.isfinite(z0) & np.isfinite(accel) & np.isfinite(p_lo) & np.isfinite(p_hi)
              & (p_lo >= tail) & (p_hi <= 1 - tail) & (p_lo < p_hi))
    pct_lo, pct_hi = percentile_interval(values, level)
    flat_values = values.reshape(n_rep, -1)
    lo_flat, hi_flat = np.array(pct_lo, ndmin=1).ravel().copy(), np.array(pct_hi, ndmin=1).ravel().copy()
    stable_flat = np.array(stable, ndmin=1).ravel()
    plo, phi = np.array(p_lo, ndmin=1).ravel(), np.array(p_hi, ndmin=1).ravel()
    for j in np.flatnonzero(stable_flat):
        lo_flat[j], hi_flat[j] = np.quantile(flat_values[:, j], [plo[j], phi[j]])
    shape = np.shape(pct_lo)
    return lo_flat.reshape(shape), hi_flat.reshape(shape), stable_flat.reshape(shape)


def interval(values: np.ndarray, level: float, method: str = "percentile", estimate: np.ndarray | None = None,
             jackknife: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) by ``method`` = "percentile" or "bca" (BCa needs the estimate and jackknife values)."""
    if method == "percentile":
        return percentile_interval(values, level)
    if method == "bca":
        if estimate is None or jackknife is None:
            raise ValueError("BCa intervals need the full-data estimate and jackknife values")
        lo, hi, _ = bca_interval(values, estimate, jackknife, level)
        return lo, hi
    raise ValueError(f"interval method must be 'percentile' or 'bca', not {method!r}")
