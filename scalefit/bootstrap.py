"""Bootstrapped uncertainty: resampling schemes, batched refits through the solver, intervals.

Every replicate is one row of a batched problem: resampling is an integer multiplicity weight per run,
so B replicates are a (B, n) weight matrix and one batched Levenberg-Marquardt solve (solver.refine),
warm-started at the full-data optimum. A warm start could in principle stay in the wrong basin, so a
sample of replicates is also refitted with the full global method (grid + polish) and compared; any
mismatch there triggers the global method for every replicate. Replicates that do not converge are
counted, reported and excluded.

Takes a Fit as an argument and never imports ``fit``, so ``Fit.bootstrap()`` is a one-line convenience.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import solver
from .errors import ScalefitWarning

CHUNK = 250  # replicates per batched solve; fixed so results do not depend on n_jobs
GLOBAL_CHECKS = 16  # replicates re-solved by the global method to verify the warm start
FEW_GROUPS = 8


@dataclass(frozen=True)
class Bootstrap:
    """Bootstrap replicates of a fit and the intervals they give.

    ``replicates`` is (B, P) in the law's public parameter order (only converged replicates);
    ``failed`` counts replicates excluded because their refit did not converge.
    """

    fit: Any
    replicates: np.ndarray
    scheme: str
    level: float
    seed: int | None
    n_requested: int
    failed: int
    global_checks: dict[str, Any]
    warnings: tuple[str, ...] = field(default=())

    @property
    def names(self) -> tuple[str, ...]:
        return self.fit.law.param_names

    def params(self) -> dict[str, np.ndarray]:
        """Replicate values of every parameter: {name: (B,)}."""
        return {name: self.replicates[:, j] for j, name in enumerate(self.names)}

    def derived(self) -> dict[str, np.ndarray]:
        """Replicate values of a, b, G: {name: (B,)}."""
        rows = [self.fit.law.derived(dict(zip(self.names, r, strict=True))) for r in self.replicates]
        return {k: np.array([row[k] for row in rows]) for k in rows[0]} if rows else {}

    def percentile(self, values: np.ndarray, level: float | None = None) -> tuple[float, float]:
        """Percentile interval of replicate values (B,) or (B, ...) along axis 0."""
        level = self.level if level is None else level
        lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2], axis=0)
        return lo, hi

    def apply(self, fn: Callable[[dict[str, float]], Any]) -> np.ndarray:
        """fn(params dict) for every replicate, stacked: (B, ...)."""
        return np.array([fn(dict(zip(self.names, r, strict=True))) for r in self.replicates])

    def intervals(self) -> dict[str, dict[str, float]]:
        """{quantity: {estimate, se, lo, hi}} for every parameter and derived quantity."""
        out = {}
        point = {**self.fit.params, **self.fit.derived}
        for name, values in {**self.params(), **self.derived()}.items():
            lo, hi = self.percentile(values)
            out[name] = {"estimate": float(point[name]), "se": float(np.std(values, ddof=1)),
                         "lo": float(lo), "hi": float(hi)}
        return out

    def predict(self, N, D) -> dict[str, np.ndarray]:
        """Loss at (N, D) with its interval: {estimate, lo, hi}, each shaped like broadcast(N, D)."""
        n, d = np.broadcast_arrays(np.asarray(N, float), np.asarray(D, float))
        data = {"N": n.ravel(), "D": d.ravel()}
        reps = np.stack([self.fit.law.predict(r, data) for r in self.replicates])
        lo, hi = self.percentile(reps)
        return {"estimate": self.fit.predict(n, d), "lo": lo.reshape(n.shape), "hi": hi.reshape(n.shape)}

    def optimal(self, compute) -> dict[str, dict[str, np.ndarray]]:
        """N_opt, D_opt, tokens_per_param, L_opt at compute C with intervals: {quantity: {estimate, lo, hi}}."""
        from .laws.chinchilla import compute_optimal

        point = self.fit.optimal(compute)
        reps = [compute_optimal(dict(zip(self.names, r, strict=True)), compute) for r in self.replicates]
        out = {}
        for key, estimate in point.items():
            lo, hi = self.percentile(np.stack([rep[key] for rep in reps]))
            out[key] = {"estimate": estimate, "lo": lo, "hi": hi}
        return out

    def summary(self) -> str:
        pct = round(self.level * 100)
        lines = [f"bootstrap: {len(self.replicates)} replicates ({self.scheme} scheme, seed {self.seed}); "
                 f"{self.failed} failed and excluded",
                 f"  {'quantity':<10}{'estimate':>13}{'se':>12}{f'{pct}% lo':>13}{f'{pct}% hi':>13}"]
        for name, row in self.intervals().items():
            lines.append(f"  {name:<10}{row['estimate']:>13.6g}{row['se']:>12.4g}{row['lo']:>13.6g}{row['hi']:>13.6g}")
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"scheme": self.scheme, "level": self.level, "seed": self.seed, "n_requested": self.n_requested,
                "n_used": len(self.replicates), "failed": self.failed, "intervals": self.intervals(),
                "global_checks": self.global_checks, "warnings": list(self.warnings)}

    def save(self, path) -> None:
        """Replicates (and what they are) to a .npz file; reload with :func:`load_replicates`."""
        np.savez(path, replicates=self.replicates, names=np.array(self.names), scheme=self.scheme,
                 level=self.level, seed=-1 if self.seed is None else self.seed)


def load_replicates(path) -> dict[str, Any]:
    """Read a file written by :meth:`Bootstrap.save`: {replicates, names, scheme, level, seed}."""
    with np.load(path) as data:
        return {"replicates": data["replicates"], "names": tuple(data["names"].tolist()),
                "scheme": str(data["scheme"]), "level": float(data["level"]), "seed": int(data["seed"])}


def resample_weights(groups: np.ndarray, n: int, scheme: str, rng: np.random.Generator) -> np.ndarray:
    """Multiplicity weights (n_replicates, n_runs) for the pairs or cluster scheme."""
    rows = len(groups)
    if scheme == "pairs":
        draws = rng.integers(0, rows, size=(n, rows))
        return _counts(draws, rows)
    _, codes = np.unique(groups, return_inverse=True)
    n_groups = codes.max() + 1
    draws = rng.integers(0, n_groups, size=(n, n_groups))
    return _counts(draws, n_groups)[:, codes]


def _counts(draws: np.ndarray, size: int) -> np.ndarray:
    offsets = draws + size * np.arange(draws.shape[0])[:, None]
    return np.bincount(offsets.ravel(), minlength=size * draws.shape[0]).reshape(draws.shape[0], size).astype(float)


def _refine_chunk(problem: solver.Problem, z0: np.ndarray, weights: np.ndarray) -> solver.BatchResult:
    return solver.refine(problem, np.tile(z0, (len(weights), 1)), weights * problem.weights)


def bootstrap(fit, n: int = 1000, scheme: str | None = None, level: float = 0.95, seed: int | None = 0,
              n_jobs: int = 1, progress: bool | None = None) -> Bootstrap:
    """Bootstrap a Fit: resample, refit every replicate, return percentile intervals.

    Parameters
    ----------
    scheme:
        ``"cluster"`` resamples whole groups (model sizes, or runs when rows are checkpoints): the default
        whenever groups repeat, because rows of one group share errors. ``"pairs"`` resamples rows.
    seed:
        Same seed -> bit-identical replicates, whatever ``n_jobs``.
    n_jobs:
        Processes for the batched refits (joblib; any joblib backend, e.g. Dask via
        ``joblib.parallel_config(backend="dask")``).
    """
    runs = fit.runs
    groups = runs.groups
    if scheme is None:
        scheme = "cluster" if len(np.unique(groups)) < len(groups) else "pairs"
    if scheme not in ("cluster", "pairs"):
        raise ValueError(f"scheme must be 'cluster' or 'pairs', not {scheme!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), not {level}")
    rng = np.random.default_rng(seed)
    weights = resample_weights(groups, n, scheme, rng)
    data = {c: runs.df[c].to_numpy(float) for c in fit.law.inputs}
    problem = solver.Problem.build(fit.law, data, runs.loss, fit.objective, fit.weights)
    z0 = fit.solution.z
    chunks = [weights[i:i + CHUNK] for i in range(0, n, CHUNK)]
    results = _run_chunks(problem, z0, chunks, n_jobs, progress)
    z = np.concatenate([r.z for r in results])
    ok = np.concatenate([r.converged for r in results])
    rescued = 0
    for i in np.flatnonzero(~ok):  # a stalled Levenberg-Marquardt row gets L-BFGS-B and a stationarity test
        z_alt, _, ok[i] = solver.rescue(problem.reweighted(weights[i]), z[i])
        z[i] = z_alt
        rescued += int(ok[i])
    checks = _verify_warm_start(problem, z, ok, weights, rng)
    checks["rescued_by_lbfgsb"] = rescued
    if checks["mismatches"]:
        z, ok = _global_refits(problem, weights)
    k = problem.n_linear
    public = np.concatenate([np.exp(z[:, :k]), z[:, k:]], axis=1)
    messages = []
    failed = int((~ok).sum())
    if failed:
        messages.append(f"{failed} of {n} replicates did not converge and were excluded")
    if scheme == "cluster" and len(np.unique(groups)) < FEW_GROUPS:
        messages.append(f"only {len(np.unique(groups))} groups: cluster-bootstrap intervals are unreliable "
                        f"with fewer than ~{FEW_GROUPS} groups")
    spread = np.std(z[ok, k:], axis=0) if ok.sum() > 1 else np.zeros(z.shape[1] - k)
    if np.any(spread < 1e-8 * np.maximum(np.abs(z0[k:]), 1e-12)):
        messages.append("the replicate spread of an exponent is suspiciously close to zero: replicates may have "
                        "stopped at their start")
    for message in messages:
        warnings.warn(message, ScalefitWarning, stacklevel=2)
    return Bootstrap(fit=fit, replicates=public[ok], scheme=scheme, level=level, seed=seed, n_requested=n,
                     failed=failed, global_checks=checks, warnings=tuple(messages))


def _run_chunks(problem, z0, chunks, n_jobs, progress) -> list[solver.BatchResult]:
    show = sys.stderr.isatty() if progress is None else progress
    if n_jobs == 1:
        from tqdm.auto import tqdm

        return [_refine_chunk(problem, z0, c) for c in tqdm(chunks, disable=not show, desc="bootstrap",
                                                            unit="chunk")]
    from joblib import Parallel, delayed

    return Parallel(n_jobs=n_jobs, verbose=5 if show else 0)(delayed(_refine_chunk)(problem, z0, c) for c in chunks)


def _verify_warm_start(problem, z, ok, weights, rng) -> dict[str, Any]:
    """Re-solve a few replicates with the global method; a lower objective there means a wrong basin."""
    candidates = np.flatnonzero(ok)
    picked = rng.choice(candidates, size=min(GLOBAL_CHECKS, candidates.size), replace=False)
    mismatches = []
    for i in picked:
        sub = problem.reweighted(weights[i])
        glob = solver.solve(sub)
        warm = float(sub.value(z[i]))
        if glob.value < warm * (1 - 1e-7):
            mismatches.append(int(i))
    return {"checked": int(picked.size), "mismatches": mismatches}


def _global_refits(problem, weights):
    zs, oks = [], []
    for w in weights:
        sol = solver.solve(problem.reweighted(w))
        zs.append(sol.z)
        oks.append(sol.converged)
    return np.array(zs), np.array(oks)
