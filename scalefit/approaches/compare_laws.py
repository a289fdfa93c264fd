"""Model comparison: several laws fitted to the same runs with the same objective, in one table.

For each law: the objective at its optimum, its parameters, a Huber pseudo-likelihood AIC and BIC, and the
leave-largest-out extrapolation error (fit without the k largest model sizes, predict them, k = 1..K).

Pseudo-likelihood. With the objective Obj = sum_i w_i rho(r_i) on log residuals r_i (rho the Huber
function, or r^2/2 for least squares), we use the Gaussian profile log-likelihood with 2 Obj in place of the
residual sum of squares: l = -(n/2) log(2 Obj / n) (constants dropped), so that for least squares it is the
usual Gaussian one and for Huber it is its robust analogue (quadratic zone identical). Then
AIC = 2 k - 2 l = 2 k + n log(2 Obj / n) and BIC = k log n + n log(2 Obj / n), with n the number of runs and
k the number of free (neither fixed nor tied) parameters; the noise scale is common to all laws and left
out of k. Every law is fitted with the SAME objective (an automatic Huber delta is estimated once, from the
first law's first-pass residuals, and used for all), otherwise the objectives are not comparable.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..core import checks
from ..core.errors import FitError, ScalefitError
from ..data.runs import RunTable, load_runs
from ..fitting.fit import fit_spec
from ..fitting.spec import FitSpec
from ..laws import DEFAULT_LAW, Law, get_law

DEFAULT_K = 3
DEFAULT_BOOT = 200  # bootstrap replicates per law for the parameter intervals of a comparison


def pseudo_likelihood(objective_value: float, n: int) -> float:
    """l = -(n/2) log(2 Obj / n): the Gaussian profile log-likelihood with 2 Obj as the residual sum of squares."""
    return -0.5 * n * np.log(max(2.0 * objective_value / n, 1e-300))


def information_criteria(objective_value: float, n: int, k: int) -> dict[str, float]:
    """{loglik, aic, bic} for an objective value, n runs and k free parameters (see the module docstring)."""
    ll = pseudo_likelihood(objective_value, n)
    return {"loglik": ll, "aic": 2.0 * k - 2.0 * ll, "bic": k * np.log(n) - 2.0 * ll}


def size_column(runs: RunTable, law: Law) -> str:
    """The column whose largest values are held out: model size N when the table has it, else compute."""
    return "N" if "N" in runs.df else ("C" if "C" in runs.df else law.inputs[0])


def leave_largest_out(spec: FitSpec, runs: RunTable, k_max: int = DEFAULT_K, column: str | None = None) -> pd.DataFrame:
    """Fit without the k largest values of ``column`` (model sizes by default), predict those runs; k = 1..k_max.

    Returns one row per k: k, held-out value(s), rows held out and fitted, mean |log error| (about the
    relative error), RMS log error, mean signed log error (bias), and ``error`` text when the fit failed.
    """
    column = column or size_column(runs, spec.law)
    values = runs.df[column].to_numpy(float)
    sizes = np.unique(values)[::-1]
    rows = []
    for k in range(1, k_max + 1):
        row: dict[str, Any] = {"k": k}
        if k >= len(sizes):
            rows.append({**row, "error": f"only {len(sizes)} distinct {column}"})
            continue
        cut = sizes[k - 1]
        held = values >= cut
        row.update(held_from=float(cut), held_rows=int(held.sum()), train_rows=int((~held).sum()))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                small = fit_spec(spec, runs.subset(~held, reason=f"comparison: {k} largest {column} held out"),
                                 check_outliers=False)
                x = {c: runs.df[c].to_numpy(float)[held] for c in spec.law.inputs}
                pred = small.predict(x, threshold=None)
        except (ScalefitError, ValueError) as exc:
            rows.append({**row, "error": str(exc)})
            continue
        err = np.log(pred) - np.log(runs.loss[held])
        row.update(mean_abs_log_error=float(np.mean(np.abs(err))), rms_log_error=float(np.sqrt(np.mean(err**2))),
                   bias=float(np.mean(err)), converged=bool(small.diagnostics["converged"]))
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Comparison:
    """Result of :func:`compare`: ``table`` (one row per law), ``extrapolation`` (one row per law and k),
    ``fits`` {label: Fit}, the common ``objective`` description and ``warnings`` by law.

    Examples
    --------
    >>> runs = scalefit.datasets.load("example_chinchilla")
    >>> cmp = scalefit.compare(runs, laws=[scalefit.laws.DEFAULT_LAW, "kaplan"], n_boot=0)
    >>> list(cmp.table["law"]) == [scalefit.laws.DEFAULT_LAW, "kaplan"]
    True
    """

    table: pd.DataFrame
    extrapolation: pd.DataFrame
    fits: dict[str, Any]
    objective: str
    k_max: int
    warnings: dict[str, list[str]] = field(default_factory=dict)

    def summary(self) -> str:
        """The comparison table as text: AIC/BIC and leave-largest-out error (|log loss error|) per law.

        Examples
        --------
        >>> runs = scalefit.datasets.load("example_chinchilla")
        >>> cmp = scalefit.compare(runs, laws=[scalefit.laws.DEFAULT_LAW, "kaplan"], n_boot=0)
        >>> print(cmp.summary().splitlines()[0])  # doctest: +ELLIPSIS
        model comparison on 153 runs; objective Huber on log loss, delta=0.011423; ...
        """
        t = self.table
        lines = [f"model comparison on {t['runs'].iloc[0]} runs; objective {self.objective}; leave-largest-out "
                 f"error = mean |log predicted - log observed| over the runs of the k largest model sizes",
                 f"  {'law':<24}{'free':>5}{'objective':>13}{'AIC':>11}{'dAIC':>9}{'BIC':>11}"
                 + "".join(f"{f'LLO k={k}':>11}" for k in range(1, self.k_max + 1))]
        for r in t.itertuples():
            errs = "".join(f"{getattr(r, f'llo_{k}'):>11.4f}" for k in range(1, self.k_max + 1))
            lines.append(f"  {r.law:<24}{r.free_params:>5}{r.objective:>13.6g}{r.aic:>11.2f}{r.delta_aic:>9.2f}"
                         f"{r.bic:>11.2f}{errs}")
        for r in t.itertuples():
            bands = getattr(r, "intervals", None) or {}
            cells = [f"{n} {r.params[n]:.4g}" + (f" [{bands[n][0]:.4g}, {bands[n][1]:.4g}]" if n in bands else "")
                     for n in r.params if n in bands or not bands]
            lines.append(f"  {r.law}: " + "; ".join(cells))
        for label, messages in self.warnings.items():
            lines += [f"  warning ({label}): {m}" for m in messages]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record: the table, the extrapolation rows, each law's fit and warnings.

        Examples
        --------
        >>> runs = scalefit.datasets.load("example_chinchilla")
        >>> cmp = scalefit.compare(runs, laws=[scalefit.laws.DEFAULT_LAW, "kaplan"], n_boot=0)
        >>> sorted(cmp.to_dict())
        ['extrapolation', 'fits', 'k_max', 'objective', 'table', 'warnings']
        """
        from ..core.formatting import json_safe

        return json_safe({"objective": self.objective, "k_max": self.k_max,
                           "table": self.table.to_dict(orient="records"),
                           "extrapolation": self.extrapolation.to_dict(orient="records"),
                           "warnings": self.warnings,
                           "fits": {k: {"law": f.law.to_dict(), "params": f.params} for k, f in self.fits.items()}})

    def plot(self, axes=None):
        """The comparison figure (see :func:`scalefit.plots.comparison.comparison`).

        Examples
        --------
        >>> runs = scalefit.datasets.load("example_chinchilla")
        >>> cmp = scalefit.compare(runs, laws=[scalefit.laws.DEFAULT_LAW, "kaplan"], n_boot=0)
        >>> fig = cmp.plot()
        >>> len(fig.axes) >= 1
        True
        """
        from ..plots.comparison import comparison

        return comparison(self, axes)


def compare(runs: RunTable | pd.DataFrame | str, laws: Sequence[str | Law] = (DEFAULT_LAW, "kaplan"),
            objective: str = "huber", delta: float | str | None = None, k_max: int = DEFAULT_K,
            n_boot: int = DEFAULT_BOOT, seed: int | None = 0, level: float = 0.95) -> Comparison:
    """Fit every law in ``laws`` to ``runs`` with one common objective and compare them (module docstring).

    ``laws``: names, import paths or Law instances. ``k_max``: leave-largest-out up to this many model sizes.
    ``n_boot``: bootstrap replicates per law (default scheme, ``seed``) for percentile intervals at ``level``
    on every free parameter (0: point estimates only); a law whose bootstrap cannot run says why in its
    warnings.

    Examples
    --------
    >>> runs = scalefit.datasets.load("example_chinchilla")
    >>> cmp = scalefit.compare(runs, laws=[scalefit.laws.DEFAULT_LAW, "kaplan"], n_boot=0)
    >>> len(cmp.table), bool(cmp.table["delta_aic"].min() == 0)
    (2, True)
    """
    checks.resampling(n_boot, level, seed)
    checks.count(k_max, "k_max", 1, 100, "the number of largest sizes left out")
    table = runs if isinstance(runs, RunTable) else load_runs(runs)
    the_laws = [get_law(law) for law in laws]
    if not the_laws:
        raise ValueError("give at least one law to compare")
    first = FitSpec.make(the_laws[0], objective, delta)
    if objective == "huber" and delta in (None, "auto"):  # one delta for all laws: comparable objectives
        data = {c: table.df[c].to_numpy(float) for c in the_laws[0].inputs}
        w = table.weights if table.weights is not None else np.ones(len(table))
        chosen, _, _ = first.choose_objective(data, table.loss, w)
        delta = chosen.delta
    rows, extra, fits, messages = [], [], {}, {}
    for law in the_laws:
        label = _label(law, fits)
        spec = FitSpec.make(law, objective, delta)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = fit_spec(spec, table)
            except FitError as exc:
                messages[label] = [str(exc)]
                continue
        messages[label] = [str(c.message) for c in caught]
        fits[label] = result
        bands = _parameter_intervals(result, n_boot, seed, level, messages[label])
        k = len(law.free_names)
        ic = information_criteria(result.solution.value, len(table), k)
        llo = leave_largest_out(spec, table, k_max)
        llo.insert(0, "law", label)
        extra.append(llo)
        errs = {f"llo_{int(r.k)}": getattr(r, "mean_abs_log_error", np.nan) for r in llo.itertuples()}
        rows.append({"law": label, "formula": law.formula_text(), "runs": len(table), "free_params": k,
                     "objective": result.solution.value, **ic, **errs,
                     "llo_mean": float(np.nanmean(list(errs.values()))) if errs else np.nan,
                     "converged": bool(result.diagnostics["converged"]),
                     "params": dict(result.params), "intervals": bands})
    frame = pd.DataFrame(rows)
    if len(frame):
        frame.insert(frame.columns.get_loc("aic") + 1, "delta_aic", frame["aic"] - frame["aic"].min())
    objective_text = next(iter(fits.values())).objective.describe() if fits else objective
    return Comparison(table=frame, extrapolation=pd.concat(extra, ignore_index=True) if extra else pd.DataFrame(),
                      fits=fits, objective=objective_text, k_max=k_max,
                      warnings={k: v for k, v in messages.items() if v})


def _parameter_intervals(fit, n_boot: int, seed: int | None, level: float, messages: list[str]
                         ) -> dict[str, list[float]]:
    """{free parameter: [lo, hi]} from a bootstrap of ``fit`` ({} when n_boot is 0 or it cannot run)."""
    if n_boot <= 0:
        return {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            boot = fit.bootstrap(n=n_boot, seed=seed, level=level, progress=False)
        except FitError as exc:
            messages.append(f"no bootstrap intervals: {exc}")
            return {}
    messages += [f"bootstrap: {c.message}" for c in caught]
    rows = boot.intervals()
    return {name: [float(rows[name]["lo"]), float(rows[name]["hi"])] for name in fit.law.free_names if name in rows}


def _label(law: Law, taken: dict) -> str:
    label = law.name or type(law).__name__
    fixed, tied = getattr(law, "fixed", {}), getattr(law, "tied", {})
    if fixed or tied:
        label += "(" + ",".join([f"{k}={v:g}" for k, v in fixed.items()] + [f"{k}={v}" for k, v in tied.items()]) + ")"
    while label in taken:
        label += "'"
    return label
