"""Single-variable power laws: L(x) = E + A x^-alpha for x = N (parameters), D (tokens) or C (FLOPs).

Separable: coefficients (E, A) times the basis (1, x^-alpha), so variable projection applies. Without the
irreducible term, fix it: ``PowerLaw("C", fixed={"E": 0})`` is L(C) = A C^-alpha. A law of compute has a
loss frontier (:class:`scalefit.laws.base.Frontier`): L*(C) is the law itself, and it inverts in closed form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .base import ParamSpec
from .separable import SeparableLaw

UNITS = {"N": "parameters", "D": "tokens", "C": "FLOPs"}


class PowerLaw(SeparableLaw):
    """L(x) = E + A x^-alpha with x one of N, D, C (``variable``)."""

    nonlinear_names = ("alpha",)
    linear_names = ("E", "A")
    grid_range = ((0.005, 1.5),)
    nonlinear_limits = ((1e-5, 10.0),)

    def __init__(self, variable: str = "N", fixed: Mapping[str, float] | None = None,
                 tied: Mapping[str, str] | None = None) -> None:
        if variable not in UNITS:
            raise ValueError(f"variable must be one of {', '.join(UNITS)}, not {variable!r}")
        self.variable = variable
        self.inputs = (variable,)
        self.name = f"power_{variable}"
        self.formula = f"E + A {variable}^-alpha"
        self.param_specs = (
            ParamSpec("E", (0.0, np.inf), "nats/token", "irreducible loss", linear=True, log_scale=True),
            ParamSpec("A", (0.0, np.inf), f"nats/token x {variable}^alpha", f"scale of the {variable} term",
                      linear=True, log_scale=True),
            ParamSpec("alpha", (1e-5, 10.0), "1", f"exponent of {variable}", grid=(0.005, 1.5)),
        )
        super().__init__(fixed, tied)

    def init_args(self) -> dict[str, Any]:
        return {"variable": self.variable, **super().init_args()}

    def loss(self, params: Mapping[str, Any], data: Mapping[str, Any]) -> np.ndarray:
        x = np.asarray(data[self.variable], dtype=float)
        e, a, alpha = (np.asarray(params[k], float) for k in ("E", "A", "alpha"))
        return e + a * x ** -alpha

    def features(self, data: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"logx": np.log(np.asarray(data[self.variable], dtype=float))}

    def log_basis(self, theta: np.ndarray, features: Mapping[str, np.ndarray]) -> np.ndarray:
        theta = np.asarray(theta, dtype=float)
        logx = features["logx"]
        zero = np.zeros(theta.shape[:-1] + logx.shape)
        return np.stack([zero, -theta[..., 0:1] * logx], axis=-2)

    def log_basis_jacobian(self, theta: np.ndarray, features: Mapping[str, np.ndarray]) -> np.ndarray:
        theta = np.asarray(theta, dtype=float)
        logx = features["logx"]
        jac = np.zeros((*theta.shape[:-1], 2, logx.shape[0], 1))
        jac[..., 1, :, 0] = -logx
        return jac

    def loss_at_compute(self, params: Mapping[str, Any], compute) -> np.ndarray:
        """L*(C): the law itself when its variable is compute (only for ``PowerLaw("C")``)."""
        if self.variable != "C":
            raise TypeError(f"{self.name} is a law of {self.variable}, not of compute")
        return self.loss(params, {"C": compute})

    def compute_for_loss(self, params: Mapping[str, Any], target_loss) -> dict[str, np.ndarray]:
        """{C}: the compute reaching ``target_loss`` (NaN at or below E); only for ``PowerLaw("C")``."""
        if self.variable != "C":
            raise TypeError(f"{self.name} is a law of {self.variable}, not of compute")
        excess = np.asarray(target_loss, float) - np.asarray(params["E"], float)
        with np.errstate(divide="ignore", invalid="ignore"):
            c = (excess / np.asarray(params["A"], float)) ** (-1.0 / np.asarray(params["alpha"], float))
        return {"C": np.where(excess > 0, c, np.nan)}


class ComputePowerLaw(PowerLaw):
    """L(C) = E + A C^-alpha: a power law of compute, with a loss frontier and its inverse."""

    def __init__(self, fixed: Mapping[str, float] | None = None, tied: Mapping[str, str] | None = None) -> None:
        super().__init__("C", fixed, tied)

    def init_args(self) -> dict[str, Any]:
        args = super().init_args()
        args.pop("variable")
        return args
