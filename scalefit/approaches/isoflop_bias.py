"""Bias diagnostics of Approach 2 against an Approach-3 law: the same parabola fitted to the law's noise-free
loss at each budget's own N values, its vertex against the law's true N_opt, and the exponent a that
Approach 2 would give on that noise-free surface (after Czech et al. 2026).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .parabolas import fit_fixed_curvature, fit_parabolas, power_law, vertex


def _reference_params(reference) -> dict[str, float] | None:
    if reference is None:
        return None
    params = getattr(reference, "params", reference)
    return {k: float(params[k]) for k in ("E", "A", "B", "alpha", "beta")}


def _law_loss(p: Mapping[str, float], n: np.ndarray, c: float) -> np.ndarray:
    d = c / (6.0 * n)
    return p["E"] + p["A"] / n ** p["alpha"] + p["B"] / d ** p["beta"]


def _true_log_nopt(p: Mapping[str, float], c: float) -> float:
    from ..laws.chinchilla import compute_optimal

    return float(np.log(compute_optimal(p, c)["N_opt"]))


def _simulated_vertex(p, c, x, method, shared_k) -> float:
    centre = float(np.mean(x))
    y = _law_loss(p, np.exp(x), c)
    w = np.ones((1, len(x)))
    coef = fit_parabolas(x - centre, y, w) if method == "parabola" else fit_fixed_curvature(x - centre, y, w,
                                                                                            shared_k)
    return float(vertex(coef, centre)[0][0])


def _simulated_bias(p, c, x, method, shared_k) -> float:
    return _simulated_vertex(p, c, x, method, shared_k) - _true_log_nopt(p, c)


def _simulated_exponent(p, budgets: pd.DataFrame, fitted: list[dict], shared_k) -> dict[str, float]:
    cs = budgets["C"].to_numpy()
    vx = np.array([_simulated_vertex(p, f["C"], f["x"], m, shared_k)
                   for f, m in zip(fitted, budgets["method"], strict=True)])
    a_sim = float(power_law(np.log(cs), vx)[0])
    return {"a_sim": a_sim, "a_true": float(p["beta"] / (p["alpha"] + p["beta"]))}
