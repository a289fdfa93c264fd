"""Simulated log losses around a known law, with the one-way random-effects noise model on log losses:
log L_i = log L(N_i, D_i) + u_g(i) + e_i, u_g ~ N(0, sd_between^2) shared by the runs of a group,
e_i ~ N(0, sd_within^2). Shared by the coverage and misspecification studies."""

from __future__ import annotations

import numpy as np


def simulate_log_losses(log_pred: np.ndarray, groups: np.ndarray, noise: dict[str, float], count: int,
                        rng: np.random.Generator) -> np.ndarray:
    """``count`` datasets of log losses (count, rows) around the true log predictions (rows,)."""
    _, codes = np.unique(groups, return_inverse=True)
    between = rng.normal(0.0, noise["sd_between"], size=(count, codes.max() + 1))[:, codes]
    within = rng.normal(0.0, noise["sd_within"], size=(count, codes.size))
    return log_pred + between + within
