"""Calibration by simulation: how often do nominal bootstrap intervals cover the truth?

:func:`check_coverage` takes a Fit as the truth, simulates R datasets on the same design (same N, D and
groups) with per-group and within-group noise estimated from the fit's residuals, runs the whole pipeline
(global fit, bootstrap with each scheme, intervals) on every dataset, and counts how often the nominal
intervals contain the true values. Coverage comes with its Monte-Carlo standard error, so a reader can
tell a real miss from simulation noise.

The noise model is a one-way random-effects model on log losses: log L_i = log L(N_i, D_i) + u_g(i) + e_i
with u_g ~ N(0, sd_between^2) shared by the runs of a group and e_i ~ N(0, sd_within^2). The two
variances are the method-of-moments (ANOVA) estimates from the fit's log residuals. Rows of one group
share u_g, which is exactly why the pairs scheme (rows independent) under-covers.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from . import intervals
from .laws import ComputeOptimal, Law

VERIFY_PER_DATASET = 2  # global-method checks of warm-started replicates per simulated dataset and scheme


def estimate_noise(log_residuals: np.ndarray, groups: np.ndarray) -> dict[str, float]:
    """Between-group and within-group sd of log residuals (one-way random effects, method of moments).

    With every run in its own group the between-group part is not identified and all noise is within.
    """
    r = np.asarray(log_residuals, dtype=float)
    _, codes, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    n_groups, rows = sizes.size, r.size
    if n_groups == rows:
        return {"sd_between": 0.0, "sd_within": float(np.std(r, ddof=1))}
    means = np.bincount(codes, weights=r) / sizes
    within_ss = np.sum((r - means[codes]) ** 2)
    var_within = within_ss / (rows - n_groups)
    between_ms = np.sum(sizes * (means - r.mean()) ** 2) / (n_groups - 1)
    n0 = (rows - np.sum(sizes**2) / rows) / (n_groups - 1)  # effective group size (unbalanced ANOVA)
    var_between = max((between_ms - var_within) / n0, 0.0)
    return {"sd_between": float(np.sqrt(var_between)), "sd_within": float(np.sqrt(var_within))}


def simulate_log_losses(log_pred: np.ndarray, groups: np.ndarray, noise: dict[str, float], count: int,
                        rng: np.random.Generator) -> np.ndarray:
    """``count`` datasets of log losses (count, rows) around the true log predictions (rows,)."""
    _, codes = np.unique(groups, return_inverse=True)
    between = rng.normal(0.0, noise["sd_between"], size=(count, codes.max() + 1))[:, codes]
    within = rng.normal(0.0, noise["sd_within"], size=(count, codes.size))
    return log_pred + between + within


def coverage_quantities(law: Law, params: np.ndarray, compute: float) -> dict[str, np.ndarray]:
    """The quantities whose coverage is checked, for public parameter rows (B, P): {name: (B,)}.

    Every free parameter, the law's derived quantities, and (for a law with compute-optimal allocation)
    L_opt and N_opt at ``compute``.
    """
    p = {name: params[:, j] for j, name in enumerate(law.param_names)}
    out = {name: p[name] for name in law.free_names}
    out.update({k: np.broadcast_to(v, params.shape[:1]) for k, v in law.derived(p).items()})
    if isinstance(law, ComputeOptimal) and set(law.inputs) == {"N", "D"}:
        opt = law.compute_optimal(p, compute)
        out.update({"L_opt(10x C_max)": opt["L_opt"], "N_opt(10x C_max)": opt["N_opt"]})
    return out


@dataclass(frozen=True)
class Coverage:
    """Outcome of a coverage study.

    ``hits[(scheme, method)]`` is (R_ok, Q) booleans (interval contains the truth) and ``widths`` the
    matching interval widths, over the simulated datasets whose main fit converged; ``truth`` holds the
    true value of every quantity; ``noise`` the simulated noise model.
    """

    level: float
    n_datasets: int
    n_replicates: int
    seed: int | None
    quantities: tuple[str, ...]
    truth: dict[str, float]
    noise: dict[str, float]
    compute: float
    hits: dict[tuple[str, str], np.ndarray]
    widths: dict[tuple[str, str], np.ndarray]
    failed_datasets: int
    failed_replicates: int

    def table(self) -> pd.DataFrame:
        """One row per (scheme, method, quantity): coverage, Monte-Carlo SE, and whether it is within
        nominal +/- 2 MCSE (MCSE of a binomial proportion at the nominal level)."""
        rows = []
        for (scheme, method), hits in self.hits.items():
            r = hits.shape[0]
            mcse = np.sqrt(self.level * (1 - self.level) / r)
            for j, q in enumerate(self.quantities):
                cov = float(hits[:, j].mean())
                rows.append({"scheme": scheme, "method": method, "quantity": q, "coverage": cov,
                             "mcse": float(mcse), "calibrated": bool(abs(cov - self.level) <= 2 * mcse),
                             "under_covers": bool(cov < self.level - 2 * mcse),
                             "median_width": float(np.median(self.widths[(scheme, method)][:, j])),
                             "datasets": int(r)})
        return pd.DataFrame(rows)

    def coverage(self, scheme: str, quantity: str, method: str = "percentile") -> float:
        return float(self.hits[(scheme, method)][:, self.quantities.index(quantity)].mean())

    def summary(self) -> str:
        t = self.table()
        pct = round(self.level * 100)
        lines = [f"coverage of nominal {pct}% intervals: {self.n_datasets} simulated datasets x "
                 f"{self.n_replicates} replicates (seed {self.seed}); noise sd between groups "
                 f"{self.noise['sd_between']:.3g}, within {self.noise['sd_within']:.3g} (log loss); "
                 f"C_max x 10 = {self.compute:.3g} FLOPs",
                 f"  {'scheme':<9}{'method':<12}{'quantity':<18}{'coverage':>9}{'+/- 2 MCSE':>12}  verdict"]
        for row in t.itertuples():
            verdict = "ok" if row.calibrated else ("UNDER-COVERS" if row.under_covers else "over-covers")
            lines.append(f"  {row.scheme:<9}{row.method:<12}{row.quantity:<18}{row.coverage:>9.3f}"
                         f"{2 * row.mcse:>12.3f}  {verdict}")
        if self.failed_datasets or self.failed_replicates:
            lines.append(f"  excluded: {self.failed_datasets} datasets whose fit failed, "
                         f"{self.failed_replicates} replicates that did not converge")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "n_datasets": self.n_datasets, "n_replicates": self.n_replicates,
                "seed": self.seed, "truth": self.truth, "noise": self.noise, "compute": self.compute,
                "failed_datasets": self.failed_datasets, "failed_replicates": self.failed_replicates,
                "table": self.table().to_dict(orient="records")}


def check_coverage(fit, R: int = 200, n: int = 200, seed: int | None = 0,
                   schemes: tuple[str, ...] = ("cluster", "pairs"), methods: tuple[str, ...] = ("percentile",),
                   level: float = 0.95, n_jobs: int = 1, progress: bool | None = None) -> Coverage:
    """Simulate R datasets from ``fit`` (as the truth) and measure how often intervals cover it.

    Each dataset is fitted with the global method and bootstrapped with ``n`` replicates under every
    scheme; intervals by every method in ``methods`` ("percentile", "bca"). Datasets are independent
    streams of one SeedSequence, so results are identical for any ``n_jobs``.
    """
    runs = fit.runs
    groups = runs.groups
    engine = fit.spec.engine
    problem = engine.problem(fit.data, runs.loss, fit.objective, fit.weights)
    noise = estimate_noise(fit.residuals, groups)
    compute = 10.0 * float(fit.data_maxima.get("C", np.nan))
    truth_row = fit.param_vector[None, :]
    truth = {k: float(v[0]) for k, v in coverage_quantities(fit.law, truth_row, compute).items()}
    seeds = np.random.SeedSequence(seed).spawn(R)
    log_pred = np.log(fit.fitted)
    args = (fit.spec, engine, problem, fit.data, log_pred, groups, noise, n, schemes, methods, level, compute)
    show = sys.stderr.isatty() if progress is None else progress
    if n_jobs == 1:
        from tqdm.auto import tqdm

        results = [_one_dataset(s, *args) for s in tqdm(seeds, disable=not show, desc="coverage", unit="dataset")]
    else:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=n_jobs, verbose=5 if show else 0)(delayed(_one_dataset)(s, *args) for s in seeds)
    good = [r for r in results if r is not None]
    names = tuple(truth)
    truth_vec = np.array([truth[q] for q in names])
    hits, widths = {}, {}
    for key in good[0]["intervals"] if good else []:
        lo = np.array([r["intervals"][key][0] for r in good])
        hi = np.array([r["intervals"][key][1] for r in good])
        hits[key] = (lo <= truth_vec) & (truth_vec <= hi)
        widths[key] = hi - lo
    return Coverage(level=level, n_datasets=R, n_replicates=n, seed=seed, quantities=names, truth=truth,
                    noise=noise, compute=compute, hits=hits, widths=widths,
                    failed_datasets=R - len(good), failed_replicates=sum(r["failed"] for r in good))


def _one_dataset(seed_seq, spec, engine, problem, data, log_pred, groups, noise, n, schemes, methods, level, compute):
    """Simulate, fit (through the spec's objective rule and engine) and bootstrap one dataset;
    intervals {(scheme, method): (lo (Q,), hi (Q,))}."""
    rng = np.random.default_rng(seed_seq)
    y = simulate_log_losses(log_pred, groups, noise, 1, rng)[0]
    loss = np.exp(y)
    objective, _, first = spec.choose_objective(data, loss, problem.weights)
    sim = replace(problem.reweighted(np.ones_like(y), y), objective=objective)
    sol = engine.solve(sim, spec.n_starts, spec.grid_points, extra_starts=first, method=engine.kind)
    if not sol.converged:
        return None
    law = spec.law
    estimate = _stack(coverage_quantities(law, engine.public(sim, sol.z[None, :]), compute))[0]
    out, failed = {}, 0
    for scheme in schemes:
        reps = engine.replicates(sim, sol.z, groups, n, scheme, rng, verify=VERIFY_PER_DATASET,
                                 jackknife="bca" in methods)
        failed += int((~reps.ok).sum())
        values = _stack(coverage_quantities(law, engine.public(sim, reps.z[reps.ok]), compute))
        jack = None if reps.jackknife is None else \
            _stack(coverage_quantities(law, engine.public(sim, reps.jackknife), compute))
        for method in methods:
            out[(scheme, method)] = intervals.interval(values, level, method, estimate, jack)
    return {"intervals": out, "failed": failed}


def _stack(quantities: dict[str, np.ndarray]) -> np.ndarray:
    return np.stack(list(quantities.values()), axis=-1)
