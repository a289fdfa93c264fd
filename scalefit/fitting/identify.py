"""Is the fitted answer identified by the data? Judged from the fit itself, for any law.

A fit can converge and still not determine its parameters: a term that vanishes (E -> 0, B -> 0) takes
its exponent with it, two parameters can trade off along a flat valley (huge condition number), the
polished starts can disagree about the optimum, and the bootstrap can scatter a parameter over orders of
magnitude. :func:`identifiability` checks each of these from the parameter names, the solver's record
(starts, condition number), the Jacobian of the log predictions (finite differences through
``law.predict``, so it knows nothing of the law's form) and, when given, the bootstrap replicates.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.formatting import as_float

#: condition number of the Gauss-Newton Hessian past which parameters are not separately determined
ILL_CONDITIONED = 1e12
#: a parameter whose largest elasticity |d log L / d log p| (or |d log L / d p| for a parameter that is not
#: positive) over the runs is below this does not move the predictions: the data cannot determine it
FLAT = 1e-4
#: a positive parameter whose bootstrap interval has hi / lo above this spans orders of magnitude
INTERVAL_RATIO = 100.0
#: components of the flattest direction of the (column-scaled) Jacobian above this name the parameters
#: that trade off against each other
NULL_COMPONENT = 0.3
#: a positive parameter whose largest elasticity is below this barely moves any prediction (a 1% change moves
#: no prediction by more than 0.02%): run-to-run noise of ~0.5% hides it, so the data do not determine it
WEAK = 2e-2
STEP = 1e-6


@dataclass(frozen=True)
class Identifiability:
    """Verdict on a fit: ``identified`` is False when any check failed; ``parameters`` are the ones not
    identified (in the law's order); ``reasons`` say why, in words a reader of the report understands.

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> verdict = scalefit.identifiability(fit)
    >>> verdict.identified, verdict.parameters
    (True, ())
    >>> verdict.status
    'identified'
    """

    identified: bool
    parameters: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    checks: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """"identified", or "not identified (E, alpha)"."""
        if self.identified:
            return "identified"
        return "not identified" + (f" ({', '.join(self.parameters)})" if self.parameters else "")

    def lines(self) -> list[str]:
        """The verdict and its reasons as sentences.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> verdict = scalefit.identifiability(fit)
        >>> print(verdict.lines()[0])  # doctest: +ELLIPSIS
        identified: every check passed (starts agree, no vanishing term, condition number below ...
        """
        if self.identified:
            return ["identified: every check passed (starts agree, no vanishing term, condition number below "
                    f"{ILL_CONDITIONED:.0e}, no interval spanning orders of magnitude)"]
        who = ", ".join(self.parameters) if self.parameters else "the optimum"
        return [f"NOT IDENTIFIED: the data do not determine {who}; numbers that depend on "
                f"{'them' if len(self.parameters) > 1 else 'it'} are not to be trusted", *self.reasons]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record: identified, status, the parameters not identified and the reasons.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> verdict = scalefit.identifiability(fit)
        >>> sorted(verdict.to_dict())
        ['checks', 'identified', 'parameters', 'reasons', 'status']
        """
        return {"identified": self.identified, "status": self.status, "parameters": list(self.parameters),
                "reasons": list(self.reasons), "checks": self.checks}


def identifiability(fit: Any, bootstrap: Any = None) -> Identifiability:
    """Judge whether ``fit`` (and, when given, its ``bootstrap``) identifies every parameter.

    Works from ``fit.law.param_names``, ``fit.params``, ``fit.diagnostics`` (starts, condition number,
    negligible terms), the runs and ``fit.law.predict``; with a bootstrap, from the percentile interval of
    every parameter. Never raises on odd numbers: a check that cannot be computed is skipped.

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> scalefit.identifiability(fit).status
    'identified'
    >>> boot = fit.bootstrap(n=50, seed=0)
    >>> scalefit.identifiability(fit, boot).identified
    True
    """
    names = list(fit.law.param_names)
    diag: Mapping[str, Any] = fit.diagnostics
    flagged: dict[str, None] = {}
    reasons: list[str] = []
    checks: dict[str, Any] = {}

    def flag(params, reason):
        for p in params:
            flagged[p] = None
        reasons.append(reason)

    # 1. did the polished starts agree?
    starts, reached = int(diag.get("starts", 0) or 0), int(diag.get("starts_at_optimum", 0) or 0)
    checks["starts"] = {"starts": starts, "at_optimum": reached}
    if starts > 1 and reached == 0:
        flag([], f"none of the {starts} polished starts reached the reported optimum (it was found only by the "
                 "fallback optimizer): the optimum is not confirmed")
    elif starts >= 3 and reached == 1:
        flag([], f"only 1 of {starts} polished starts reached the reported optimum; the others stopped elsewhere: "
                 "the optimum is not confirmed")
    # 2. terms that vanish and parameters that do not move the predictions
    negligible = [p for p in diag.get("negligible_terms", []) or [] if p in names]
    elasticity = _elasticities(fit)
    checks["largest_elasticity"] = {n: float(v) for n, v in zip(names, elasticity, strict=True)}
    flat = [n for n, v in zip(names, elasticity, strict=True) if np.isfinite(v) and v < FLAT]
    for p in negligible:
        tied = [q for q in flat if q != p]
        flag([p, *tied], f"the term with {p} vanishes ({p} = {_g(fit.params.get(p))}, a negligible share of every "
                         "prediction)" + (f"; {', '.join(tied)} then no longer affect the predictions" if tied else ""))
    weak = [n for n, v in zip(names, elasticity, strict=True)
            if np.isfinite(v) and v < WEAK and n not in flagged and n not in flat and _positive(fit.params.get(n))]
    if weak:
        flag(weak, f"{', '.join(weak)} barely {'change' if len(weak) > 1 else 'changes'} any prediction (a 1% change "
                   f"moves no predicted loss by more than {WEAK:g}%): the term is close to vanishing and the data "
                   "do not determine it")
    rest = [q for q in flat if q not in flagged]
    if rest:
        flag(rest, f"{', '.join(rest)} {'do' if len(rest) > 1 else 'does'} not change any prediction "
                   f"(largest |d log L / d log {rest[0]}| below {FLAT:g})")
    # 3. condition number
    cond = as_float(diag.get("condition_number"))
    checks["condition_number"] = cond
    if cond is None or not math.isfinite(cond) or cond > ILL_CONDITIONED:
        valley = [p for p in _flattest_direction(fit) if p not in flagged]
        what = f"condition number {_g(cond)}" if cond is not None else "condition number not computable"
        flag(valley, f"the fit is ill-conditioned ({what} > {ILL_CONDITIONED:.0e})"
                     + (f": {', '.join(valley)} trade off against each other along a flat valley" if valley
                        else ""))
    # 4. bootstrap intervals spanning orders of magnitude
    if bootstrap is not None and len(getattr(bootstrap, "replicates", ())) > 1:
        wide = {}
        try:
            intervals = bootstrap.intervals()
        except Exception:  # a broken replicate matrix must not stop the report that says so
            intervals = {}
        for p in names:
            row = intervals.get(p)
            if row is None:
                continue
            lo, hi, est = as_float(row.get("lo")), as_float(row.get("hi")), as_float(fit.params.get(p))
            if lo is None or hi is None or est is None:
                continue
            if not (math.isfinite(lo) and math.isfinite(hi)):
                wide[p] = (lo, hi)
            elif est > 0 and hi > 0 and (lo <= 0 or hi / lo > INTERVAL_RATIO):
                wide[p] = (lo, hi)
        checks["wide_intervals"] = {p: list(v) for p, v in wide.items()}
        if wide:
            flag(list(wide), "bootstrap intervals span orders of magnitude: "
                 + "; ".join(f"{p} in [{_g(lo)}, {_g(hi)}]" for p, (lo, hi) in wide.items())
                 + f" (more than {INTERVAL_RATIO:g}x from low to high)")
    ordered = tuple(n for n in names if n in flagged)
    return Identifiability(identified=not reasons, parameters=ordered, reasons=tuple(reasons), checks=checks)


def _positive(value: Any) -> bool:
    x = as_float(value)
    return x is not None and x > 0


def _g(value: Any) -> str:
    x = as_float(value)
    return "n/a" if x is None else f"{x:.3g}"


def _inputs(fit: Any) -> dict[str, np.ndarray]:
    return {c: fit.runs.df[c].to_numpy(float) for c in fit.law.inputs}


def _jacobian(fit: Any) -> np.ndarray:
    """d log L / d log p (positive p) or d log L / d p (others) at every run: (n, P), central differences."""
    names = list(fit.law.param_names)
    x = np.array([float(fit.params[n]) for n in names])
    data = _inputs(fit)
    cols = []
    for j in range(len(x)):
        up, down = x.copy(), x.copy()
        if x[j] > 0:
            up[j], down[j] = x[j] * math.exp(STEP), x[j] * math.exp(-STEP)
        else:
            up[j], down[j] = x[j] + STEP, x[j] - STEP
        with np.errstate(all="ignore"):
            cols.append((np.log(fit.law.predict(up, data)) - np.log(fit.law.predict(down, data))) / (2 * STEP))
    return np.column_stack(cols)


def _elasticities(fit: Any) -> np.ndarray:
    try:
        jac = _jacobian(fit)
    except Exception:  # a law whose predict fails here is judged by the other checks
        return np.full(len(fit.law.param_names), np.nan)
    return np.max(np.abs(np.nan_to_num(jac, nan=0.0, posinf=0.0, neginf=0.0)), axis=0)


def _flattest_direction(fit: Any) -> list[str]:
    """Parameters with a large component in the smallest right singular vector of the column-scaled
    Jacobian: the combination the data determine least."""
    try:
        jac = np.nan_to_num(_jacobian(fit))
        norms = np.linalg.norm(jac, axis=0)
        keep = norms > 0
        if keep.sum() < 2:
            return []
        _, _, vt = np.linalg.svd(jac[:, keep] / norms[keep], full_matrices=False)
    except Exception:
        return []
    names = [n for n, k in zip(fit.law.param_names, keep, strict=True) if k]
    v = vt[-1]
    return [n for n, c in zip(names, v, strict=True) if abs(c) > NULL_COMPONENT]
