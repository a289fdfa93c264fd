"""Data-constrained law of Muennighoff et al. (2023), "Scaling Data-Constrained Language Models".

Training for several epochs on U_D unique tokens is worth less than training on fresh tokens. The law
replaces N and D of the Chinchilla form by *effective* counts::

    L(N, D, U) = E + A / N'^alpha + B / D'^beta
    D' = U_D + U_D R_D* (1 - exp(-R_D / R_D*)),   R_D = max(D / U_D - 1, 0)   (repeated epochs)
    N' = U_N + U_N R_N* (1 - exp(-R_N / R_N*)),   R_N = max(N / U_N - 1, 0)   (excess parameters)
    U_N = min(N, N_opt(C_U)),  C_U = the compute for which U_D is the compute-optimal token count

N_opt and C_U come from a *reference* Chinchilla fit (the paper's base fit): with a = beta/(alpha+beta),
b = alpha/(alpha+beta), G = (alpha A / (beta B))^(1/(alpha+beta)), D_opt(C) = (C/6)^b / G, so
C_U = 6 (G U_D)^(1/b) and N_opt(C_U) = G (G U_D)^(a/b). This follows the definitions of the paper
(section 3 and appendix A) and of `utils/parametric_fit.ipynb` in github.com/huggingface/datablations
(cell 29: ``U_N = min(optimal_N(D_to_C(U)), N)``, ``R_N = max(N/U_N - 1, 0)``, ``R_D = max(D/U - 1, 0)``).

Units: N parameters, D and U tokens, L nats/token. R_D*, R_N* are dimensionless (repetitions at which the
value of repeated data or excess parameters has decayed by 1/e).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .base import Law

#: The paper's base fit for C4 (Chinchilla form with alpha = beta tied, fitted on their C4 IsoFLOP runs):
#: notebook cell 7/29, a, b, e, alpha = 6.255414, 7.3049974, 0.6254804, 0.3526596 with A, B, E = exp(a, b, e);
#: the paper prints E = 1.87, A = 521, B = 1488, alpha = beta = 0.353.
PAPER_C4_BASE: dict[str, float] = {
    "E": float(np.exp(0.6254804)),
    "A": float(np.exp(6.255414)),
    "B": float(np.exp(7.3049974)),
    "alpha": 0.3526596,
    "beta": 0.3526596,
}
#: The paper's fitted decay constants on the 182 C4 runs with the base above fixed (notebook cell 29).
PAPER_C4_STARS: dict[str, float] = {"R_D_star": 15.387756, "R_N_star": 5.309743}


def optimal_parameters_for_unique_tokens(U: np.ndarray | float, reference: Mapping[str, float]) -> np.ndarray:
    """N_opt(C_U): the compute-optimal model size of the compute budget whose optimal token count is U.

    ``reference`` holds Chinchilla parameters E, A, B, alpha, beta. Shape of U is kept.
    """
    alpha, beta = float(reference["alpha"]), float(reference["beta"])
    g = (alpha * float(reference["A"]) / (beta * float(reference["B"]))) ** (1.0 / (alpha + beta))
    return g * (g * np.asarray(U, dtype=float)) ** (beta / alpha)


def repetition_features(N, D, U, reference: Mapping[str, float]) -> dict[str, np.ndarray]:
    """U_N, R_N, U_D and R_D of the paper for arrays N, D, U (broadcast to one shape).

    U_D = min(U, D): the unique tokens actually seen (a run shorter than one epoch sees D of them).
    """
    n, d, u = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (N, D, U)))
    u = np.minimum(u, d)
    u_n = np.minimum(n, optimal_parameters_for_unique_tokens(u, reference))
    return {"U_N": u_n, "R_N": np.maximum(n / u_n - 1.0, 0.0), "U_D": u, "R_D": np.maximum(d / u - 1.0, 0.0)}


def log_effective(log_u: np.ndarray, r: np.ndarray, r_star: np.ndarray) -> np.ndarray:
    """log(U + U R* (1 - exp(-R/R*))) = log U + log1p(R* (1 - exp(-R/R*))); R* broadcasts against R."""
    return log_u + np.log1p(-r_star * np.expm1(-r / r_star))


def d_log_effective_d_rstar(r: np.ndarray, r_star: np.ndarray) -> np.ndarray:
    """Derivative of :func:`log_effective` with respect to R*."""
    e = np.exp(-r / r_star)
    return ((1.0 - e) - (r / r_star) * e) / (1.0 - r_star * np.expm1(-r / r_star))


def effective_counts(N, D, U, R_N_star: float, R_D_star: float,
                     reference: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """(N', D') of the paper for arrays N, D, U."""
    f = repetition_features(N, D, U, reference)
    n_eff = np.exp(log_effective(np.log(f["U_N"]), f["R_N"], R_N_star))
    d_eff = np.exp(log_effective(np.log(f["U_D"]), f["R_D"], R_D_star))
    return n_eff, d_eff


def predict_loss(params: Mapping[str, float], N, D, U, reference: Mapping[str, float]) -> np.ndarray:
    """L(N, D, U) for parameters E, A, B, alpha, beta, R_N_star, R_D_star (arrays broadcast)."""
    n_eff, d_eff = effective_counts(N, D, U, params["R_N_star"], params["R_D_star"], reference)
    return params["E"] + params["A"] / n_eff ** params["alpha"] + params["B"] / d_eff ** params["beta"]


class DataConstrained(Law):
    """L = E + A/N'^alpha + B/D'^beta with effective N', D' under repetition (Muennighoff et al. 2023).

    Linear coefficients E, A, B; nonlinear alpha, beta, R_N_star, R_D_star. ``reference`` is the
    Chinchilla fit that defines U_N (default: the paper's C4 base fit); it is a fixed part of the law's
    definition, not a fitted parameter. Basis in log space: g_E = 0, g_A = -alpha log N',
    g_B = -beta log D'.
    """

    name = "data_constrained"
    formula = "E + A/N'^alpha + B/D'^beta, D' = U + U R_D* (1 - exp(-R_D/R_D*)), N' likewise"
    linear_names = ("E", "A", "B")
    nonlinear_names = ("alpha", "beta", "R_N_star", "R_D_star")
    grid_range = ((0.05, 1.2), (0.05, 1.2), (0.5, 60.0), (0.5, 60.0))
    nonlinear_limits = ((1e-4, 10.0), (1e-4, 10.0), (1e-3, 1e5), (1e-3, 1e5))
    inputs = ("N", "D", "U")

    def __init__(self, reference: Mapping[str, float] | None = None) -> None:
        self.reference = dict(PAPER_C4_BASE if reference is None else
                              {k: float(reference[k]) for k in ("E", "A", "B", "alpha", "beta")})

    def features(self, data: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        f = repetition_features(data["N"], data["D"], data["U"], self.reference)
        return {"logU_N": np.log(f["U_N"]), "R_N": f["R_N"], "logU_D": np.log(f["U_D"]), "R_D": f["R_D"]}

    def log_basis(self, theta: np.ndarray, features: Mapping[str, np.ndarray]) -> np.ndarray:
        theta = np.asarray(theta, dtype=float)
        alpha, beta, rn_star, rd_star = (theta[..., j:j + 1] for j in range(4))
        log_n = log_effective(features["logU_N"], features["R_N"], rn_star)
        log_d = log_effective(features["logU_D"], features["R_D"], rd_star)
        zero = np.zeros(np.broadcast_shapes(log_n.shape, log_d.shape))
        return np.stack([zero, -alpha * log_n, -beta * log_d], axis=-2)

    def log_basis_jacobian(self, theta: np.ndarray, features: Mapping[str, np.ndarray]) -> np.ndarray:
        theta = np.asarray(theta, dtype=float)
        alpha, beta, rn_star, rd_star = (theta[..., j:j + 1] for j in range(4))
        log_n = log_effective(features["logU_N"], features["R_N"], rn_star)
        log_d = log_effective(features["logU_D"], features["R_D"], rd_star)
        n = features["R_N"].shape[0]
        jac = np.zeros((*theta.shape[:-1], 3, n, 4))
        jac[..., 1, :, 0] = -log_n
        jac[..., 2, :, 1] = -log_d
        jac[..., 1, :, 2] = -alpha * d_log_effective_d_rstar(features["R_N"], rn_star)
        jac[..., 2, :, 3] = -beta * d_log_effective_d_rstar(features["R_D"], rd_star)
        return jac

    def derived(self, params: Mapping[str, float]) -> dict[str, float]:
        """Chinchilla exponents a = beta/(alpha+beta), b = alpha/(alpha+beta) of the unrepeated limit."""
        alpha, beta = (np.asarray(params[k], dtype=float)[()] for k in ("alpha", "beta"))
        return {"a": beta / (alpha + beta), "b": alpha / (alpha + beta)}

    def __repr__(self) -> str:
        return f"DataConstrained(reference={self.reference})"
