"""Separable laws: L = sum_k c_k exp(g_k(theta; x)) with linear coefficients c_k >= 0.

For fixed nonlinear parameters theta the law is linear in c, so the solver projects c out exactly on a
grid over theta (variable projection) and polishes everything with an analytic Jacobian.

:class:`SeparableLaw` is the base to subclass. :func:`solver_view` gives the law the variable-projection
solver sees once parameters are fixed or tied: a coefficient fixed at 0 drops its term, a fixed exponent is
filled in, tied exponents share one column. Anything else (a coefficient fixed at a non-zero value, tied
coefficients) is no longer separable in this sense and goes to the general solver.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .base import Law


class SeparableLaw(Law):
    """Base for laws written as sum_k c_k exp(g_k(theta; x)); subclasses give the separable API."""


class ReducedSeparable(Law):
    """The free-parameter view of a separable law with fixed or tied parameters (for the solver).

    Its parameters are ``law.free_names`` in the order (free coefficients, free exponents); ``to_full``
    maps its rows back to the parent's full parameter rows.
    """

    def __init__(self, law: Law) -> None:
        self.parent = law
        self.fixed, self.tied = {}, {}
        specs = {s.name: s for s in law.specs}
        self.name, self.formula, self.inputs = law.name, law.formula_text(), law.inputs
        self.linear_names = tuple(n for n in law.linear_names if specs[n].free)
        self.nonlinear_names = tuple(n for n in law.nonlinear_names if specs[n].free)
        lim = dict(zip(law.nonlinear_names, law.nonlinear_limits, strict=True))
        grid = dict(zip(law.nonlinear_names, law.grid_range, strict=True))
        self.nonlinear_limits = tuple(lim[n] for n in self.nonlinear_names)
        self.grid_range = tuple(grid[n] for n in self.nonlinear_names)
        self._terms = [j for j, n in enumerate(law.linear_names) if specs[n].fixed is None]
        # column map: full exponent j <- free exponent index (or a fixed value)
        self._theta_map = []
        for n in law.nonlinear_names:
            s = specs[n]
            if s.fixed is not None:
                self._theta_map.append(("fixed", float(s.fixed)))
            else:
                self._theta_map.append(("free", self.nonlinear_names.index(s.tied or n)))

    def init_args(self):
        return self.parent.init_args()

    def features(self, data: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self.parent.features(data)

    def _full_theta(self, theta: np.ndarray) -> np.ndarray:
        theta = np.asarray(theta, dtype=float)
        cols = [np.full(theta.shape[:-1], v) if kind == "fixed" else theta[..., v] for kind, v in self._theta_map]
        return np.stack(cols, axis=-1)

    def log_basis(self, theta: np.ndarray, features: Mapping[str, np.ndarray]) -> np.ndarray:
        return self.parent.log_basis(self._full_theta(theta), features)[..., self._terms, :]

    def log_basis_jacobian(self, theta: np.ndarray, features: Mapping[str, np.ndarray]) -> np.ndarray:
        full = self.parent.log_basis_jacobian(self._full_theta(theta), features)[..., self._terms, :, :]
        out = np.zeros((*full.shape[:-1], len(self.nonlinear_names)))
        for j, (kind, v) in enumerate(self._theta_map):
            if kind == "free":
                out[..., v] += full[..., j]
        return out

    def to_full(self, rows: np.ndarray) -> np.ndarray:
        """Rows of this view's parameters (..., F) -> the parent's full rows (..., P)."""
        rows = np.asarray(rows, dtype=float)
        by_name = dict(zip(self.param_names, np.moveaxis(rows, -1, 0), strict=True))
        free = np.stack([by_name[n] for n in self.parent.free_names], axis=-1)
        return self.parent.expand(free)


def solver_view(law: Law) -> Law | None:
    """The separable law the variable-projection solver fits for ``law``, or None when it does not apply.

    ``law`` itself when nothing is fixed or tied; a :class:`ReducedSeparable` when only coefficients fixed
    at 0, fixed exponents or exponents tied to exponents are involved; None otherwise (general path).
    """
    if not law.is_separable:
        return None
    specs = law.specs
    if all(s.free for s in specs):
        return law
    linear = set(law.linear_names)
    for s in specs:
        if s.name in linear and (s.tied is not None or (s.fixed is not None and s.fixed != 0.0)):
            return None
        if s.tied is not None and s.tied in linear:
            return None
    view = ReducedSeparable(law)
    return view if view.linear_names else None
