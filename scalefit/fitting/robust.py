"""Robust restarts: what keeps a few corrupted runs (a diverged run, loss x10 or /10) from moving the fit.

Measured (benchmarks/bench_robustness.py) on synthetic sweeps of 40 runs, two ways a few bad runs broke the
default fit, each repaired here without changing any fit on clean data:

1. **The automatic Huber delta came from a contaminated first pass.** Delta is 1.345 x the MAD-sd of the
   residuals of a first-pass least-squares fit; one run at x10 pulls that fit so far that delta grew ~25x
   (0.1 instead of 0.005), the Huber objective became nearly least squares, and alpha moved 10-25%. Rule:
   when the MAD-sd of the residuals of the Huber fit, or of one of the fits of rule 2, is below
   ``CONTAMINATED_RATIO`` x that of the first pass (measured ratio on clean data: 0.77-1.19 over 30 synthetic
   sweeps; 0.97 on the bundled example, 0.88 on Epoch AI's Chinchilla runs, 0.84 on colpret_opt), delta
   is re-estimated from those residuals and the fit repeated (at most ``MAX_ROUNDS`` rounds);
   ``delta_source`` says so.
2. **The global search started from a contaminated grid.** The variable-projection grid solves each cell's
   linear coefficients by relative least squares, which one run at /10 dominates (its relative residual is
   9); every cell was then far from the optimum and the polish stopped at a degenerate point (E -> 0) with
   twice the objective value of the true optimum. Rule: when runs are flagged by
   :func:`scalefit.fitting.outliers.flag_outliers`, a new global solve on **every** run gets two more starts:
   the optimum of a near-L1 Huber objective (delta = min(delta, 1e-3); automatic delta only) on every run,
   which sees runs a near-least-squares fit bent to, and the optimum of the same objective on the runs that
   neither fit flags. The lower optimum wins.

The fit stays the optimum of its objective on every run: the flagged runs are never dropped, only a start
comes from the runs without them. Bootstrap replicates do not come through here (they start from the fit).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .. import solver
from ..core.errors import ScalefitError
from ..solver import objective as obj
from .outliers import flag_outliers

CONTAMINATED_RATIO = 0.5  # Huber-fit MAD-sd below this x the first pass's: re-estimate delta
MAX_ROUNDS = 3
BETTER_RTOL = 1e-9  # a restart must lower the objective by more than this (relative) to be taken


@dataclass
class Solved:
    """A problem and its solution, with the objective and how its delta was chosen."""

    objective: obj.Objective
    delta_source: str
    problem: Any
    solution: Any


def robust_restarts(spec, engine, data: dict[str, np.ndarray], loss: np.ndarray, weights: np.ndarray,
                    current: Solved, solve_method: str) -> tuple[Solved, dict[str, Any]]:
    """Apply the module's two rules to a solved fit; returns the (possibly better) result and a record.

    ``data`` {input: (n,)}, ``loss`` (n,) in nats/token, ``weights`` (n,). The record (``diagnostics
    ["robust_restarts"]``) has ``rounds``, ``restarted`` (a start from the unflagged runs found a lower
    optimum), ``delta_first_pass`` and ``delta`` (None for a fixed objective).
    """
    auto = spec.objective == "huber" and spec.delta in (None, "auto")
    record: dict[str, Any] = {"rounds": 0, "restarted": False,
                              "delta_first_pass": current.objective.delta if auto else None, "delta": None}
    if solve_method == "hoffmann-grid":  # the replication reference: its 4,500 starts exactly as published
        return current, record
    n_free = len(spec.law.free_names)
    for _ in range(MAX_ROUNDS):
        r = engine.log_residuals(current.problem, current.solution.z)
        flags = flag_outliers(r)
        starts, scales, mask = [current.solution.z], [r], flags.mask
        if flags.any and auto:  # a near-L1 probe on every run: sees runs a near-least-squares fit bent to
            probe_objective = obj.Objective("huber", min(current.objective.delta, obj.HOFFMANN_DELTA))
            probe = engine.solve(engine.problem(data, loss, probe_objective, weights), spec.n_starts,
                                 spec.grid_points, extra_starts=current.solution.z[None, :], method=solve_method)
            starts.append(probe.z)
            scales.append(engine.log_residuals(current.problem, probe.z))
            mask = mask | flag_outliers(scales[-1]).mask
        keep = ~mask
        if mask.any() and keep.sum() > n_free:
            sub = engine.problem({k: v[keep] for k, v in data.items()}, loss[keep], current.objective,
                                 weights[keep])
            try:
                z_sub = engine.solve(sub, spec.n_starts, spec.grid_points, method=solve_method).z
            except (ScalefitError, ValueError, np.linalg.LinAlgError):  # no usable start: keep the others
                z_sub = None
            if z_sub is not None:
                starts.append(z_sub)
                scales.append(engine.log_residuals(current.problem, z_sub))
        objective = current.objective
        if auto:
            deltas = [obj.robust_delta(x) for x in scales if np.all(np.isfinite(x))]
            if deltas and min(deltas) < CONTAMINATED_RATIO * objective.delta:
                objective = obj.Objective("huber", min(deltas))
        if not flags.any and objective is current.objective:
            break
        record["rounds"] += 1
        problem = current.problem if objective is current.objective else \
            engine.problem(data, loss, objective, weights)
        candidate = _edge_of_optimum(engine, problem, spec, engine.solve(
            problem, spec.n_starts, spec.grid_points, extra_starts=np.vstack(starts), method=solve_method))
        if objective is not current.objective:
            source = (f"automatic: 1.345 x MAD-sd of robust-fit residuals ({objective.delta:.3g}); the "
                      f"first-pass least-squares residuals gave {record['delta_first_pass']:.3g}, pulled by runs "
                      "far from the law")
            current = Solved(objective, source, problem, candidate)
            record["delta"] = objective.delta
        elif candidate.value < current.solution.value * (1 - BETTER_RTOL):
            current = Solved(current.objective, current.delta_source, problem, candidate)
            record["restarted"] = True
        else:
            break
    return current, record


def _edge_of_optimum(engine, problem, spec, solution):
    """A restart's solution with ``grid_edge`` kept only where the optimum itself lies in the grid's edge cell.

    The restarts polish starts from other fits beside the grid's cells; the grid (whose cells' coefficients the
    corrupted runs still dominate) may put its best cell on an edge while the optimum found lies well inside,
    and "at the edge of the searched grid" would then be a false warning. Variable projection only (the
    general solver's grid axes are not the z columns).
    """
    if engine.kind != "varpro" or not any(solution.grid_edge):
        return solution
    theta = np.asarray(solution.z)[engine.nonlinear_columns(problem)]
    points = spec.grid_points or solver.GRID_POINTS
    edge = []
    for value, (lo, hi), flagged in zip(theta, solution.grid_range, solution.grid_edge, strict=True):
        step = (hi / lo) ** (1.0 / (points - 1)) if lo > 0 and hi > lo else 1.0
        edge.append(bool(flagged and (value <= lo * step or value >= hi / step)))
    return replace(solution, grid_edge=tuple(edge))
