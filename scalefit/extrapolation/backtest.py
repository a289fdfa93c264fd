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

# The backtest, in the modules that do each part; every name stays importable from here.
from .backtest_result import Backtest  # noqa: F401
from .backtest_run import _cross_fit, _held_out_rows, _inside, backtest  # noqa: F401
from .largest import LeaveLargestOut, held_out_mask, leave_largest_out  # noqa: F401
from .splits import (  # noqa: F401
    _CUTOFF_COLUMNS,
    _TABLE_COLUMNS,
    CUT_BY,
    FRACTIONS,
    INTERVAL_NAMES,
    INTERVALS,
    MIN_DISTINCT,
    N_BOOT,
    P_VALUE,
    _binomial_row,
    _frame,
    _records,
    cutoffs,
    refit,
)
