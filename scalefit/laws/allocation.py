"""What a fitted law is for: extrapolation distance, compute-optimal and inference-aware allocation, regimes.

Law-free here; the science is the law's. Compute-optimal allocation, its inverse and inference-aware plans
come from the law's optional abilities (:class:`scalefit.laws.ComputeOptimal`, :class:`~scalefit.laws.Inverse`,
:class:`~scalefit.laws.InferencePlan`); a law without the ability needed raises a FitError saying so.
Functions take a parameter mapping whose values are floats or arrays (bootstrap replicates) and broadcast;
``law=None`` means the default law (:data:`scalefit.laws.DEFAULT_LAW`). Training compute follows
:mod:`scalefit.core.conventions` (C = 6ND by default), inference 2N FLOPs per token.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..core import checks, conventions
from ..core.errors import ExtrapolationWarning, FitError
from . import DEFAULT_LAW, ComputeOptimal, InferencePlan, Inverse, Law, get_law

EXTRAPOLATION_THRESHOLD = 10.0  # warn when a prediction's compute, N or D exceeds this multiple of the data's
REGIME_BAND = 2.0  # tokens per parameter within a factor 2 of the fitted optimum: "near compute-optimal"
RULE_OF_THUMB_TOKENS_PER_PARAM = 20.0
FLOPS_PER_TRAINING_TOKEN_PARAM = conventions.FLOPS_PER_TOKEN_PARAM
FLOPS_PER_INFERENCE_TOKEN_PARAM = conventions.INFERENCE_FLOPS_PER_TOKEN_PARAM

ABILITIES = {ComputeOptimal: "compute-optimal allocation", Inverse: "an inverse (compute for a target loss)",
             InferencePlan: "inference-aware planning"}


def require(law: Law | None, ability: type, what: str | None = None) -> Law:
    """``law`` (default: the default law) when it has ``ability``; else FitError naming what is missing."""
    law = get_law(DEFAULT_LAW) if law is None else law
    if not isinstance(law, ability):
        raise FitError(f"the {law.name or type(law).__name__} law ({law.formula_text()}) has no "
                       f"{ABILITIES.get(ability, ability.__name__)}" + (f", needed for {what}" if what else ""))
    return law


# -- extrapolation -------------------------------------------------------------------------------------------
def data_maxima(N_or_columns, D=None, flops_per_token_param: float = conventions.FLOPS_PER_TOKEN_PARAM
                ) -> dict[str, float]:
    """Largest N, D and C in the fitted data: ``data_maxima(N, D)`` or ``data_maxima({column: values})``.

    With N and D, C is computed from them by the compute convention, exactly as a target's C is in
    :func:`extrapolation_distance` (a table's own C column may follow another accounting, and a ratio of
    two conventions is not a distance); without them, C is taken from the data.
    """
    cols = dict(N_or_columns) if isinstance(N_or_columns, Mapping) else {"N": N_or_columns, "D": D}
    cols = {k: np.asarray(v, float) for k, v in cols.items() if v is not None and k in ("N", "D", "C")}
    out = {k: float(v.max()) for k, v in cols.items()}
    if "N" in cols and "D" in cols:
        out["C"] = float(np.max(conventions.training_compute(cols["N"], cols["D"], flops_per_token_param)))
    return out


def extrapolation_distance(maxima: Mapping[str, float], N_or_inputs, D=None,
                           flops_per_token_param: float = conventions.FLOPS_PER_TOKEN_PARAM) -> dict[str, np.ndarray]:
    """Ratios of each point's inputs (and compute) to the largest in the data, and the largest of them.

    ``extrapolation_distance(maxima, N, D)`` or ``(maxima, {input: values})``. Returns {X_ratio for every
    input X with a maximum, C_ratio when compute is known or follows from N and D, distance}, each shaped
    like the broadcast inputs. A distance <= 1 means no coordinate lies beyond the data.
    """
    inputs = dict(N_or_inputs) if isinstance(N_or_inputs, Mapping) else {"N": N_or_inputs, "D": D}
    names = [k for k in ("N", "D", "C") if k in inputs and inputs[k] is not None]
    arrays = dict(zip(names, np.broadcast_arrays(*[np.asarray(inputs[k], float) for k in names]), strict=True))
    if "C" not in arrays and "N" in arrays and "D" in arrays:
        arrays["C"] = conventions.training_compute(arrays["N"], arrays["D"], flops_per_token_param)
    out = {f"{k}_ratio": v / maxima[k] for k, v in arrays.items() if k in maxima}
    ratios = list(out.values())
    out["distance"] = np.maximum.reduce(ratios) if ratios else np.zeros(())
    return out


def warn_if_far(distance: np.ndarray, threshold: float | None, what: str = "prediction") -> None:
    """ExtrapolationWarning when any distance exceeds ``threshold`` (None disables the check)."""
    if threshold is None:
        return
    worst = float(np.max(distance))
    if worst > threshold:
        warnings.warn(f"{what} extrapolates {worst:.3g}x beyond the largest N, D or compute in the data "
                      f"(threshold {threshold:g}x): treat the number and its interval with care",
                      ExtrapolationWarning, stacklevel=3)


# -- compute-optimal allocation --------------------------------------------------------------------------------
def compute_optimal(params: Mapping[str, Any], compute, law: Law | None = None) -> dict[str, np.ndarray]:
    """{N_opt, D_opt, tokens_per_param, L_opt} at compute C (FLOPs) through the law's ability."""
    return require(law, ComputeOptimal).compute_optimal(params, compute)


def compute_for_loss(params: Mapping[str, Any], target_loss, law: Law | None = None) -> np.ndarray:
    """Training compute C (FLOPs) whose compute-optimal model reaches ``target_loss``; NaN where unreachable."""
    return require(law, Inverse).compute_for_loss(params, target_loss)["C"]


def allocation_for_loss(params: Mapping[str, Any], target_loss, law: Law | None = None) -> dict[str, np.ndarray]:
    """Compute, N_opt, D_opt, tokens per parameter and L* of the cheapest training run reaching the target."""
    law = require(law, Inverse)
    out = law.compute_for_loss(params, target_loss)
    if "N_opt" not in out and isinstance(law, ComputeOptimal):
        out = {**out, **law.compute_optimal(params, out["C"])}
    return out


def frontier(params: Mapping[str, float], compute, law: Law | None = None) -> pd.DataFrame:
    """The compute-optimal frontier: one row per compute C with N_opt, D_opt, tokens per parameter and L*."""
    c = np.atleast_1d(np.asarray(compute, float))
    opt = compute_optimal(params, c, law)
    return pd.DataFrame({"C": c, **{k: np.asarray(v) for k, v in opt.items()}})


# -- regimes ---------------------------------------------------------------------------------------------------
def regime(params: Mapping[str, float], N, D, band: float = REGIME_BAND, law: Law | None = None) -> pd.DataFrame:
    """Regime of runs or plans relative to the fitted optimum at their own compute C.

    ``ratio`` = (D/N) / (D_opt/N_opt) at that compute: below 1/band "under-trained" (too few tokens for its
    size), above band "over-trained", otherwise "near compute-optimal". The 20-tokens-per-parameter rule of
    thumb is given beside it with the same band.
    """
    law = require(law, ComputeOptimal, "regimes")
    n, d = np.broadcast_arrays(np.atleast_1d(np.asarray(N, float)), np.atleast_1d(np.asarray(D, float)))
    c = conventions.training_compute(n, d, law.flops_per_token_param)
    opt = law.compute_optimal(params, c)
    tpp = d / n
    ratio = tpp / opt["tokens_per_param"]
    thumb = tpp / RULE_OF_THUMB_TOKENS_PER_PARAM
    return pd.DataFrame({"N": n, "D": d, "C": c, "tokens_per_param": tpp,
                         "optimal_tokens_per_param": opt["tokens_per_param"], "ratio_to_optimal": ratio,
                         "regime": _label(ratio, band), "rule_of_thumb_regime": _label(thumb, band)})


def _label(ratio: np.ndarray, band: float) -> np.ndarray:
    return np.where(ratio < 1.0 / band, "under-trained",
                    np.where(ratio > band, "over-trained", "near compute-optimal"))


# -- inference-aware planning -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Hardware:
    """Converts FLOPs to accelerator-hours and cost.

    ``peak_flops``: peak FLOP/s of one accelerator (e.g. 989e12 for an H100 SXM in dense BF16);
    ``mfu``: model FLOPs utilisation in training, in (0, 1]; ``inference_mfu``: the same for serving
    (default: ``mfu``); ``price_per_hour``: cost of one accelerator-hour (any currency), optional.

    Examples
    --------
    >>> gpu = scalefit.Hardware(peak_flops=989e12, mfu=0.4, price_per_hour=2.0)
    >>> print(f"{gpu.hours(1e22):,.0f} accelerator-hours, ${gpu.cost(1e22):,.0f}")
    7,022 accelerator-hours, $14,043
    """

    peak_flops: float
    mfu: float = 0.4
    inference_mfu: float | None = None
    price_per_hour: float | None = None

    def __post_init__(self) -> None:
        checks.positive_finite(self.peak_flops, "peak_flops", "a peak throughput", "FLOP/s")
        for name in ("mfu", "inference_mfu"):
            value = getattr(self, name)
            if value is not None:
                checks.fraction(value, name, "a model FLOPs utilisation")
        if self.price_per_hour is not None:
            checks.nonnegative_finite(self.price_per_hour, "price_per_hour", "a price per accelerator-hour")

    def hours(self, flops: float, inference: bool = False) -> float:
        """flops in FLOPs; the answer in accelerator-hours.

        Examples
        --------
        >>> gpu = scalefit.Hardware(peak_flops=989e12, mfu=0.4, price_per_hour=2.0)
        >>> print(f"{gpu.hours(1e22):,.0f} hours")
        7,022 hours
        """
        mfu = (self.inference_mfu or self.mfu) if inference else self.mfu
        return float(flops) / (self.peak_flops * mfu) / 3600.0

    def cost(self, flops: float, inference: bool = False) -> float | None:
        """flops in FLOPs; the answer in the currency of price_per_hour (None when no price is set).

        Examples
        --------
        >>> gpu = scalefit.Hardware(peak_flops=989e12, mfu=0.4, price_per_hour=2.0)
        >>> print(f"${gpu.cost(1e22):,.0f}")
        $14,043
        """
        return None if self.price_per_hour is None else self.hours(flops, inference) * self.price_per_hour


@dataclass(frozen=True)
class Plan:
    """An inference-aware training plan and the compute-optimal run that reaches the same loss.

    FLOPs are totals over the model's life: training kND (k = 6 by default), inference 2N x inference_tokens.
    ``overtraining`` = (D/N) / (D/N at the compute optimum); ``flops_saved`` = total FLOPs of the
    compute-optimal run (trained and then served the same tokens) minus this plan's.

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> plan = fit.plan(target_loss=2.3, inference_tokens=1e13)
    >>> print(f"N = {plan.N:.2e} parameters, D = {plan.D:.2e} tokens")
    N = 5.19e+08 parameters, D = 1.43e+12 tokens
    >>> print(f"{plan.flops_saved_fraction:.0%} of the lifetime FLOPs saved")
    68% of the lifetime FLOPs saved
    """

    target_loss: float
    inference_tokens: float
    N: float
    D: float
    training_flops: float
    inference_flops: float
    total_flops: float
    compute_optimal_N: float
    compute_optimal_D: float
    compute_optimal_total_flops: float
    overtraining: float
    flops_saved: float
    flops_saved_fraction: float
    hours: dict[str, float] | None = None
    cost: dict[str, float | None] | None = None

    @property
    def tokens_per_param(self) -> float:
        return self.D / self.N

    def to_dict(self) -> dict[str, Any]:
        """The plan as a JSON-safe dict (N in parameters, D in tokens, FLOPs in FLOPs).

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> plan = fit.plan(target_loss=2.3, inference_tokens=1e13)
        >>> sorted(plan.to_dict())[:5]
        ['D', 'N', 'compute_optimal_D', 'compute_optimal_N', 'compute_optimal_total_flops']
        """
        return {**asdict(self), "tokens_per_param": self.tokens_per_param}


def plan_target(params: Mapping[str, float], target_loss: float | None, compute: float | None,
                law: Law | None = None) -> float:
    """A plan's target loss: given directly, or the compute-optimal loss L*(compute) of a training budget."""
    if (target_loss is None) == (compute is None):
        raise ValueError("give exactly one of target_loss and compute")
    if target_loss is not None:
        return float(target_loss)
    return float(compute_optimal(params, compute, law)["L_opt"])


def reachable(params: Mapping[str, Any], target_loss, law: Law | None = None) -> np.ndarray:
    """Whether any compute reaches ``target_loss`` (elementwise over parameter arrays)."""
    return np.isfinite(compute_for_loss(params, target_loss, law))


def plan(params: Mapping[str, float], target_loss: float, inference_tokens: float = 0.0,
         hardware: Hardware | None = None, law: Law | None = None) -> Plan:
    """Minimise k N D + 2 N x inference_tokens subject to L(N, D) = target_loss (Sardana et al. 2023).

    Raises FitError when no compute reaches the target (e.g. at or below the irreducible loss E) or the
    law cannot plan.
    """
    law = require(law, InferencePlan)
    target, tokens = float(target_loss), float(inference_tokens)
    if tokens < 0:
        raise ValueError(f"inference_tokens must be >= 0, not {tokens}")
    if not bool(reachable(params, target, law)):
        floor = f" E = {float(params['E']):.6g}" if "E" in params else ""
        raise FitError(f"target loss {target:g} is not above the fitted irreducible loss{floor}: "
                       "no model of any size reaches it")
    n_plan, d_plan = law.inference_optimal(params, target, tokens)
    opt = allocation_for_loss(params, target, law)
    k = law.flops_per_token_param
    train = k * n_plan * d_plan
    infer = FLOPS_PER_INFERENCE_TOKEN_PARAM * n_plan * tokens
    n_opt, d_opt = float(opt["N_opt"]), float(opt["D_opt"])
    opt_total = k * n_opt * d_opt + FLOPS_PER_INFERENCE_TOKEN_PARAM * n_opt * tokens
    total = train + infer
    hours = cost = None
    if hardware is not None:
        hours = {"training": hardware.hours(train), "inference": hardware.hours(infer, inference=True)}
        hours["total"] = hours["training"] + hours["inference"]
        cost = {"training": hardware.cost(train), "inference": hardware.cost(infer, inference=True)}
        cost["total"] = None if cost["training"] is None else cost["training"] + cost["inference"]
    return Plan(target_loss=target, inference_tokens=tokens, N=n_plan, D=d_plan, training_flops=train,
                inference_flops=infer, total_flops=total, compute_optimal_N=n_opt, compute_optimal_D=d_opt,
                compute_optimal_total_flops=opt_total, overtraining=(d_plan / n_plan) / (d_opt / n_opt),
                flops_saved=opt_total - total, flops_saved_fraction=(opt_total - total) / opt_total,
                hours=hours, cost=cost)
