"""Kaplan et al. (2020) joint law: L(N, D) = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D.

N in parameters (Kaplan et al. count non-embedding parameters; record the convention of your data), D in
tokens, L in nats/token. Published values (their eq. 1.5): alpha_N = 0.076, alpha_D = 0.095,
N_c = 8.8e13, D_c = 5.4e13. There is no irreducible term: the loss tends to 0 with scale.

Not separable in the variable-projection sense (the exponent alpha_D acts on a sum), so it is fitted by the
general solver, with an analytic Jacobian of log L:
with u = log N_c - log N, v = log D_c - log D, r = alpha_N/alpha_D, s = logaddexp(r u, v) and w the share
of the first term, log L = alpha_D s and
d/d log N_c = alpha_N w, d/d log D_c = alpha_D (1 - w), d/d alpha_N = w u, d/d alpha_D = s - w r u.

Compute-optimal allocation under C = k N D (closed form, minimising (N_c/N)^r + k D_c N / C over N):
N_opt = (r N_c^r C / (k D_c))^(1/(r+1)), D_opt = C/(k N_opt); along it L*(C) falls as C^-gamma with
gamma = alpha_N alpha_D/(alpha_N + alpha_D). :func:`scalefit.laws.numerical.numerical_compute_optimal`
checks it numerically.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .base import Law, ParamSpec
from .nnls import lsq_coefficients

REFERENCE_COMPUTE = 1e20  # FLOPs; where the frontier's constant is evaluated for the inverse


class Kaplan(Law):
    """L(N, D) = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D (Kaplan et al. 2020, eq. 1.5)."""

    name = "kaplan"
    formula = "[(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D"
    inputs = ("N", "D")
    param_specs = (
        ParamSpec("N_c", (1e-30, 1e60), "parameters", "critical model size", grid=(1e4, 1e24), log_scale=True),
        ParamSpec("D_c", (1e-30, 1e60), "tokens", "critical dataset size", grid=(1e4, 1e24), log_scale=True),
        ParamSpec("alpha_N", (1e-4, 5.0), "1", "exponent of N", grid=(0.01, 1.5)),
        ParamSpec("alpha_D", (1e-4, 5.0), "1", "exponent of D", grid=(0.01, 1.5)),
    )

    def _parts(self, params: Mapping[str, Any], data: Mapping[str, Any]):
        n_c, d_c, a_n, a_d = (np.asarray(params[k], dtype=float) for k in self.param_names)
        u = np.log(n_c) - np.log(np.asarray(data["N"], dtype=float))
        v = np.log(d_c) - np.log(np.asarray(data["D"], dtype=float))
        ratio = a_n / a_d
        s = np.logaddexp(ratio * u, v)
        return a_n, a_d, u, v, ratio, s

    def loss(self, params: Mapping[str, Any], data: Mapping[str, Any]) -> np.ndarray:
        _, a_d, _, _, _, s = self._parts(params, data)
        return np.exp(a_d * s)

    def log_predict(self, params: np.ndarray, data: Mapping[str, np.ndarray]) -> np.ndarray:
        p = {name: np.asarray(params, float)[..., j, None] for j, name in enumerate(self.param_names)}
        _, a_d, _, _, _, s = self._parts(p, data)
        return a_d * s

    def log_jacobian(self, params: np.ndarray, data: Mapping[str, np.ndarray]) -> np.ndarray:
        params = np.asarray(params, float)
        p = {name: params[..., j, None] for j, name in enumerate(self.param_names)}
        a_n, a_d, u, _, ratio, s = self._parts(p, data)
        w = np.exp(ratio * u - s)
        cols = [a_n * w / p["N_c"], a_d * (1.0 - w) / p["D_c"], w * u, s - w * ratio * u]
        return np.stack(np.broadcast_arrays(*cols), axis=-1)

    def jacobian(self, params: np.ndarray, data: Mapping[str, np.ndarray]) -> np.ndarray:
        return self.log_jacobian(params, data) * self.predict(params, data)[..., None]

    def grid_candidates(self, data: Mapping[str, np.ndarray], loss: np.ndarray, weights: np.ndarray,
                        points: int = 16) -> tuple[np.ndarray, tuple[int, int], tuple[tuple[float, float], ...]]:
        """Starting rows for the general solver by variable projection on a grid of (alpha_N, alpha_D).

        For fixed exponents, L^(1/alpha_D) = N_c^r N^-r + D_c D^-1 (r = alpha_N/alpha_D) is linear in
        (N_c^r, D_c): the best non-negative pair for the relative least-squares fit of L^(1/alpha_D) is solved
        exactly in every cell. Returns (rows (G, 4), grid shape, the exponent ranges searched).
        """
        ranges = tuple(s.grid for s in self.param_specs[2:])
        a_n, a_d = (np.geomspace(lo, hi, points) for lo, hi in ranges)
        grid_n, grid_d = (g.ravel() for g in np.meshgrid(a_n, a_d, indexing="ij"))
        ratio = (grid_n / grid_d)[:, None]
        log_n, log_d = np.log(np.asarray(data["N"], float)), np.log(np.asarray(data["D"], float))
        log_t = np.log(np.asarray(loss, float)) / grid_d[:, None]  # log L^(1/alpha_D), (G, n)
        with np.errstate(over="ignore", under="ignore"):
            design = np.exp(np.clip(np.stack([-ratio * log_n - log_t, -log_d - log_t], axis=1), -300, 300))
        coef = lsq_coefficients(design, np.ones_like(log_t), np.asarray(weights, float)[None, :], nonneg=True)
        with np.errstate(divide="ignore", over="ignore"):
            n_c = np.exp(np.log(np.maximum(coef[:, 0], 1e-300)) / ratio[:, 0])
        rows = np.stack([n_c, coef[:, 1], grid_n, grid_d], axis=-1)
        lo = np.array([s.bounds[0] for s in self.param_specs])
        hi = np.array([s.bounds[1] for s in self.param_specs])
        return np.clip(np.nan_to_num(rows, nan=1.0, posinf=hi[0]), lo, hi), (points, points), ranges

    def derived(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """a = d log N_opt / d log C = alpha_D/(alpha_N + alpha_D), b = alpha_N/(alpha_N + alpha_D), and
        gamma = alpha_N alpha_D/(alpha_N + alpha_D), the decay exponent of the frontier L*(C)."""
        a_n, a_d = np.asarray(params["alpha_N"], float)[()], np.asarray(params["alpha_D"], float)[()]
        total = a_n + a_d
        return {"a": a_d / total, "b": a_n / total, "gamma": a_n * a_d / total}

    # -- abilities -----------------------------------------------------------------------------------------------
    def compute_optimal(self, params: Mapping[str, Any], compute) -> dict[str, np.ndarray]:
        """N_opt, D_opt, tokens per parameter and L* at C (FLOPs); parameters and C broadcast."""
        c = np.asarray(compute, dtype=float)
        n_c, d_c = np.asarray(params["N_c"], float), np.asarray(params["D_c"], float)
        ratio = np.asarray(params["alpha_N"], float) / np.asarray(params["alpha_D"], float)
        k = self.flops_per_token_param
        log_n = (np.log(ratio) + ratio * np.log(n_c) + np.log(c) - np.log(k * d_c)) / (ratio + 1.0)
        n_opt = np.exp(log_n)
        d_opt = c / (k * n_opt)
        loss = self.loss(params, {"N": n_opt, "D": d_opt})
        return {"N_opt": n_opt, "D_opt": d_opt, "tokens_per_param": d_opt / n_opt, "L_opt": loss}

    def loss_at_compute(self, params: Mapping[str, Any], compute) -> np.ndarray:
        return self.compute_optimal(params, compute)["L_opt"]

    def compute_for_loss(self, params: Mapping[str, Any], target_loss) -> dict[str, np.ndarray]:
        """C(L) = C0 (L / L*(C0))^(-1/gamma): the frontier is an exact power law of C."""
        gamma = self.derived(params)["gamma"]
        l0 = self.loss_at_compute(params, REFERENCE_COMPUTE)
        target = np.asarray(target_loss, float)
        with np.errstate(divide="ignore", invalid="ignore"):
            c = REFERENCE_COMPUTE * (target / l0) ** (-1.0 / gamma)
        c = np.where(target > 0, c, np.nan)
        return {"C": c, **self.compute_optimal(params, c)}
