"""Calibration by simulation: how often do nominal bootstrap intervals cover the truth?

:func:`check_coverage` takes a Fit as the truth, simulates R datasets on the same design (same N, D and
groups) with per-group and within-group noise estimated from the fit's residuals, runs the whole pipeline
(global fit, bootstrap with each scheme, intervals) on every dataset, and counts how often the nominal
intervals contain the true values. Coverage comes with its Monte-Carlo standard error, so a reader can
tell a real miss from simulation noise.

The noise model is a one-way random-effects model on log losses: log L_i = log L(N_i, D_i) + u_g(i) + e_i
with u_g ~ N(0, sd_between^2) shared by the runs of a group and e_i ~ N(0, sd_within^2). The two
variances are the method-of-moments (ANOVA) estimates from the fit's log residuals. Rows of one group
share u_g, which is exactly why the pairs scheme (rows independent) under-covers. The simulation itself is
:mod:`scalefit.simulation.simulate`; the misspecification study (:func:`check_misspecified`) is in
:mod:`scalefit.simulation.misspecified`, re-exported here.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from ..core import checks
from ..laws import ComputeOptimal, Law
from ..uncertainty import intervals
from ..uncertainty.noise import estimate_noise, noise_sd
from ..uncertainty.replicates import replicates
from .misspecified import (  # noqa: F401 (re-exported)
    Misspecified,
    _one_misspecified,
    check_misspecified,
    curved_chinchilla,
    describe_truth,
    sweep_design,
)
from .simulate import simulate_log_losses

VERIFY_PER_DATASET = 2  # global-method checks of warm-started replicates per simulated dataset and scheme
NEW_RUN = "L_new(10x C_max) new-run"  # a fresh run at the true optimum, 10x the largest compute
NEW_RUN_EXTRAP = "L_new(10x C_max) extrapolation"
L_OPT = "L_opt(10x C_max)"


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
        out.update({L_OPT: opt["L_opt"], "N_opt(10x C_max)": opt["N_opt"]})
    return out


@dataclass(frozen=True)
class Coverage:
    """Outcome of a coverage study.

    ``hits[(scheme, method)]`` is (R_ok, Q) booleans (interval contains the truth) and ``widths`` the
    matching interval widths, over the simulated datasets whose main fit converged; ``truth`` holds the
    true value of every quantity; ``noise`` the simulated noise model.

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> cov = scalefit.check_coverage(fit, R=4, n=20, seed=0, schemes=("cluster",))
    >>> sorted(set(cov.table()["quantity"]))[:3]
    ['A', 'B', 'E']
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
        nominal +/- 2 MCSE (MCSE of a binomial proportion at the nominal level).

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> cov = scalefit.check_coverage(fit, R=4, n=20, seed=0, schemes=("cluster",))
        >>> list(cov.table().columns)[:5]
        ['scheme', 'method', 'quantity', 'coverage', 'mcse']
        """
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
        """Share of simulated datasets whose interval for ``quantity`` covered the truth (in [0, 1]).

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> cov = scalefit.check_coverage(fit, R=4, n=20, seed=0, schemes=("cluster",))
        >>> 0.0 <= cov.coverage("cluster", "alpha") <= 1.0
        True
        """
        return float(self.hits[(scheme, method)][:, self.quantities.index(quantity)].mean())

    def summary(self) -> str:
        """The coverage table as text, with the noise (log loss) and compute (FLOPs) it was simulated at.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> cov = scalefit.check_coverage(fit, R=4, n=20, seed=0, schemes=("cluster",))
        >>> print(cov.summary().splitlines()[0])  # doctest: +ELLIPSIS
        coverage of nominal 95% intervals: 4 simulated datasets x 20 replicates (seed 0); noise sd ...
        """
        t = self.table()
        pct = round(self.level * 100)
        lines = [f"coverage of nominal {pct}% intervals: {self.n_datasets} simulated datasets x "
                 f"{self.n_replicates} replicates (seed {self.seed}); noise sd between groups "
                 f"{self.noise['sd_between']:.3g}, within {self.noise['sd_within']:.3g} (log loss); "
                 f"C_max x 10 = {self.compute:.3g} FLOPs",
                 f"  {'scheme':<9}{'method':<12}{'quantity':<18}{'coverage':>9}{'+/- 2 MCSE':>12}"
                 f"{'median width':>14}  verdict"]
        for row in t.itertuples():
            verdict = "ok" if row.calibrated else ("UNDER-COVERS" if row.under_covers else "over-covers")
            lines.append(f"  {row.scheme:<9}{row.method:<12}{row.quantity:<18}{row.coverage:>9.3f}"
                         f"{2 * row.mcse:>12.3f}{row.median_width:>14.4g}  {verdict}")
        if self.failed_datasets or self.failed_replicates:
            lines.append(f"  excluded: {self.failed_datasets} datasets whose fit failed, "
                         f"{self.failed_replicates} replicates that did not converge")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record: settings, noise, truth and the coverage table.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> cov = scalefit.check_coverage(fit, R=4, n=20, seed=0, schemes=("cluster",))
        >>> record = cov.to_dict()
        >>> record["n_datasets"], sorted(record)[:3]
        (4, ['compute', 'failed_datasets', 'failed_replicates'])
        """
        return {"level": self.level, "n_datasets": self.n_datasets, "n_replicates": self.n_replicates,
                "seed": self.seed, "truth": self.truth, "noise": self.noise, "compute": self.compute,
                "failed_datasets": self.failed_datasets, "failed_replicates": self.failed_replicates,
                "table": self.table().to_dict(orient="records")}


def check_coverage(fit, R: int = 200, n: int = 200, seed: int | None = 0,
                   schemes: tuple[str, ...] = ("cluster", "pairs"), methods: tuple[str, ...] = ("percentile",),
                   level: float = 0.95, n_jobs: int = 1, progress: bool | None = None,
                   backtests: bool = False) -> Coverage:
    """Simulate R datasets from ``fit`` (as the truth) and measure how often intervals cover it.

    Each dataset is fitted as the fit was, through its :class:`~scalefit.fitting.spec.FitSpec` (an automatic Huber
    delta is re-estimated from a first-pass least-squares fit of that dataset), and bootstrapped with ``n``
    replicates under every scheme; intervals by every method in ``methods`` ("percentile", "bca"). Besides
    the free parameters, derived quantities and (for a law with compute-optimal allocation) L_opt and N_opt
    at 10x the largest compute, two intervals for a *new run* at the true compute-optimal allocation there
    are checked against a fresh draw of that run: "L_new(10x C_max) new-run" (the L_opt replicates convolved
    with the noise estimated from that dataset) and, with ``backtests=True`` (about ten refits per dataset:
    slow), "L_new(10x C_max) extrapolation" calibrated by a backtest of the simulated dataset. Datasets are
    independent streams of one SeedSequence, so results are identical for any ``n_jobs``.

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> cov = scalefit.check_coverage(fit, R=4, n=20, seed=0, schemes=("cluster",))
    >>> cov.table()[["scheme", "quantity"]].head(3).values.tolist()
    [['cluster', 'E'], ['cluster', 'A'], ['cluster', 'B']]
    """
    checks.count(R, "R", 1, 10**6, "the number of simulated datasets")
    checks.replicates(n, "n")
    checks.level(level)
    checks.seed(seed)
    if n_jobs != -1:  # joblib's -1: every core
        checks.count(n_jobs, "n_jobs", 1, 4096, "the number of processes")
    runs = fit.runs
    groups = runs.groups
    engine = fit.spec.engine
    problem = engine.problem(fit.data, runs.loss, fit.objective, fit.weights)
    noise = estimate_noise(fit.residuals, groups)
    compute = 10.0 * float(fit.data_maxima.get("C", np.nan))
    truth_row = fit.param_vector[None, :]
    truth = {k: float(v[0]) for k, v in coverage_quantities(fit.law, truth_row, compute).items()}
    new_run = None
    if L_OPT in truth:
        opt = fit.law.compute_optimal(fit.params, compute)
        new_run = {"N": float(opt["N_opt"]), "D": float(opt["D_opt"]), "loss": float(opt["L_opt"])}
        truth[NEW_RUN] = new_run["loss"]
        if backtests:
            truth[NEW_RUN_EXTRAP] = new_run["loss"]
    seeds = np.random.SeedSequence(seed).spawn(R)
    log_pred = np.log(fit.fitted)
    args = (fit.spec, engine, problem, fit.data, log_pred, groups, noise, n, schemes, methods, level, compute,
            new_run, fit if backtests and new_run is not None else None)
    show = sys.stderr.isatty() if progress is None else progress
    if n_jobs == 1:
        from tqdm.auto import tqdm

        results = [_one_dataset(s, *args) for s in tqdm(seeds, disable=not show, desc="coverage", unit="dataset")]
    else:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=n_jobs, verbose=5 if show else 0)(delayed(_one_dataset)(s, *args) for s in seeds)
    good = [r for r in results if r is not None]
    names = tuple(truth)
    hits, widths = {}, {}
    for key in good[0]["intervals"] if good else []:
        lo = np.array([r["intervals"][key][0] for r in good])
        hi = np.array([r["intervals"][key][1] for r in good])
        truth_mat = np.array([[r["new_run"] if q in (NEW_RUN, NEW_RUN_EXTRAP) else truth[q] for q in names]
                              for r in good])
        hits[key] = (lo <= truth_mat) & (truth_mat <= hi)
        widths[key] = hi - lo
    return Coverage(level=level, n_datasets=R, n_replicates=n, seed=seed, quantities=names, truth=truth,
                    noise=noise, compute=compute, hits=hits, widths=widths,
                    failed_datasets=R - len(good), failed_replicates=sum(r["failed"] for r in good))


def _one_dataset(seed_seq, spec, engine, problem, data, log_pred, groups, noise, n, schemes, methods, level, compute,
                 new_run=None, truth_fit=None):
    """Simulate, fit (through the spec's objective rule and engine) and bootstrap one dataset;
    intervals {(scheme, method): (lo (Q,), hi (Q,))}, and a fresh draw of the new run."""
    from ..uncertainty.prediction import extrapolation_limits, newrun_interval

    rng = np.random.default_rng(seed_seq)
    y = simulate_log_losses(log_pred, groups, noise, 1, rng)[0]
    loss = np.exp(y)
    objective, _, first = spec.choose_objective(data, loss, problem.weights)
    sim = replace(problem.reweighted(np.ones_like(y), y), objective=objective)
    sol = engine.solve(sim, spec.n_starts, spec.grid_points, extra_starts=first, method=engine.kind)
    if not sol.converged:
        return None
    law = spec.law
    quantities = coverage_quantities(law, engine.public(sim, sol.z[None, :]), compute)
    estimate = _stack(quantities)[0]
    j = list(quantities).index(L_OPT) if new_run is not None else None
    fresh = None
    if new_run is not None:
        sd = noise_sd(estimate_noise(engine.log_residuals(sim, sol.z), groups))
        fresh = new_run["loss"] * float(np.exp(rng.normal(0, noise["sd_between"]) + rng.normal(0, noise["sd_within"])))
    calibration = _simulated_backtest(truth_fit, y, level) if truth_fit is not None else None
    out, failed = {}, 0
    for scheme in schemes:
        reps = replicates(engine, sim, sol.z, groups, n, scheme, rng, verify=VERIFY_PER_DATASET,
                                 jackknife="bca" in methods)
        failed += int((~reps.ok).sum())
        values = _stack(coverage_quantities(law, engine.public(sim, reps.z[reps.ok]), compute))
        jack = None if reps.jackknife is None else \
            _stack(coverage_quantities(law, engine.public(sim, reps.jackknife), compute))
        extra_lo, extra_hi = [], []
        if j is not None:
            nr_lo, nr_hi = newrun_interval(np.log(values[:, j:j + 1]), sd, level)
            extra_lo, extra_hi = [nr_lo], [nr_hi]
            if calibration is not None:
                ex_lo, ex_hi = extrapolation_limits(estimate[j:j + 1], nr_lo, nr_hi, calibration["distance"], sd,
                                                    calibration["rule"], calibration["span"])
                extra_lo.append(np.ravel(ex_lo))
                extra_hi.append(np.ravel(ex_hi))
        for method in methods:
            lo, hi = intervals.interval(values, level, method, estimate, jack)
            out[(scheme, method)] = (np.concatenate([lo, *extra_lo]), np.concatenate([hi, *extra_hi]))
    return {"intervals": out, "failed": failed, "new_run": fresh}


def _simulated_backtest(truth_fit, log_loss: np.ndarray, level: float) -> dict[str, Any]:
    """Backtest of a simulated dataset (refitted the way the truth fit was) and the distance of the
    target new run: {rule: Calibration, distance, span}."""
    import warnings

    from ..core.errors import ScalefitWarning
    from ..extrapolation.backtest import backtest, refit
    from ..uncertainty.prediction import compute_span

    runs = truth_fit.runs
    table = replace(runs, df=runs.df.assign(loss=np.exp(log_loss)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScalefitWarning)
        small = refit(truth_fit, table)
    bt = backtest(small, n_boot=0, level=level, seed=0)
    compute = 10.0 * float(small.data_maxima["C"])
    opt = small.law.compute_optimal(small.params, compute)
    return {"rule": bt.calibration, "distance": small.extrapolation(opt["N_opt"], opt["D_opt"])["distance"],
            "span": compute_span(small)}


def _stack(quantities: dict[str, np.ndarray]) -> np.ndarray:
    return np.stack(list(quantities.values()), axis=-1)


# -- misspecification: does the extrapolation interval cover a truth the law cannot express? -----------------
