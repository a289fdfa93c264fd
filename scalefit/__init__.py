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
    bt = scalefit.backtest(fit)                       # extrapolation errors measured on the sweep itself
    boot.predict_intervals(N=70e9, D=1.4e12, backtest=bt)   # law band, new-run and extrapolation intervals

The names are imported lazily (PEP 562): ``import scalefit`` is cheap and imports neither numpy's
friends nor matplotlib, so the command line can take over Ctrl-C before any heavy import runs.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__version__ = "0.1.0"

#: public name -> submodule that defines it (the submodule itself when the name is a module)
_EXPORTS = {
    "ArgumentError": "core.errors",
    "Backtest": "extrapolation.backtest",
    "Bootstrap": "uncertainty.bootstrap",
    "CheckpointWarning": "core.errors",
    "Comparison": "approaches.compare_laws",
    "ConvergenceWarning": "core.errors",
    "Coverage": "simulation.coverage",
    "DataCheckWarning": "core.errors",
    "DataError": "core.errors",
    "DatasetError": "core.errors",
    "DelimiterWarning": "core.errors",
    "ExtrapolationWarning": "core.errors",
    "Fit": "fitting.fit",
    "FitError": "core.errors",
    "FitSpec": "fitting.spec",
    "Hardware": "laws.allocation",
    "HoldoutCheck": "extrapolation.holdout",
    "Identifiability": "fitting.identify",
    "LeaveLargestOut": "extrapolation.backtest",
    "OutlierWarning": "core.errors",
    "Plan": "laws.allocation",
    "PredictionIntervals": "uncertainty.prediction",
    "RunTable": "data.runs",
    "ScalefitError": "core.errors",
    "ScalefitWarning": "core.errors",
    "TextEncodingWarning": "core.errors",
    "backtest": "extrapolation.backtest",
    "check_coverage": "simulation.coverage",
    "compare": "approaches.compare_laws",
    "compare_approaches": "approaches",
    "envelope_approach": "approaches",
    "fit": "fitting.fit",
    "fit_data_constrained": "approaches",
    "holdout_check": "extrapolation.holdout",
    "identifiability": "fitting.identify",
    "isoflop_approach": "approaches",
    "leave_largest_out": "extrapolation.backtest",
    "load_runs": "data.runs",
    "report": "report.render",
}

#: public modules: name -> the module it is (scalefit.datasets is the dataset registry, scalefit/data/registry.py)
_MODULES = {"approaches": "approaches", "datasets": "data.registry", "laws": "laws"}

__all__ = sorted([*_EXPORTS, *_MODULES, "__version__"])


def __getattr__(name: str) -> Any:
    """Import a public name on first use and cache it in the package namespace."""
    if name in _MODULES:
        value = importlib.import_module(f".{_MODULES[name]}", __name__)
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    else:
        raise AttributeError(f"module 'scalefit' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


#: public functions that share their name with a subpackage (scalefit.report is the function; the stage folder
#: scalefit/report/ stays reachable as sys.modules["scalefit.report"])
_SHADOWED = frozenset(name for name in _EXPORTS if name in {"report"})


class _Package(types.ModuleType):
    """The package module, except that importing the submodule ``scalefit.fit`` (or ``.report``) does not
    replace the public function of the same name (the import system sets the submodule as an attribute)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SHADOWED and isinstance(value, types.ModuleType):
            return  # the subpackage stays reachable as sys.modules["scalefit.report"]
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
