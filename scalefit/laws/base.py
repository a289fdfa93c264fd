"""The Law interface: a loss law's science (inputs, parameters, formula, derived quantities, abilities).

A law is a function L(x; p) of named inputs x (canonical run-table columns: ``N`` parameters, ``D`` tokens,
``C`` FLOPs) and named parameters p, each described by a :class:`ParamSpec` (bounds, unit, label, whether it
enters linearly, a fixed value, or a tie to another parameter).

Two ways to write one:

* the general way: list ``param_specs`` and write :meth:`Law.loss`, the formula elementwise on arrays that
  broadcast (parameters may be (B, 1) replicate columns, inputs (m,) grids). ``predict`` (parameter rows
  (..., P) -> (..., n)) and ``jacobian`` (central differences) follow. Such laws are fitted by the general
  solver (multi-start grid + gradient polish).
* the separable way (:class:`scalefit.laws.separable.SeparableLaw`, and any subclass of ``Law`` written
  against the earlier interface): L = sum_k c_k exp(g_k(theta; x)) with linear coefficients c_k >= 0 and
  basis functions of nonlinear parameters theta, given by ``linear_names``, ``nonlinear_names``,
  ``features``, ``log_basis`` (..., K, n) and ``log_basis_jacobian`` (..., K, n, p). Variable projection
  applies: for fixed theta the best c is a tiny non-negative least-squares problem.

Any parameter may be fixed (``fixed={"E": 0.0}``) or tied to another (``tied={"beta": "alpha"}``); these are
constructor arguments, stored by :meth:`Law.to_dict`, so a law with arguments round-trips through fit.json.

Optional abilities are small protocols that callers test with ``isinstance`` (never by name):
:class:`ComputeOptimal` (allocation of a compute budget between N and D), :class:`Inverse` (compute for a
target loss), :class:`Frontier` (best loss reachable at a compute budget), :class:`InferencePlan`
(inference-aware N, D for a target loss).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..core.conventions import FLOPS_PER_TOKEN_PARAM

INF = float("inf")


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a law.

    ``bounds``: hard limits (lo, hi) the fit never leaves; ``grid``: the range the global search starts
    from (defaults to the bounds, which must then be finite); ``log_scale``: searched and polished as
    log(value) (positive scale parameters spanning orders of magnitude); ``linear``: the law is linear in
    it (a coefficient the solver may project out); ``fixed``: held at this value; ``tied``: equal to the
    named parameter.
    """

    name: str
    bounds: tuple[float, float] = (-INF, INF)
    unit: str = ""
    label: str = ""
    linear: bool = False
    fixed: float | None = None
    tied: str | None = None
    grid: tuple[float, float] | None = None
    log_scale: bool = False

    @property
    def free(self) -> bool:
        return self.fixed is None and self.tied is None

    @property
    def search_range(self) -> tuple[float, float]:
        lo, hi = self.grid if self.grid is not None else self.bounds
        return float(lo), float(hi)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "bounds": list(self.bounds), "unit": self.unit, "label": self.label,
                "linear": self.linear, "fixed": self.fixed, "tied": self.tied,
                "grid": None if self.grid is None else list(self.grid), "log_scale": self.log_scale}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ParamSpec:
        return cls(name=d["name"], bounds=tuple(float(v) for v in d["bounds"]), unit=d.get("unit", ""),
                   label=d.get("label", ""), linear=bool(d.get("linear", False)), fixed=d.get("fixed"),
                   tied=d.get("tied"), grid=None if d.get("grid") is None else tuple(float(v) for v in d["grid"]),
                   log_scale=bool(d.get("log_scale", False)))


# -- optional abilities ---------------------------------------------------------------------------------------
@runtime_checkable
class ComputeOptimal(Protocol):
    """A law that allocates a compute budget C (FLOPs) between parameters N and tokens D."""

    def compute_optimal(self, params: Mapping[str, Any], compute) -> dict[str, np.ndarray]:
        """{N_opt, D_opt, tokens_per_param, L_opt} at C; parameters and C broadcast elementwise."""


@runtime_checkable
class Inverse(Protocol):
    """A law that gives the compute whose compute-optimal run reaches a target loss."""

    def compute_for_loss(self, params: Mapping[str, Any], target_loss) -> dict[str, np.ndarray]:
        """{C, N_opt, D_opt, tokens_per_param, L_opt}; NaN where the target is out of reach."""


@runtime_checkable
class Frontier(Protocol):
    """A law with a loss frontier: the best loss reachable with training compute C."""

    def loss_at_compute(self, params: Mapping[str, Any], compute) -> np.ndarray:
        """L*(C) (nats/token), broadcast elementwise."""


@runtime_checkable
class InferencePlan(Protocol):
    """A law that can plan for inference: minimum 6ND + 2NI subject to L(N, D) = target."""

    def inference_optimal(self, params: Mapping[str, float], target_loss: float,
                          inference_tokens: float) -> tuple[float, float]:
        """(N, D) of the plan."""


# -- the law ----------------------------------------------------------------------------------------------------
class Law:
    """A scaling law L(x; p). Subclasses give ``param_specs`` and ``loss`` (general) or the separable API."""

    name: str = ""
    formula: str = ""
    #: inputs the law needs, as canonical run-table columns
    inputs: tuple[str, ...] = ()
    #: training FLOPs per parameter per token of the compute convention the law's allocation uses
    flops_per_token_param: float = FLOPS_PER_TOKEN_PARAM
    #: the parameters (general laws); separable laws written against the earlier interface may leave this
    #: empty and give linear_names / nonlinear_names / nonlinear_limits / grid_range instead
    param_specs: tuple[ParamSpec, ...] = ()
    linear_names: tuple[str, ...] = ()
    nonlinear_names: tuple[str, ...] = ()
    grid_range: tuple[tuple[float, float], ...] = ()
    nonlinear_limits: tuple[tuple[float, float], ...] = ()

    def __init__(self, fixed: Mapping[str, float] | None = None, tied: Mapping[str, str] | None = None) -> None:
        self.fixed = {str(k): float(v) for k, v in (fixed or {}).items()}
        self.tied = {str(k): str(v) for k, v in (tied or {}).items()}
        names = self.base_names
        for key in [*self.fixed, *self.tied, *self.tied.values()]:
            if key not in names:
                raise ValueError(f"{type(self).__name__} has no parameter {key!r}; parameters: {', '.join(names)}")
        for key, target in self.tied.items():
            if target in self.tied or target in self.fixed or key in self.fixed or key == target:
                raise ValueError(f"cannot tie {key} to {target}: tie a parameter to a free one")

    # -- parameters -----------------------------------------------------------------------------------------
    def base_specs(self) -> tuple[ParamSpec, ...]:
        """The parameters before fixing and tying (built from the separable attributes when not given)."""
        if self.param_specs:
            return tuple(self.param_specs)
        linear = tuple(ParamSpec(n, (0.0, INF), linear=True, log_scale=True) for n in self.linear_names)
        limits = self.nonlinear_limits or ((-INF, INF),) * len(self.nonlinear_names)
        grids = self.grid_range or (None,) * len(self.nonlinear_names)
        nonlinear = tuple(ParamSpec(n, tuple(lim), grid=None if g is None else tuple(g))
                          for n, lim, g in zip(self.nonlinear_names, limits, grids, strict=True))
        return linear + nonlinear

    @property
    def base_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.base_specs())

    @property
    def specs(self) -> tuple[ParamSpec, ...]:
        """Every parameter, with this instance's fixed values and ties applied."""
        fixed = getattr(self, "fixed", {})
        tied = getattr(self, "tied", {})
        return tuple(replace(s, fixed=fixed.get(s.name, s.fixed), tied=tied.get(s.name, s.tied))
                     for s in self.base_specs())

    @property
    def param_names(self) -> tuple[str, ...]:
        """Public parameter order (linear coefficients first in the built-in laws), fixed ones included."""
        return self.base_names

    @property
    def free_names(self) -> tuple[str, ...]:
        """The parameters a fit estimates (neither fixed nor tied)."""
        return tuple(s.name for s in self.specs if s.free)

    def expand(self, free: np.ndarray) -> np.ndarray:
        """Free parameter rows (..., F) -> full rows (..., P) with fixed values and ties filled in."""
        free = np.asarray(free, dtype=float)
        specs = self.specs
        index = {n: j for j, n in enumerate(self.free_names)}
        cols = []
        for s in specs:
            if s.fixed is not None:
                cols.append(np.full(free.shape[:-1], float(s.fixed)))
            else:
                cols.append(free[..., index[s.tied if s.tied is not None else s.name]])
        return np.stack(cols, axis=-1)

    def reduce(self, full: np.ndarray) -> np.ndarray:
        """Full parameter rows (..., P) -> free rows (..., F)."""
        full = np.asarray(full, dtype=float)
        idx = [self.param_names.index(n) for n in self.free_names]
        return full[..., idx]

    def params_dict(self, params: np.ndarray) -> dict[str, float]:
        return {name: float(v) for name, v in zip(self.param_names, np.asarray(params), strict=True)}

    # -- evaluation -----------------------------------------------------------------------------------------
    @property
    def is_separable(self) -> bool:
        """True when the law gives the separable API (variable projection applies)."""
        return type(self).log_basis is not Law.log_basis

    def loss(self, params: Mapping[str, Any], data: Mapping[str, Any]) -> np.ndarray:
        """The formula, elementwise: parameter values and inputs broadcast together (nats/token)."""
        if not self.is_separable:
            raise NotImplementedError(f"{type(self).__name__} must define loss()")
        keys = list(self.inputs)
        arrays = np.broadcast_arrays(*[np.asarray(params[k], float) for k in self.param_names],
                                     *[np.asarray(data[k], float) for k in keys])
        shape = arrays[0].shape
        p = np.stack([a.ravel() for a in arrays[: len(self.param_names)]], axis=-1)
        x = {k: a.ravel() for k, a in zip(keys, arrays[len(self.param_names):], strict=True)}
        out = np.array([self.predict(p[i], {k: v[i:i + 1] for k, v in x.items()})[0] for i in range(len(p))])
        return out.reshape(shape)

    def predict(self, params: np.ndarray, data: Mapping[str, np.ndarray]) -> np.ndarray:
        """Loss at inputs ``data`` ({name: (n,)}) for parameter rows ``params`` (..., P): shape (..., n)."""
        params = np.asarray(params, dtype=float)
        if self.is_separable:
            coef, theta = self.split(params)
            basis = np.exp(self.log_basis(theta, self.features(data)))
            return np.einsum("...k,...kn->...n", coef, basis)
        p = {name: params[..., j, None] for j, name in enumerate(self.param_names)}
        x = {k: np.asarray(data[k], dtype=float) for k in self.inputs}
        n = len(next(iter(x.values())))
        return np.broadcast_to(self.loss(p, x), (*params.shape[:-1], n))

    def log_predict(self, params: np.ndarray, data: Mapping[str, np.ndarray]) -> np.ndarray:
        """log of :meth:`predict`; laws override it where a direct form is more accurate."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(self.predict(params, data))

    def jacobian(self, params: np.ndarray, data: Mapping[str, np.ndarray]) -> np.ndarray:
        """d predict / d params, shape (..., n, P). Analytic for separable laws, central differences otherwise."""
        params = np.asarray(params, dtype=float)
        if self.is_separable:
            coef, theta = self.split(params)
            feats = self.features(data)
            basis = np.exp(self.log_basis(theta, feats))  # (..., K, n)
            d_coef = np.swapaxes(basis, -1, -2)
            d_theta = np.einsum("...k,...kn,...knp->...np", coef, basis, self.log_basis_jacobian(theta, feats))
            return np.concatenate([d_coef, d_theta], axis=-1)
        return finite_difference_jacobian(self.predict, params, data)

    def log_jacobian(self, params: np.ndarray, data: Mapping[str, np.ndarray]) -> np.ndarray:
        """d log predict / d params, shape (..., n, P)."""
        return self.jacobian(params, data) / self.predict(params, data)[..., None]

    def derived(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Law-specific derived quantities (e.g. compute-optimal exponents); elementwise on arrays."""
        return {}

    # -- the separable API (overridden by separable laws) ------------------------------------------------------
    def features(self, data: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Precompute what the basis needs from the inputs (e.g. logs), each of shape (n,)."""
        return {k: np.asarray(data[k], dtype=float) for k in self.inputs}

    def log_basis(self, theta: np.ndarray, features: Mapping[str, np.ndarray]) -> np.ndarray:
        """g_k(theta; x), shape (..., K, n) (separable laws only)."""
        raise NotImplementedError(f"{type(self).__name__} is not separable")

    def log_basis_jacobian(self, theta: np.ndarray, features: Mapping[str, np.ndarray]) -> np.ndarray:
        """d g_k / d theta_j, shape (..., K, n, p) (separable laws only)."""
        raise NotImplementedError(f"{type(self).__name__} is not separable")

    def split(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Public parameters (..., K + p) -> (linear coefficients (..., K), theta (..., p))."""
        params = np.asarray(params, dtype=float)
        k = len(self.linear_names)
        return params[..., :k], params[..., k:]

    # -- text and records -------------------------------------------------------------------------------------
    def formula_text(self) -> str:
        """The formula with this instance's fixed values and ties."""
        extra = [f"{k} = {v:g}" for k, v in getattr(self, "fixed", {}).items()]
        extra += [f"{k} = {v}" for k, v in getattr(self, "tied", {}).items()]
        return self.formula + (f" with {', '.join(extra)}" if extra else "")

    def init_args(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this law (JSON-safe)."""
        args: dict[str, Any] = {}
        if getattr(self, "fixed", None):
            args["fixed"] = dict(self.fixed)
        if getattr(self, "tied", None):
            args["tied"] = dict(self.tied)
        return args

    def to_dict(self) -> dict[str, Any]:
        """{"class": "module:QualName", "args": {...}, "name", "formula", "params"}: rebuilds with from_dict."""
        cls = type(self)
        return {"class": f"{cls.__module__}:{cls.__qualname__}", "args": self.init_args(), "name": self.name,
                "formula": self.formula_text(), "inputs": list(self.inputs),
                "params": [s.to_dict() for s in self.specs]}

    @staticmethod
    def from_dict(record: Mapping[str, Any]) -> Law:
        """The law a :meth:`to_dict` record describes (its class is imported by path)."""
        cls = import_object(record["class"])
        return cls(**dict(record.get("args") or {}))

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.init_args() == other.init_args()

    def __hash__(self) -> int:
        return hash(type(self).__qualname__)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.init_args().items())
        return f"{type(self).__name__}({args})"


def import_object(path: str) -> Any:
    """``"package.module:attr.sub"`` -> the object (ValueError naming the path when it cannot be imported)."""
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"{path!r} is not an import path of the form 'module:attribute'")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot import {path!r}: {exc}") from None
    return obj


def finite_difference_jacobian(fn, params: np.ndarray, data: Mapping[str, np.ndarray]) -> np.ndarray:
    """Central differences of fn(params (..., P), data) -> (..., n) in every parameter: (..., n, P).

    Step h_j = eps^(1/3) x max(|p_j|, 1e-8): truncation and rounding errors balance (about 1e-10 relative).
    """
    params = np.asarray(params, dtype=float)
    h = np.cbrt(np.finfo(float).eps) * np.maximum(np.abs(params), 1e-8)
    cols = []
    for j in range(params.shape[-1]):
        step = np.zeros_like(params)
        step[..., j] = h[..., j]
        diff = fn(params + step, data) - fn(params - step, data)
        cols.append(diff / (2.0 * h[..., j, None]))
    return np.stack(cols, axis=-1)
