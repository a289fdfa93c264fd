"""fit() and the Fit result: runs -> solver -> parameters, derived quantities and diagnostics."""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import allocation, solver
from . import objective as obj
from .errors import ConvergenceWarning, DataError, FitError, ScalefitWarning
from .formatting import num
from .laws import Law, get_law
from .laws.chinchilla import compute_optimal
from .runs import RunTable, load_runs

NEGLIGIBLE_SHARE = 1e-4  # a term contributing less than this fraction of every prediction is "absent"
ILL_CONDITIONED = 1e12


@dataclass(frozen=True)
class Fit:
    """A fitted law. Immutable; every number at full precision (round only when printing).

    Attributes: ``law``, ``params`` (public parameters, e.g. E, A, B, alpha, beta), ``objective``,
    ``delta_source`` (how the Huber delta was chosen), ``method``, ``solution`` (the solver's record),
    ``runs`` (the RunTable fitted), ``diagnostics`` and ``warnings`` (text a user must see).
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

    # -- predictions ---------------------------------------------------------------------------------
    def predict(self, N: np.ndarray | float, D: np.ndarray | float,
                threshold: float | None = allocation.EXTRAPOLATION_THRESHOLD) -> np.ndarray:
        """Predicted loss (nats/token) at parameters N and tokens D (broadcast together).

        Warns (ExtrapolationWarning) when N, D or 6ND exceeds ``threshold`` x the largest in the data
        (None: never); :meth:`extrapolation` gives the distances themselves.
        """
        n, d = np.broadcast_arrays(np.asarray(N, dtype=float), np.asarray(D, dtype=float))
        allocation.warn_if_far(self.extrapolation(n, d)["distance"], threshold)
        flat = self.law.predict(self.param_vector, {"N": n.ravel(), "D": d.ravel()})
        return flat.reshape(n.shape)

    def extrapolation(self, N, D) -> dict[str, np.ndarray]:
        """{N_ratio, D_ratio, C_ratio, distance}: each point's N, D, 6ND over the largest in the data."""
        return allocation.extrapolation_distance(self.data_maxima, N, D)

    @property
    def data_maxima(self) -> dict[str, float]:
        """Largest N, D and C = 6ND among the fitted runs."""
        return allocation.data_maxima(self.runs.N, self.runs.D)

    @property
    def param_vector(self) -> np.ndarray:
        return np.array([self.params[k] for k in self.law.param_names])

    @property
    def fitted(self) -> np.ndarray:
        """Predicted loss at every run, shape (n,)."""
        return self.predict(self.runs.N, self.runs.D, threshold=None)

    @property
    def residuals(self) -> np.ndarray:
        """Log residuals log(predicted) - log(observed), shape (n,)."""
        return np.log(self.fitted) - np.log(self.runs.loss)

    # -- derived quantities --------------------------------------------------------------------------
    @property
    def derived(self) -> dict[str, float]:
        """a = beta/(alpha+beta), b = alpha/(alpha+beta), G (see Chinchilla.derived)."""
        return self.law.derived(self.params)

    def optimal(self, compute: np.ndarray | float) -> dict[str, np.ndarray]:
        """Compute-optimal N_opt, D_opt, tokens_per_param and L_opt at compute C (FLOPs, C = 6ND)."""
        self._require_chinchilla("compute-optimal allocation")
        return compute_optimal(self.params, compute)

    def compute_for_loss(self, target_loss) -> dict[str, np.ndarray]:
        """The cheapest training run reaching ``target_loss``: {C, N_opt, D_opt, tokens_per_param, L_opt}."""
        self._require_chinchilla("the compute for a target loss")
        return allocation.allocation_for_loss(self.params, target_loss)

    def frontier(self, compute) -> pd.DataFrame:
        """Compute-optimal frontier over an array of compute C (FLOPs)."""
        self._require_chinchilla("the compute-optimal frontier")
        return allocation.frontier(self.params, compute)

    def plan(self, target_loss: float | None = None, inference_tokens: float = 0.0, compute: float | None = None,
             hardware: allocation.Hardware | None = None) -> allocation.Plan:
        """Inference-aware plan (Sardana et al. 2023) for a target loss, or for the loss that the
        Chinchilla-optimal run at training budget ``compute`` reaches; see :func:`allocation.plan`."""
        self._require_chinchilla("inference-aware planning")
        return allocation.plan(self.params, allocation.plan_target(self.params, target_loss, compute),
                               inference_tokens, hardware)

    def regimes(self, band: float = allocation.REGIME_BAND) -> pd.DataFrame:
        """Regime of every run (under-trained / near compute-optimal / over-trained) at its own compute."""
        self._require_chinchilla("regimes")
        table = allocation.regime(self.params, self.runs.N, self.runs.D, band)
        table.insert(0, "group", self.runs.groups)
        return table

    def n_opt(self, compute):
        return self.optimal(compute)["N_opt"]

    def d_opt(self, compute):
        return self.optimal(compute)["D_opt"]

    def tokens_per_param(self, compute):
        return self.optimal(compute)["tokens_per_param"]

    def loss_opt(self, compute):
        return self.optimal(compute)["L_opt"]

    def _require_chinchilla(self, what: str) -> None:
        if self.law.name != "chinchilla":
            raise FitError(f"{what} is defined for the chinchilla law, not {self.law.name!r}")

    # -- uncertainty ---------------------------------------------------------------------------------
    def bootstrap(self, *args: Any, **kwargs: Any):
        """Bootstrapped uncertainty; see :func:`scalefit.bootstrap.bootstrap`."""
        from .bootstrap import bootstrap

        return bootstrap(self, *args, **kwargs)

    # -- output --------------------------------------------------------------------------------------
    @property
    def identification(self):
        """Whether the data identify every parameter: :class:`scalefit.identify.Identifiability`
        (judged from starts, condition number, vanishing terms; add a bootstrap with
        :func:`scalefit.identify.identifiability` to judge its intervals too)."""
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
        """A table a researcher can paste into a paper, then diagnostics and warnings."""
        lines = [f"scalefit fit: L(N, D) = {self.law.formula}   [{self.status}]",
                 f"  data: {len(self.runs)} runs, {self.runs.n_groups} groups ({self.runs.provenance['source']})",
                 f"  objective: {self.objective.describe()} ({self.delta_source}), summed over runs",
                 f"  method: {self.method}; objective value {self.solution.value:.10g}", "",
                 f"  {'parameter':<12}{'estimate':>16}"]
        for name in self.law.param_names:
            lines.append(f"  {name:<12}{self.params[name]:>16.6g}")
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
        """JSON-safe record of the fit (parameters at full precision)."""
        return _json_safe({
            "law": self.law.name, "formula": self.law.formula, "params": self.params,
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
                         "grid_edge": self.solution.grid_edge, "at_bounds": self.solution.at_bounds},
        })

    @classmethod
    def from_dict(cls, record: Mapping[str, Any], runs: RunTable) -> Fit:
        """Rebuild a Fit from :meth:`to_dict` and the runs it was fitted on, without refitting."""
        sol = record["solution"]
        solution = solver.Solution(
            z=np.asarray(sol["z"], dtype=float), value=float(sol["value"]), grad=np.asarray(sol["grad"], dtype=float),
            converged=bool(sol["converged"]), message=sol["message"], n_iter=int(sol["n_iter"]),
            n_evaluations=int(sol["n_evaluations"]), starts=int(sol["starts"]),
            starts_at_optimum=int(sol["starts_at_optimum"]), start_values=np.asarray(sol["start_values"], dtype=float),
            grid_range=tuple(tuple(float(v) for v in r) for r in sol["grid_range"]),
            grid_edge=tuple(bool(v) for v in sol["grid_edge"]), at_bounds=tuple(sol["at_bounds"]))
        objective = record["objective"]
        the_objective = obj.Objective("ls") if objective["kind"] == "ls" else \
            obj.Objective("huber", float(objective["delta"]))
        return cls(law=get_law(record["law"]), params={k: float(v) for k, v in record["params"].items()},
                   objective=the_objective, delta_source=objective["delta_source"], method=record["method"],
                   solution=solution, runs=runs, weights=np.asarray(record["weights"], dtype=float),
                   diagnostics=dict(record["diagnostics"]), warnings=tuple(record["warnings"]),
                   seconds=float(record["seconds"]))

    def to_frame(self) -> pd.DataFrame:
        """Parameters and derived quantities as a one-column DataFrame."""
        values = {**self.params, **self.derived}
        return pd.DataFrame({"estimate": values})

    def to_lmfit(self):
        """The fitted parameters as ``lmfit.Parameters`` (public names, solver bounds)."""
        import lmfit

        params = lmfit.Parameters()
        bounds = solver.LOG_COEF_BOUNDS
        for name in self.law.linear_names:
            params.add(name, value=self.params[name], min=float(np.exp(bounds[0])))
        for name, (lo, hi) in zip(self.law.nonlinear_names, self.law.nonlinear_limits, strict=True):
            params.add(name, value=self.params[name], min=lo, max=hi)
        return params

    def profile_intervals(self, sigmas: tuple[float, ...] = (1.0, 2.0)) -> dict[str, list[tuple[float, float]]]:
        """Profile-likelihood intervals from ``lmfit.conf_interval`` (a cross-check for the bootstrap).

        The objective is handed to lmfit as pseudo-residuals sign(r) sqrt(2 w rho(r)), whose sum of squares
        is twice the fit's objective, so lmfit minimises exactly the same function; its F-test
        calibration assumes Gaussian errors, which is why this is a cross-check and not the headline.
        Returns ``{name: [(sigma_prob, value), ...]}`` as lmfit does.
        """
        import lmfit

        features = self.law.features({"N": self.runs.N, "D": self.runs.D})
        log_loss = np.log(self.runs.loss)

        def residual(p):
            vec = np.array([p[k].value for k in self.law.param_names])
            coef, theta = self.law.split(vec)
            pred = np.log(np.einsum("k,kn->n", coef, np.exp(self.law.log_basis(theta, features))))
            r = pred - log_loss
            return np.sign(r) * np.sqrt(2.0 * self.weights * self.objective.rho(r))

        minimizer = lmfit.Minimizer(residual, self.to_lmfit())
        result = minimizer.minimize(method="leastsq", xtol=1e-12, ftol=1e-12)
        return lmfit.conf_interval(minimizer, result, sigmas=list(sigmas))


def fit(runs: RunTable | pd.DataFrame | str, law: str | Law = "chinchilla", objective: str = "huber",
        delta: float | str | None = None, method: str = "varpro", weights: np.ndarray | None = None,
        n_starts: int = solver.N_POLISH, grid_points: int = solver.GRID_POINTS) -> Fit:
    """Fit a scaling law to runs by a global, reproducible optimisation.

    Parameters
    ----------
    runs:
        A RunTable, or anything :func:`scalefit.load_runs` accepts.
    law:
        ``"chinchilla"`` (E + A/N^alpha + B/D^beta) or a :class:`scalefit.laws.Law` instance.
    objective:
        ``"huber"`` (on log residuals, summed) or ``"ls"`` (least squares on log residuals), or
        ``"hoffmann"`` = Huber with delta=1e-3 as in Hoffmann et al. 2022 and Besiroglu et al. 2024.
    delta:
        Huber threshold on log residuals. ``None``/``"auto"`` (default): 1.345 x the MAD-estimated sd of
        the residuals of a first-pass least-squares fit. ``"hoffmann"``: 1e-3. Or a number.
    method:
        ``"varpro"`` (default): variable-projection grid + batched Levenberg-Marquardt polish.
        ``"hoffmann-grid"``: L-BFGS-B from Hoffmann et al.'s 4,500 starts (slow; for replication).
    weights:
        Per-run weights (n,); default: the table's ``weight`` column, else 1.
    """
    started = time.perf_counter()
    table = runs if isinstance(runs, RunTable) else load_runs(runs)
    the_law = get_law(law)
    missing = [c for c in the_law.inputs if c not in table.df]
    if missing:
        raise DataError(f"{table.provenance['source']}: the {the_law.name} law needs columns {missing}")
    w = np.asarray(weights if weights is not None else
                   (table.weights if table.weights is not None else np.ones(len(table))), dtype=float)
    if w.shape != (len(table),):
        raise ValueError(f"weights must have shape ({len(table)},), not {w.shape}")
    n_params = len(the_law.param_names)
    design_warnings = check_design(table, the_law)
    if len(table) <= n_params:
        raise FitError(f"{len(table)} runs cannot determine the {n_params} parameters of the {the_law.name} law; "
                       "add runs (several model sizes, several token counts each)")
    data = {c: table.df[c].to_numpy(float) for c in the_law.inputs}
    the_objective, delta_source, first_pass = _choose_objective(the_law, data, table.loss, w, objective, delta,
                                                                grid_points)
    problem = solver.Problem.build(the_law, data, table.loss, the_objective, w)
    if method == "varpro":
        solution = solver.solve(problem, n_polish=n_starts, points=grid_points, extra_starts=first_pass)
        method_text = (f"variable-projection grid ({grid_points}^{len(the_law.nonlinear_names)} cells) + "
                       f"Levenberg-Marquardt polish of the {n_starts} best separated cells"
                       + (" and the first-pass optimum" if first_pass is not None else ""))
    elif method == "hoffmann-grid":
        solution = solver.solve_hoffmann_grid(problem)
        method_text = "L-BFGS-B from each of Hoffmann et al.'s 4,500 starts (reference)"
    else:
        raise ValueError(f"method must be 'varpro' or 'hoffmann-grid', not {method!r}")
    coef, theta = np.exp(solution.z[: problem.n_linear]), solution.z[problem.n_linear:]
    params = the_law.params_dict(np.concatenate([coef, theta]))
    diagnostics, messages = _diagnose(problem, solution, the_law, data)
    messages = design_warnings + messages
    for message in messages:
        category = ConvergenceWarning if "converge" in message else ScalefitWarning
        warnings.warn(message, category, stacklevel=2)
    return Fit(law=the_law, params=params, objective=the_objective, delta_source=delta_source,
               method=method_text, solution=solution, runs=table, weights=w, diagnostics=diagnostics,
               warnings=tuple(messages), seconds=time.perf_counter() - started)


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


def _choose_objective(law, data, loss, weights, objective, delta, grid_points):
    if objective == "hoffmann" or delta == "hoffmann":
        return obj.Objective("huber", obj.HOFFMANN_DELTA), "delta=1e-3 preset of Hoffmann et al. 2022", None
    if objective == "ls":
        return obj.Objective("ls"), "least squares", None
    if objective != "huber":
        raise ValueError(f"objective must be 'huber', 'hoffmann' or 'ls', not {objective!r}")
    if delta is None or delta == "auto":
        problem = solver.Problem.build(law, data, loss, obj.Objective("ls"), weights)
        first = solver.solve(problem, points=grid_points)
        log_pred, _ = obj.log_predict(law, first.z, problem.features)
        value = obj.robust_delta(log_pred - problem.log_loss)
        source = "automatic: 1.345 x MAD-sd of first-pass least-squares residuals"
        if value <= obj.MIN_AUTO_DELTA:
            source += f" (floored at {obj.MIN_AUTO_DELTA:g})"
        return obj.Objective("huber", value), source, first.z[None, :]
    return obj.Objective("huber", float(delta)), "given", None


def _diagnose(problem: solver.Problem, solution: solver.Solution, law: Law,
              data: Mapping[str, np.ndarray]) -> tuple[dict[str, Any], list[str]]:
    """Diagnostics dict and the warnings a user must see."""
    z = solution.z
    k = problem.n_linear
    log_pred, share = obj.log_predict(law, z, problem.features)
    jac = obj.residual_jacobian(share, law.log_basis_jacobian(z[k:], problem.features))
    r = log_pred - problem.log_loss
    curvature = problem.weights * problem.objective.curvature(r)
    hess = jac.T @ (jac * curvature[:, None])
    with np.errstate(all="ignore"):
        cond = float(np.linalg.cond(hess))
        cov = np.linalg.pinv(hess)
        sd = np.sqrt(np.clip(np.diag(cov), 0, None))
        corr = cov / np.outer(sd, sd)
    names = list(law.param_names)
    max_share = share.max(axis=-1)
    absent = [names[j] for j in range(k) if max_share[j] < NEGLIGIBLE_SHARE]
    messages = []
    if not solution.converged:
        messages.append(f"the optimizer did not converge ({solution.message}; max |gradient| "
                        f"{solution.grad_norm:.3g}); the parameters cannot be trusted")
    for name in absent:
        term = "the irreducible loss E" if name == "E" else f"the term with coefficient {name}"
        messages.append(f"{term} is negligible everywhere in the data ({name} -> 0, largest share of the "
                        f"predicted loss {max_share[names.index(name)]:.2g}): the law reduces to fewer terms "
                        "and the exponents that go with it are not identified")
    nonlinear_at_limit = [n for n in solution.at_bounds if n in law.nonlinear_names]
    for name in nonlinear_at_limit:
        messages.append(f"{name} is at its hard limit {law.nonlinear_limits[law.nonlinear_names.index(name)]}")
    for j, at_edge in enumerate(solution.grid_edge):
        name = law.nonlinear_names[j]
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
        "grid_range": [list(r) for r in solution.grid_range], "grid_edge": list(solution.grid_edge),
        "at_bounds": list(solution.at_bounds), "negligible_terms": absent,
        "condition_number": cond,
        "correlations": {a: {b: float(corr[i, j]) for j, b in enumerate(names)} for i, a in enumerate(names)},
        "internal_parametrisation": [f"log {n}" for n in law.linear_names] + list(law.nonlinear_names),
        "n_runs": int(problem.log_loss.size),
    }
    return diagnostics, messages


def _json_safe(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_json_safe(v) for v in value.tolist()]
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return v if np.isfinite(v) else str(v)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return value
