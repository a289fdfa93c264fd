"""Held-out extrapolation check: fit on the smaller runs, predict the largest ones with their band.

The honest test of a scaling law is whether it predicts runs it has not seen, at larger scale. Whole
model sizes are held out, largest compute first (a model size ranks by the largest compute C = 6ND among
its runs), until about ``fraction`` of the runs are held out, and never more than ``MAX_FRACTION`` of them
(unless a single model size is already more than that); no model size is half in, half out. The law is
refitted on the rest with the same settings, bootstrapped and backtested
(:func:`scalefit.extrapolation.backtest.backtest`), and every held-out run gets a predicted loss, the three
intervals of the sub-fit (law band, new-run interval, extrapolation interval) and its extrapolation distance.

It is a view of the backtest one level up: the verdict judges the EXTRAPOLATION interval (the one a user is
told to bet on beyond the data), the number of held-out runs inside it against the nominal level by a
one-sided binomial test (too few inside fails). The law band and the new-run interval exclude the law's error
beyond the data by design, so their coverage is shown as information, never as a failure. Runs of one model
size share noise, so the test is optimistic about its own precision; it is a flag, not a proof. Warnings
raised by the sub-fit, its bootstrap and its backtest are collected on the result (``warnings``) instead of
being printed unattributed.

A record written before the check judged the extrapolation interval (no ``ex_lo``/``ex_hi`` columns) still
loads; its verdict is "NOT JUDGED".
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..core import checks, conventions
from ..core.errors import ExtrapolationWarning, FitError
from ..core.formatting import num
from ..fitting.fit import fit_spec
from ..uncertainty.noise import fit_noise, noise_sd

HOLDOUT_FRACTION = 0.1
MAX_FRACTION = 0.25  # hold out at most this share of the runs (unless one model size alone is more)
FAIL_P = 0.01  # binomial p-value below which the held-out check FAILS
MIN_JUDGED = 5  # fewer held-out runs than this: too few to judge
BACKTEST_FRACTIONS = (0.5, 0.6, 0.7, 0.8, 0.9)  # cut-offs of the sub-fit's backtest (as the full fit's)
NOT_JUDGED = "NOT JUDGED"


def distinct(values, digits: int = 3) -> list[str]:
    """Numbers with as many significant digits (from ``digits``, at most 12) as it takes for distinct values to
    print distinctly.

    Examples
    --------
    >>> distinct([6.8e9, 9.29e9, 6.804e9])  # model sizes in parameters
    ['6.8e+09', '9.29e+09', '6.804e+09']
    """
    values = [float(v) for v in values]
    wanted = len(set(values))
    for k in range(digits, 13):
        text = [f"{v:.{k}g}" for v in values]
        if len(set(text)) == wanted:
            return text
    return [f"{v!r}" for v in values]


@dataclass(frozen=True)
class HoldoutCheck:
    """Result of :func:`holdout_check`: the small-run fit, its bootstrap and the held-out table.

    The verdict judges the extrapolation interval (ex_lo/ex_hi); the law band and the new-run interval are
    information.

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> check = scalefit.holdout_check(fit, n_boot=50, seed=0)
    >>> check.verdict, check.inside_extrapolation <= len(check.table)
    ('PASSES', True)
    """

    fit: Any
    bootstrap: Any
    #: one row per held-out run: N, D, C, loss, predicted, lo/hi (confidence band of the law), inside,
    #: pi_lo/pi_hi (new-run interval: the band plus run-to-run noise), inside_pi, ex_lo/ex_hi (extrapolation
    #: interval: adds the law's error beyond the data, calibrated by the sub-fit's backtest), inside_ex,
    #: log_error, distance
    table: pd.DataFrame
    train_rows: np.ndarray  # bool mask over the full run table
    level: float
    #: the held-out model sizes (N), largest compute first
    held_sizes: tuple[float, ...] = ()
    #: warnings raised by the sub-fit and its bootstrap, collected here instead of printed
    warnings: tuple[str, ...] = ()
    #: backtest points of the sub-fit behind its extrapolation interval (0: no backtest, or an old record)
    n_backtest: int = 0

    @property
    def judged(self) -> np.ndarray:
        """Mask of held-out runs with a finite extrapolation interval (all False in an old record)."""
        if "inside_ex" not in self.table:
            return np.zeros(len(self.table), dtype=bool)
        return self.table["inside_ex"].notna().to_numpy() & np.isfinite(
            pd.to_numeric(self.table["ex_lo"], errors="coerce").to_numpy(float))

    @property
    def inside_extrapolation(self) -> int:
        """Held-out runs inside the extrapolation interval (the one the verdict judges)."""
        if not self.judged.any():
            return 0
        return int(self.table.loc[self.judged, "inside_ex"].astype(bool).sum())

    @property
    def inside(self) -> int:
        """Held-out runs inside their new-run interval (information: it excludes the law's error beyond the data)."""
        return int(self.table["inside_pi"].sum())

    @property
    def p_value(self) -> float:
        """One-sided binomial p-value of so few runs inside the extrapolation interval at its nominal level."""
        from scipy.stats import binomtest

        n = int(self.judged.sum())
        if n == 0:
            return float("nan")
        return float(binomtest(self.inside_extrapolation, n, self.level, alternative="less").pvalue)

    @property
    def verdict(self) -> str:
        """"PASSES", "FAILS", "TOO FEW TO JUDGE" (held-out runs inside the extrapolation interval vs its level) or
        "NOT JUDGED" (no extrapolation interval: the sub-fit's backtest failed, or a record from before)."""
        n = int(self.judged.sum())
        if n == 0:
            return NOT_JUDGED
        if n < MIN_JUDGED:
            return "TOO FEW TO JUDGE"
        return "FAILS" if self.p_value < FAIL_P else "PASSES"

    def information_line(self) -> str:
        """How many held-out runs the law band and the new-run interval hold: information, never a failure.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> check = scalefit.holdout_check(fit, n_boot=50, seed=0)
        >>> print(check.information_line())  # doctest: +ELLIPSIS
        18 of 20 inside the new-run interval and ... of 20 inside the law band (both exclude the law's error ...
        """
        n = len(self.table)
        return (f"{self.inside} of {n} inside the new-run interval and {int(self.table['inside'].sum())} of {n} "
                "inside the law band (both exclude the law's error beyond the data, so they are information, not "
                "the verdict)")

    def verdict_line(self) -> str:
        """E.g. "PASSES: 19 of 20 held-out runs inside the 95% extrapolation interval (expected about 19; ...)".

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> check = scalefit.holdout_check(fit, n_boot=50, seed=0)
        >>> print(check.verdict_line())  # doctest: +ELLIPSIS
        PASSES: ... of 20 held-out runs inside the 95% extrapolation interval (expected about 19; ...
        """
        pct = round(self.level * 100)
        n = int(self.judged.sum())
        if n == 0:
            return (f"{NOT_JUDGED}: no extrapolation interval for the held-out runs (this record predates it, or the "
                    f"sub-fit's backtest failed); {self.information_line()}")
        text = (f"{self.verdict}: {self.inside_extrapolation} of {n} held-out runs inside the {pct}% extrapolation "
                f"interval (expected about {self.level * n:.3g}")
        p = self.p_value
        return text + (f"; one-sided binomial p = {p:.2g})" if np.isfinite(p) else ")")

    def held_out_text(self) -> str:
        """Exactly what was held out, in words.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> check = scalefit.holdout_check(fit, n_boot=50, seed=0)
        >>> print(check.held_out_text())  # doctest: +ELLIPSIS
        the 4 model sizes whose runs reach the largest training compute (N = 1.5e+09, 3.48e+09, ...
        """
        k = len(self.held_sizes) or len(np.unique(self.table["N"]))
        sizes = self.held_sizes or tuple(sorted(np.unique(self.table["N"]), reverse=True))
        size_text = ", ".join(distinct(sizes)[:6]) + (", ..." if len(sizes) > 6 else "")
        plural = "s" if k > 1 else ""
        return (f"the {k} model size{plural} whose runs reach the largest training compute (N = {size_text}; "
                f"{len(self.table)} of {len(self.table) + int(self.train_rows.sum())} runs)")

    @property
    def coverage(self) -> float:
        """Share of held-out runs whose observed loss lies inside the predicted interval."""
        return float(self.table["inside"].mean())

    @property
    def prediction_coverage(self) -> float:
        """Share of held-out runs inside their prediction interval (law uncertainty + run noise)."""
        return float(self.table["inside_pi"].mean())

    @property
    def mean_abs_log_error(self) -> float:
        """Mean |log predicted - log observed| over the held-out runs (about the relative error)."""
        return float(np.mean(np.abs(self.table["log_error"])))

    def summary(self) -> str:
        """The verdict, what was held out and the held-out table as text (losses in nats/token).

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> check = scalefit.holdout_check(fit, n_boot=50, seed=0)
        >>> print(check.summary().splitlines()[0])  # doctest: +ELLIPSIS
        held-out check PASSES: ... of 20 held-out runs inside the 95% extrapolation interval (expected ...
        """
        t = self.table
        c_lo, c_hi = distinct([t["C"].min(), t["C"].max()]) if len(t) else ("n/a", "n/a")
        backed = f" (calibrated on {self.n_backtest} backtest points of the sub-fit)" if self.n_backtest else ""
        text = (f"held-out check {self.verdict_line()}{backed}. Held out {self.held_out_text()}, "
                f"{c_lo}-{c_hi} FLOPs, up to {num(t['distance'].max(), 3)}x beyond the "
                f"training data; fitted on the other {int(self.train_rows.sum())} runs. Mean |log error| "
                f"{self.mean_abs_log_error:.4f}")
        if self.judged.any():
            text += f"; {self.information_line()}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record of the check (held-out rows, verdict, coverage, the small-run fit's parameters).

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> check = scalefit.holdout_check(fit, n_boot=50, seed=0)
        >>> record = check.to_dict()
        >>> record["verdict"], sorted(record)[:3]
        ('PASSES', ['coverage', 'held_out', 'held_out_runs'])
        """
        return {"train_runs": int(self.train_rows.sum()), "held_out_runs": len(self.table),
                "coverage": self.coverage,
                "prediction_coverage": self.prediction_coverage, "mean_abs_log_error": self.mean_abs_log_error,
                "level": self.level, "inside_prediction_interval": self.inside, "p_value": self.p_value,
                "inside_extrapolation_interval": self.inside_extrapolation, "n_backtest": self.n_backtest,
                "verdict": self.verdict, "verdict_line": self.verdict_line(), "held_out": self.held_out_text(),
                "held_sizes": list(self.held_sizes), "warnings": list(self.warnings),
                "params": self.fit.params, "rows": self.table.to_dict(orient="records")}


def holdout_check(fit, fraction: float = HOLDOUT_FRACTION, n_boot: int = 200, seed: int | None = 0,
                  scheme: str | None = None, backtest_boot: int = 0) -> HoldoutCheck:
    """Refit ``fit``'s law and objective without the largest model sizes and predict their runs.

    Whole model sizes are held out, largest compute first, until about ``fraction`` of the runs are (at most
    MAX_FRACTION, unless one model size alone is more). Raises FitError when too few runs or model sizes would
    remain to fit the law. The sub-fit is backtested (``backtest_boot`` bootstrap replicates per cut-off; 0
    calibrates the extrapolation interval only) and the held-out runs get its three intervals; the verdict judges
    the extrapolation interval. Warnings of the sub-fit are collected in ``HoldoutCheck.warnings``.

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> check = scalefit.holdout_check(fit, n_boot=50, seed=0)
    >>> check.verdict, len(check.table), check.n_backtest > 0
    ('PASSES', 20, True)
    """
    checks.real(fraction, "fraction", "the fraction of runs held out", lo=0.0, hi=1.0)
    checks.replicates(n_boot, "n_boot")
    checks.replicates(backtest_boot, "backtest_boot", allow_zero=True)
    checks.seed(seed)
    runs = fit.runs
    compute = conventions.training_compute(runs.N, runs.D, fit.law.flops_per_token_param)
    groups = runs.groups
    held, sizes = select_held_out(runs.N, compute, fraction)
    if (~held).sum() <= 2 * len(fit.law.param_names) or len(np.unique(runs.N[~held])) < 3:
        raise FitError(f"holding out the largest model size ({held.sum()} of {len(runs)} runs) leaves too few runs "
                       "or model sizes to fit the law")
    train_table = runs.subset(~held, reason=f"held-out check: the {len(sizes)} largest model sizes by compute "
                                            "held out")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # the same spec: an automatic delta is re-estimated, and says so; outliers are the full fit's to report
        small = fit_spec(fit.spec, train_table, check_outliers=False)
        boot = small.bootstrap(n=n_boot, seed=seed, scheme=scheme, progress=False)
        warnings.simplefilter("ignore", ExtrapolationWarning)
        inputs = {k: runs.df[k].to_numpy(float)[held] for k in fit.law.inputs}
        band = boot.predict(inputs, threshold=None)
        ex_lo, ex_hi, n_backtest = _extrapolation_interval(small, boot, inputs, backtest_boot, seed)
    collected = tuple(dict.fromkeys(str(w.message) for w in caught))
    observed = runs.loss[held]
    pi_lo, pi_hi = _prediction_interval(small, boot, inputs, seed)
    inside_ex = np.where(np.isfinite(ex_lo) & np.isfinite(ex_hi), (ex_lo <= observed) & (observed <= ex_hi), np.nan)
    table = pd.DataFrame({"group": groups[held], "N": runs.N[held], "D": runs.D[held], "C": compute[held],
                          "loss": observed, "predicted": band["estimate"], "lo": band["lo"], "hi": band["hi"],
                          "inside": (band["lo"] <= observed) & (observed <= band["hi"]),
                          "pi_lo": pi_lo, "pi_hi": pi_hi, "inside_pi": (pi_lo <= observed) & (observed <= pi_hi),
                          "ex_lo": ex_lo, "ex_hi": ex_hi, "inside_ex": inside_ex,
                          "log_error": np.log(band["estimate"]) - np.log(observed), "distance": band["distance"]})
    return HoldoutCheck(fit=small, bootstrap=boot, table=table.sort_values("C").reset_index(drop=True),
                        train_rows=~held, level=boot.level, held_sizes=sizes, warnings=collected,
                        n_backtest=n_backtest)


def select_held_out(N: np.ndarray, compute: np.ndarray, fraction: float = HOLDOUT_FRACTION,
                    max_fraction: float = MAX_FRACTION) -> tuple[np.ndarray, tuple[float, ...]]:
    """Mask of held-out runs (n,) and the held-out model sizes, largest compute first.

    Model sizes rank by the largest compute among their runs; sizes are added until at least ``fraction``
    of the runs are held out, without passing ``max_fraction`` (the first size is always held out).
    """
    N = np.asarray(N, float)
    sizes = np.unique(N)
    top = np.array([compute[N == s].max() for s in sizes])
    order = sizes[np.argsort(-top, kind="stable")]
    held = np.zeros(len(N), dtype=bool)
    chosen: list[float] = []
    for size in order:
        more = held | (N == size)
        if chosen and more.sum() > max_fraction * len(N):
            break
        held, chosen = more, [*chosen, float(size)]
        if held.sum() >= fraction * len(N):
            break
    return held, tuple(chosen)


def _prediction_interval(fit, boot, inputs: dict[str, np.ndarray], seed: int | None):
    """Percentile interval of replicate predictions times exp(noise), noise ~ N(0, sd_between^2 + sd_within^2)
    estimated from the small-run fit's residuals: where a single new run is expected to land."""
    sd = noise_sd(fit_noise(fit))
    reps = fit.law.predict(boot.replicates, inputs)  # (B, m), all replicates at once
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])
    draws = np.log(reps) + rng.normal(0.0, sd, size=reps.shape)
    lo, hi = np.quantile(draws, [(1 - boot.level) / 2, (1 + boot.level) / 2], axis=0)
    return np.exp(lo), np.exp(hi)


def _extrapolation_interval(small, boot, inputs: dict[str, np.ndarray], n_boot: int, seed: int | None):
    """The sub-fit's extrapolation interval at the held-out runs: its backtest
    (:func:`scalefit.extrapolation.backtest.backtest`) calibrates ``boot.predict_intervals``; NaN where no
    backtest could run. Returns (lo, hi, backtest points)."""
    from ..core.errors import ScalefitError
    from .backtest import backtest

    m = len(next(iter(inputs.values())))
    nan = np.full(m, np.nan)
    if set(small.law.inputs) != {"N", "D"}:
        return nan, nan, 0
    try:
        bt = backtest(small, fractions=BACKTEST_FRACTIONS, n_boot=n_boot, level=boot.level, seed=seed)
        if bt.n_points == 0 or not bt.calibration.available:
            return nan, nan, 0
        pi = boot.predict_intervals(inputs["N"], inputs["D"], backtest=bt)
    except (ScalefitError, ArithmeticError, ValueError, np.linalg.LinAlgError):
        return nan, nan, 0
    return np.asarray(pi.extrap_lo, float), np.asarray(pi.extrap_hi, float), int(bt.n_points)
