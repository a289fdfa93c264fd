"""Outlier runs: the stated rule that flags a run far outside the others' residual scale, and the warning that
names each flagged run with its values and what dropping the flagged runs would change.

The rule, on the log residuals r_i = log(predicted) - log(observed) of the fit on every run (``Fit.residuals``):

* center m = median(r), robust scale s = 1.4826 x median(|r - m|) (the MAD, scaled to the standard deviation
  of normal noise);
* run i is flagged when |r_i - m| > ``OUTLIER_K`` x s **and** |r_i - m| > ``MIN_OUTLIER_LOG``;
* a run of high leverage (:func:`leverages` above :func:`leverage_threshold`) is judged the same way by its
  deleted residual instead: the fit without it predicts it. A law can bend to one run at a corner of the
  design (a synthetic sweep with its smallest-D run x10: the Huber optimum on every run has beta = 6.3,
  B = 1e50, a term that matters at that run alone, so its own residual is ~0); the fit without it is off
  by 2.3 there.

``OUTLIER_K`` = 5: normal noise passes 5 sd once in ~1.7 million runs. ``MIN_OUTLIER_LOG`` = 0.1 (a run ~10%
away from the law): the worst well-run runs of real sweeps are closer (Epoch AI's reconstruction of the
Chinchilla runs, 240 after its recipe drops the 5 highest losses: largest |r - m| = 0.050, 10 robust sd), and
a near-perfect fit (s ~ 1e-6) must not turn rounding into alarms. A diverged run, a perplexity in the loss
column or a unit slip (loss x10 or /10: |r| ~ 2.3) is far beyond both.

Flagging never drops a run: the fit returned is the fit on every run. The warning states what one refit
without the flagged runs (same FitSpec, deterministic) gives, and how the user drops them (a row filter,
recorded in the provenance like every filter).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.errors import ScalefitError
from ..core.formatting import num
from ..data.runs import RunTable
from ..solver.objective import MAD_TO_SIGMA

OUTLIER_K = 5.0  # robust sd beyond the median residual
MIN_OUTLIER_LOG = 0.1  # and at least this far in log loss (~10%)
LEVERAGE_MIN = 0.5  # runs above max(this, LEVERAGE_FACTOR x p / n) leverage are judged by their deleted residual
LEVERAGE_FACTOR = 3.0
MAX_DELETED = 3  # leave-one-out refits at most (the highest-leverage runs first)
MAX_LISTED = 8  # runs named one by one in the warning (all are in diagnostics["outliers"])
RULE = (f"|log residual - median| > {OUTLIER_K:g} x robust sd (1.4826 x MAD) and > {MIN_OUTLIER_LOG:g}")


@dataclass(frozen=True)
class Flags:
    """The rule applied to log residuals (n,): ``mask`` (n,) of flagged runs, ``center`` (median log residual),
    ``scale`` (1.4826 x MAD, log units), ``z`` (n,) = (r - center) / scale (inf where scale is 0)."""

    mask: np.ndarray
    center: float
    scale: float
    z: np.ndarray

    @property
    def any(self) -> bool:
        return bool(self.mask.any())


def flag_outliers(log_residuals: np.ndarray) -> Flags:
    """Apply the module's rule to log residuals (n,); non-finite residuals are flagged.

    Examples
    --------
    >>> r = np.array([0.001, -0.002, 0.0, 0.003, -0.001, 2.3])
    >>> flags = flag_outliers(r)
    >>> flags.mask.tolist(), round(flags.scale, 4)
    ([False, False, False, False, False, True], 0.003)
    """
    r = np.asarray(log_residuals, dtype=float)
    finite = np.isfinite(r)
    center = float(np.median(r[finite])) if finite.any() else 0.0
    scale = float(MAD_TO_SIGMA * np.median(np.abs(r[finite] - center))) if finite.any() else 0.0
    distance = np.abs(r - center)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(scale > 0, (r - center) / scale, np.where(distance > 0, np.inf * np.sign(r - center), 0.0))
    mask = ~finite | ((distance > OUTLIER_K * scale) & (distance > MIN_OUTLIER_LOG))
    return Flags(mask=mask, center=center, scale=scale, z=z)


def _labels(table: RunTable, mask: np.ndarray) -> list[str]:
    if "row" in table.df:
        return [str(v) for v in table.df["row"].to_numpy()[mask]]
    return [f"position {i}" for i in np.flatnonzero(mask)]


def reported_names(law, params: dict[str, float]) -> list[str]:
    """The parameters a user reads first: the free exponents (nonlinear parameters), then E when free."""
    free = [sp for sp in law.specs if sp.free]
    names = [sp.name for sp in free if not sp.linear]
    return names + [sp.name for sp in free if sp.linear and sp.name == "E" and sp.name in params]


def leverages(engine, problem, z: np.ndarray) -> np.ndarray:
    """Leverage h_i (n,) of each run at the optimum z: the diagonal of the weighted hat matrix
    W J (J^T W J)^+ J^T, J = d log prediction / d z, W = weight x the M-estimator's IRLS weight
    (min(1, delta / |r|) for Huber, 1 for least squares). h_i near 1: the fit bends to run i by itself (e.g. a
    term whose exponent makes it matter at one corner of the design only), so its own residual says nothing."""
    jac, _ = engine.jacobian(problem, z)
    r = engine.log_residuals(problem, z)
    objective = problem.objective
    irls = np.minimum(1.0, objective.delta / np.maximum(np.abs(r), 1e-300)) if objective.kind == "huber" else 1.0
    w = problem.weights * irls
    with np.errstate(all="ignore"):
        inverse = np.linalg.pinv(jac.T @ (jac * w[:, None]))
        h = w * np.einsum("ij,jk,ik->i", jac, inverse, jac)
    return np.where(np.isfinite(h), np.clip(h, 0.0, 1.0), 0.0)


def leverage_threshold(n_runs: int, n_params: int) -> float:
    """Leverage above which a run is judged by its deleted residual: max(0.5, 3 p / n) (mean leverage is p/n;
    on the 40-run synthetic sweeps the largest is ~0.4)."""
    return max(LEVERAGE_MIN, LEVERAGE_FACTOR * n_params / max(n_runs, 1))


def _deleted_residuals(table: RunTable, law, weights: np.ndarray, candidates: np.ndarray,
                       refit: Callable[[RunTable, np.ndarray], Any]) -> dict[int, float]:
    """{run: log residual of the run under the fit without it} for the candidate runs (a fit that fails: none)."""
    out = {}
    for i in candidates:
        keep = np.ones(len(table), dtype=bool)
        keep[i] = False
        try:
            without = refit(table.subset(keep, "outlier check: leave one run out"), weights[keep])
        except ScalefitError:
            continue
        x = {c: table.df[c].to_numpy(float)[i:i + 1] for c in law.inputs}
        with np.errstate(all="ignore"):
            out[int(i)] = float(np.log(without.law.predict(without.param_vector, x))[0] - np.log(table.loss[i]))
    return out


def check_outliers(table: RunTable, law, params: dict[str, float], log_residuals: np.ndarray,
                   refit: Callable[[RunTable, np.ndarray], Any], weights: np.ndarray,
                   leverage: np.ndarray | None = None) -> tuple[dict[str, Any], str | None]:
    """(diagnostics entries, warning text or None) for a fit on ``table`` with ``params`` and ``log_residuals``.

    ``refit(subset, subset_weights)`` fits other runs with the same spec (it must not run this check again).
    Runs whose ``leverage`` (n,) exceeds :func:`leverage_threshold` (at most ``MAX_DELETED`` of them, highest
    first) are judged by their deleted residual instead: the fit without the run predicts it.
    Diagnostics: ``outliers`` (one dict per flagged run: row, inputs, loss and predicted loss in nats/token,
    log_residual, robust_sd, and for a high-leverage run leverage and deleted_residual; predicted is then the
    fit without it) and ``outlier_check`` (rule, center, scale, and the
    parameters of the fit without the flagged runs).
    """
    flags = flag_outliers(log_residuals)
    mask, judged = flags.mask.copy(), np.asarray(log_residuals, dtype=float).copy()
    deleted: dict[int, float] = {}
    threshold = leverage_threshold(len(table), len(law.free_names))
    if leverage is not None:
        high = [i for i in np.argsort(-leverage, kind="stable") if leverage[i] > threshold and not mask[i]]
        deleted = _deleted_residuals(table, law, weights, np.array(high[:MAX_DELETED], dtype=int), refit)
        for i, value in deleted.items():
            judged[i] = value
            distance = abs(value - flags.center)
            mask[i] = not np.isfinite(value) or (distance > OUTLIER_K * flags.scale and distance > MIN_OUTLIER_LOG)
    check: dict[str, Any] = {"rule": RULE, "k": OUTLIER_K, "min_log": MIN_OUTLIER_LOG, "center": flags.center,
                             "scale": flags.scale, "leverage_threshold": threshold,
                             "deleted_residuals": {str(i): v for i, v in deleted.items()},
                             "flagged": int(mask.sum()), "without_flagged": None}
    if not mask.any():
        return {"outliers": [], "outlier_check": check}, None
    labels = _labels(table, mask)
    idx = np.flatnonzero(mask)
    inputs = [c for c in ("N", "D", "C", "U") if c in law.inputs] or ["N", "D"]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (judged - flags.center) / flags.scale if flags.scale > 0 else np.sign(judged - flags.center) * np.inf
    runs = []
    for label, i in zip(labels, idx, strict=True):
        run = {"row": label, **{c: float(table.df[c].iloc[i]) for c in inputs if c in table.df},
               "loss": float(table.loss[i]), "log_residual": float(log_residuals[i]), "robust_sd": float(z[i])}
        run["predicted"] = float(table.loss[i] * np.exp(judged[i]))  # by this fit, or by the fit without it
        if int(i) in deleted:
            run |= {"leverage": float(leverage[i]), "deleted_residual": deleted[int(i)]}
        runs.append(run)
    names = reported_names(law, params)
    try:
        without = refit(table.subset(~mask, "outlier check: without the flagged runs"), weights[~mask])
        check["without_flagged"] = dict(without.params)
        moves = ", ".join(f"{n} {num(params[n], 4)} -> {num(without.params[n], 4)}" for n in names)
        change = f"dropping {'it' if len(idx) == 1 else 'them'} moves {moves}"
    except ScalefitError as exc:
        change = f"without {'it' if len(idx) == 1 else 'them'} no fit can be made ({exc})"
    listed = "; ".join(_describe_run(r, inputs) for r in runs[:MAX_LISTED])
    if len(runs) > MAX_LISTED:
        listed += f"; and {len(runs) - MAX_LISTED} more (fit.diagnostics['outliers'])"
    them = "it" if len(runs) == 1 else "them"
    named = ", ".join(labels[:MAX_LISTED]) + (f" and {len(labels) - MAX_LISTED} more"
                                              if len(labels) > MAX_LISTED else "")
    head = ("a run lies" if len(runs) == 1 else f"{len(runs)} runs lie") + f" far from the law, {named}"
    selector = "row " + (f"!= {json.dumps(labels[0])}" if len(labels) == 1 else
                         f"not in [{', '.join(json.dumps(label) for label in labels)}]")
    message = (f"outlier: {head}; {change}. {listed}. The fit keeps every run; to drop {them}, load with the row "
               f"filter `{selector}` (--filter on the command line, query in load_runs; recorded in the "
               f"provenance). Rule: {RULE} (robust sd here {num(flags.scale, 3)}); a run of leverage above "
               f"{threshold:.2g} is judged by the fit without it")
    return {"outliers": runs, "outlier_check": check}, message


def _describe_run(run: dict[str, Any], inputs: list[str]) -> str:
    values = ", ".join(f"{c}={num(run[c], 3)}" for c in inputs if c in run)
    if "deleted_residual" in run:
        how = (f"fitted by itself (leverage {run['leverage']:.2f}); the fit without it predicts "
               f"{num(run['predicted'], 4)} (log residual {run['deleted_residual']:+.3g}, "
               f"{num(abs(run['robust_sd']), 3)} robust sd)")
    else:
        how = (f"the law predicts {num(run['predicted'], 4)} (log residual {run['log_residual']:+.3g}, "
               f"{num(abs(run['robust_sd']), 3)} robust sd)")
    return f"{run['row']} ({values}): loss {num(run['loss'], 4)}, {how}"
