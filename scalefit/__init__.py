"""scalefit: fit empirical scaling laws to training sweeps, with calibrated uncertainty.

Public API::

    runs = scalefit.load_runs("sweep.csv")
    fit = scalefit.fit(runs, law="chinchilla")
"""

from __future__ import annotations

from . import datasets
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
from .runs import RunTable, load_runs

__version__ = "0.1.0"

__all__ = [
    "ConvergenceWarning",
    "DataError",
    "DatasetError",
    "ExtrapolationWarning",
    "Fit",
    "FitError",
    "RunTable",
    "ScalefitError",
    "ScalefitWarning",
    "__version__",
    "datasets",
    "fit",
    "load_runs",
]
