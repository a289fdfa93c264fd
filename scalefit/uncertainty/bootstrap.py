"""bootstrap(): resample a Fit, refit every replicate, check the arguments and warn; returns a Bootstrap.

The resampling and batched refits live in :mod:`scalefit.uncertainty.resampling`; interval arithmetic (percentile,
BCa) in :mod:`scalefit.uncertainty.intervals`. The Bootstrap result, which turns replicate parameter rows into
intervals, is in :mod:`scalefit.uncertainty.bootstrap_result` (its answers in
:mod:`scalefit.uncertainty.bootstrap_answers`, replicate files in :mod:`scalefit.uncertainty.bootstrap_io`);
those names are re-exported here.

Takes a Fit as an argument and never imports ``fit``, so ``Fit.bootstrap()`` is a one-line convenience.
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np

from ..core import checks
from ..core.errors import FitError, ScalefitWarning
from ..solver import identify
from .bootstrap_io import load_replicates  # noqa: F401 (re-exported)
from .bootstrap_result import Bootstrap, _columns, _evaluate  # noqa: F401 (re-exported)
from .replicates import replicates
from .resampling import Replicates

FEW_GROUPS = 8
SCHEMES = ("cluster", "pairs", "residual")


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
    level = checks.level(level)
    if method not in ("percentile", "bca"):
        raise ValueError(f"method must be 'percentile' or 'bca', not {method!r}")
    n = checks.replicates(n, "n")
    seed = checks.seed(seed)
    if n_jobs != -1:  # joblib's -1: every core
        checks.count(n_jobs, "n_jobs", 1, 4096, "the number of processes")
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
