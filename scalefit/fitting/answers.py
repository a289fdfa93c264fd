"""Fit's compute-allocation answers: optimal N and D at a budget, compute for a target loss, frontier, plan, regimes.

Functions of a fitted Fit (``self``), bound into the :class:`scalefit.fitting.result.Fit` class body, so they are
its methods (``fit.optimal(1e22)``); nothing here fits anything.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core import checks
from ..laws import ComputeOptimal, Inverse, allocation

__all__ = ["compute_for_loss", "d_opt", "derived", "frontier", "has_allocation", "loss_opt", "n_opt", "optimal",
           "plan", "regimes", "tokens_per_param"]


def derived(self) -> dict[str, float]:
    """The law's derived quantities (Chinchilla: a, b, G; Kaplan: a, b, gamma)."""
    return {k: float(v) for k, v in self.law.derived(self.params).items()}

def optimal(self, compute: np.ndarray | float) -> dict[str, np.ndarray]:
    """Compute-optimal N_opt, D_opt, tokens_per_param and L_opt at compute C (FLOPs).

    FitError when the law has no compute-optimal allocation (e.g. a law of N alone).

    N_opt in parameters, D_opt in tokens, L_opt in nats/token.

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> opt = {k: float(v) for k, v in fit.optimal(1e22).items()}
    >>> print(f"N_opt {opt['N_opt']:.2e} parameters, D_opt {opt['D_opt']:.2e} tokens, L* {opt['L_opt']:.3f}")
    N_opt 5.64e+09 parameters, D_opt 2.96e+11 tokens, L* 2.138
    """
    checks.compute(compute)
    return allocation.require(self.law, ComputeOptimal).compute_optimal(self.params, compute)

def compute_for_loss(self, target_loss) -> dict[str, np.ndarray]:
    """The cheapest training run reaching ``target_loss``: {C, N_opt, D_opt, tokens_per_param, L_opt}.

    target_loss in nats/token; C in FLOPs, N_opt in parameters, D_opt in tokens.

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> need = fit.compute_for_loss(2.2)
    >>> print(f"C = {float(need['C']):.2e} FLOPs, N_opt = {float(need['N_opt']):.2e} parameters")
    C = 4.40e+21 FLOPs, N_opt = 3.83e+09 parameters
    """
    checks.loss(target_loss)
    return allocation.allocation_for_loss(self.params, target_loss, self.law)

def frontier(self, compute) -> pd.DataFrame:
    """Compute-optimal frontier over an array of compute C (FLOPs).

    Columns: C (FLOPs), N_opt (parameters), D_opt (tokens), tokens_per_param, L_opt (nats/token).

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> table = fit.frontier([1e20, 1e22])
    >>> list(table.columns)
    ['C', 'N_opt', 'D_opt', 'tokens_per_param', 'L_opt']
    >>> print(table["L_opt"].round(3).tolist())
    [2.606, 2.138]
    """
    checks.compute(compute)
    return allocation.frontier(self.params, compute, self.law)

def plan(self, target_loss: float | None = None, inference_tokens: float = 0.0, compute: float | None = None,
         hardware: allocation.Hardware | None = None) -> allocation.Plan:
    """Inference-aware plan (Sardana et al. 2023) for a target loss, or for the loss that the
    compute-optimal run at training budget ``compute`` reaches; see :func:`allocation.plan`.

    target_loss in nats/token, inference_tokens in tokens, compute in FLOPs; the Plan's N is in parameters,
    D in tokens, FLOPs in FLOPs.

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> plan = fit.plan(target_loss=2.3, inference_tokens=1e13)
    >>> print(f"{plan.N:.2e} parameters, {plan.D:.2e} tokens, {plan.tokens_per_param:.0f} tokens/parameter")
    5.19e+08 parameters, 1.43e+12 tokens, 2762 tokens/parameter
    """
    check_plan(target_loss, inference_tokens, compute)
    target = allocation.plan_target(self.params, target_loss, compute, self.law)
    return allocation.plan(self.params, target, inference_tokens, hardware, self.law)

def check_plan(target_loss: float | None, inference_tokens: float, compute: float | None) -> None:
    """A plan's arguments: target_loss and compute (when given) > 0, inference_tokens >= 0, all finite."""
    if target_loss is not None:
        checks.loss(target_loss)
    if compute is not None:
        checks.compute(compute)
    checks.nonnegative_finite(inference_tokens, "inference_tokens", "lifetime inference tokens", "tokens")

def regimes(self, band: float = allocation.REGIME_BAND) -> pd.DataFrame:
    """Regime of every run (under-trained / near compute-optimal / over-trained) at its own compute.

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> fit.regimes()["regime"].value_counts().sort_index().to_dict()
    {'near compute-optimal': 47, 'over-trained': 39, 'under-trained': 67}
    """
    checks.real(band, "band", "a regime band", "factor in tokens per parameter", lo=1.0, lo_open=False)
    table = allocation.regime(self.params, self.runs.N, self.runs.D, band, self.law)
    table.insert(0, "group", self.runs.groups)
    return table

def has_allocation(self) -> bool:
    """Whether the law allocates compute between N and D (ComputeOptimal and Inverse)."""
    return isinstance(self.law, ComputeOptimal) and isinstance(self.law, Inverse) and \
        set(self.inputs) == {"N", "D"}

def n_opt(self, compute):
    """Compute-optimal parameters N_opt (parameters) at compute C (FLOPs).

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> print(f"{float(fit.n_opt(1e22)):.2e} parameters")
    5.64e+09 parameters
    """
    return self.optimal(compute)["N_opt"]

def d_opt(self, compute):
    """Compute-optimal training tokens D_opt (tokens) at compute C (FLOPs).

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> print(f"{float(fit.d_opt(1e22)):.2e} tokens")
    2.96e+11 tokens
    """
    return self.optimal(compute)["D_opt"]

def tokens_per_param(self, compute):
    """Compute-optimal tokens per parameter D_opt/N_opt (tokens per parameter) at compute C (FLOPs).

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> print(f"{float(fit.tokens_per_param(1e22)):.0f} tokens per parameter")
    52 tokens per parameter
    """
    return self.optimal(compute)["tokens_per_param"]

def loss_opt(self, compute):
    """Loss L*(C) (nats/token) of the compute-optimal run at compute C (FLOPs).

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> print(f"{float(fit.loss_opt(1e22)):.3f} nats/token")
    2.138 nats/token
    """
    return self.optimal(compute)["L_opt"]
