"""FitSpec: THE way to fit — law, objective, delta rule and method, stored on every result.

``fit()`` builds a spec and runs it; the held-out check, the coverage study and model comparison refit
through the same spec on other runs (:meth:`FitSpec.fit`), so an automatic Huber delta is re-estimated
on the data actually fitted and labelled as automatic, never passed on as a "given" number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import solver
from ..core import checks
from ..laws import DEFAULT_LAW, Law, get_law, law_from_dict
from ..solver import objective as obj
from .engine import engine_for

OBJECTIVES = ("huber", "hoffmann", "ls")


@dataclass(frozen=True)
class FitSpec:
    """How to fit: ``law`` (a Law), ``objective`` ("huber", "hoffmann" = Huber with delta 1e-3, "ls"),
    ``delta`` (the rule: None/"auto" = 1.345 x MAD-sd of first-pass least-squares residuals, "hoffmann",
    or a number), ``method`` ("auto": variable projection when the law is separable, else the general
    solver; or "varpro", "general", "hoffmann-grid"), ``n_starts`` polished starts, ``grid_points`` per
    grid axis (None: the solver's default).

    Examples
    --------
    >>> spec = scalefit.FitSpec.make(objective="hoffmann")
    >>> spec.describe()  # doctest: +ELLIPSIS
    'E + A/N^alpha + B/D^beta; objective hoffmann (delta auto); method auto'
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"), spec=spec)
    >>> fit.delta_source
    'delta=1e-3 preset of Hoffmann et al. 2022'
    """

    law: Law
    objective: str = "huber"
    delta: float | str | None = None
    method: str = "auto"
    n_starts: int = solver.N_POLISH
    grid_points: int | None = None

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be 'huber', 'hoffmann' or 'ls', not {self.objective!r}")
        if isinstance(self.delta, str) and self.delta not in ("auto", "hoffmann"):
            raise ValueError(f"delta must be a number, 'auto' or 'hoffmann', not {self.delta!r}")
        if self.delta is not None and not isinstance(self.delta, str):
            checks.positive_finite(self.delta, "delta", "a Huber delta", "log residual")
        checks.count(self.n_starts, "n_starts", 1, 10**4, "the number of polished starts")
        if self.grid_points is not None:
            checks.count(self.grid_points, "grid_points", 1, 10**4, "the number of grid points per axis")
        engine_for(self.law, self.method)  # fails early on a method that does not apply

    @classmethod
    def make(cls, law: str | Law = DEFAULT_LAW, objective: str = "huber", delta: float | str | None = None,
             method: str = "auto", n_starts: int = solver.N_POLISH, grid_points: int | None = None) -> FitSpec:
        """A spec from user-level arguments (a law name or import path is resolved).

        Examples
        --------
        >>> spec = scalefit.FitSpec.make(objective="hoffmann")
        >>> spec.law.formula_text(), spec.objective
        ('E + A/N^alpha + B/D^beta', 'hoffmann')
        """
        return cls(get_law(law), objective, delta, method, n_starts, grid_points)

    @property
    def engine(self):
        return engine_for(self.law, self.method)

    def with_law(self, law: str | Law) -> FitSpec:
        """The same settings for another law (model comparison).

        Examples
        --------
        >>> spec = scalefit.FitSpec.make(objective="hoffmann")
        >>> spec.with_law("kaplan").law.name, spec.with_law("kaplan").objective
        ('kaplan', 'hoffmann')
        """
        method = self.method if self.method in ("auto", "general") else "auto"
        return FitSpec(get_law(law), self.objective, self.delta, method, self.n_starts, self.grid_points)

    def choose_objective(self, data: Mapping[str, np.ndarray], loss: np.ndarray, weights: np.ndarray):
        """(Objective, how delta was chosen, first-pass optimum rows or None) on these data.

        loss in nats/token; N in parameters, D in tokens.

        Examples
        --------
        >>> spec = scalefit.FitSpec.make(objective="hoffmann")
        >>> runs = scalefit.datasets.load("example_chinchilla")
        >>> data = {"N": runs.N, "D": runs.D}
        >>> objective, how, first_pass = spec.choose_objective(data, runs.loss, np.ones(len(runs)))
        >>> objective.kind, objective.delta, first_pass is None
        ('huber', 0.001, True)
        """
        if self.objective == "hoffmann" or self.delta == "hoffmann":
            return obj.Objective("huber", obj.HOFFMANN_DELTA), "delta=1e-3 preset of Hoffmann et al. 2022", None
        if self.objective == "ls":
            return obj.Objective("ls"), "least squares", None
        if self.delta is None or self.delta == "auto":
            engine = self.engine
            problem = engine.problem(data, loss, obj.Objective("ls"), weights)
            first = engine.solve(problem, self.n_starts, self.grid_points, method=self._solve_method())
            value = obj.robust_delta(engine.log_residuals(problem, first.z))
            source = "automatic: 1.345 x MAD-sd of first-pass least-squares residuals"
            if value <= obj.MIN_AUTO_DELTA:
                source += f" (floored at {obj.MIN_AUTO_DELTA:g})"
            return obj.Objective("huber", value), source, first.z[None, :]
        return obj.Objective("huber", float(self.delta)), "given", None

    def _solve_method(self) -> str:
        return "varpro" if self.method in ("auto", "hoffmann-grid") and self.engine.kind == "varpro" else \
            ("general" if self.engine.kind == "general" else self.method)

    def describe(self) -> str:
        """One line: the law's formula, the objective with its delta rule, and the method.

        Examples
        --------
        >>> spec = scalefit.FitSpec.make(objective="hoffmann")
        >>> spec.describe()  # doctest: +ELLIPSIS
        'E + A/N^alpha + B/D^beta; objective hoffmann (delta auto); method auto'
        """
        delta = {None: "auto", "auto": "auto"}.get(self.delta, self.delta) if not isinstance(self.delta, float) \
            else f"{self.delta:g}"
        return f"{self.law.formula_text()}; objective {self.objective} (delta {delta}); method {self.method}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record of the spec (the law by its own record).

        Examples
        --------
        >>> spec = scalefit.FitSpec.make(objective="hoffmann")
        >>> sorted(spec.to_dict())
        ['delta', 'grid_points', 'law', 'method', 'n_starts', 'objective']
        """
        return {"law": self.law.to_dict(), "objective": self.objective, "delta": self.delta, "method": self.method,
                "n_starts": self.n_starts, "grid_points": self.grid_points}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FitSpec:
        """Rebuild a spec from :meth:`to_dict`.

        Examples
        --------
        >>> spec = scalefit.FitSpec.make(objective="hoffmann")
        >>> scalefit.FitSpec.from_dict(spec.to_dict()) == spec
        True
        """
        return cls(law_from_dict(d["law"]), d["objective"], d.get("delta"), d.get("method", "auto"),
                   int(d.get("n_starts", solver.N_POLISH)), d.get("grid_points"))
