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
    "Backtest": "backtest",
    "Bootstrap": "bootstrap",
    "CheckpointWarning": "errors",
    "Comparison": "compare",
    "DataCheckWarning": "errors",
    "ConvergenceWarning": "errors",
    "Coverage": "coverage",
    "DataError": "errors",
    "DatasetError": "errors",
    "ExtrapolationWarning": "errors",
    "Fit": "fit",
    "FitError": "errors",
    "FitSpec": "spec",
    "Hardware": "allocation",
    "HoldoutCheck": "holdout",
    "Identifiability": "identify",
    "LeaveLargestOut": "backtest",
    "Plan": "allocation",
    "PredictionIntervals": "predictive",
    "RunTable": "runs",
    "ScalefitError": "errors",
    "ScalefitWarning": "errors",
    "TextEncodingWarning": "errors",
    "approaches": None,
    "backtest": "backtest",
    "check_coverage": "coverage",
    "compare_approaches": "approaches",
    "envelope_approach": "approaches",
    "fit_data_constrained": "approaches",
    "isoflop_approach": "approaches",
    "laws": None,
    "compare": "compare",
    "datasets": None,
    "fit": "fit",
    "holdout_check": "holdout",
    "identifiability": "identify",
    "leave_largest_out": "backtest",
    "load_runs": "runs",
    "report": "report",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    """Import a public name on first use and cache it in the package namespace."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'scalefit' has no attribute {name!r}")
    module_name = _EXPORTS[name]
    if module_name is None:
        value = importlib.import_module(f".{name}", __name__)
    else:
        value = getattr(importlib.import_module(f".{module_name}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


#: public functions that share their name with the submodule defining them (scalefit.fit is the function)
_SHADOWED = frozenset(name for name, module in _EXPORTS.items() if module == name)


class _Package(types.ModuleType):
    """The package module, except that importing the submodule ``scalefit.fit`` (or ``.report``) does not
    replace the public function of the same name (the import system sets the submodule as an attribute)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SHADOWED and isinstance(value, types.ModuleType):
            return  # the submodule stays reachable as sys.modules["scalefit.fit"]
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
