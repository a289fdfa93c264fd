"""Fitting the data-constrained law the way Muennighoff et al. (2023) did, with bootstrap intervals.

Stage 1 (base): Chinchilla constants E, A, B, alpha, beta -- the paper's published C4 base fit
(``base="paper_c4"``, default), a dict of values, or ``base="fit"``: a Hoffmann-objective fit of
:func:`scalefit.fit` on the single-epoch runs (D <= U).
Stage 2: R_N*, R_D* with the base fixed, minimising the paper's objective: the sum of Huber losses
(delta = 1e-3) of log residuals, from the paper's start grid R* in {20/3, 40/3, 20} (their grid
linspace(0, 20, 4) without the 0, where the law is undefined).
Jointly: all seven parameters with :func:`scalefit.fit` and the :class:`DataConstrained` law (U_N defined
by the base fit), as a check of the staged fit.

Intervals: a cluster bootstrap (whole model sizes, or single runs with ``cluster="run"``) of stage 2,
the base held fixed, as in the paper's procedure. Each replicate is solved by the same exhaustive grid over
log R* as the full data (then local refinement), so a replicate never stays in the full-data basin by
construction.

Speed (benchmarks/bench_data_constrained.py, one BLAS thread, load ~6 on 2 cores): the exhaustive grid is
evaluated once for the full data and every replicate together (one chunked matrix product, memory bounded by
GRID_CHUNK_BYTES), and replicates that drew the same clusters are solved once (with 3 model sizes, 1,000 draws
hold about 10 distinct resamples). Staged fit + 1,000 replicates: 4.8 s on the 182 C4 runs, 12 s on the 9,261
ColPret checkpoint rows (24x and 640x faster than solving the replicates one by one). This staged fit is what
`scalefit fit NAME` runs for a data-constrained recipe. The joint 7-parameter fit (``scalefit.fit(runs,
law="data_constrained")``, variable projection over alpha, beta, R_N*, R_D*) is left to the general engine: its
batched bootstrap takes ~6 s per 100 replicates on the 182 C4 runs (it took > 200 s for 20 before the engine's
batched global check replaced the per-replicate multi-start verification).

This module runs the staged fit; the stage-2 objective and its grid search are in :mod:`.dc_stage2`, the
result classes (:class:`DataConstrainedFit`, :class:`EpochAllocation`) in :mod:`.dc_result`.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping

import numpy as np

from ..core import checks
from ..core.errors import DataError, FitError, ScalefitWarning
from ..data.runs import RunTable
from ..laws.data_constrained import PAPER_C4_BASE, DataConstrained, repetition_features

# the result classes and the stage-2 problem moved to dc_result / dc_stage2; every old name stays reachable here
from .dc_result import (  # noqa: F401
    MAX_EPOCHS,
    MIN_EPOCHS,
    DataConstrainedFit,
    EpochAllocation,
    _optimal_n,
    _records,
    _unlimited_loss,
)
from .dc_stage2 import (  # noqa: F401
    GRID_CHUNK_BYTES,
    GRID_LOG_RANGE,
    GRID_POINTS,
    HUBER_DELTA,
    LOG_STAR_BOUNDS,
    PAPER_STARTS,
    STAR_NAMES,
    _huber,
    _huber_rho,
    _local_minima,
    _Stage2,
)
from .errors import BaseFitWarning

OPEN_FACTOR = 10.0  # R* beyond this multiple of the largest observed R is "no measurable cost"
MODEL_SIZE_RTOL = 1e-4  # model sizes within this relative difference are one cluster


def fit_data_constrained(runs: RunTable, base: str | Mapping[str, float] = "paper_c4", *, joint: bool = True,
                         start: str | tuple[float, float] = "global", n_boot: int = 1000,
                         cluster: str = "model_size", level: float = 0.95,
                         seed: int | None = 0) -> DataConstrainedFit:
    """Fit R_N*, R_D* of the data-constrained law with the base Chinchilla constants fixed (the paper's way).

    N in parameters, D and U in tokens, loss in nats/token; R_N* and R_D* are dimensionless.

    Parameters
    ----------
    runs:
        A RunTable with columns N, D, U (unique tokens) and loss.
    base:
        ``"paper_c4"`` (the paper's C4 base fit), ``"fit"`` (Chinchilla fit with the Hoffmann objective on
        the runs with D <= U), or a mapping with E, A, B, alpha, beta.
    joint:
        Also fit all seven parameters together (U_N still defined by the base).
    start:
        ``"global"`` (default): the best of an exhaustive grid over log R* and of L-BFGS-B polishes from
        the paper's start grid. A pair (R_N*, R_D*): the local optimum reached from it (the objective has
        several local minima along a ridge; this selects one basin, and the bootstrap stays in it).
    n_boot, cluster, level, seed:
        Bootstrap replicates of stage 2; ``cluster="model_size"`` (default) resamples whole model sizes,
        ``"group"`` the table's groups, ``"run"`` single rows.

    Examples
    --------
    >>> import pandas as pd
    >>> from scalefit.laws.data_constrained import PAPER_C4_BASE, predict_loss
    >>> frame = pd.DataFrame([{"N": n, "U": u, "D": u * e} for n in np.geomspace(5e7, 3e9, 5)
    ...                       for u in (1e8, 1e9, 1e10) for e in (1, 2, 4, 8, 16, 40)])
    >>> truth = {**PAPER_C4_BASE, "R_N_star": 5.0, "R_D_star": 15.0}
    >>> frame["loss"] = predict_loss(truth, frame.N, frame.D, frame.U, PAPER_C4_BASE)
    >>> res = scalefit.fit_data_constrained(scalefit.load_runs(frame), joint=False, n_boot=0)
    >>> print(f"R_N* = {res.params['R_N_star']:.1f}, R_D* = {res.params['R_D_star']:.1f}")
    R_N* = 5.0, R_D* = 15.0
    """
    checks.resampling(n_boot, level, seed)
    started = time.perf_counter()
    if "U" not in runs.df:
        raise DataError(f"{runs.provenance.get('source', 'runs')}: the data-constrained law needs a U "
                        "(unique tokens) column")
    if cluster not in ("model_size", "group", "run"):
        raise ValueError(f"cluster must be 'model_size', 'group' or 'run', not {cluster!r}")
    n_arr, d_arr, u_arr, loss = (runs.df[c].to_numpy(float) for c in ("N", "D", "U", "loss"))
    messages: list[str] = []
    base_params, base_source = _base(runs, base, messages)
    feats = repetition_features(n_arr, d_arr, u_arr, base_params)
    problem = _Stage2(base_params["A"], base_params["B"], base_params["E"], base_params["alpha"],
                      base_params["beta"], np.log(feats["U_N"]), feats["R_N"], np.log(feats["U_D"]),
                      feats["R_D"], np.log(loss), HUBER_DELTA)
    ones = np.ones(len(loss))
    minima = _local_minima(problem, ones)
    labels = {"group": runs.groups, "run": np.arange(len(loss)),
              "model_size": np.round(np.log(n_arr) / MODEL_SIZE_RTOL)}[cluster]
    _, codes = np.unique(labels, return_inverse=True)
    codes = np.ravel(codes)
    n_clusters = int(codes.max()) + 1
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n_clusters, (n_boot, n_clusters))
    counts = np.stack([np.bincount(p, minlength=n_clusters) for p in picks]) if n_boot else \
        np.zeros((0, n_clusters), dtype=int)
    # replicates that drew the same clusters are the same problem: each distinct one is solved once
    distinct_counts, inverse = np.unique(counts, axis=0, return_inverse=True)
    distinct = distinct_counts[:, codes].astype(float)
    if start == "global":  # one exhaustive grid pass for the full data and every replicate
        z_all = problem.grid_solve(np.vstack([ones[None, :], distinct]))
        z_grid, z_reps = z_all[0], z_all[1:]
        z, value, ok = problem.solve(np.vstack([z_grid, np.log(minima[list(STAR_NAMES)].to_numpy())]), ones)
    else:
        z, value, ok = problem.solve(np.log(np.asarray(start, float))[None, :], ones)
        z_reps = problem.grid_solve(distinct, z0=z) if len(distinct) else np.zeros((0, 2))
    if z is None or not np.all(np.isfinite(z)):
        raise FitError("the data-constrained fit of R_N*, R_D* failed from every start")
    if not ok and problem.value_and_grad(z, ones)[0] > value * (1 + 1e-9):
        messages.append("stage-2 L-BFGS-B did not report convergence at the best start")
    if start == "global" and len(minima) > 1:
        other = minima.iloc[1]
        messages.append(f"the objective has {len(minima)} local minima from the paper's start grid; the best "
                        f"is reported, the next is R_N*={other.R_N_star:.3g}, R_D*={other.R_D_star:.3g} "
                        f"(objective {other.objective / value - 1:+.2%}): R_N* and R_D* trade off along a ridge")
    stars = dict(zip(STAR_NAMES, map(float, np.exp(z)), strict=True))
    if not np.any(feats["R_N"] > 0):
        messages.append("no run has excess parameters (R_N = 0 everywhere): R_N* is not identified")
    if not np.any(feats["R_D"] > 0):
        messages.append("no run repeats data (R_D = 0 everywhere): R_D* is not identified")
    for name in STAR_NAMES:
        if np.log(stars[name]) >= LOG_STAR_BOUNDS[1] - 1e-6:
            messages.append(f"{name} at its upper bound ({stars[name]:.3g}): repetition costs nothing measurable")

    reps = np.exp(z_reps)[np.ravel(inverse)] if n_boot else np.zeros((0, 2))
    good = np.all(np.isfinite(reps), axis=1)
    failed = int(np.sum(~good))
    if failed:
        messages.append(f"{failed} of {n_boot} bootstrap replicates failed and were left out")
    for j, (name, r_obs) in enumerate(zip(STAR_NAMES, (feats["R_N"], feats["R_D"]), strict=True)):
        # R* far beyond every observed R: D' = D (N' = N) within the data, i.e. no measurable cost
        limit = OPEN_FACTOR * max(float(np.max(r_obs)), 1e-12)
        share = float(np.mean(reps[good, j] > limit)) if good.any() else 0.0
        if share > (1 - level) / 2:
            messages.append(f"{share:.0%} of replicates put {name} above {limit:.3g} ({OPEN_FACTOR:g} x the largest "
                            f"observed repetition), where repetition costs nothing measurable: its interval is "
                            "open above")
        low = float(np.mean(np.log(reps[good, j]) <= GRID_LOG_RANGE[0] + 0.01)) if good.any() else 0.0
        if low > (1 - level) / 2:
            messages.append(f"{low:.0%} of replicates put {name} at the lower search limit "
                            f"({np.exp(GRID_LOG_RANGE[0]):g}): its interval is open below")
    q = [(1 - level) / 2, (1 + level) / 2]
    intervals = {name: tuple(map(float, np.quantile(reps[good, j], q))) if good.any() else (np.nan, np.nan)
                 for j, name in enumerate(STAR_NAMES)}
    if n_clusters < 5 and n_boot:
        messages.append(f"only {n_clusters} clusters: cluster-bootstrap intervals are unreliable")

    joint_params, joint_value = None, None
    if joint:
        joint_params, joint_value = _joint(runs, base_params, messages)
    for m in messages:
        warnings.warn(m, BaseFitWarning if m.startswith("base") else ScalefitWarning, stacklevel=2)
    return DataConstrainedFit(base=base_params, base_source=base_source, stars=stars, objective=value,
                              replicates=reps[good], intervals=intervals, level=level, cluster=cluster,
                              n_runs=len(loss), n_clusters=n_clusters, joint=joint_params,
                              joint_objective=joint_value, seconds=time.perf_counter() - started, seed=seed,
                              warnings=tuple(messages), failed_replicates=failed, local_minima=minima,
                              data={"N": n_arr, "D": d_arr, "U": u_arr, "loss": loss})


def _base(runs: RunTable, base, messages: list[str]) -> tuple[dict[str, float], str]:
    if isinstance(base, Mapping):
        return {k: float(base[k]) for k in ("E", "A", "B", "alpha", "beta")}, "given"
    if base == "paper_c4":
        return dict(PAPER_C4_BASE), ("paper's C4 base fit (Muennighoff et al. 2023; alpha = beta tied): "
                                     "E=1.87, A=521, B=1488, alpha=beta=0.353")
    if base == "fit":
        from ..fitting.fit import fit as fit_law  # fit -> solver; imported here so this module stays light

        single = runs.df["D"].to_numpy(float) <= runs.df["U"].to_numpy(float) * (1 + 1e-9)
        if single.sum() < 8:
            raise FitError(f"base='fit' needs single-epoch runs (D <= U); only {int(single.sum())} found")
        sub = runs.subset(single, "single-epoch runs (D <= U) for the data-constrained base fit")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            f = fit_law(sub, objective="hoffmann")
        messages.extend(f"base fit: {w.message}" for w in caught)
        return {k: float(f.params[k]) for k in ("E", "A", "B", "alpha", "beta")}, \
            f"Chinchilla fit (Hoffmann objective) on the {int(single.sum())} single-epoch runs"
    raise ValueError(f"base must be 'paper_c4', 'fit' or a mapping of E, A, B, alpha, beta; not {base!r}")


def _joint(runs: RunTable, base_params: dict[str, float], messages: list[str]):
    from ..fitting.fit import fit as fit_law

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            f = fit_law(runs, law=DataConstrained(reference=base_params), objective="hoffmann", grid_points=8)
        except Exception as exc:  # a failed check must not lose the staged fit
            messages.append(f"joint 7-parameter fit failed: {exc}")
            return None, None
    messages.extend(f"joint fit: {w.message}" for w in caught)
    return {k: float(v) for k, v in f.params.items()}, float(f.solution.value)
