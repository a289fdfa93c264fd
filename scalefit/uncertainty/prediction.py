"""Three intervals for every prediction: law band, new-run interval, extrapolation interval.

Each answers a different question, and each contains the one before it:

1. **law band** — where the fitted *curve* lies: the bootstrap percentile interval of the prediction
   (parameter uncertainty only). It shrinks as runs are added and says nothing about a single run.
2. **new-run interval** — where the loss of *one new training run* at that (N, D) lands: the band plus
   run-to-run noise, log L_new = log L_replicate + u + e with u ~ N(0, sd_between^2) (a new model size has
   its own offset) and e ~ N(0, sd_within^2), the two sds estimated from the fit's log residuals
   (:func:`scalefit.uncertainty.noise.estimate_noise`). Its limits are quantiles of that normal mixture, found
   exactly by bisection (no random draws).
3. **extrapolation interval** — adds the error of the *law itself* beyond the data, measured on the
   user's own sweep by backtests (:func:`scalefit.backtest`): fit below a cut-off, predict above it, record
   the log error e_j against the extrapolation distance d_j (largest of the N, D and C ratios to the
   training maxima) and the span w_j = C_max / C_min of the fit that made it. The backtest hands its
   :class:`scalefit.uncertainty.calibration.Calibration` to the code here, which never runs a backtest.

Loss in nats/token; N in parameters; D in tokens; every array here is shaped like broadcast(N, D) unless
said otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from ..core import checks
from ..core.errors import ExtrapolationWarning, ScalefitError
from ..core.formatting import from_json_safe, json_safe
from .calibration import SUPPORT_FACTOR, Calibration
from .noise import fit_noise, noise_sd

BISECTION_STEPS = 60


def mixture_quantile(log_centres: np.ndarray, sd: float | np.ndarray, prob: float) -> np.ndarray:
    """The ``prob`` quantile of an equal-weight mixture of normals N(log_centres[b], sd^2) along axis 0.

    ``log_centres`` is (B, ...) (bootstrap replicates of a log prediction); returns (...). With sd = 0 it
    is the empirical quantile of the centres. Exact to ~1e-15 of the bracket by bisection.
    """
    centres = np.asarray(log_centres, dtype=float)
    sd = np.broadcast_to(np.asarray(sd, dtype=float), centres.shape[1:])
    empirical = np.quantile(centres, prob, axis=0)
    if np.all(sd <= 0):
        return empirical
    z = ndtri(prob)
    lo = centres.min(axis=0) + np.minimum(z, -8.0) * sd
    hi = centres.max(axis=0) + np.maximum(z, 8.0) * sd
    safe = np.where(sd > 0, sd, 1.0)
    for _ in range(BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        below = np.mean(ndtr((mid - centres) / safe), axis=0) < prob
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return np.where(sd > 0, 0.5 * (lo + hi), empirical)


def newrun_interval(log_replicates: np.ndarray, noise_sd: float, level: float) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) in loss units of a new run: replicate log predictions (B, ...) convolved with N(0, sd^2)."""
    checks.level(level)
    lo = mixture_quantile(log_replicates, noise_sd, (1 - level) / 2)
    hi = mixture_quantile(log_replicates, noise_sd, (1 + level) / 2)
    return np.exp(lo), np.exp(hi)


@dataclass(frozen=True)
class PredictionIntervals:
    """The three intervals at a set of points (each array (m,), flattened from broadcast(N, D)).

    ``what`` names the quantity ("loss" or e.g. "L_opt"); ``calibration`` is the extrapolation rule used;
    ``notes`` says what is not available and why.

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> boot = fit.bootstrap(n=50, seed=0)
    >>> bt = scalefit.backtest(fit, fractions=(0.7,), n_boot=0)
    >>> pi = boot.predict_intervals([7e9, 7e10], [1.4e11, 1.4e12], backtest=bt)
    >>> print(f"{pi.estimate[0]:.3f} nats/token, law band [{pi.band_lo[0]:.3f}, {pi.band_hi[0]:.3f}]")
    2.182 nats/token, law band [2.169, 2.199]
    >>> pi.supported.tolist()
    [True, False]
    """

    what: str
    N: np.ndarray
    D: np.ndarray
    estimate: np.ndarray
    band_lo: np.ndarray
    band_hi: np.ndarray
    newrun_lo: np.ndarray
    newrun_hi: np.ndarray
    extrap_lo: np.ndarray
    extrap_hi: np.ndarray
    distance: np.ndarray
    supported: np.ndarray
    level: float
    noise: dict[str, float]
    calibration: Calibration
    notes: tuple[str, ...] = field(default=())
    compute: np.ndarray | None = None

    COLUMNS = ("N", "D", "estimate", "band_lo", "band_hi", "newrun_lo", "newrun_hi", "extrap_lo", "extrap_hi",
               "distance", "supported")

    @property
    def n_backtest(self) -> int:
        """Backtest points the extrapolation interval rests on."""
        return self.calibration.n_points

    def to_frame(self) -> pd.DataFrame:
        """One row per point: inputs (N in parameters, D in tokens), estimate and the three intervals (nats/token).

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> boot = fit.bootstrap(n=50, seed=0)
        >>> bt = scalefit.backtest(fit, fractions=(0.7,), n_boot=0)
        >>> pi = boot.predict_intervals([7e9, 7e10], [1.4e11, 1.4e12], backtest=bt)
        >>> list(pi.to_frame().columns)[:6]
        ['N', 'D', 'estimate', 'band_lo', 'band_hi', 'newrun_lo']
        """
        frame = {} if self.compute is None else {"C": self.compute}
        frame.update({k: getattr(self, k) for k in self.COLUMNS})
        out = pd.DataFrame(frame)
        out["n_backtest"] = self.n_backtest
        return out

    def __getitem__(self, key: str) -> np.ndarray:
        return getattr(self, key)

    def summary(self) -> str:
        """The three intervals at every point as text, with the noise and the extrapolation rule behind them.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> boot = fit.bootstrap(n=50, seed=0)
        >>> bt = scalefit.backtest(fit, fractions=(0.7,), n_boot=0)
        >>> pi = boot.predict_intervals([7e9, 7e10], [1.4e11, 1.4e12], backtest=bt)
        >>> print(pi.summary().splitlines()[0])  # doctest: +ELLIPSIS
        loss with 95% intervals: law band (fitted curve), new run (adds run-to-run noise, sd ...
        """
        pct = round(self.level * 100)
        lines = [f"{self.what} with {pct}% intervals: law band (fitted curve), new run (adds run-to-run noise, "
                 f"sd {noise_sd(self.noise):.3g} in log loss), extrapolation (adds model error; "
                 f"{self.calibration.describe()})",
                 f"  {'N':>10}{'D':>10}{'estimate':>10}{'law band':>20}{'new run':>20}{'extrapolation':>20}"
                 f"{'distance':>10}"]
        for i in range(self.estimate.size):
            lines.append(f"  {self.N[i]:>10.3g}{self.D[i]:>10.3g}{self.estimate[i]:>10.4g}"
                         f"{_pair(self.band_lo[i], self.band_hi[i]):>20}"
                         f"{_pair(self.newrun_lo[i], self.newrun_hi[i]):>20}"
                         f"{_pair(self.extrap_lo[i], self.extrap_hi[i]):>20}{self.distance[i]:>9.3g}x"
                         + ("" if self.supported[i] else "  NOT SUPPORTED by the backtest"))
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record of the intervals, the noise and the calibration.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> boot = fit.bootstrap(n=50, seed=0)
        >>> bt = scalefit.backtest(fit, fractions=(0.7,), n_boot=0)
        >>> pi = boot.predict_intervals([7e9, 7e10], [1.4e11, 1.4e12], backtest=bt)
        >>> sorted(pi.to_dict())[:5]
        ['calibration', 'compute', 'level', 'noise', 'notes']
        """
        return {"what": self.what, "level": self.level, "noise": dict(self.noise),
                "calibration": self.calibration.to_dict(), "notes": list(self.notes),
                "compute": None if self.compute is None else [json_safe(v) for v in self.compute],
                "rows": [{k: json_safe(getattr(self, k)[i]) for k in self.COLUMNS} for i in range(self.estimate.size)]}

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> PredictionIntervals:
        """Rebuild from :meth:`to_dict`.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> boot = fit.bootstrap(n=50, seed=0)
        >>> bt = scalefit.backtest(fit, fractions=(0.7,), n_boot=0)
        >>> pi = boot.predict_intervals([7e9, 7e10], [1.4e11, 1.4e12], backtest=bt)
        >>> again = scalefit.PredictionIntervals.from_dict(pi.to_dict())
        >>> bool(np.allclose(again.extrap_hi, pi.extrap_hi))
        True
        """
        rows = record["rows"]
        cols = {k: np.array([from_json_safe(r[k]) for r in rows], dtype=bool if k == "supported" else float)
                for k in cls.COLUMNS}
        compute = None if record.get("compute") is None else np.array([from_json_safe(v) for v in record["compute"]])
        return cls(what=record["what"], level=float(record["level"]), noise=dict(record["noise"]),
                   calibration=Calibration.from_dict(record["calibration"]), notes=tuple(record["notes"]),
                   compute=compute, **cols)


def extrapolation_limits(estimate, newrun_lo, newrun_hi, distance, sd: float, calibration: Calibration,
                         span: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """estimate x exp(+/- halfwidth(distance)), widened to contain the new-run interval."""
    half = calibration.halfwidth(distance, sd, span)
    lo = np.fmin(np.asarray(estimate) * np.exp(-half), newrun_lo)
    hi = np.fmax(np.asarray(estimate) * np.exp(half), newrun_hi)
    unavailable = ~np.isfinite(half)
    return np.where(unavailable, np.nan, lo), np.where(unavailable, np.nan, hi)


def three_intervals(what: str, N, D, estimate, band_lo, band_hi, log_replicates, distance, level: float,
                    noise: Mapping[str, float], calibration: Calibration, notes=(), compute=None,
                    span: float = 1.0) -> PredictionIntervals:
    """Assemble the three intervals from a band and replicate log predictions (B, m)."""
    sd = noise_sd(noise)
    newrun_lo, newrun_hi = newrun_interval(log_replicates, sd, level)
    extrap_lo, extrap_hi = extrapolation_limits(estimate, newrun_lo, newrun_hi, distance, sd, calibration, span)
    notes = list(notes)
    if not calibration.available:
        notes.append(calibration.describe())
    elif calibration.rule != "conformal":
        notes.append(calibration.rule)
    supported = calibration.supports(distance) if calibration.available else np.zeros(np.shape(distance), bool)
    if calibration.available and not np.all(supported):
        notes.append(f"{int((~supported).sum())} point(s) lie beyond {SUPPORT_FACTOR:g}x the largest backtested "
                     f"distance ({calibration.max_distance:.3g}x): the sweep cannot support that extrapolation")
    flat = {k: np.ravel(np.asarray(v, dtype=float)) for k, v in
            {"N": N, "D": D, "estimate": estimate, "band_lo": band_lo, "band_hi": band_hi, "newrun_lo": newrun_lo,
             "newrun_hi": newrun_hi, "extrap_lo": extrap_lo, "extrap_hi": extrap_hi, "distance": distance}.items()}
    return PredictionIntervals(what=what, supported=np.ravel(supported), level=level, noise=dict(noise),
                               calibration=calibration, notes=tuple(notes),
                               compute=None if compute is None else np.ravel(np.asarray(compute, float)), **flat)


def _pair(lo: float, hi: float) -> str:
    return "n/a" if not (np.isfinite(lo) and np.isfinite(hi)) else f"[{lo:.4g}, {hi:.4g}]"


# -- from a Bootstrap --------------------------------------------------------------------------------------------
def calibration_of(boot, backtest) -> Calibration:
    """The Calibration at the bootstrap's level: from a :class:`scalefit.Backtest` (anything with
    ``calibration_at(level)``) or a Calibration itself. The backtest is run by the caller, never here."""
    if backtest is None:
        raise ScalefitError("the extrapolation interval needs a backtest of the fit: pass "
                            "backtest=scalefit.backtest(fit) (or a Calibration)")
    return backtest if isinstance(backtest, Calibration) else backtest.calibration_at(boot.level)


def compute_span(fit) -> float:
    """C_max / C_min (C = 6ND) of the runs a fit was fitted on."""
    c = 6.0 * np.asarray(fit.runs.N, float) * np.asarray(fit.runs.D, float)
    return float(c.max() / c.min())


def loss_intervals(boot, N, D, backtest=None, method: str | None = None) -> PredictionIntervals:
    """Law band, new-run and extrapolation intervals of the loss at (N, D) (broadcast, then flattened).

    ``backtest``: a :class:`scalefit.Backtest` of ``boot.fit`` (``scalefit.backtest(fit)``), or its Calibration.
    """
    import warnings

    checks.law_inputs({"N": N, "D": D})
    n, d = np.broadcast_arrays(np.asarray(N, float), np.asarray(D, float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)
        band = boot.predict(n, d, method=method, threshold=None)
    log_reps = np.log(boot.fit.law.predict(boot.replicates, {"N": n.ravel(), "D": d.ravel()}))
    return three_intervals("loss", n, d, band["estimate"], band["lo"], band["hi"], log_reps, band["distance"],
                           boot.level, fit_noise(boot.fit), calibration_of(boot, backtest),
                           span=compute_span(boot.fit))


def optimal_intervals(boot, compute, backtest=None, method: str | None = None) -> dict[str, Any]:
    """Intervals of the compute-optimal allocation at compute C (FLOPs).

    Returns {"L_opt": PredictionIntervals of the loss a new compute-optimal run reaches (at the point
    estimate's N_opt, D_opt, whose distance sets the extrapolation interval), "N_opt": {estimate, lo, hi}
    (law band only), "notes": [...]}. N_opt has no new-run or extrapolation interval: run noise does not
    move the optimum of a curve, and the backtest measures errors in loss, not in allocation.
    """
    c = np.atleast_1d(np.asarray(checks.compute(compute), float))
    opt = boot.optimal(c, method)  # FitError for a law without compute-optimal allocation
    names = boot.names
    columns = {k: boot.replicates[:, j, None] for j, k in enumerate(names)}
    reps = boot.fit.law.compute_optimal(columns, c)["L_opt"]  # (B, m)
    n_opt, d_opt = opt["N_opt"]["estimate"], opt["D_opt"]["estimate"]
    distance = boot.fit.extrapolation(n_opt, d_opt)["distance"]
    loss = three_intervals("L_opt", n_opt, d_opt, opt["L_opt"]["estimate"], opt["L_opt"]["lo"], opt["L_opt"]["hi"],
                           np.log(reps), distance, boot.level, fit_noise(boot.fit), calibration_of(boot, backtest),
                           compute=c, span=compute_span(boot.fit))
    note = ("N_opt has a law band only: run-to-run noise does not move the optimum, and backtests measure "
            "errors in loss, not in the allocation")
    return {"L_opt": loss, "N_opt": {k: opt["N_opt"][k] for k in ("estimate", "lo", "hi")}, "notes": [note]}
