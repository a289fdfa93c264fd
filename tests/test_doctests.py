"""Every public function has an example that runs, and says its units.

**Public**, for these tests, is:

- every function scalefit exports (the lazy ``scalefit._EXPORTS`` map: ``scalefit.fit``, ``scalefit.backtest``,
  ``scalefit.load_runs``, ...), and the function ``scalefit.datasets.load`` the examples load data with;
- every class scalefit exports that is not an exception or a warning (``Fit``, ``Bootstrap``, ``RunTable``,
  ``PredictionIntervals``, ``Backtest``, ``LeaveLargestOut``, ``Comparison``, ``Coverage``, ``HoldoutCheck``,
  ``Identifiability``, ``FitSpec``, ``Plan``, ``Hardware``), and every public method defined in the class
  body of each of them: plain functions, classmethods and staticmethods whose names do not start with an
  underscore. Properties are attributes, described in their class's docstring, and not required to have
  examples; methods inherited from ``object`` or a dataclass are not the class's own.

Each of those docstrings must have a numpy-style ``Examples`` section with at least one ``>>>`` line, and
those examples run here under doctest (with ``scalefit`` and ``np`` already imported, as numpy's own
examples assume ``np``), with ELLIPSIS and NORMALIZE_WHITESPACE; outputs print rounded values so they do not
depend on the last bits of a float. A docstring whose function takes a physical quantity (an argument named
N, D, C, U, compute, target_loss, inference_tokens, ...) or returns one (predict, optimal, frontier, ...)
must name its unit: parameters, tokens, FLOPs, nats (per token).

The examples of the other modules (every ``>>>`` anywhere in scalefit) run too, so an example that rots
fails the suite.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import os
import pkgutil
import re
import time
import warnings

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

import scalefit

EXAMPLES = re.compile(r"^\s*Examples\n\s*-{8,}\n(?:.*\n)*?\s*>>> ", re.MULTILINE)

#: argument name -> a unit word its docstring must contain
ARGUMENT_UNITS = {
    "N": ("parameters",), "D": ("tokens",), "U": ("tokens",), "C": ("FLOPs",), "compute": ("FLOPs",),
    "computes": ("FLOPs",), "target_loss": ("nats",), "inference_tokens": ("tokens",), "unique_tokens": ("tokens",),
    "flops": ("FLOPs",), "targets": ("parameters", "tokens"),
}
#: method or function name -> the unit words of what it returns
RETURN_UNITS = {
    "predict": ("nats",), "predict_intervals": ("nats",), "optimal": ("parameters", "tokens", "nats"),
    "optimal_intervals": ("nats",), "compute_for_loss": ("FLOPs",), "frontier": ("FLOPs", "nats"),
    "plan": ("parameters", "tokens", "FLOPs"), "n_opt": ("parameters",), "d_opt": ("tokens",),
    "loss_opt": ("nats",), "tokens_per_param": ("tokens",), "hours": ("hours",), "cost": ("FLOPs",),
    "extrapolation": ("parameters", "tokens", "FLOPs"), "fit": ("nats",),
}


def _is_exception(obj) -> bool:
    return inspect.isclass(obj) and issubclass(obj, BaseException)


def public_objects() -> dict[str, object]:
    """{qualified name: function, method or class} of the public API as the module docstring defines it."""
    found: dict[str, object] = {"scalefit.datasets.load": scalefit.datasets.load}
    for name in sorted(scalefit._EXPORTS):
        obj = getattr(scalefit, name)
        if inspect.ismodule(obj) or _is_exception(obj):
            continue
        if inspect.isfunction(obj):
            found[f"scalefit.{name}"] = obj
        elif inspect.isclass(obj):
            found[f"scalefit.{name}"] = obj
            for attr, raw in vars(obj).items():
                if attr.startswith("_") or isinstance(raw, property):
                    continue
                if isinstance(raw, (classmethod, staticmethod)):
                    found[f"scalefit.{name}.{attr}"] = raw.__func__
                elif inspect.isfunction(raw):
                    found[f"scalefit.{name}.{attr}"] = raw
    return found


PUBLIC = public_objects()


def test_the_public_surface_is_what_the_definition_says():
    names = set(PUBLIC)
    for expected in ("scalefit.fit", "scalefit.Fit.predict", "scalefit.Bootstrap.summary",
                     "scalefit.RunTable.summary", "scalefit.PredictionIntervals.to_frame", "scalefit.Backtest.verdict",
                     "scalefit.Comparison.summary", "scalefit.load_runs", "scalefit.report", "scalefit.datasets.load"):
        assert expected in names
    assert not any(n.split(".")[-1].startswith("_") for n in names)
    assert "scalefit.ScalefitError" not in names and "scalefit.Fit.inputs" not in names  # exceptions, properties
    assert len(names) > 80


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_public_docstring_has_an_example_and_its_units(name):
    obj = PUBLIC[name]
    doc = inspect.getdoc(obj) or ""
    assert doc, f"{name} has no docstring"
    assert EXAMPLES.search(doc + "\n"), f"{name}: no 'Examples' section with a >>> line"
    if inspect.isclass(obj):
        return
    short = name.rsplit(".", 1)[-1]
    wanted = {}
    for arg in inspect.signature(obj).parameters:
        if arg in ARGUMENT_UNITS:
            wanted[f"argument {arg}"] = ARGUMENT_UNITS[arg]
    if short in RETURN_UNITS:
        wanted["what it returns"] = RETURN_UNITS[short]
    for what, units in wanted.items():
        missing = [u for u in units if u not in doc]
        assert not missing, f"{name}: the docstring does not give the unit(s) {missing} of {what}"


def test_the_units_check_can_fail():
    def predict(N):
        """Loss at N.

        Examples
        --------
        >>> 1
        1
        """

    doc = inspect.getdoc(predict)
    assert EXAMPLES.search(doc + "\n")
    assert "parameters" not in doc and "nats" not in doc  # what the check above would flag
    assert not EXAMPLES.search("Examples\n--------\nno prompt here\n")


GLOBALS = {"scalefit": scalefit, "np": np}  # as numpy's examples assume np


def doctests(module_name: str) -> list[doctest.DocTest]:
    """The docstring examples of one module (those of objects it defines, not of names it imports)."""
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    return [t for t in finder.find(module, module_name, extraglobs=GLOBALS) if t.examples]


def modules_with_examples() -> list[str]:
    names = ["scalefit"] + [info.name for info in pkgutil.walk_packages(scalefit.__path__, "scalefit.")
                            if info.name not in ("scalefit.__main__", "scalefit._entry")]
    return sorted(name for name in names if doctests(name))


@pytest.mark.parametrize("module_name", modules_with_examples())
def test_examples_run(module_name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    monkeypatch.setenv("COLUMNS", "120")
    matplotlib.use("Agg")
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for test in doctests(module_name):
            runner.run(test, out=report.append)
    plt.close("all")
    result = runner.failures, runner.tries
    assert result[0] == 0, f"{result[0]} of {result[1]} examples in {module_name} failed:\n" + "".join(report)
    limit = float(os.environ.get("SCALEFIT_DOCTEST_SECONDS", 60))
    assert time.perf_counter() - started < limit, f"the examples of {module_name} take more than {limit} s"
