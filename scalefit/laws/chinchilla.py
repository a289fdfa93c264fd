"""Hoffmann et al. (2022) parametric law: L(N, D) = E + A / N^alpha + B / D^beta.

Closed forms under C = k N D (k = 6 by default; Hoffmann et al. 2022, eq. 4 and appendix D):

* a = beta/(alpha+beta), b = alpha/(alpha+beta), G = (alpha A / (beta B))^(1/(alpha+beta));
  N_opt(C) = G (C/k)^a, D_opt(C) = (C/k)^b / G.
* On the frontier L*(C) = E + K (C/k)^(-gamma) with gamma = alpha beta/(alpha+beta) and
  K = A G^-alpha + B G^beta, so the compute reaching a target L > E is C(L) = k ((L - E)/K)^(-1/gamma).
* Inference-aware plan (Sardana et al. 2023): minimise k N D + 2 N I subject to L(N, D) = target. On the
  iso-loss curve D(N) = (B / (target - E - A N^-alpha))^(1/beta); the optimum is the root in log N of
  k D (1 - alpha A N^-alpha / (beta R)) + 2 I, R = target - E - A N^-alpha, increasing in N.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.optimize import brentq

from ..core.conventions import INFERENCE_FLOPS_PER_TOKEN_PARAM
from .base import ParamSpec
from .separable import SeparableLaw


class Chinchilla(SeparableLaw):
    """L(N, D) = E + A/N^alpha + B/D^beta; N in parameters, D in tokens, L in nats/token.

    Basis in log space: g_E = 0, g_A = -alpha log N, g_B = -beta log D. ``fixed={"E": 0}`` drops the
    irreducible term; ``tied={"beta": "alpha"}`` fits one exponent for both.
    """

    name = "chinchilla"
    formula = "E + A/N^alpha + B/D^beta"
    linear_names = ("E", "A", "B")
    nonlinear_names = ("alpha", "beta")
    grid_range = ((0.02, 1.5), (0.02, 1.5))
    nonlinear_limits = ((1e-4, 10.0), (1e-4, 10.0))
    inputs = ("N", "D")
    param_specs = (
        ParamSpec("E", (0.0, np.inf), "nats/token", "irreducible loss", linear=True, log_scale=True),
        ParamSpec("A", (0.0, np.inf), "nats/token x N^alpha", "scale of the N term", linear=True, log_scale=True),
        ParamSpec("B", (0.0, np.inf), "nats/token x D^beta", "scale of the D term", linear=True, log_scale=True),
        ParamSpec("alpha", (1e-4, 10.0), "1", "exponent of N", grid=(0.02, 1.5)),
        ParamSpec("beta", (1e-4, 10.0), "1", "exponent of D", grid=(0.02, 1.5)),
    )

    def loss(self, params: Mapping[str, Any], data: Mapping[str, Any]) -> np.ndarray:
        p = {k: np.asarray(params[k], dtype=float) for k in self.param_names}
        n, d = np.asarray(data["N"], dtype=float), np.asarray(data["D"], dtype=float)
        return p["E"] + p["A"] / n ** p["alpha"] + p["B"] / d ** p["beta"]

    def features(self, data: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"logN": np.log(np.asarray(data["N"], dtype=float)),
                "logD": np.log(np.asarray(data["D"], dtype=float))}

    def log_basis(self, theta: np.ndarray, features: Mapping[str, np.ndarray]) -> np.ndarray:
        theta = np.asarray(theta, dtype=float)
        log_n, log_d = features["logN"], features["logD"]
        alpha, beta = theta[..., 0:1], theta[..., 1:2]
        zero = np.zeros(theta.shape[:-1] + log_n.shape)
        return np.stack([zero, -alpha * log_n, -beta * log_d], axis=-2)

    def log_basis_jacobian(self, theta: np.ndarray, features: Mapping[str, np.ndarray]) -> np.ndarray:
        theta = np.asarray(theta, dtype=float)
        log_n, log_d = features["logN"], features["logD"]
        n = log_n.shape[0]
        jac = np.zeros((*theta.shape[:-1], 3, n, 2))
        jac[..., 1, :, 0] = -log_n
        jac[..., 2, :, 1] = -log_d
        return jac

    # -- derived quantities and abilities -------------------------------------------------------------------
    def derived(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Compute-optimal allocation exponents (Hoffmann et al. 2022, eq. 4).

        a = beta/(alpha+beta), b = alpha/(alpha+beta), G = (alpha A / (beta B))^(1/(alpha+beta)).
        Works elementwise on arrays of parameters (e.g. bootstrap replicates) as well as on floats.
        """
        _e, a_coef, b_coef, alpha, beta = (np.asarray(params[k], dtype=float)[()]
                                           for k in ("E", "A", "B", "alpha", "beta"))
        total = alpha + beta
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            g = (alpha * a_coef / (beta * b_coef)) ** (1.0 / total)
        return {"a": beta / total, "b": alpha / total, "G": g}

    def compute_optimal(self, params: Mapping[str, Any], compute) -> dict[str, np.ndarray]:
        """N_opt, D_opt, tokens per parameter and L* at compute C (FLOPs); broadcasts (see module doc)."""
        return compute_optimal(params, compute, self.flops_per_token_param)

    def loss_at_compute(self, params: Mapping[str, Any], compute) -> np.ndarray:
        return self.compute_optimal(params, compute)["L_opt"]

    def frontier_constants(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """gamma = alpha beta/(alpha+beta) and K with L*(C) = E + K (C/k)^-gamma."""
        alpha, beta = np.asarray(params["alpha"], float), np.asarray(params["beta"], float)
        g = self.derived(params)["G"]
        k = params["A"] * g ** (-alpha) + params["B"] * g ** beta
        return {"gamma": alpha * beta / (alpha + beta), "K": k}

    def compute_for_loss(self, params: Mapping[str, Any], target_loss) -> dict[str, np.ndarray]:
        """Compute C and the compute-optimal run reaching ``target_loss``; NaN where target <= E."""
        const = self.frontier_constants(params)
        excess = np.asarray(target_loss, float) - params["E"]
        with np.errstate(divide="ignore", invalid="ignore"):
            c = self.flops_per_token_param * (excess / const["K"]) ** (-1.0 / const["gamma"])
        c = np.where(excess > 0, c, np.nan)
        return {"C": c, **self.compute_optimal(params, c)}

    def inference_optimal(self, params: Mapping[str, float], target_loss: float,
                          inference_tokens: float) -> tuple[float, float]:
        """(N, D) minimising k N D + 2 N I on the iso-loss curve L(N, D) = target (Sardana et al. 2023)."""
        e, a_coef, b_coef = float(params["E"]), float(params["A"]), float(params["B"])
        alpha, beta = float(params["alpha"]), float(params["beta"])
        target, tokens, k = float(target_loss), float(inference_tokens), self.flops_per_token_param
        log_n_min = np.log(a_coef / (target - e)) / alpha  # below this N the target is out of reach

        def tokens_needed(log_n: float) -> tuple[float, float]:
            margin = (target - e) - a_coef * np.exp(-alpha * log_n)
            return (b_coef / margin) ** (1.0 / beta), margin

        def slope(log_n: float) -> float:  # d total / d N (its sign is what matters)
            d, margin = tokens_needed(log_n)
            return k * d * (1.0 - alpha * a_coef * np.exp(-alpha * log_n) / (beta * margin)) + \
                INFERENCE_FLOPS_PER_TOKEN_PARAM * tokens

        opt = self.compute_for_loss(params, target)
        lo = log_n_min + 1e-12 * max(1.0, abs(log_n_min))
        hi = max(np.log(float(opt["N_opt"])), lo) + 1.0
        while slope(hi) < 0:  # the optimum is never above the compute-optimal N; a guard only
            hi += 1.0
        while slope(lo) > 0:  # pragma: no cover - the slope tends to -inf at N_min
            lo = log_n_min + (lo - log_n_min) / 10
        log_n = brentq(slope, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)
        return float(np.exp(log_n)), float(tokens_needed(log_n)[0])


def compute_optimal(params: Mapping[str, Any], compute, flops_per_token_param: float = 6.0) -> dict[str, np.ndarray]:
    """N_opt, D_opt, tokens per parameter and L* at compute C (FLOPs) under C = k N D (k = 6 by default).

    Arrays broadcast between the parameters and C: scalar parameters give arrays shaped like C; parameter
    arrays of shape (B, 1) with C of shape (m,) give (B, m).
    """
    c = np.asarray(compute, dtype=float) / flops_per_token_param
    d = Chinchilla().derived(params)
    n_opt = d["G"] * c ** d["a"]
    d_opt = c ** d["b"] / d["G"]
    loss = params["E"] + params["A"] / n_opt ** params["alpha"] + params["B"] / d_opt ** params["beta"]
    return {"N_opt": n_opt, "D_opt": d_opt, "tokens_per_param": d_opt / n_opt, "L_opt": loss}
