"""Which solver fits a law, behind one small interface: variable projection or the general path.

:func:`engine_for` returns a :class:`VarproEngine` when the law (after fixing and tying) is separable,
else a :class:`GeneralEngine`. Both build the problem, solve it globally, map internal parameters to the
law's public parameter rows, and give residuals and their Jacobian for the diagnostics (bootstrap
replicates of either kind: :func:`scalefit.uncertainty.replicates.replicates`). ``fit``, ``bootstrap``, the
held-out check, coverage and comparison go through this and never ask which kind of law they hold.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .. import solver
from ..laws.base import Law
from ..laws.separable import ReducedSeparable, solver_view
from ..solver import general as general_solver
from ..solver import objective as obj

NEGLIGIBLE_SHARE = 1e-4  # a term contributing less than this fraction of every prediction is "absent"


class VarproEngine:
    """Separable laws: the variable-projection solver on the law's free-parameter view."""

    kind = "varpro"

    def __init__(self, law: Law, view: Law) -> None:
        self.law, self.view = law, view

    def problem(self, data: Mapping[str, np.ndarray], loss: np.ndarray, objective: obj.Objective,
                weights: np.ndarray | None = None) -> solver.Problem:
        return solver.Problem.build(self.view, data, loss, objective, weights)

    def solve(self, problem, n_starts: int, grid_points: int | None, extra_starts=None, method: str = "varpro"):
        if method == "hoffmann-grid":
            return solver.solve_hoffmann_grid(problem)
        return solver.solve(problem, n_polish=n_starts, points=grid_points or solver.GRID_POINTS,
                            extra_starts=extra_starts)

    def describe(self, n_starts: int, grid_points: int | None, first_pass: bool, method: str = "varpro") -> str:
        if method == "hoffmann-grid":
            return "L-BFGS-B from each of Hoffmann et al.'s 4,500 starts (reference)"
        points = grid_points or solver.GRID_POINTS
        return (f"variable-projection grid ({points}^{len(self.view.nonlinear_names)} cells) + "
                f"Levenberg-Marquardt polish of the {n_starts} best separated cells"
                + (" and the first-pass optimum" if first_pass else ""))

    def public(self, problem, z: np.ndarray) -> np.ndarray:
        """Internal rows (..., F) -> the law's full public rows (..., P)."""
        z = np.asarray(z, dtype=float)
        k = problem.n_linear
        rows = np.concatenate([np.exp(z[..., :k]), z[..., k:]], axis=-1)
        return self.view.to_full(rows) if isinstance(self.view, ReducedSeparable) else rows

    def internal_names(self) -> list[str]:
        return [f"log {n}" for n in self.view.linear_names] + list(self.view.nonlinear_names)

    def grid_names(self) -> tuple[str, ...]:
        return tuple(self.view.nonlinear_names)

    def nonlinear_columns(self, problem) -> slice:
        return slice(problem.n_linear, None)

    def log_residuals(self, problem, z: np.ndarray) -> np.ndarray:
        log_pred, _ = obj.log_predict(self.view, z, problem.features)
        return log_pred - problem.log_loss

    def jacobian(self, problem, z: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """(d log prediction / d z (n, F), names of terms negligible everywhere)."""
        k = problem.n_linear
        _, share = obj.log_predict(self.view, z, problem.features)
        jac = obj.residual_jacobian(share, self.view.log_basis_jacobian(z[k:], problem.features))
        max_share = share.max(axis=-1)
        absent = [self.view.linear_names[j] for j in range(k) if max_share[j] < NEGLIGIBLE_SHARE]
        return jac, absent

    def max_share(self, problem, z: np.ndarray) -> dict[str, float]:
        _, share = obj.log_predict(self.view, z, problem.features)
        return dict(zip(self.view.linear_names, share.max(axis=-1).tolist(), strict=True))

    def stationary(self, problem, z, value) -> bool:
        return solver.is_stationary(problem, z, value)


class GeneralEngine:
    """Any law: multi-start grid + gradient polish (:mod:`scalefit.solver.general`)."""

    kind = "general"

    def __init__(self, law: Law) -> None:
        self.law = law

    def problem(self, data, loss, objective, weights=None) -> general_solver.GeneralProblem:
        return general_solver.GeneralProblem.build(self.law, data, loss, objective, weights)

    def solve(self, problem, n_starts: int, grid_points: int | None, extra_starts=None, method: str = "general"):
        if method == "hoffmann-grid":
            raise ValueError("the Hoffmann grid applies to the plain Chinchilla law only")
        return general_solver.solve(problem, n_polish=n_starts, points=grid_points, extra_starts=extra_starts)

    def describe(self, n_starts: int, grid_points: int | None, first_pass: bool, method: str = "general") -> str:
        projected = [s.name for s in self.law.specs if s.free and s.linear]
        return (f"general solver: grid over {', '.join(self.grid_names()) or 'no parameters'}"
                + (f" with {', '.join(projected)} projected out" if projected else "")
                + f", Levenberg-Marquardt polish of the {n_starts} best separated cells"
                + (" and the first-pass optimum" if first_pass else "") + ", L-BFGS-B where it stalls")

    def problem_stub(self):
        n = 1
        return general_solver.GeneralProblem(self.law, {k: np.ones(n) for k in self.law.inputs}, np.zeros(n),
                                             np.ones(n), obj.Objective("ls"))

    def public(self, problem, z):
        return problem.to_public(z)

    def internal_names(self) -> list[str]:
        return list(self.problem_stub().internal_names)

    def grid_names(self) -> tuple[str, ...]:
        stub = self.problem_stub()
        if callable(getattr(self.law, "grid_candidates", None)) and all(s.free for s in self.law.specs):
            return tuple(s.name for s in self.law.specs if not s.log_scale)
        dims, _ = general_solver.grid_ranges(stub)
        return tuple(stub.free_specs[i].name for i in dims)

    def nonlinear_columns(self, problem) -> list[int]:
        return [i for i, s in enumerate(problem.free_specs) if not s.linear]

    def log_residuals(self, problem, z):
        return problem.log_predict(z) - problem.log_loss

    def jacobian(self, problem, z):
        return problem.residual_jacobian(z), []

    def max_share(self, problem, z) -> dict[str, float]:
        return {}

    def stationary(self, problem, z, value) -> bool:
        return general_solver.is_stationary(problem, z, value)


def engine_for(law: Law, method: str = "auto"):
    """The engine that fits ``law``: variable projection when it applies (and method allows), else general."""
    if method not in ("auto", "varpro", "general", "hoffmann-grid"):
        raise ValueError(f"method must be 'auto', 'varpro', 'general' or 'hoffmann-grid', not {method!r}")
    view = solver_view(law) if method != "general" else None
    if view is not None:
        return VarproEngine(law, view)
    if method in ("varpro", "hoffmann-grid"):
        raise ValueError(f"{law!r} is not separable after fixing and tying: use method='auto' or 'general'")
    return GeneralEngine(law)
