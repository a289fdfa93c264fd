"""fit() and the Fit result: runs -> FitSpec -> solver -> parameters, derived quantities and diagnostics."""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .. import solver
from ..core.errors import ConvergenceWarning, DataError, FitError, ScalefitError, ScalefitWarning
from ..core.formatting import json_safe, num
from ..data.runs import RunTable, load_runs
from ..laws import DEFAULT_LAW, ComputeOptimal, Inverse, Law, allocation, law_from_dict
from ..solver import objective as obj
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

    # -- derived quantities and the law's abilities -------------------------------------------------------------
    @property
    def derived(self) -> dict[str, float]:
        """The law's derived quantities (Chinchilla: a, b, G; Kaplan: a, b, gamma)."""
        return {k: float(v) for k, v in self.law.derived(self.params).items()}

    def optimal(self, compute: np.ndarray | float) -> dict[str, np.ndarray]:
        """Compute-optimal N_opt, D_opt, tokens_per_param and L_opt at compute C (FLOPs).

        FitError when the law has no compute-optimal allocation (e.g. a law of N alone).

        N_opt in parameters, D_opt in tokens, L_opt in nats/token.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> opt = {k: float(v) for k, v in fit.optimal(1e22).items()}
        >>> print(f"N_opt {opt['N_opt']:.2e} parameters, D_opt {opt['D_opt']:.2e} tokens, L* {opt['L_opt']:.3f}")
        N_opt 5.64e+09 parameters, D_opt 2.96e+11 tokens, L* 2.138
        """
        return allocation.require(self.law, ComputeOptimal).compute_optimal(self.params, compute)

    def compute_for_loss(self, target_loss) -> dict[str, np.ndarray]:
        """The cheapest training run reaching ``target_loss``: {C, N_opt, D_opt, tokens_per_param, L_opt}.

        target_loss in nats/token; C in FLOPs, N_opt in parameters, D_opt in tokens.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> need = fit.compute_for_loss(2.2)
        >>> print(f"C = {float(need['C']):.2e} FLOPs, N_opt = {float(need['N_opt']):.2e} parameters")
        C = 4.40e+21 FLOPs, N_opt = 3.83e+09 parameters
        """
        return allocation.allocation_for_loss(self.params, target_loss, self.law)

    def frontier(self, compute) -> pd.DataFrame:
        """Compute-optimal frontier over an array of compute C (FLOPs).

        Columns: C (FLOPs), N_opt (parameters), D_opt (tokens), tokens_per_param, L_opt (nats/token).

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> table = fit.frontier([1e20, 1e22])
        >>> list(table.columns)
        ['C', 'N_opt', 'D_opt', 'tokens_per_param', 'L_opt']
        >>> print(table["L_opt"].round(3).tolist())
        [2.606, 2.138]
        """
        return allocation.frontier(self.params, compute, self.law)

    def plan(self, target_loss: float | None = None, inference_tokens: float = 0.0, compute: float | None = None,
             hardware: allocation.Hardware | None = None) -> allocation.Plan:
        """Inference-aware plan (Sardana et al. 2023) for a target loss, or for the loss that the
        compute-optimal run at training budget ``compute`` reaches; see :func:`allocation.plan`.

        target_loss in nats/token, inference_tokens in tokens, compute in FLOPs; the Plan's N is in parameters,
        D in tokens, FLOPs in FLOPs.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> plan = fit.plan(target_loss=2.3, inference_tokens=1e13)
        >>> print(f"{plan.N:.2e} parameters, {plan.D:.2e} tokens, {plan.tokens_per_param:.0f} tokens/parameter")
        5.19e+08 parameters, 1.43e+12 tokens, 2762 tokens/parameter
        """
        target = allocation.plan_target(self.params, target_loss, compute, self.law)
        return allocation.plan(self.params, target, inference_tokens, hardware, self.law)

    def regimes(self, band: float = allocation.REGIME_BAND) -> pd.DataFrame:
        """Regime of every run (under-trained / near compute-optimal / over-trained) at its own compute.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> fit.regimes()["regime"].value_counts().sort_index().to_dict()
        {'near compute-optimal': 47, 'over-trained': 39, 'under-trained': 67}
        """
        table = allocation.regime(self.params, self.runs.N, self.runs.D, band, self.law)
        table.insert(0, "group", self.runs.groups)
        return table

    @property
    def has_allocation(self) -> bool:
        """Whether the law allocates compute between N and D (ComputeOptimal and Inverse)."""
        return isinstance(self.law, ComputeOptimal) and isinstance(self.law, Inverse) and \
            set(self.inputs) == {"N", "D"}

    def n_opt(self, compute):
        """Compute-optimal parameters N_opt (parameters) at compute C (FLOPs).

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> print(f"{float(fit.n_opt(1e22)):.2e} parameters")
        5.64e+09 parameters
        """
        return self.optimal(compute)["N_opt"]

    def d_opt(self, compute):
        """Compute-optimal training tokens D_opt (tokens) at compute C (FLOPs).

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> print(f"{float(fit.d_opt(1e22)):.2e} tokens")
        2.96e+11 tokens
        """
        return self.optimal(compute)["D_opt"]

    def tokens_per_param(self, compute):
        """Compute-optimal tokens per parameter D_opt/N_opt (tokens per parameter) at compute C (FLOPs).

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> print(f"{float(fit.tokens_per_param(1e22)):.0f} tokens per parameter")
        52 tokens per parameter
        """
        return self.optimal(compute)["tokens_per_param"]

    def loss_opt(self, compute):
        """Loss L*(C) (nats/token) of the compute-optimal run at compute C (FLOPs).

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> print(f"{float(fit.loss_opt(1e22)):.3f} nats/token")
        2.138 nats/token
        """
        return self.optimal(compute)["L_opt"]

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

    def to_lmfit(self):
        """The fitted parameters as ``lmfit.Parameters`` (public names, the law's bounds; fixed and tied
        parameters as lmfit constants and expressions).

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> params = fit.to_lmfit()
        >>> list(params)
        ['E', 'A', 'B', 'alpha', 'beta']
        >>> round(params["alpha"].value, 3) == round(fit.params["alpha"], 3)
        True
        """
        import lmfit

        params = lmfit.Parameters()
        for sp in self.law.specs:
            lo, hi = sp.bounds
            if sp.linear and sp.log_scale:
                lo = max(lo, float(np.exp(solver.LOG_COEF_BOUNDS[0])))
            params.add(sp.name, value=self.params[sp.name], min=lo, max=hi, vary=sp.free)
        for sp in self.law.specs:
            if sp.tied is not None:
                params[sp.name].expr = sp.tied
        return params

    def profile_intervals(self, sigmas: tuple[float, ...] = (1.0, 2.0)) -> dict[str, list[tuple[float, float]]]:
        """Profile-likelihood intervals from ``lmfit.conf_interval`` (a cross-check for the bootstrap).

        The objective is handed to lmfit as pseudo-residuals sign(r) sqrt(2 w rho(r)), whose sum of squares
        is twice the fit's objective, so lmfit minimises exactly the same function; its F-test
        calibration assumes Gaussian errors, which is why this is a cross-check and not the headline.
        Returns ``{name: [(sigma_prob, value), ...]}`` as lmfit does.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> ci = fit.profile_intervals(sigmas=(1.0,))
        >>> [(round(float(p), 4), round(float(v), 2)) for p, v in ci["alpha"]]
        [(0.6827, 0.3), (0.0, 0.32), (0.6827, 0.33)]
        """
        import lmfit

        data = self.data
        log_loss = np.log(self.runs.loss)

        def residual(p):
            vec = np.array([p[k].value for k in self.law.param_names])
            r = self.law.log_predict(vec, data) - log_loss
            return np.sign(r) * np.sqrt(2.0 * self.weights * self.objective.rho(r))

        minimizer = lmfit.Minimizer(residual, self.to_lmfit())
        result = minimizer.minimize(method="leastsq", xtol=1e-12, ftol=1e-12)
        return lmfit.conf_interval(minimizer, result, sigmas=list(sigmas))


def fit(runs: RunTable | pd.DataFrame | str, law: str | Law = DEFAULT_LAW, objective: str = "huber",
        delta: float | str | None = None, method: str = "auto", weights: np.ndarray | None = None,
        n_starts: int = solver.N_POLISH, grid_points: int | None = None, spec: FitSpec | None = None) -> Fit:
    """Fit a scaling law to runs by a global, reproducible optimisation.

    The fitted parameters are in the law's units: loss in nats/token, N in parameters, D in tokens (Chinchilla:
    E in nats/token, exponents dimensionless).

    Parameters
    ----------
    runs:
        A RunTable, or anything :func:`scalefit.load_runs` accepts.
    law:
        A registered name (see :data:`scalefit.laws.LAWS`: the default E + A/N^alpha + B/D^beta, the same
        without E or with alpha = beta, Kaplan's joint law, single-variable power laws), an import path
        ``"module:attribute"`` (a Law or a function), or a :class:`scalefit.laws.Law` instance.
    objective:
        ``"huber"`` (on log residuals, summed) or ``"ls"`` (least squares on log residuals), or
        ``"hoffmann"`` = Huber with delta=1e-3 as in Hoffmann et al. 2022 and Besiroglu et al. 2024.
    delta:
        Huber threshold on log residuals. ``None``/``"auto"`` (default): 1.345 x the MAD-estimated sd of
        the residuals of a first-pass least-squares fit. ``"hoffmann"``: 1e-3. Or a number.
    method:
        ``"auto"`` (default): variable projection (grid with the linear coefficients solved exactly, then a
        batched Levenberg-Marquardt polish) when the law is separable after fixing and tying, else the
        general solver (multi-start grid + gradient polish). ``"varpro"``, ``"general"``, or
        ``"hoffmann-grid"``: L-BFGS-B from Hoffmann et al.'s 4,500 starts (slow; for replication).
    weights:
        Per-run weights (n,); default: the table's ``weight`` column, else 1.
    spec:
        A :class:`scalefit.FitSpec` (e.g. ``other_fit.spec``) to fit exactly as it says, instead of ``law``,
        ``objective``, ``delta``, ``method``, ``n_starts`` and ``grid_points``.

    Examples
    --------
    >>> runs = scalefit.datasets.load("example_chinchilla")
    >>> fit = scalefit.fit(runs)
    >>> print(f"E = {fit.params['E']:.2f} nats/token, alpha = {fit.params['alpha']:.2f}")
    E = 1.67 nats/token, alpha = 0.32
    >>> kaplan = scalefit.fit(runs, law="kaplan")
    >>> kaplan.law.name, kaplan.status
    ('kaplan', 'identified')
    """
    if spec is None:
        spec = FitSpec.make(law, objective, delta, method, n_starts, grid_points)
    return fit_spec(spec, runs, weights)


def fit_spec(spec: FitSpec, runs: RunTable | pd.DataFrame | str, weights: np.ndarray | None = None) -> Fit:
    """Run a :class:`FitSpec` on runs: the one place a law is fitted."""
    started = time.perf_counter()
    table = runs if isinstance(runs, RunTable) else load_runs(runs)
    the_law = spec.law
    missing = [c for c in the_law.inputs if c not in table.df]
    if missing:
        raise DataError(f"{table.provenance['source']}: the {the_law.name} law needs columns {missing}")
    w = np.asarray(weights if weights is not None else
                   (table.weights if table.weights is not None else np.ones(len(table))), dtype=float)
    if w.shape != (len(table),):
        raise ValueError(f"weights must have shape ({len(table)},), not {w.shape}")
    n_params = len(the_law.free_names)
    design_warnings = check_design(table, the_law)
    if len(table) <= n_params:
        raise FitError(f"{len(table)} runs cannot determine the {n_params} parameters of the {the_law.name} law; "
                       "add runs (several model sizes, several token counts each)")
    data = {c: table.df[c].to_numpy(float) for c in the_law.inputs}
    the_objective, delta_source, first_pass = spec.choose_objective(data, table.loss, w)
    engine = spec.engine
    problem = engine.problem(data, table.loss, the_objective, w)
    solve_method = "hoffmann-grid" if spec.method == "hoffmann-grid" else engine.kind
    solution = engine.solve(problem, spec.n_starts, spec.grid_points, extra_starts=first_pass, method=solve_method)
    method_text = engine.describe(spec.n_starts, spec.grid_points, first_pass is not None, solve_method)
    params = the_law.params_dict(engine.public(problem, solution.z))
    diagnostics, messages = _diagnose(engine, problem, solution, the_law)
    messages = design_warnings + messages
    for message in messages:
        category = ConvergenceWarning if "converge" in message else ScalefitWarning
        warnings.warn(message, category, stacklevel=3)
    return Fit(law=the_law, params=params, objective=the_objective, delta_source=delta_source,
               method=method_text, solution=solution, runs=table, weights=w, diagnostics=diagnostics,
               warnings=tuple(messages), seconds=time.perf_counter() - started, spec=spec)


MIN_DISTINCT = 3  # fewer distinct values of an input than this: its exponent rests on one or two points


def check_design(table: RunTable, law: Law) -> list[str]:
    """Can this design separate the law's inputs at all? FitError when it cannot, warnings when barely.

    Checked before solving, for every positive input the law uses (N, D, ...): one distinct value is an
    error (the input's term is a constant, inseparable from E); inputs that move together in every run
    (e.g. D proportional to N: the rank of the (1, log N, log D) design is 2) are an error; fewer than
    ``MIN_DISTINCT`` distinct values is a warning.
    """
    inputs = [c for c in law.inputs if c in table.df]
    where = table.provenance.get("source", "the runs")
    columns = {c: table.df[c].to_numpy(float) for c in inputs}
    messages = []
    for c, x in columns.items():
        distinct = np.unique(x)
        if len(distinct) == 1:
            raise FitError(f"{where}: every run has the same {c} = {distinct[0]:.4g}, so the law's dependence on {c} "
                           f"cannot be separated from its constant; add runs at other values of {c} (at least "
                           f"{MIN_DISTINCT}), or keep {c} fixed and fit a law without it")
        if len(distinct) < MIN_DISTINCT:
            messages.append(f"only {len(distinct)} distinct values of {c} ({', '.join(f'{v:.3g}' for v in distinct)}):"
                            f" the exponent of {c} rests on {len(distinct)} points and is barely identified; add "
                            f"runs at more values of {c}")
    logs = [np.log(x) for x in columns.values() if np.all(x > 0)]
    if len(logs) >= 2:
        design = np.column_stack([np.ones(len(table)), *logs])
        design = design / np.linalg.norm(design, axis=0)
        singular = np.linalg.svd(design, compute_uv=False)
        if singular[-1] < 1e-8 * singular[0]:
            names = [c for c, x in columns.items() if np.all(x > 0)]
            ratio = ""
            if names[:2] == ["N", "D"]:
                ratio = f" (tokens per parameter D/N = {np.median(columns['D'] / columns['N']):.3g} in every run)"
            raise FitError(f"{where}: {' and '.join(names)} move together in every run{ratio}, so the law cannot tell "
                           f"their effects apart; add runs that vary {names[-1]} at a fixed {names[0]} (e.g. several "
                           "token counts per model size)")
    return messages


def _diagnose(engine, problem, solution: solver.Solution, law: Law) -> tuple[dict[str, Any], list[str]]:
    """Diagnostics dict and the warnings a user must see."""
    z = solution.z
    jac, absent = engine.jacobian(problem, z)
    r = engine.log_residuals(problem, z)
    curvature = problem.weights * problem.objective.curvature(r)
    hess = jac.T @ (jac * curvature[:, None])
    with np.errstate(all="ignore"):
        cond = float(np.linalg.cond(hess))
        cov = np.linalg.pinv(hess)
        sd = np.sqrt(np.clip(np.diag(cov), 0, None))
        corr = cov / np.outer(sd, sd)
    internal = engine.internal_names()
    names = [n.removeprefix("log ") for n in internal]
    shares = engine.max_share(problem, z)
    messages = []
    if not solution.converged:
        messages.append(f"the optimizer did not converge ({solution.message}; max |gradient| "
                        f"{solution.grad_norm:.3g}); the parameters cannot be trusted")
    for name in absent:
        term = "the irreducible loss E" if name == "E" else f"the term with coefficient {name}"
        messages.append(f"{term} is negligible everywhere in the data ({name} -> 0, largest share of the "
                        f"predicted loss {shares[name]:.2g}): the law reduces to fewer terms "
                        "and the exponents that go with it are not identified")
    specs = {sp.name: sp for sp in law.specs}
    limits = {n: specs[n].bounds for n in names}
    grid_names = engine.grid_names()
    nonlinear_at_limit = [n for n in solution.at_bounds if n in grid_names or not specs[n].linear]
    for name in nonlinear_at_limit:
        messages.append(f"{name} is at its hard limit {limits[name]}")
    for j, at_edge in enumerate(solution.grid_edge):
        name = grid_names[j]
        if at_edge and name not in nonlinear_at_limit:
            messages.append(f"{name} is at the edge of the searched grid {solution.grid_range[j]} after widening")
    if cond > ILL_CONDITIONED and not absent:
        messages.append(f"the fit is ill-conditioned (condition number {cond:.3g}): some parameters are not "
                        "separately identified by these data")
    diagnostics = {
        "converged": solution.converged, "message": solution.message, "objective_value": solution.value,
        "grad_norm": solution.grad_norm, "iterations": solution.n_iter,
        "starts": solution.starts, "starts_at_optimum": solution.starts_at_optimum,
        "start_values": solution.start_values.tolist(),
        "grid_names": list(grid_names),
        "grid_range": [list(r) for r in solution.grid_range], "grid_edge": list(solution.grid_edge),
        "at_bounds": list(solution.at_bounds), "negligible_terms": absent,
        "degenerate": list(getattr(solution, "degenerate", ())),
        "condition_number": cond,
        "correlations": {a: {b: float(corr[i, j]) for j, b in enumerate(names)} for i, a in enumerate(names)},
        "internal_parametrisation": internal,
        "free_parameters": list(law.free_names),
        "n_runs": int(problem.log_loss.size),
    }
    messages += [f"the design cannot identify the law: {why.replace(' by the resampled rows', '')}"
                 for why in getattr(solution, "degenerate", ())]
    return diagnostics, messages

