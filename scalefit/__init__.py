"""scalefit: fit empirical scaling laws to training sweeps, with calibrated uncertainty.

Public API::

    runs = scalefit.load_runs("sweep.csv")
    fit = scalefit.fit(runs, law="chinchilla")
    boot = fit.bootstrap(n=1000, seed=0)
    boot.predict(N=70e9, D=1.4e12)
    boot.optimal(compute=5.76e23)
    scalefit.report(fit, "out/", bootstrap=boot, targets=[(70e9, 1.4e12)], computes=[5.76e23])
    scalefit.check_coverage(fit, R=200, n=200, seed=0)
    bt = scalefit.backtest(fit)                       # extrapolation errors measured on the sweep itself
    boot.predict_intervals(N=70e9, D=1.4e12, backtest=bt)   # law band, new-run and extrapolation intervals
"""

from __future__ import annotations

from . import datasets
from .allocation import Hardware, Plan
from .backtest import Backtest, LeaveLargestOut, backtest, leave_largest_out
from .bootstrap import Bootstrap
from .coverage import Coverage, check_coverage
from .errors import (
    ConvergenceWarning,
    DataError,
    DatasetError,
    ExtrapolationWarning,
    FitError,
    ScalefitError,
    ScalefitWarning,
)
from .fit import Fit, fit
from .holdout import HoldoutCheck, holdout_check
from .predictive import PredictionIntervals
from .report import report
from .runs import RunTable, load_runs

__version__ = "0.1.0"

__all__ = [
    "Backtest",
    "Bootstrap",
    "ConvergenceWarning",
    "Coverage",
    "DataError",
    "DatasetError",
    "ExtrapolationWarning",
    "Fit",
    "FitError",
    "Hardware",
    "HoldoutCheck",
    "LeaveLargestOut",
    "Plan",
    "PredictionIntervals",
    "RunTable",
    "ScalefitError",
    "ScalefitWarning",
    "__version__",
    "backtest",
    "check_coverage",
    "datasets",
    "fit",
    "holdout_check",
    "leave_largest_out",
    "load_runs",
    "report",
]
