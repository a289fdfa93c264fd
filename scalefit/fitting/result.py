"""The Fit result: a fitted law's parameters, predictions, derived quantities, diagnostics and its record.

The compute-allocation answers (``optimal``, ``frontier``, ``plan``, ...) live in :mod:`scalefit.fitting.answers`
and the lmfit interop in :mod:`scalefit.fitting.interop`; both are bound into the class body here. The fit
itself (runs -> Fit) is :func:`scalefit.fitting.fit.fit`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .. import solver
from ..core import checks
from ..core.errors import ScalefitError
from ..core.formatting import json_safe, num
from ..data.runs import RunTable
from ..laws import Law, allocation, law_from_dict
from ..solver import objective as obj
from . import answers, interop
from .spec import FitSpec

ILL_CONDITIONED = 1e12


@dataclass(frozen=True)
class Fit:
    """A fitted law. Immutable; every number at full precision (round only when printing).

    Attributes: ``law``, ``params`` (every public parameter, fixed ones included), ``objective``,
    ``delta_source`` (how the Huber delta was chosen), ``method`` (text), ``solution`` (the solver's record,
    internal parameters), ``runs`` (the RunTable fitted), ``diagnostics`` and ``warnings`` (text a user must
    see), ``spec`` (the FitSpec that produced it: refit other runs with ``scalefit.fit(runs, spec=fit.spec)``).

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> fit  # doctest: +ELLIPSIS
    <Fit chinchilla: E=1.665, A=276.5, B=422.7, alpha=0.3174, beta=0.2813; 153 runs, 36 groups; ...
    >>> print(f"alpha = {fit.params['alpha']:.2f}, E = {fit.params['E']:.2f} nats/token")
    alpha = 0.32, E = 1.67 nats/token
    """

    law: Law
    params: dict[str, float]
    objective: obj.Objective
    delta_source: str
    method: str
    solution: solver.Solution
    runs: RunTable
    weights: np.ndarray
    diagnostics: dict[str, Any]
    warnings: tuple[str, ...] = field(default=())
    seconds: float = 0.0
    spec: FitSpec | None = None

    def __post_init__(self) -> None:
        if self.spec is None:
            object.__setattr__(self, "spec", FitSpec(self.law))

    # -- inputs and predictions ------------------------------------------------------------------------------
    @property
    def inputs(self) -> tuple[str, ...]:
        """The law's inputs (run-table columns), e.g. ("N", "D")."""
        return tuple(self.law.inputs)

    def bind(self, args: tuple, kwargs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Positional values (in the law's input order), one mapping, or keywords -> broadcast input arrays.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> x = fit.bind((7e9,), {"D": [1.4e11, 2.8e11]})
        >>> x["N"], x["D"]
        (array([7.e+09, 7.e+09]), array([1.4e+11, 2.8e+11]))
        """
        if len(args) == 1 and isinstance(args[0], Mapping):
            kwargs = {**args[0], **kwargs}
            args = ()
        if len(args) > len(self.inputs):
            raise TypeError(f"the law takes inputs {self.inputs}, got {len(args)} positional values")
        values = dict(zip(self.inputs, args, strict=False)) | dict(kwargs)
        missing = [k for k in self.inputs if k not in values]
        extra = [k for k in values if k not in self.inputs]
        if missing or extra:
            raise TypeError(f"the law takes inputs {self.inputs}; missing {missing}, unexpected {extra}")
        arrays = np.broadcast_arrays(*[np.asarray(values[k], dtype=float) for k in self.inputs])
        return dict(zip(self.inputs, arrays, strict=True))

    def predict(self, *args: Any, threshold: float | None = allocation.EXTRAPOLATION_THRESHOLD,
                **inputs: Any) -> np.ndarray:
        """Predicted loss (nats/token) at the law's inputs: ``predict(N, D)``, ``predict(N=..., D=...)`` or
        ``predict({"C": ...})``; arrays broadcast.

        Warns (ExtrapolationWarning) when an input or the compute exceeds ``threshold`` x the largest in the
        data (None: never); :meth:`extrapolation` gives the distances themselves.

        N in parameters, D in tokens (or C in FLOPs for a law of compute).

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> print(f"{float(fit.predict(7e9, 1.4e11)):.3f} nats/token")
        2.182 nats/token
        >>> fit.predict(N=[1e9, 7e9], D=1.4e11).round(3)
        array([2.36 , 2.182])
        """
        x = self.bind(args, inputs)
        checks.law_inputs(x)
        allocation.warn_if_far(self.extrapolation(x)["distance"], threshold)
        shape = next(iter(x.values())).shape
        flat = self.law.predict(self.param_vector, {k: v.ravel() for k, v in x.items()})
        return flat.reshape(shape)

    def extrapolation(self, *args: Any, **inputs: Any) -> dict[str, np.ndarray]:
        """{<input>_ratio, C_ratio, distance}: each point's inputs and compute over the largest in the data.

        N in parameters, D in tokens; the ratios are dimensionless (the largest N, D and C = 6ND FLOPs of the
        runs are 1).

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> far = {k: float(v) for k, v in fit.extrapolation(7e10, 1.4e12).items()}
        >>> print(f"N x{far['N_ratio']:.1f}, D x{far['D_ratio']:.1f}, distance {far['distance']:.0f}")
        N x17.5, D x4.2, distance 196
        """
        x = self.bind(args, inputs)
        return allocation.extrapolation_distance(self.data_maxima, x,
                                                 flops_per_token_param=self.law.flops_per_token_param)

    @property
    def data_maxima(self) -> dict[str, float]:
        """Largest N, D and C (those the table has; C = kND when not given) among the fitted runs."""
        cols = {k: self.runs.df[k].to_numpy(float) for k in ("N", "D", "C") if k in self.runs.df}
        return allocation.data_maxima(cols, flops_per_token_param=self.law.flops_per_token_param)

    @property
    def data(self) -> dict[str, np.ndarray]:
        """The law's inputs at every fitted run: {name: (n,)}."""
        return {k: self.runs.df[k].to_numpy(float) for k in self.inputs}

    @property
    def param_vector(self) -> np.ndarray:
        return np.array([self.params[k] for k in self.law.param_names])

    @property
    def fitted(self) -> np.ndarray:
        """Predicted loss at every run, shape (n,)."""
        return self.law.predict(self.param_vector, self.data)

    @property
    def residuals(self) -> np.ndarray:
        """Log residuals log(predicted) - log(observed), shape (n,)."""
        return np.log(self.fitted) - np.log(self.runs.loss)

    # -- derived quantities and the law's abilities: scalefit.fitting.answers --------------------------------
    derived = property(answers.derived)
    optimal = answers.optimal
    compute_for_loss = answers.compute_for_loss
    frontier = answers.frontier
    plan = answers.plan
    regimes = answers.regimes
    has_allocation = property(answers.has_allocation)
    n_opt = answers.n_opt
    d_opt = answers.d_opt
    tokens_per_param = answers.tokens_per_param
    loss_opt = answers.loss_opt

    # -- uncertainty ---------------------------------------------------------------------------------
    def bootstrap(self, *args: Any, **kwargs: Any):
        """Bootstrapped uncertainty; see :func:`scalefit.uncertainty.bootstrap.bootstrap`.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> boot = fit.bootstrap(n=50, seed=0)
        >>> len(boot.replicates), boot.scheme
        (50, 'cluster')
        """
        from ..uncertainty.bootstrap import bootstrap

        return bootstrap(self, *args, **kwargs)

    def influence(self, *args: Any, **kwargs: Any):
        """Which runs and groups move the fit and its targets; see :func:`scalefit.uncertainty.influence.influence`.

        Targets are points of the law's inputs (N in parameters, D in tokens), budgets compute C in FLOPs; shifts
        of losses are in nats/token and are also stated in units of each quantity's interval width.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> inf = fit.influence(budgets=[1e22])
        >>> top = inf.top(1)
        >>> bool(top["max widths"].iloc[0] < inf.threshold)
        True
        """
        from ..uncertainty.influence import influence

        return influence(self, *args, **kwargs)

    # -- output --------------------------------------------------------------------------------------
    @property
    def identification(self):
        """Whether the data identify every parameter: :class:`scalefit.fitting.identify.Identifiability`
        (judged from starts, condition number, vanishing terms; add a bootstrap with
        :func:`scalefit.fitting.identify.identifiability` to judge its intervals too)."""
        from .identify import identifiability

        return identifiability(self)

    @property
    def status(self) -> str:
        """"identified" or "not identified (E, alpha)": converged is not the same as identified."""
        return self.identification.status

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        return (f"<Fit {self.law.name}: {params}; {len(self.runs)} runs, {self.runs.n_groups} groups; "
                f"{self.status}; {len(self.warnings)} warning(s)>")

    def summary(self) -> str:
        """A table a researcher can paste into a paper, then diagnostics and warnings.

        Parameters in the law's units (Chinchilla: E in nats/token, A in nats/token x N^alpha with N in
        parameters, B in nats/token x D^beta with D in tokens, exponents dimensionless).

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> print(fit.summary().splitlines()[0])
        scalefit fit: L(N, D) = E + A/N^alpha + B/D^beta   [identified]
        >>> for line in fit.summary().splitlines()[5:11]:
        ...     print(line)
        ...
          parameter           estimate
          E                    1.66519
          A                      276.5
          B                    422.658
          alpha               0.317365
          beta                 0.28129
        """
        lines = [f"scalefit fit: L({', '.join(self.inputs)}) = {self.law.formula_text()}   [{self.status}]",
                 f"  data: {len(self.runs)} runs, {self.runs.n_groups} groups ({self.runs.provenance['source']})",
                 f"  objective: {self.objective.describe()} ({self.delta_source}), summed over runs",
                 f"  method: {self.method}; objective value {self.solution.value:.10g}", "",
                 f"  {'parameter':<12}{'estimate':>16}"]
        specs = {sp.name: sp for sp in self.law.specs}
        for name in self.law.param_names:
            sp = specs[name]
            note = " (fixed)" if sp.fixed is not None else (f" (= {sp.tied})" if sp.tied is not None else "")
            lines.append(f"  {name:<12}{self.params[name]:>16.6g}{note}")
        for name, value in self.derived.items():
            lines.append(f"  {name:<12}{value:>16.6g}")
        d = self.diagnostics
        lines += ["", f"  converged: {d['converged']} ({d['message']}; max |gradient| {num(d['grad_norm'], 2, 'e')})",
                  f"  starts reaching the optimum: {d['starts_at_optimum']} of {d['starts']}",
                  f"  condition number: {num(d['condition_number'], 3)}"]
        lines += [f"  {line}" for line in self.identification.lines()]
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record of the fit (parameters at full precision).

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> record = fit.to_dict()
        >>> sorted(record["params"])
        ['A', 'B', 'E', 'alpha', 'beta']
        >>> record["objective"]["kind"]
        'huber'
        """
        return json_safe({
            "law": self.law.to_dict(), "formula": self.law.formula_text(), "inputs": list(self.inputs),
            "spec": self.spec.to_dict(), "params": self.params,
            "derived": self.derived,
            "objective": {"kind": self.objective.kind, "delta": self.objective.delta if
                          self.objective.kind == "huber" else None, "delta_source": self.delta_source,
                          "value": self.solution.value, "reduction": "sum"},
            "method": self.method, "diagnostics": self.diagnostics, "warnings": list(self.warnings),
            "data": {"rows": len(self.runs), "groups": self.runs.n_groups,
                     "provenance": self.runs.provenance},
            "seconds": self.seconds,
            "weights": self.weights,
            "solution": {"z": self.solution.z, "value": self.solution.value, "grad": self.solution.grad,
                         "converged": self.solution.converged, "message": self.solution.message,
                         "n_iter": self.solution.n_iter, "n_evaluations": self.solution.n_evaluations,
                         "starts": self.solution.starts, "starts_at_optimum": self.solution.starts_at_optimum,
                         "start_values": self.solution.start_values, "grid_range": self.solution.grid_range,
                         "grid_edge": self.solution.grid_edge, "at_bounds": self.solution.at_bounds,
                         "degenerate": list(getattr(self.solution, "degenerate", ()))},
        })

    @classmethod
    def from_dict(cls, record: Mapping[str, Any], runs: RunTable) -> Fit:
        """Rebuild a Fit from :meth:`to_dict` and the runs it was fitted on, without refitting.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> again = scalefit.Fit.from_dict(fit.to_dict(), fit.runs)
        >>> again.params == fit.params
        True
        """
        sol = record["solution"]
        solution = solver.Solution(
            z=np.asarray(sol["z"], dtype=float), value=float(sol["value"]), grad=np.asarray(sol["grad"], dtype=float),
            converged=bool(sol["converged"]), message=sol["message"], n_iter=int(sol["n_iter"]),
            n_evaluations=int(sol["n_evaluations"]), starts=int(sol["starts"]),
            starts_at_optimum=int(sol["starts_at_optimum"]), start_values=np.asarray(sol["start_values"], dtype=float),
            grid_range=tuple(tuple(float(v) for v in r) for r in sol["grid_range"]),
            grid_edge=tuple(bool(v) for v in sol["grid_edge"]), at_bounds=tuple(sol["at_bounds"]),
            degenerate=tuple(sol.get("degenerate", ())))
        objective = record["objective"]
        the_objective = obj.Objective("ls") if objective["kind"] == "ls" else \
            obj.Objective("huber", float(objective["delta"]))
        try:
            law = law_from_dict(record["law"])
            spec = FitSpec.from_dict(record["spec"]) if record.get("spec") else FitSpec(law)
        except (ValueError, TypeError) as exc:
            raise ScalefitError(f"cannot rebuild the fitted law: {exc}") from None
        return cls(law=law, spec=spec, params={k: float(v) for k, v in record["params"].items()},
                   objective=the_objective, delta_source=objective["delta_source"], method=record["method"],
                   solution=solution, runs=runs, weights=np.asarray(record["weights"], dtype=float),
                   diagnostics=dict(record["diagnostics"]), warnings=tuple(record["warnings"]),
                   seconds=float(record["seconds"]))

    def to_frame(self) -> pd.DataFrame:
        """Parameters and derived quantities as a one-column DataFrame.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> fit.to_frame().round(3).loc[["alpha", "beta", "a", "b"]]
               estimate
        alpha     0.317
        beta      0.281
        a         0.470
        b         0.530
        """
        values = {**self.params, **self.derived}
        return pd.DataFrame({"estimate": values})

    # -- lmfit interop: scalefit.fitting.interop ------------------------------------------------------
    to_lmfit = interop.to_lmfit
    profile_intervals = interop.profile_intervals
