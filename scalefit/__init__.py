"""scalefit: fit empirical scaling laws to training sweeps, with calibrated uncertainty.

Public API::

    runs = scalefit.load_runs("sweep.csv")
    fit = scalefit.fit(runs)                  # default law E + A/N^alpha + B/D^beta; or law="kaplan", ...
    table = scalefit.compare(runs, laws=[scalefit.laws.DEFAULT_LAW, "kaplan"]).table
    boot = fit.bootstrap(n=1000, seed=0)
    boot.predict(N=70e9, D=1.4e12)
    boot.optimal(compute=5.76e23)
    scalefit.report(fit, "out/", bootstrap=boot, targets=[(70e9, 1.4e12)], computes=[5.76e23])
    scalefit.check_coverage(fit, R=200, n=200, seed=0)
"""

from __future__ import annotations

from . import datasets
from .allocation import Hardware, Plan
from .bootstrap import Bootstrap
from .compare import Comparison, compare
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
from .report import report
from .runs import RunTable, load_runs
from .spec import FitSpec

__version__ = "0.1.0"

__all__ = [
    "Bootstrap",
    "Comparison",
    "ConvergenceWarning",
    "Coverage",
    "DataError",
    "DatasetError",
    "ExtrapolationWarning",
    "Fit",
    "FitError",
    "FitSpec",
    "Hardware",
    "HoldoutCheck",
    "Plan",
    "RunTable",
    "ScalefitError",
    "ScalefitWarning",
    "__version__",
    "check_coverage",
    "compare",
    "datasets",
    "fit",
    "holdout_check",
    "load_runs",
    "report",
]
