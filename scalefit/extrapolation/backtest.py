"""Backtests: how wrong is the law when it extrapolates, measured on the user's own sweep.

A backtest fits the law on the runs below a cut-off and predicts the runs above it, for a series of
cut-offs by model size N and by training compute C = 6ND (fractions FRACTIONS of the runs below the cut).
Every held-out run gives one point: its log error log(predicted) - log(observed) against its
extrapolation distance (largest of its N, D and C ratios to the training maxima). Those points calibrate
the extrapolation interval (:func:`scalefit.uncertainty.prediction.calibrate`), and the same table shows how often
each interval held the runs it had not seen, with a binomial test against the nominal level.

The ``inside_extrap`` column is cross-fitted: the interval of a point is calibrated on the points of the
*other* cut-offs, without any point of the same run, so the backtest does not grade its own homework.

:func:`leave_largest_out` is the check one level up: hold out the largest runs, run the whole pipeline
(fit, bootstrap, backtest, three intervals) on the rest, and count how many held-out runs each interval
covers.

Every refit goes through :func:`refit` (one place, so it can become the shared fit specification).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from ..core.errors import FitError, ScalefitError, ScalefitWarning
from ..laws import allocation
from ..uncertainty.calibration import SUPPORT_FACTOR, Calibration, calibrate
from ..uncertainty.noise import estimate_noise, noise_sd
from ..uncertainty.prediction import PredictionIntervals, compute_span, extrapolation_limits, newrun_interval

FRACTIONS = (0.5, 0.6, 0.7, 0.8, 0.9)  # share of runs below each cut-off
CUT_BY = ("N", "C")
MIN_DISTINCT = 3  # a training subset needs at least this many distinct N and distinct D values
N_BOOT = 100
INTERVALS = ("band", "newrun", "extrap")
INTERVAL_NAMES = {"band": "law band", "newrun": "new-run interval", "extrap": "extrapolation interval"}
P_VALUE = 0.05


def refit(fit, table):
    """Refit ``fit``'s law and objective on another run table, choosing the Huber delta the way the
    original fit did (re-estimated when it was automatic, the same number otherwise).

    The ONE place the backtest builds a fit: when the shared fit specification exists, this becomes
    ``fit_spec(spec, table)``.
    """
    from ..fitting.fit import fit as fit_law  # a use of the API, like a user's script

    if fit.objective.kind == "ls":
        return fit_law(table, law=fit.law, objective="ls")
    automatic = fit.delta_source.startswith("automatic")
    return fit_law(table, law=fit.law, objective="huber", delta=None if automatic else fit.objective.delta)


def cutoffs(N, D, fractions: Sequence[float] = FRACTIONS, by: Sequence[str] = CUT_BY,
            min_train: int = 0) -> list[dict[str, Any]]:
    """Training masks of the backtest: {kind, fraction, cut, train (bool (n,))}, duplicates removed.

    ``kind`` "N" keeps runs with N <= the ``fraction`` quantile of N; "C" the same for 6ND. A cut-off is
    kept only when both sides are non-empty, the training side has more than ``min_train`` runs and at
    least MIN_DISTINCT distinct N and D values.
    """
    n, d = np.asarray(N, float), np.asarray(D, float)
    values = {"N": n, "C": 6.0 * n * d, "D": d}
    out, seen = [], set()
    for kind in by:
        if kind not in values:
            raise ValueError(f"cut-offs are by 'N', 'D' or 'C', not {kind!r}")
        x = values[kind]
        for frac in fractions:
            cut = float(np.quantile(x, frac, method="lower"))
            train = x <= cut
            key = train.tobytes()
            if key in seen or train.all() or not train.any() or train.sum() <= min_train:
                continue
            if len(np.unique(n[train])) < MIN_DISTINCT or len(np.unique(d[train])) < MIN_DISTINCT:
                continue
            seen.add(key)
            out.append({"kind": kind, "fraction": float(frac), "cut": cut, "train": train})
    return out


def _binomial_row(name: str, inside: np.ndarray, level: float) -> dict[str, Any]:
    inside = np.asarray(inside, dtype=bool)
    n, k = int(inside.size), int(inside.sum())
    if n == 0:
        return {"interval": name, "inside": 0, "n": 0, "coverage": np.nan, "nominal": level, "se": np.nan,
                "p_value": np.nan, "verdict": "no points"}
    share = k / n
    se = math.sqrt(level * (1 - level) / n)
    p = float(binomtest(k, n, level).pvalue)
    verdict = ("under-covers" if share < level and p < P_VALUE else
               "over-covers" if share > level and p < P_VALUE else "consistent with nominal")
    return {"interval": name, "inside": k, "n": n, "coverage": share, "nominal": level, "se": se,
            "p_value": p, "verdict": verdict}


@dataclass(frozen=True)
class Backtest:
    """Result of :func:`backtest`.

    ``table``: one row per (cut-off, held-out run): cutoff (id), kind, cut, n_train, run (row position in
    the fit's run table), group, N, D, C, N_ratio, D_ratio, C_ratio, distance, predicted, observed,
    log_error, noise_sd, band_lo/hi, newrun_lo/hi, extrap_lo/hi (cross-fitted), inside_band,
    inside_newrun, inside_extrap. ``cutoffs``: one row per cut-off fitted (or skipped, with the reason).
    ``calibration``: the extrapolation rule calibrated on every point, as used for predictions.

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> bt = scalefit.backtest(fit, fractions=(0.7,), n_boot=0)
    >>> bt.n_points > 0, bt.calibration.rule
    (True, 'conformal')
    >>> print(bt.verdict().split(";")[0])  # doctest: +ELLIPSIS
    backtest: 89 held-out points from 54 distinct runs over 2 cut-offs, extrapolating up to 14.4x
    """

    table: pd.DataFrame
    cutoffs: pd.DataFrame
    calibration: Calibration
    level: float
    n_boot: int
    seed: int | None
    noise: dict[str, float]
    maxima: dict[str, float]
    fit: Any = None
    skipped: tuple[str, ...] = field(default=())

    @property
    def n_points(self) -> int:
        return len(self.table)

    @property
    def max_distance(self) -> float:
        return float(self.table["distance"].max()) if len(self.table) else float("nan")

    def calibration_at(self, level: float) -> Calibration:
        """The extrapolation rule re-calibrated at another nominal level.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> bt = scalefit.backtest(fit, fractions=(0.7,), n_boot=0)
        >>> bt.calibration_at(0.8).level
        0.8
        """
        if abs(level - self.level) < 1e-12:
            return self.calibration
        t = self.table
        return calibrate(t["log_error"], t["distance"], t["noise_sd"], level, t["run"], t["cutoff"], t["span"])

    def coverage(self) -> pd.DataFrame:
        """Share of backtest points inside each interval, with an exact binomial test against the nominal
        level (two-sided p-value; points of nested cut-offs are not independent, so read p as a guide).

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> bt = scalefit.backtest(fit, fractions=(0.7,), n_boot=0)
        >>> list(bt.coverage()["interval"])
        ['law band', 'new-run interval', 'extrapolation interval']
        """
        rows = []
        for key in INTERVALS:
            col = self.table[f"inside_{key}"]
            valid = col.notna().to_numpy()
            rows.append(_binomial_row(INTERVAL_NAMES[key], col[valid].astype(bool).to_numpy(), self.level))
        return pd.DataFrame(rows)

    def verdict(self, target_distance: float | None = None) -> str:
        """One paragraph: what the backtest supports, and whether it supports ``target_distance``.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> bt = scalefit.backtest(fit, fractions=(0.7,), n_boot=0)
        >>> print(bt.verdict(target_distance=1000.0))  # doctest: +ELLIPSIS
        backtest: 89 held-out points from 54 distinct runs over 2 cut-offs, extrapolating up to ...
        """
        if self.n_points == 0:
            return ("no backtest was possible (too few runs below every cut-off): nothing measures how wrong the "
                    "law is beyond the data; treat every extrapolation as unsupported")
        cal = self.calibration
        text = (f"backtest: {self.n_points} held-out points from {cal.n_runs} distinct runs over {cal.n_cutoffs} "
                f"cut-offs, extrapolating up to {self.max_distance:.3g}x; median |log error| "
                f"{float(np.median(np.abs(self.table['log_error']))):.3g}")
        if cal.rule != "conformal":
            text += f"; {cal.rule}"
        if target_distance is not None:
            if target_distance > SUPPORT_FACTOR * self.max_distance:
                text += (f". NOT SUPPORTED: the requested extrapolation ({target_distance:.3g}x) is more than "
                         f"{SUPPORT_FACTOR:g}x the largest backtested distance; the extrapolation interval there "
                         "is an extrapolation of the error model itself")
            else:
                text += f". The requested extrapolation ({target_distance:.3g}x) is within what the sweep can test"
        return text

    def growth_curve(self, distance) -> np.ndarray:
        """Half-width (log loss) of the extrapolation interval against distance, at the median noise sd and
        training span of the backtest points.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> bt = scalefit.backtest(fit, fractions=(0.7,), n_boot=0)
        >>> width = bt.growth_curve([1.0, 10.0])
        >>> bool(width[1] >= width[0])
        True
        """
        if not len(self.table):
            return np.full(np.shape(distance), np.nan)
        sd, span = float(np.median(self.table["noise_sd"])), float(np.median(self.table["span"]))
        return self.calibration.halfwidth(distance, sd, span)

    def figure(self, ax=None):
        """|log error| against extrapolation distance with the fitted growth curve (matplotlib Figure).

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> bt = scalefit.backtest(fit, fractions=(0.7,), n_boot=0)
        >>> fig = bt.figure()
        >>> fig.axes[0].get_xscale()
        'log'
        """
        from ..plots.backtest import backtest_figure

        return backtest_figure(self, ax=ax)

    def summary(self) -> str:
        """The verdict, the extrapolation rule and the coverage of each interval, as text.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> bt = scalefit.backtest(fit, fractions=(0.7,), n_boot=0)
        >>> print(bt.summary().splitlines()[0])  # doctest: +ELLIPSIS
        backtest: 89 held-out points from 54 distinct runs over 2 cut-offs, extrapolating up to ...
        """
        pct = round(self.level * 100)
        lines = [self.verdict(), f"  extrapolation rule: {self.calibration.describe()}",
                 f"  {'interval':<24}{'inside':>8}{'of':>6}{'share':>8}{f'nominal {pct}%':>13}{'p':>10}  verdict"]
        for row in self.coverage().itertuples():
            lines.append(f"  {row.interval:<24}{row.inside:>8}{row.n:>6}{row.coverage:>8.3f}{row.nominal:>13.2f}"
                         f"{row.p_value:>10.3g}  {row.verdict}")
        lines += [f"  skipped: {s}" for s in self.skipped]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record: cut-offs, held-out rows, calibration, coverage and verdict (no fit).

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> bt = scalefit.backtest(fit, fractions=(0.7,), n_boot=0)
        >>> record = bt.to_dict()
        >>> sorted(record)[:4]
        ['calibration', 'coverage', 'cutoffs', 'level']
        """
        return {"level": self.level, "n_boot": self.n_boot, "seed": self.seed, "noise": dict(self.noise),
                "maxima": dict(self.maxima), "calibration": self.calibration.to_dict(),
                "skipped": list(self.skipped), "verdict": self.verdict(),
                "coverage": _records(self.coverage()), "cutoffs": _records(self.cutoffs),
                "rows": _records(self.table)}

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Backtest:
        """Rebuild from :meth:`to_dict` (without the fit, which is not stored).

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> bt = scalefit.backtest(fit, fractions=(0.7,), n_boot=0)
        >>> again = scalefit.Backtest.from_dict(bt.to_dict())
        >>> again.n_points == bt.n_points
        True
        """
        return cls(table=_frame(record["rows"], _TABLE_COLUMNS), cutoffs=_frame(record["cutoffs"], _CUTOFF_COLUMNS),
                   calibration=Calibration.from_dict(record["calibration"]), level=float(record["level"]),
                   n_boot=int(record["n_boot"]), seed=record["seed"], noise=dict(record["noise"]),
                   maxima=dict(record["maxima"]), skipped=tuple(record["skipped"]))


_TABLE_COLUMNS = ("cutoff", "kind", "cut", "n_train", "run", "group", "N", "D", "C", "N_ratio", "D_ratio", "C_ratio",
                  "distance", "predicted", "observed", "log_error", "noise_sd", "span", "band_lo", "band_hi",
                  "newrun_lo", "newrun_hi", "extrap_lo", "extrap_hi", "inside_band", "inside_newrun", "inside_extrap")
_CUTOFF_COLUMNS = ("cutoff", "kind", "fraction", "cut", "n_train", "n_held", "status")


def backtest(fit, fractions: Sequence[float] = FRACTIONS, by: Sequence[str] = CUT_BY, n_boot: int = N_BOOT,
             level: float = 0.95, seed: int | None = 0) -> Backtest:
    """Fit below each cut-off, predict above it, and calibrate the extrapolation interval.

    Cut-offs whose fit fails are skipped and listed in ``skipped``; warnings from cut-off fits are
    silenced (they concern subsets, not the user's fit).

    Distances are dimensionless multiples of the training maxima; errors are |log(predicted/observed)| of the
    loss (nats/token).

    Parameters
    ----------
    fractions, by:
        Cut-offs: for each kind in ``by`` ("N", "C" = 6ND, or "D") and each fraction, the runs at or
        below that quantile are the training set (see :func:`cutoffs`).
    n_boot:
        Bootstrap replicates per cut-off fit, for the law band and new-run interval of the held-out
        points (0: skip them; the extrapolation calibration does not need them).
    level:
        Nominal level of every interval.
    seed:
        Seeds the cut-off bootstraps (one child stream each).

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> bt = scalefit.backtest(fit, fractions=(0.7,), n_boot=0)
    >>> bt.n_points, bt.calibration.rule
    (89, 'conformal')
    >>> print(bt.coverage()[["interval", "inside", "n"]].to_string(index=False))
                  interval  inside  n
                  law band       0  0
          new-run interval      80 89
    extrapolation interval      85 89
    """
    runs = fit.runs
    n_all, d_all, loss, groups = runs.N, runs.D, runs.loss, runs.groups
    inputs_all = {k: runs.df[k].to_numpy(float) for k in fit.law.inputs}  # the law's own inputs (N, D, U, C...)
    n_params = len(fit.law.param_names)
    masks = cutoffs(n_all, d_all, fractions, by, min_train=2 * n_params)
    streams = np.random.SeedSequence(seed).spawn(max(len(masks), 1))
    rows, cut_rows, skipped = [], [], []
    for k, cut in enumerate(masks):
        train = cut["train"]
        held = np.flatnonzero(~train)
        record = {"cutoff": k, "kind": cut["kind"], "fraction": cut["fraction"], "cut": cut["cut"],
                  "n_train": int(train.sum()), "n_held": int(held.size), "status": "ok"}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ScalefitWarning)
                table = runs.subset(train, reason=f"backtest: {cut['kind']} <= {cut['cut']:.4g}")
                small = refit(fit, table)
                if not small.diagnostics["converged"]:
                    raise ScalefitError("the cut-off fit did not converge")
        except ScalefitError as exc:
            record["status"] = f"skipped: {exc}"
            skipped.append(f"cut-off {cut['kind']} <= {cut['cut']:.4g}: {exc}")
            cut_rows.append(record)
            continue
        boot = None
        if n_boot:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ScalefitWarning)
                    boot = small.bootstrap(n=n_boot, seed=int(streams[k].generate_state(1)[0]), progress=False)
            except (ScalefitError, ValueError, np.linalg.LinAlgError) as exc:  # the band is optional here
                record["status"] = f"ok, without law band (bootstrap failed: {exc})"
                skipped.append(f"cut-off {cut['kind']} <= {cut['cut']:.4g}: bootstrap failed ({exc}); "
                               "its points have no law band")
        cut_rows.append(record)
        rows.append(_held_out_rows(k, cut, small, boot, held, inputs_all, n_all, d_all, loss, groups, level))
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=list(_TABLE_COLUMNS))
    calibration = calibrate(table["log_error"], table["distance"], table["noise_sd"], level,
                            table["run"], table["cutoff"], table["span"])
    if len(table):
        _cross_fit(table, level)
    return Backtest(table=table, cutoffs=pd.DataFrame(cut_rows, columns=list(_CUTOFF_COLUMNS)),
                    calibration=calibration, level=level, n_boot=int(n_boot), seed=seed,
                    noise=estimate_noise(fit.residuals, groups), maxima=fit.data_maxima, fit=fit,
                    skipped=tuple(skipped))


def _held_out_rows(k, cut, small, boot, held, inputs_all, n_all, d_all, loss, groups, level) -> pd.DataFrame:
    n, d, observed = n_all[held], d_all[held], loss[held]
    x = {key: value[held] for key, value in inputs_all.items()}
    predicted = small.predict(x, threshold=None)
    dist = allocation.extrapolation_distance(small.data_maxima, n, d)
    sd = noise_sd(estimate_noise(small.residuals, small.runs.groups))
    span = compute_span(small)
    if boot is not None:
        reps = np.log(small.law.predict(boot.replicates, x))  # (B, m)
        band_lo, band_hi = np.exp(np.quantile(reps, [(1 - level) / 2, (1 + level) / 2], axis=0))
        newrun_lo, newrun_hi = newrun_interval(reps, sd, level)
    else:
        band_lo = band_hi = np.full(n.shape, np.nan)
        newrun_lo, newrun_hi = newrun_interval(np.log(predicted)[None, :], sd, level)
    frame = pd.DataFrame({
        "cutoff": k, "kind": cut["kind"], "cut": cut["cut"], "n_train": int(cut["train"].sum()), "run": held,
        "group": groups[held], "N": n, "D": d, "C": 6.0 * n * d, **dist, "predicted": predicted,
        "observed": observed, "log_error": np.log(predicted) - np.log(observed), "noise_sd": sd, "span": span,
        "band_lo": band_lo, "band_hi": band_hi, "newrun_lo": newrun_lo, "newrun_hi": newrun_hi})
    frame["inside_band"] = _inside(frame, "band") if boot is not None else np.nan
    frame["inside_newrun"] = _inside(frame, "newrun")
    return frame


def _inside(frame: pd.DataFrame, key: str) -> np.ndarray:
    return ((frame[f"{key}_lo"] <= frame["observed"]) & (frame["observed"] <= frame[f"{key}_hi"])).to_numpy()


def _cross_fit(table: pd.DataFrame, level: float) -> None:
    """extrap_lo/hi and inside_extrap of each point from a calibration on the other cut-offs' points of
    other runs (in place)."""
    cut, run = table["cutoff"].to_numpy(), table["run"].to_numpy()
    err, dist, sd, span = (table[c].to_numpy(float) for c in ("log_error", "distance", "noise_sd", "span"))
    lo, hi = np.full(len(table), np.nan), np.full(len(table), np.nan)
    for i in range(len(table)):
        other = (cut != cut[i]) & (run != run[i])
        cal = calibrate(err[other], dist[other], sd[other], level, spans=span[other])
        lo[i], hi[i] = extrapolation_limits(table["predicted"].iat[i], table["newrun_lo"].iat[i],
                                            table["newrun_hi"].iat[i], dist[i], sd[i], cal, span[i])
    table["extrap_lo"], table["extrap_hi"] = lo, hi
    inside = (lo <= table["observed"].to_numpy()) & (table["observed"].to_numpy() <= hi)
    table["inside_extrap"] = np.where(np.isfinite(lo), inside, np.nan)


# -- the check one level up: hold out the largest runs, predict them with all three intervals -------------------
@dataclass(frozen=True)
class LeaveLargestOut:
    """Result of :func:`leave_largest_out`: the three intervals at every held-out run and how many held.

    ``table``: one row per held-out run: run, group, N, D, C, observed, the :class:`PredictionIntervals`
    columns, inside_band, inside_newrun, inside_extrap. ``backtest`` is the backtest of the reduced fit.

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> llo = scalefit.leave_largest_out(fit, n_boot=20, backtest_options={"fractions": (0.7,)})
    >>> list(llo.coverage()["interval"])
    ['law band', 'new-run interval', 'extrapolation interval']
    """

    table: pd.DataFrame
    intervals: PredictionIntervals
    backtest: Backtest
    fraction: float
    n_train: int
    level: float

    def coverage(self) -> pd.DataFrame:
        """Per interval: held-out runs inside, share, binomial test against nominal, the floor
        nominal - 2 binomial SE and whether the share clears it, and the median relative width
        (hi - lo) / (2 x estimate).

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> llo = scalefit.leave_largest_out(fit, n_boot=20, backtest_options={"fractions": (0.7,)})
        >>> list(llo.coverage().columns)[:4]
        ['interval', 'inside', 'n', 'coverage']
        """
        rows = []
        for key in INTERVALS:
            row = _binomial_row(INTERVAL_NAMES[key], self.table[f"inside_{key}"].to_numpy(bool), self.level)
            row["floor"] = self.level - 2 * row["se"]
            row["clears_floor"] = bool(row["coverage"] >= row["floor"] - 1e-12)
            rel = (self.table[f"{key}_hi"] - self.table[f"{key}_lo"]) / (2 * self.table["estimate"])
            row["median_halfwidth"] = float(np.median(rel))
            rows.append(row)
        return pd.DataFrame(rows)

    def summary(self) -> str:
        """What was held out and how often each interval held the held-out runs, as text.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> llo = scalefit.leave_largest_out(fit, n_boot=20, backtest_options={"fractions": (0.7,)})
        >>> print(llo.summary().splitlines()[0])  # doctest: +ELLIPSIS
        leave-largest-out: fitted on 109 runs, predicted the 44 runs with the largest compute ...
        """
        t = self.table
        pct = round(self.level * 100)
        lines = [f"leave-largest-out: fitted on {self.n_train} runs, predicted the {len(t)} runs with the largest "
                 f"compute (whole groups; up to {t['distance'].max():.3g}x beyond the training data); "
                 f"nominal {pct}%",
                 f"  {'interval':<24}{'inside':>8}{'of':>5}{'share':>8}{'floor':>8}{'+/- width':>11}{'p':>9}  verdict"]
        for row in self.coverage().itertuples():
            lines.append(f"  {row.interval:<24}{row.inside:>8}{row.n:>5}{row.coverage:>8.3f}{row.floor:>8.3f}"
                         f"{row.median_halfwidth:>10.2%} {row.p_value:>9.3g}  {row.verdict}")
        lines.append(f"  extrapolation rule: {self.intervals.calibration.describe()}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record: the held-out rows with their three intervals, coverage and the backtest.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> llo = scalefit.leave_largest_out(fit, n_boot=20, backtest_options={"fractions": (0.7,)})
        >>> sorted(llo.to_dict())
        ['backtest', 'coverage', 'fraction', 'intervals', 'level', 'n_train', 'rows']
        """
        return {"fraction": self.fraction, "n_train": self.n_train, "level": self.level,
                "coverage": _records(self.coverage()), "rows": _records(self.table),
                "intervals": self.intervals.to_dict(), "backtest": self.backtest.to_dict()}

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> LeaveLargestOut:
        """Rebuild from :meth:`to_dict` (without the fit, which is not stored).

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> llo = scalefit.leave_largest_out(fit, n_boot=20, backtest_options={"fractions": (0.7,)})
        >>> again = scalefit.LeaveLargestOut.from_dict(llo.to_dict())
        >>> len(again.table) == len(llo.table)
        True
        """
        return cls(table=pd.DataFrame(record["rows"]), intervals=PredictionIntervals.from_dict(record["intervals"]),
                   backtest=Backtest.from_dict(record["backtest"]), fraction=float(record["fraction"]),
                   n_train=int(record["n_train"]), level=float(record["level"]))


def held_out_mask(N, D, groups, fraction: float) -> np.ndarray:
    """Runs whose compute 6ND is in the top ``fraction``, rounded up to whole groups."""
    compute = 6.0 * np.asarray(N, float) * np.asarray(D, float)
    cut = np.quantile(compute, 1.0 - fraction)
    return np.isin(groups, np.unique(groups[compute >= cut]))


def leave_largest_out(fit, fraction: float = 0.1, n_boot: int = 200, seed: int | None = 0, level: float = 0.95,
                      backtest_options: Mapping[str, Any] | None = None) -> LeaveLargestOut:
    """Hold out the largest runs, run fit -> bootstrap -> backtest -> three intervals on the rest, and
    report how often each interval holds the held-out runs.

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> llo = scalefit.leave_largest_out(fit, n_boot=20, backtest_options={"fractions": (0.7,)})
    >>> list(llo.coverage()["interval"])
    ['law band', 'new-run interval', 'extrapolation interval']
    """
    runs = fit.runs
    held = held_out_mask(runs.N, runs.D, runs.groups, fraction)
    if (~held).sum() <= 2 * len(fit.law.param_names):
        raise ScalefitError(f"holding out {held.sum()} of {len(runs)} runs leaves too few to fit")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScalefitWarning)
        small = refit(fit, runs.subset(~held, reason=f"leave-largest-out: top {fraction:.0%} by compute held out"))
        try:
            boot = small.bootstrap(n=n_boot, seed=seed, level=level, progress=False)
        except np.linalg.LinAlgError as exc:
            raise FitError(f"the bootstrap of the fit without the largest runs failed ({exc})") from None
    bt = backtest(small, level=level, seed=seed, **dict(backtest_options or {}))
    from ..uncertainty.prediction import loss_intervals

    intervals = loss_intervals(boot, runs.N[held], runs.D[held], bt)
    observed = runs.loss[held]
    table = intervals.to_frame()
    table.insert(0, "run", np.flatnonzero(held))
    table.insert(1, "group", runs.groups[held])
    table.insert(4, "C", 6.0 * runs.N[held] * runs.D[held])
    table.insert(5, "observed", observed)
    for key in INTERVALS:
        table[f"inside_{key}"] = (table[f"{key}_lo"] <= observed) & (observed <= table[f"{key}_hi"])
    return LeaveLargestOut(table=table, intervals=intervals, backtest=bt, fraction=fraction,
                           n_train=int((~held).sum()), level=level)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    from ..core.formatting import json_safe

    return [{str(k): json_safe(v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            for row in frame.to_dict(orient="records")]


def _frame(records, columns) -> pd.DataFrame:
    from ..core.formatting import from_json_safe

    return pd.DataFrame([{k: from_json_safe(v) for k, v in r.items()} for r in records], columns=list(columns))
