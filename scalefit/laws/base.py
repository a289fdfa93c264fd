"""The Law interface: a loss law written as a sum of positive terms, L = sum_k c_k * exp(g_k(theta; x)).

Every law here has that shape: a few *linear* coefficients c_k > 0 (E, A, B for Chinchilla) times basis
functions of the inputs that depend on *nonlinear* parameters theta (the exponents). This split is what the
solver uses:

* for fixed theta the law is linear in c, so the best c on a grid of theta is a tiny non-negative least
  squares problem (variable projection);
* the objective works in log space with the log-sum-exp parametrisation of Hoffmann et al. (2022):
  log L = logsumexp_k(log c_k + g_k(theta; x)), whose gradient is analytic.

Arrays: ``features`` is a dict of 1-D arrays of length n (e.g. log N, log D). ``theta`` has shape (..., p)
with any leading batch shape; ``log_basis`` returns (..., K, n) and ``log_basis_jacobian`` (..., K, n, p).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping

import numpy as np


class Law(ABC):
    """A scaling law L(x) = sum_k c_k exp(g_k(theta; x)) with c_k >= 0."""

    name: str = ""
    formula: str = ""
    linear_names: tuple[str, ...] = ()
    nonlinear_names: tuple[str, ...] = ()
    #: search range of each nonlinear parameter for the global grid (widened when the optimum is at an edge)
    grid_range: tuple[tuple[float, float], ...] = ()
    #: hard limits a nonlinear parameter can never leave (the grid is never widened past them)
    nonlinear_limits: tuple[tuple[float, float], ...] = ()
    #: inputs the law needs, as canonical run-table columns
    inputs: tuple[str, ...] = ()

    @property
    def param_names(self) -> tuple[str, ...]:
        """Public parameter order: linear coefficients, then nonlinear parameters."""
        return self.linear_names + self.nonlinear_names

    @abstractmethod
    def features(self, data: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Precompute what the basis needs from the inputs (e.g. logs), each of shape (n,)."""

    @abstractmethod
    def log_basis(self, theta: np.ndarray, features: Mapping[str, np.ndarray]) -> np.ndarray:
        """g_k(theta; x), shape (..., K, n)."""

    @abstractmethod
    def log_basis_jacobian(self, theta: np.ndarray, features: Mapping[str, np.ndarray]) -> np.ndarray:
        """d g_k / d theta_j, shape (..., K, n, p)."""

    # -- conveniences built on the three methods above -------------------------------------------------

    def split(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Public parameters (..., K + p) -> (linear coefficients (..., K), theta (..., p))."""
        params = np.asarray(params, dtype=float)
        k = len(self.linear_names)
        return params[..., :k], params[..., k:]

    def predict(self, params: np.ndarray, data: Mapping[str, np.ndarray]) -> np.ndarray:
        """Loss predicted at ``data`` for public parameters ``params`` (shape (K + p,)): shape (n,)."""
        coef, theta = self.split(params)
        basis = np.exp(self.log_basis(theta, self.features(data)))
        return np.einsum("...k,...kn->...n", coef, basis)

    def params_dict(self, params: np.ndarray) -> dict[str, float]:
        return {name: float(v) for name, v in zip(self.param_names, np.asarray(params), strict=True)}

    def derived(self, params: Mapping[str, float]) -> dict[str, float]:
        """Law-specific derived quantities (compute-optimal exponents, ...); none by default."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.formula})"
