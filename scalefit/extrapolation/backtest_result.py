"""The Backtest result: held-out points, cut-offs and the calibrated extrapolation rule, with their coverage,
verdict, growth curve, summary and record."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..uncertainty.calibration import SUPPORT_FACTOR, Calibration, calibrate
from .splits import _CUTOFF_COLUMNS, _TABLE_COLUMNS, INTERVAL_NAMES, INTERVALS, _binomial_row, _frame, _records


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
        not_computed = []
        for row in self.coverage().itertuples():
            if row.n == 0:  # e.g. the law band of a backtest run without bootstraps: no row of NaN
                not_computed.append(row.interval)
                continue
            lines.append(f"  {row.interval:<24}{row.inside:>8}{row.n:>6}{row.coverage:>8.3f}{row.nominal:>13.2f}"
                         f"{row.p_value:>10.3g}  {row.verdict}")
        if not_computed:
            lines.append(f"  not computed (cut-off fits not bootstrapped): {', '.join(not_computed)}")
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
