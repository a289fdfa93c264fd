"""The check one level up: hold out the largest runs, run fit -> bootstrap -> backtest -> three intervals on
the rest, and count how many held-out runs each interval covers (LeaveLargestOut, leave_largest_out)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..core import checks
from ..core.errors import FitError, ScalefitError, ScalefitWarning
from ..uncertainty.prediction import PredictionIntervals
from .backtest_result import Backtest
from .backtest_run import backtest
from .splits import INTERVAL_NAMES, INTERVALS, _binomial_row, _records, refit


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
    checks.real(fraction, "fraction", "the fraction of runs held out", lo=0.0, hi=1.0)
    checks.replicates(n_boot, "n_boot")
    checks.level(level)
    checks.seed(seed)
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
