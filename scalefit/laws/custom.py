"""User-defined laws: a Python callable with named parameters, bounds and an optional declared linear part.

The callable takes the inputs and the parameters as keyword arguments, elementwise on arrays that
broadcast, and returns the loss (nats/token)::

    def my_law(N, D, E, A, B, alpha, beta):
        return E + A / N**alpha + B / D**beta

    law = CustomLaw(my_law, inputs=("N", "D"), params={
        "E": (0, None), "A": (0, None), "B": (0, None), "alpha": (0.02, 1.5), "beta": (0.02, 1.5)},
        linear=("E", "A", "B"))

Parameters declared ``linear`` must enter the loss linearly (a coefficient times a term); the general solver
then projects them out on its grid. Positive linear coefficients are searched in log space. An
``lmfit.Model`` is accepted through :meth:`CustomLaw.from_lmfit` (its function, independent variables and
parameter hints). The law is stored in fit.json by the import path of its function (``module:name``), so
the function must live in an importable module for ``scalefit report`` to re-render the fit.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .base import Law, ParamSpec, import_object


def _path_of(fn: Callable) -> str | None:
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not module or "<" in qualname:
        return None
    return f"{module}:{qualname}"


def _spec(name: str, value: Any, linear: bool) -> ParamSpec:
    if isinstance(value, ParamSpec):
        return value
    if isinstance(value, Mapping):
        return ParamSpec.from_dict({"name": name, "linear": linear, **value})
    lo, hi = value if value is not None else (None, None)
    lo = -np.inf if lo is None else float(lo)
    hi = np.inf if hi is None else float(hi)
    positive = lo >= 0
    if linear and positive:
        return ParamSpec(name, (lo, hi), linear=True, log_scale=True, grid=(max(lo, 1e-6), 1e6))
    log_scale = positive and (not np.isfinite(hi) or hi / max(lo, 1e-300) > 1e4)
    grid = (max(lo, 1e-6), min(hi, 1e6)) if log_scale else None
    return ParamSpec(name, (lo, hi), linear=linear, log_scale=log_scale, grid=grid)


class CustomLaw(Law):
    """A law from a callable ``fn(**inputs, **params) -> loss``; see the module docstring."""

    def __init__(self, function: Callable | str, inputs: Sequence[str] = ("N", "D"),
                 params: Mapping[str, Any] | Sequence[ParamSpec] | None = None, linear: Sequence[str] = (),
                 name: str | None = None, formula: str | None = None, fixed: Mapping[str, float] | None = None,
                 tied: Mapping[str, str] | None = None) -> None:
        self.function = import_object(function) if isinstance(function, str) else function
        self.path = function if isinstance(function, str) else _path_of(function)
        self.inputs = tuple(inputs)
        if params is None:
            names = [p for p in inspect.signature(self.function).parameters if p not in self.inputs]
            params = dict.fromkeys(names)
        if isinstance(params, Mapping):
            specs = tuple(_spec(n, v, n in linear) for n, v in params.items())
        else:
            specs = tuple(ParamSpec.from_dict(s) if isinstance(s, Mapping) else s for s in params)
        self.param_specs = specs
        self.name = name or getattr(self.function, "__name__", "custom")
        self.formula = formula or f"{self.name}({', '.join(self.inputs)}; {', '.join(s.name for s in specs)})"
        super().__init__(fixed, tied)

    def loss(self, params: Mapping[str, Any], data: Mapping[str, Any]) -> np.ndarray:
        kwargs = {k: np.asarray(data[k], dtype=float) for k in self.inputs}
        kwargs.update({k: np.asarray(params[k], dtype=float) for k in self.param_names})
        return np.asarray(self.function(**kwargs), dtype=float)

    def init_args(self) -> dict[str, Any]:
        if self.path is None:
            raise ValueError(f"the function of custom law {self.name!r} has no import path (a lambda or a local "
                             "function): define it at module level to save the fit")
        return {"function": self.path, "inputs": list(self.inputs), "params": [s.to_dict() for s in self.param_specs],
                "name": self.name, "formula": self.formula, **super().init_args()}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CustomLaw) and self.function is other.function and \
            self.param_specs == other.param_specs and self.fixed == other.fixed and self.tied == other.tied

    __hash__ = Law.__hash__

    @classmethod
    def from_lmfit(cls, model, params=None, linear: Sequence[str] = (), name: str | None = None,
                   formula: str | None = None) -> CustomLaw:
        """A law from an ``lmfit.Model``: its function, independent variables and parameter bounds.

        Bounds come from ``params`` (``lmfit.Parameters``) when given, else from the model's hints; a
        parameter with ``vary=False`` is fixed at its value.
        """
        params = model.make_params() if params is None else params
        specs, fixed = {}, {}
        for pname in model.param_names:
            p = params[pname]
            lo = None if not np.isfinite(p.min) else p.min
            hi = None if not np.isfinite(p.max) else p.max
            specs[pname] = (lo, hi)
            if not p.vary:
                fixed[pname] = float(p.value)
        return cls(model.func, inputs=tuple(model.independent_vars), params=specs, linear=linear,
                   name=name or model.name, formula=formula, fixed=fixed)
