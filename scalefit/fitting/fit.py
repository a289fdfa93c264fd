"""fit() and fit_spec(): runs -> FitSpec -> solver -> a :class:`~scalefit.fitting.result.Fit`.

The Fit class lives in :mod:`scalefit.fitting.result`, the design check and diagnostics in
:mod:`scalefit.fitting.diagnose`; both are re-exported here.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd

from .. import solver
from ..core.errors import ConvergenceWarning, DataError, FitError, OutlierWarning, ScalefitWarning
from ..data.runs import RunTable, load_runs
from ..laws import DEFAULT_LAW, Law
from . import outliers
from .diagnose import ILL_CONDITIONED, MIN_DISTINCT, _diagnose, check_design  # noqa: F401 (re-exported)
from .result import Fit
from .robust import Solved, robust_restarts
from .spec import FitSpec


def fit(runs: RunTable | pd.DataFrame | str, law: str | Law = DEFAULT_LAW, objective: str = "huber",
        delta: float | str | None = None, method: str = "auto", weights: np.ndarray | None = None,
        n_starts: int = solver.N_POLISH, grid_points: int | None = None, spec: FitSpec | None = None,
        check_outliers: bool = True) -> Fit:
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
    check_outliers:
        Name runs far from the law in an :class:`~scalefit.core.errors.OutlierWarning` (rule:
        :mod:`scalefit.fitting.outliers`; ``fit.diagnostics["outliers"]``). Never drops a run. Internal refits
        on subsets of the same runs (held-out check, backtest) pass False: the fit on every run reports them.

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
    return fit_spec(spec, runs, weights, check_outliers=check_outliers)


def fit_spec(spec: FitSpec, runs: RunTable | pd.DataFrame | str, weights: np.ndarray | None = None, *,
             check_outliers: bool = True) -> Fit:
    """Run a :class:`FitSpec` on runs: the one place a law is fitted.

    After the global solve, the robust restarts of :mod:`scalefit.fitting.robust` (a few runs far from the law
    must not move it), then, when ``check_outliers``, the outlier rule of :mod:`scalefit.fitting.outliers`:
    flagged runs are named in an :class:`~scalefit.core.errors.OutlierWarning` with what one refit without
    them gives (that refit does not check again); the fit returned always uses every run.
    """
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
    solved, restarts = robust_restarts(spec, engine, data, table.loss, w,
                                       Solved(the_objective, delta_source, problem, solution), solve_method)
    the_objective, delta_source, problem, solution = solved.objective, solved.delta_source, solved.problem, \
        solved.solution
    method_text = engine.describe(spec.n_starts, spec.grid_points, first_pass is not None, solve_method)
    params = the_law.params_dict(engine.public(problem, solution.z))
    diagnostics, messages = _diagnose(engine, problem, solution, the_law)
    diagnostics["robust_restarts"] = restarts
    messages = design_warnings + messages
    outlier_message = None
    if check_outliers:
        found, outlier_message = outliers.check_outliers(
            table, the_law, params, engine.log_residuals(problem, solution.z),
            lambda subset, w_subset: _quiet_refit(spec, subset, w_subset), w,
            leverage=outliers.leverages(engine, problem, solution.z))
        diagnostics.update(found)
    for message in messages:
        category = ConvergenceWarning if "converge" in message else ScalefitWarning
        warnings.warn(message, category, stacklevel=3)
    if outlier_message:
        warnings.warn(outlier_message, OutlierWarning, stacklevel=3)
        messages.append(outlier_message)
    return Fit(law=the_law, params=params, objective=the_objective, delta_source=delta_source,
               method=method_text, solution=solution, runs=table, weights=w, diagnostics=diagnostics,
               warnings=tuple(messages), seconds=time.perf_counter() - started, spec=spec)


def _quiet_refit(spec: FitSpec, runs: RunTable, weights: np.ndarray) -> Fit:
    """The same spec on other runs, without the outlier check and without repeating its warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScalefitWarning)
        return fit_spec(spec, runs, weights, check_outliers=False)
