"""Bootstrapped uncertainty on a Fit: the Bootstrap result and its intervals on every quantity.

The resampling and batched refits live in :mod:`scalefit.uncertainty.resampling`; interval arithmetic (percentile,
BCa) in :mod:`scalefit.uncertainty.intervals`. This module turns replicate parameter rows into intervals on
parameters, derived quantities, predictions, allocations and plans.

Takes a Fit as an argument and never imports ``fit``, so ``Fit.bootstrap()`` is a one-line convenience.
"""

from __future__ import annotations

import sys
import textwrap
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import FitError, ScalefitWarning
from ..core.formatting import SPREAD_NOTE, spread
from ..laws import ComputeOptimal, allocation
from ..solver import identify
from . import intervals, prediction
from .replicates import replicates
from .resampling import Replicates

FEW_GROUPS = 8
SCHEMES = ("cluster", "pairs", "residual")


@dataclass(frozen=True)
class Bootstrap:
    """Bootstrap replicates of a fit and the intervals they give.

    ``replicates`` is (B, P) in the law's public parameter order (only converged replicates);
    ``failed`` counts replicates excluded because their refit did not converge; ``jackknife`` is (J, P)
    leave-one-group-out (cluster) or leave-one-row-out (pairs, residual) refits, used by BCa intervals.
    ``method`` is the default interval method ("percentile" or "bca").

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> boot = fit.bootstrap(n=50, seed=0)
    >>> boot  # doctest: +ELLIPSIS
    <Bootstrap cluster: 50 of 50 replicates used (0 failed), 95% percentile intervals, seed 0; 0 warning(s)>
    >>> lo, hi = boot.percentile(boot.params()["alpha"])
    >>> print(f"alpha in [{lo:.2f}, {hi:.2f}]")
    alpha in [0.27, 0.37]
    """

    fit: Any
    replicates: np.ndarray
    scheme: str
    level: float
    seed: int | None
    n_requested: int
    failed: int
    global_checks: dict[str, Any]
    jackknife: np.ndarray | None = None
    method: str = "percentile"
    warnings: tuple[str, ...] = field(default=())
    seconds: float = 0.0

    @property
    def names(self) -> tuple[str, ...]:
        return self.fit.law.param_names

    def params(self) -> dict[str, np.ndarray]:
        """Replicate values of every parameter: {name: (B,)}.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> boot = fit.bootstrap(n=50, seed=0)
        >>> reps = boot.params()
        >>> reps["alpha"].shape
        (50,)
        """
        return _columns(self.names, self.replicates)

    def derived(self) -> dict[str, np.ndarray]:
        """Replicate values of the law's derived quantities (a, b, G for Chinchilla): {name: (B,)}.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> boot = fit.bootstrap(n=50, seed=0)
        >>> sorted(boot.derived())
        ['G', 'a', 'b']
        >>> boot.derived()["a"].shape
        (50,)
        """
        return self.fit.law.derived(self.params())

    def interval(self, fn: Callable[[dict[str, np.ndarray]], np.ndarray], method: str | None = None,
                 level: float | None = None) -> dict[str, np.ndarray]:
        """Estimate and interval of any quantity ``fn(params)``; fn must work elementwise on arrays.

        ``fn`` receives {name: array} with each array shaped (B, 1, ..., 1) for replicates, so its result
        broadcasts to (B, ...). Returns {estimate, lo, hi, se}, each shaped like the full-data value.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> boot = fit.bootstrap(n=50, seed=0)
        >>> r = {k: float(v) for k, v in boot.interval(lambda p: p["alpha"] / p["beta"]).items()}
        >>> print(f"alpha/beta = {r['estimate']:.2f} [{r['lo']:.2f}, {r['hi']:.2f}]")
        alpha/beta = 1.13 [0.95, 1.33]
        """
        method = self.method if method is None else method
        level = self.level if level is None else level
        estimate = np.asarray(fn(dict(self.fit.params)), dtype=float)
        values = _evaluate(fn, self.names, self.replicates, estimate.ndim)
        jack = None if self.jackknife is None else _evaluate(fn, self.names, self.jackknife, estimate.ndim)
        if method == "bca" and jack is None:
            raise ValueError("BCa intervals need jackknife refits; this bootstrap has none")
        lo, hi = intervals.interval(values, level, method, estimate, jack)
        se = np.std(values, axis=0, ddof=1) if len(values) > 1 else np.full(estimate.shape, np.nan)
        return {"estimate": estimate, "lo": lo, "hi": hi, "se": se}

    def intervals(self, method: str | None = None) -> dict[str, dict[str, float]]:
        """{quantity: {estimate, se, lo, hi}} for every parameter and derived quantity.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> boot = fit.bootstrap(n=50, seed=0)
        >>> rows = boot.intervals()
        >>> list(rows)
        ['E', 'A', 'B', 'alpha', 'beta', 'a', 'b', 'G']
        >>> sorted(rows["alpha"])
        ['estimate', 'hi', 'lo', 'se']
        """
        law = self.fit.law
        quantities = {name: (lambda p, name=name: p[name]) for name in self.names}
        quantities.update({name: (lambda p, name=name: law.derived(p)[name]) for name in self.fit.derived})
        out = {}
        for name, fn in quantities.items():
            row = self.interval(fn, method)
            out[name] = {k: float(v) for k, v in row.items()}
        return out

    def predict(self, *args: Any, method: str | None = None,
                threshold: float | None = allocation.EXTRAPOLATION_THRESHOLD, **inputs: Any) -> dict[str, np.ndarray]:
        """Loss at the law's inputs (``predict(N, D)``, keywords or a mapping) with interval and distance.

        Returns {estimate, lo, hi, se, <input>_ratio, C_ratio, distance}, each shaped like the broadcast
        inputs; warns (ExtrapolationWarning) past ``threshold`` x the data's largest input or compute.

        N in parameters, D in tokens; the loss estimate and interval in nats/token.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> boot = fit.bootstrap(n=50, seed=0)
        >>> r = {k: float(v) for k, v in boot.predict(7e9, 1.4e11).items()}
        >>> print(f"{r['estimate']:.3f} nats/token, 95% [{r['lo']:.3f}, {r['hi']:.3f}]")
        2.182 nats/token, 95% [2.169, 2.199]
        """
        x = self.fit.bind(args, inputs)
        shape = next(iter(x.values())).shape
        distance = self.fit.extrapolation(x)
        allocation.warn_if_far(distance["distance"], threshold)
        law = self.fit.law
        flat = {k: v.ravel() for k, v in x.items()}

        def loss(p):
            scalar = np.ndim(p[self.names[0]]) == 0
            vec = np.stack([np.ravel(p[k]) for k in self.names], axis=-1)
            out = law.predict(vec, flat).reshape((-1, *shape))
            return out[0] if scalar else out

        return {**self.interval(loss, method), **distance}

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
        c = np.atleast_1d(np.asarray(compute, float))
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

    def apply(self, fn: Callable[[dict[str, float]], Any]) -> np.ndarray:
        """fn(params dict of floats) for every replicate, stacked: (B, ...). For functions that do not
        vectorise; prefer :meth:`interval` otherwise.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> boot = fit.bootstrap(n=50, seed=0)
        >>> values = boot.apply(lambda p: p["A"] / p["B"])
        >>> values.shape
        (50,)
        """
        return np.array([fn(dict(zip(self.names, r, strict=True))) for r in self.replicates])

    def percentile(self, values: np.ndarray, level: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Percentile interval of replicate values (B,) or (B, ...) along axis 0.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> boot = fit.bootstrap(n=50, seed=0)
        >>> lo, hi = boot.percentile(boot.params()["beta"])
        >>> print(f"[{lo:.2f}, {hi:.2f}]")
        [0.27, 0.29]
        """
        return intervals.percentile_interval(values, self.level if level is None else level)

    def __repr__(self) -> str:
        return (f"<Bootstrap {self.scheme}: {len(self.replicates)} of {self.n_requested} replicates used "
                f"({self.failed} failed), {round(self.level * 100)}% {self.method} intervals, seed {self.seed}; "
                f"{len(self.warnings)} warning(s)>")

    def summary(self) -> str:
        """A table to paste into a paper: every parameter and derived quantity with its estimate, spread and
        interval, in the law's units (Chinchilla: E in nats/token, A and B in nats/token x N^alpha and
        x D^beta, exponents and a, b dimensionless, G in parameters per (FLOPs/6)^a).

        The spread column is :func:`scalefit.core.formatting.spread`, the same scale the report's parameter table
        shows: ×/÷ f (f = exp(sd of log replicate)) for quantities whose replicates are all positive, else
        ± sd. A plain standard error misleads on right-skewed replicates such as those of A.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> boot = fit.bootstrap(n=50, seed=0)
        >>> print(boot.summary())  # doctest: +ELLIPSIS
        bootstrap: 50 replicates (cluster scheme, seed 0, percentile intervals); 0 failed and excluded
          quantity      estimate      spread      95% lo      95% hi
          E             ...
        >>> "se" in boot.summary().split()
        False
        """
        pct = round(self.level * 100)
        lines = [f"bootstrap: {len(self.replicates)} replicates ({self.scheme} scheme, seed {self.seed}, "
                 f"{self.method} intervals); {self.failed} failed and excluded",
                 f"  {'quantity':<10}{'estimate':>12}{'spread':>12}{f'{pct}% lo':>12}{f'{pct}% hi':>12}"]
        values = {**self.params(), **self.derived()}
        for name, row in self.intervals().items():
            lines.append(f"  {name:<10}{row['estimate']:>12.5g}{spread(values[name]):>12}{row['lo']:>12.5g}"
                         f"{row['hi']:>12.5g}")
        lines += ["  " + line for line in textwrap.wrap(SPREAD_NOTE, 100)]
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record: settings, counts, checks, intervals, and the replicate matrix itself.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> boot = fit.bootstrap(n=50, seed=0)
        >>> record = boot.to_dict()
        >>> record["n_used"], record["scheme"], len(record["replicates"][0])
        (50, 'cluster', 5)
        """
        return {"scheme": self.scheme, "level": self.level, "seed": self.seed, "n_requested": self.n_requested,
                "n_used": len(self.replicates), "failed": self.failed, "method": self.method,
                "intervals": self.intervals(), "global_checks": self.global_checks,
                "warnings": list(self.warnings), "names": list(self.names),
                "replicates": self.replicates.tolist(),
                "jackknife": None if self.jackknife is None else self.jackknife.tolist()}

    def save(self, path) -> None:
        """Replicates (and what they are) to a .npz file; reload with :func:`load_replicates`.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> boot = fit.bootstrap(n=50, seed=0)
        >>> boot.save("replicates.npz")
        >>> from scalefit.uncertainty.bootstrap import load_replicates
        >>> load_replicates("replicates.npz")["replicates"].shape
        (50, 5)
        """
        np.savez(path, replicates=self.replicates, names=np.array(self.names), scheme=self.scheme,
                 level=self.level, seed=-1 if self.seed is None else self.seed)


def _columns(names, matrix: np.ndarray, ndim: int = 0) -> dict[str, np.ndarray]:
    """{name: column} with each column shaped (B, 1 x ndim) so that it broadcasts against a result."""
    return {name: matrix[:, j].reshape((-1,) + (1,) * ndim) for j, name in enumerate(names)}


def _evaluate(fn, names, matrix: np.ndarray, ndim: int) -> np.ndarray:
    """fn on every row of a parameter matrix at once: (B, ...)."""
    out = np.asarray(fn(_columns(names, matrix, ndim)), dtype=float)
    return np.broadcast_to(out, (matrix.shape[0], *out.shape[1:])) if out.ndim else np.full(matrix.shape[0], out)


def load_replicates(path) -> dict[str, Any]:
    """Read a file written by :meth:`Bootstrap.save`: {replicates, names, scheme, level, seed}."""
    with np.load(path) as data:
        return {"replicates": data["replicates"], "names": tuple(data["names"].tolist()),
                "scheme": str(data["scheme"]), "level": float(data["level"]), "seed": int(data["seed"])}


def bootstrap(fit, n: int = 1000, scheme: str | None = None, level: float = 0.95, seed: int | None = 0,
              n_jobs: int = 1, progress: bool | None = None, method: str = "percentile") -> Bootstrap:
    """Bootstrap a Fit: resample, refit every replicate, return intervals.

    Parameters
    ----------
    n:
        Number of replicates.
    scheme:
        ``"cluster"`` resamples whole groups (model sizes, or runs when rows are checkpoints): the default
        whenever groups repeat, because rows of one group share errors. ``"pairs"`` resamples rows (the
        default when every row is its own group). ``"residual"`` keeps the design and resamples log
        residuals around the fit (assumes exchangeable errors).
    level:
        Confidence level of the intervals, in (0, 1).
    seed:
        Same seed -> bit-identical replicates, whatever ``n_jobs``.
    n_jobs:
        Processes for the batched refits (joblib; any joblib backend, e.g. Dask via
        ``joblib.parallel_config(backend="dask")``). Replicates are drawn before the work is split, in
        fixed chunks (resampling.chunk_size: CHUNK, fewer for very long tables), so results do not depend on n_jobs.
    progress:
        Show a progress bar; default: when stderr is a terminal.
    method:
        Default interval method: ``"percentile"`` or ``"bca"`` (falls back to percentile where unstable).
    """
    started = time.perf_counter()
    runs = fit.runs
    groups = runs.groups
    if scheme is None:
        scheme = "cluster" if len(np.unique(groups)) < len(groups) else "pairs"
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, not {scheme!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), not {level}")
    if method not in ("percentile", "bca"):
        raise ValueError(f"method must be 'percentile' or 'bca', not {method!r}")
    if int(n) < 2:
        raise ValueError(f"n must be at least 2 replicates, not {n}")
    rng = np.random.default_rng(seed)
    engine = fit.spec.engine
    problem = engine.problem(fit.data, runs.loss, fit.objective, fit.weights)
    show = sys.stderr.isatty() if progress is None else progress
    reps = replicates(engine, problem, fit.solution.z, groups, int(n), scheme, rng, n_jobs, show)
    if int(reps.ok.sum()) < 2:
        why = "; ".join(f"{c} {r}" for r, c in reps.checks.get("failed_by_reason", {}).items())
        raise FitError(f"only {int(reps.ok.sum())} of {n} bootstrap replicates could be fitted ({why}): these data "
                       "cannot support bootstrap intervals")
    public = engine.public(problem, reps.z)
    jack = None if reps.jackknife is None else engine.public(problem, reps.jackknife)
    messages = _warnings(engine.nonlinear_columns(problem), reps, groups, scheme, fit.solution.z, n)
    for message in messages:
        warnings.warn(message, ScalefitWarning, stacklevel=2)
    return Bootstrap(fit=fit, replicates=public[reps.ok], scheme=scheme, level=level, seed=seed, n_requested=n,
                     failed=int((~reps.ok).sum()), global_checks=reps.checks, jackknife=jack, method=method,
                     warnings=tuple(messages), seconds=time.perf_counter() - started)


def _warnings(nonlinear, reps: Replicates, groups, scheme, z0, n) -> list[str]:
    messages = []
    failed = int((~reps.ok).sum())
    by_reason = reps.checks.get("failed_by_reason", {})
    if failed:
        detail = "; ".join(f"{count} {reason}" for reason, count in sorted(by_reason.items(), key=lambda kv: -kv[1]))
        messages.append(f"{failed} of {n} replicates were excluded ({detail or 'did not converge'})")
    unidentified = sum(c for r, c in by_reason.items() if r != identify.NOT_CONVERGED)
    if unidentified:
        messages.append(f"{unidentified} of {n} resamples could not identify the law; the intervals describe only "
                        "the resamples that can, so they understate how little these groups say")
    n_groups = len(np.unique(groups))
    if scheme == "cluster" and n_groups < FEW_GROUPS:
        messages.append(f"only {n_groups} groups: cluster-bootstrap intervals are unreliable "
                        f"with fewer than ~{FEW_GROUPS} groups")
    if scheme != "cluster" and n_groups < len(groups):
        messages.append(f"runs share groups ({n_groups} groups for {len(groups)} runs) but the {scheme} scheme "
                        "treats them as independent: intervals are likely too narrow; use scheme='cluster'")
    ok = reps.ok
    cols = np.arange(reps.z.shape[1])[nonlinear]
    spread = np.std(reps.z[ok][:, cols], axis=0) if ok.sum() > 1 else np.zeros(cols.size)
    if ok.sum() > 1 and np.any(spread < 1e-8 * np.maximum(np.abs(z0[cols]), 1e-12)):
        messages.append("the replicate spread of an exponent is suspiciously close to zero: replicates may have "
                        "stopped at their start")
    return messages
