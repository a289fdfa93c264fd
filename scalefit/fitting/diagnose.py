"""Checks around a fit: can the design separate the law's inputs (before solving), and the diagnostics and
warnings of a solution (after solving)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import solver
from ..core.errors import FitError
from ..data.runs import RunTable
from ..laws import Law

ILL_CONDITIONED = 1e12


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
