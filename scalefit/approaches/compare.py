"""Approaches 1, 2 and 3 side by side: exponents a, b and N*(C) at chosen budgets, each with intervals.

Approach 3 is the parametric fit (:func:`scalefit.fit`, Chinchilla law) with its bootstrap; Approaches 1
and 2 come from :mod:`.envelope` and :mod:`.isoflop`. An approach the data cannot support (Approach 1
without training curves, Approach 2 with fewer than two budgets) is listed with the reason, never faked.
When two approaches' intervals for a or for N*(C) at a budget do not overlap, an
:class:`ApproachDisagreementWarning` names them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..core import checks
from ..core.errors import ScalefitError
from ..data.runs import RunTable
from .envelope import envelope_approach, has_curves
from .errors import ApproachDisagreementWarning
from .isoflop import isoflop_approach


@dataclass(frozen=True)
class ApproachComparison:
    """One table: a row per approach and quantity (a, b, N_opt at each budget) with estimate, lo, hi.

    ``unavailable`` maps an approach name to why it could not be computed; ``results`` holds the
    underlying result objects (Approach 1/2 results, the Approach-3 Bootstrap or Fit).
    """

    table: pd.DataFrame
    computes: tuple[float, ...]
    level: float
    unavailable: dict[str, str]
    disagreements: tuple[str, ...]
    results: dict[str, Any] = field(default_factory=dict, repr=False)

    def summary(self) -> str:
        lines = [f"Chinchilla approaches side by side ({self.level:.0%} intervals)"]
        wide = self.table.pivot(index="quantity", columns="approach", values="text")
        order = ["a", "b"] + [f"N_opt(C={c:.3g})" for c in self.computes]
        wide = wide.reindex([q for q in order if q in wide.index])
        cols = list(wide.columns)
        lines.append(f"{'quantity':<18}" + "".join(f"{c:>34}" for c in cols))
        for q, row in wide.iterrows():
            lines.append(f"{q:<18}" + "".join(f"{row[c] if isinstance(row[c], str) else '-':>34}" for c in cols))
        lines += [f"{name}: not available -- {why}" for name, why in self.unavailable.items()]
        lines += [f"warning: {d}" for d in self.disagreements]
        for name, res in self.results.items():
            extra = getattr(res, "warnings", ())
            if name.startswith("Approach 2") and extra:
                lines.append(f"{name} diagnostics:")
                lines += [f"  {w}" for w in extra]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        rows = [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()}
                for r in self.table.drop(columns="text").to_dict(orient="records")]
        return {"computes": list(self.computes), "level": self.level, "rows": rows,
                "unavailable": self.unavailable, "disagreements": list(self.disagreements)}

    def to_frame(self) -> pd.DataFrame:
        return self.table.drop(columns="text").copy()


def compare_approaches(runs: RunTable, computes, *, fit=None, approach1: Any = None, approach2: Any = None,
                       n_boot: int = 1000, level: float = 0.95, seed: int | None = 0,
                       isoflop_kwargs: dict[str, Any] | None = None,
                       envelope_kwargs: dict[str, Any] | None = None) -> ApproachComparison:
    """Approaches 1, 2, 3 on the same runs, in one table.

    Parameters
    ----------
    computes:
        Budgets C (FLOPs) at which N*(C) is compared.
    fit:
        The Approach-3 result: a Chinchilla :class:`scalefit.Fit` or its :class:`scalefit.Bootstrap`.
        Default: ``scalefit.fit(runs, objective="hoffmann")`` bootstrapped with ``n_boot`` and ``seed``.
    approach1, approach2:
        Precomputed results; by default computed here (Approach 1 only when the runs hold curves).

    Examples
    --------
    >>> runs = scalefit.datasets.load("example_chinchilla")
    >>> fit = scalefit.fit(runs, objective="hoffmann")
    >>> cmp = scalefit.compare_approaches(runs, [1e21], fit=fit, n_boot=20, seed=0)
    >>> list(cmp.to_frame().columns)[:3]
    ['approach', 'quantity', 'estimate']
    """
    checks.resampling(n_boot, level, seed)
    checks.compute(computes, "computes")
    computes = tuple(float(c) for c in np.atleast_1d(computes))
    unavailable: dict[str, str] = {}
    results: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    boot = _approach3(runs, fit, n_boot, seed, level)
    a3_fit = getattr(boot, "fit", boot)
    results["Approach 3 (parametric fit)"] = boot
    inter = boot.intervals() if hasattr(boot, "intervals") else None
    opt3 = boot.optimal(np.array(computes)) if hasattr(boot, "intervals") else None
    for k in ("a", "b"):
        est = float(a3_fit.derived[k])
        lo, hi = (inter[k]["lo"], inter[k]["hi"]) if inter else (np.nan, np.nan)
        rows.append(_row("Approach 3 (parametric fit)", k, est, lo, hi))
    for i, c in enumerate(computes):
        if opt3 is not None:
            n = opt3["N_opt"]
            rows.append(_row("Approach 3 (parametric fit)", f"N_opt(C={c:.3g})", float(np.ravel(n["estimate"])[i]),
                             float(np.ravel(n["lo"])[i]), float(np.ravel(n["hi"])[i])))
        else:
            rows.append(_row("Approach 3 (parametric fit)", f"N_opt(C={c:.3g})",
                             float(np.ravel(a3_fit.optimal(c)["N_opt"])[0]), np.nan, np.nan))

    for name, given, make in (
        ("Approach 1 (envelope)", approach1, lambda: envelope_approach(runs, n_boot=n_boot, level=level, seed=seed,
                                                                        **(envelope_kwargs or {}))),
        ("Approach 2 (IsoFLOP)", approach2, lambda: isoflop_approach(runs, n_boot=n_boot, level=level, seed=seed,
                                                                      reference=a3_fit, **(isoflop_kwargs or {}))),
    ):
        res = given
        if res is None:
            if name.startswith("Approach 1") and not has_curves(runs):
                unavailable[name] = ("needs training curves (several checkpoints per run); these data have "
                                     "one final loss per run")
                continue
            try:
                res = make()
            except ScalefitError as exc:
                unavailable[name] = str(exc)
                continue
        results[name] = res
        for k in ("a", "b"):
            lo, hi = res.intervals[k]
            rows.append(_row(name, k, res.exponents[k], lo, hi))
        opt = res.optimal(np.array(computes))
        for i, c in enumerate(computes):
            rows.append(_row(name, f"N_opt(C={c:.3g})", float(opt["N_opt"]["estimate"][i]),
                             float(opt["N_opt"]["lo"][i]), float(opt["N_opt"]["hi"][i])))
    table = pd.DataFrame(rows)
    disagreements = tuple(_disagreements(table))
    for d in disagreements:
        warnings.warn(d, ApproachDisagreementWarning, stacklevel=2)
    return ApproachComparison(table=table, computes=computes, level=level, unavailable=unavailable,
                              disagreements=disagreements, results=results)


def _approach3(runs, fit, n_boot, seed, level):
    if fit is None:
        from ..fitting.fit import fit as fit_law

        fit = fit_law(runs, objective="hoffmann")
    if hasattr(fit, "bootstrap") and n_boot:
        return fit.bootstrap(n=n_boot, seed=seed, level=level)
    return fit


def _row(approach: str, quantity: str, est: float, lo: float, hi: float) -> dict[str, Any]:
    fmt = (lambda v: f"{v:.4f}") if quantity in ("a", "b") else (lambda v: f"{v:.3g}")
    text = f"{fmt(est)} [{fmt(lo)}, {fmt(hi)}]" if np.isfinite(lo) and np.isfinite(hi) else fmt(est)
    return {"approach": approach, "quantity": quantity, "estimate": float(est), "lo": float(lo), "hi": float(hi),
            "text": text}


def _disagreements(table: pd.DataFrame) -> list[str]:
    out = []
    for quantity, g in table.groupby("quantity", sort=False):
        if quantity == "b":  # b = 1 - a for every approach here: one message per pair is enough
            continue
        rows = list(g.itertuples())
        for i in range(len(rows)):
            for j in range(i + 1, len(rows)):
                r, s = rows[i], rows[j]
                if not all(np.isfinite([r.lo, r.hi, s.lo, s.hi])):
                    continue
                if r.hi < s.lo or s.hi < r.lo:
                    out.append(f"{r.approach} and {s.approach} disagree on {quantity}: "
                               f"{r.text} vs {s.text} (intervals do not overlap)")
    return out
