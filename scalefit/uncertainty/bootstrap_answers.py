"""Bootstrap's compute-allocation answers with intervals: compute for a target loss, frontier, plan, optimal
allocation, and the three-interval predictions (law band, new run, extrapolation).

Functions of a Bootstrap (``self``), bound into the :class:`scalefit.uncertainty.bootstrap_result.Bootstrap` class
body, so they are its methods (``boot.optimal(1e22)``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..core import checks
from ..core.errors import FitError
from ..laws import ComputeOptimal, allocation
from . import prediction


def compute_for_loss(self, target_loss, method: str | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Compute (and N_opt, D_opt, tokens_per_param) reaching ``target_loss``, with intervals.

    Replicates that cannot reach the target at any compute (e.g. E at or above it) count as infinite
    compute, so the upper end is infinite when more than (1 - level)/2 of them do.

    target_loss in nats/token; C in FLOPs, N_opt in parameters, D_opt in tokens.

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> boot = fit.bootstrap(n=50, seed=0)
    >>> c = {k: float(v) for k, v in boot.compute_for_loss(2.2)["C"].items()}
    >>> print(f"C = {c['estimate']:.1e} FLOPs, 95% [{c['lo']:.1e}, {c['hi']:.1e}]")
    C = 4.4e+21 FLOPs, 95% [4.0e+21, 5.0e+21]
    """
    checks.loss(target_loss)
    law = self.fit.law
    keys = [k for k in ("C", "N_opt", "D_opt", "tokens_per_param")
            if k in allocation.allocation_for_loss(self.fit.params, target_loss, law)]

    def quantity(key):
        def fn(p):
            value = allocation.allocation_for_loss(p, target_loss, law)[key]
            return np.where(np.isnan(value), np.inf, value)
        return fn

    return {key: self.interval(quantity(key), method) for key in keys}

def frontier(self, compute, method: str | None = None) -> pd.DataFrame:
    """Compute-optimal frontier over compute C with intervals: columns C, then estimate/lo/hi for
    N_opt, D_opt, tokens_per_param and L_opt.

    C in FLOPs; N_opt in parameters, D_opt in tokens, L_opt in nats/token.

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> boot = fit.bootstrap(n=50, seed=0)
    >>> table = boot.frontier([1e20, 1e22])
    >>> list(table.columns)[:4]
    ['C', 'N_opt', 'N_opt_lo', 'N_opt_hi']
    >>> bool((table["L_opt_lo"] <= table["L_opt"]).all())
    True
    """
    c = np.atleast_1d(np.asarray(checks.compute(compute), float))
    table = {"C": c}
    for key, row in self.optimal(c, method).items():
        table.update({key: row["estimate"], f"{key}_lo": row["lo"], f"{key}_hi": row["hi"]})
    return pd.DataFrame(table)

def plan(self, target_loss: float | None = None, inference_tokens: float = 0.0, compute: float | None = None,
         hardware: allocation.Hardware | None = None) -> dict[str, Any]:
    """Inference-aware plan with percentile intervals on N, D, tokens per parameter, over-training
    and FLOPs saved: {plan: Plan, intervals: {quantity: {estimate, lo, hi}}, unreachable: int}.

    The target is held fixed across replicates (a plan is for a quality bar); replicates that cannot
    reach it at any compute are counted as ``unreachable`` and left out.

    target_loss in nats/token, inference_tokens in tokens, compute in FLOPs; N in parameters, D in tokens,
    total_flops in FLOPs.

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> boot = fit.bootstrap(n=50, seed=0)
    >>> out = boot.plan(target_loss=2.3, inference_tokens=1e13)
    >>> sorted(out["intervals"])
    ['D', 'N', 'flops_saved_fraction', 'overtraining', 'tokens_per_param', 'total_flops']
    >>> out["unreachable"]
    0
    """
    law = self.fit.law
    point = self.fit.plan(target_loss, inference_tokens, compute, hardware)
    target = allocation.plan_target(self.fit.params, target_loss, compute, law)
    keys = ("N", "D", "tokens_per_param", "overtraining", "flops_saved_fraction", "total_flops")
    ok = allocation.reachable(self.params(), target, law)
    rows = []
    for rep in self.replicates[ok]:
        params = dict(zip(self.names, rep, strict=True))
        try:
            result = allocation.plan(params, target, inference_tokens, law=law).to_dict()
        except FitError:
            continue
        rows.append([result[k] for k in keys])
    values = np.array(rows).reshape(-1, len(keys))
    out = {}
    for j, key in enumerate(keys):
        lo, hi = self.percentile(values[:, j]) if len(values) > 1 else (np.nan, np.nan)
        out[key] = {"estimate": point.to_dict()[key], "lo": float(lo), "hi": float(hi)}
    return {"plan": point, "intervals": out, "unreachable": int(len(self.replicates) - len(rows))}

def optimal(self, compute, method: str | None = None) -> dict[str, dict[str, np.ndarray]]:
    """N_opt, D_opt, tokens_per_param, L_opt at compute C (FLOPs) with intervals:
    {quantity: {estimate, lo, hi, se}}, each shaped like C. FitError for a law without allocation.

    C in FLOPs; N_opt in parameters, D_opt in tokens, L_opt in nats/token.

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> boot = fit.bootstrap(n=50, seed=0)
    >>> n_opt = {k: float(v) for k, v in boot.optimal(1e22)["N_opt"].items()}
    >>> print(f"N_opt {n_opt['estimate']:.1e} parameters, 95% [{n_opt['lo']:.1e}, {n_opt['hi']:.1e}]")
    N_opt 5.6e+09 parameters, 95% [4.1e+09, 7.4e+09]
    """
    checks.compute(compute)
    law = allocation.require(self.fit.law, ComputeOptimal)
    return {key: self.interval(lambda p, key=key: law.compute_optimal(p, compute)[key], method)
            for key in ("N_opt", "D_opt", "tokens_per_param", "L_opt")}

def predict_intervals(self, N, D, backtest=None, method: str | None = None):
    """Loss at (N, D) with three intervals: law band (the fitted curve), new-run interval (adds
    run-to-run noise) and extrapolation interval (adds model error measured by backtests).

    Returns a :class:`scalefit.uncertainty.prediction.PredictionIntervals` (estimate, band_lo/hi, newrun_lo/hi,
    extrap_lo/hi, distance, supported, n_backtest; flattened from broadcast(N, D); ``.to_frame()``).
    ``backtest``: a :class:`scalefit.Backtest` of this fit (``scalefit.backtest(fit)``), or its Calibration.

    N in parameters, D in tokens; every interval in nats/token.

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> boot = fit.bootstrap(n=50, seed=0)
    >>> bt = scalefit.backtest(fit, fractions=(0.7,), n_boot=0)
    >>> pi = boot.predict_intervals(7e9, 1.4e11, backtest=bt)
    >>> bool(pi.band_lo[0] <= pi.estimate[0] <= pi.band_hi[0])
    True
    >>> bool(pi.extrap_hi[0] - pi.extrap_lo[0] >= pi.band_hi[0] - pi.band_lo[0])
    True
    """
    return prediction.loss_intervals(self, N, D, backtest, method)

def optimal_intervals(self, compute, backtest=None, method: str | None = None) -> dict[str, Any]:
    """Compute-optimal loss L*(C) with the three intervals, and N_opt(C) with its law band; see
    :func:`scalefit.uncertainty.prediction.optimal_intervals`.

    compute in FLOPs; L_opt in nats/token, N_opt in parameters.

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> boot = fit.bootstrap(n=50, seed=0)
    >>> bt = scalefit.backtest(fit, fractions=(0.7,), n_boot=0)
    >>> out = boot.optimal_intervals(1e21, backtest=bt)
    >>> sorted(out)
    ['L_opt', 'N_opt', 'notes']
    """
    allocation.require(self.fit.law, ComputeOptimal)
    return prediction.optimal_intervals(self, compute, backtest, method)
