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
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from ..core.errors import DataError, FitError, ScalefitWarning
from ..data.runs import RunTable
from ..laws.data_constrained import (
    PAPER_C4_BASE,
    DataConstrained,
    d_log_effective_d_rstar,
    log_effective,
    predict_loss,
    repetition_features,
)
from .errors import BaseFitWarning

HUBER_DELTA = 1e-3
PAPER_STARTS = (20.0 / 3.0, 40.0 / 3.0, 20.0)
STAR_NAMES = ("R_N_star", "R_D_star")
LOG_STAR_BOUNDS = (np.log(1e-3), np.log(1e5))
GRID_LOG_RANGE = LOG_STAR_BOUNDS  # R* from 0.001 to 100,000 repetitions: the search box of every replicate
GRID_POINTS = 160
GRID_CHUNK_BYTES = 2.0e8  # memory budget of one chunk of the exhaustive grid (its temporaries included)
OPEN_FACTOR = 10.0  # R* beyond this multiple of the largest observed R is "no measurable cost"
MAX_EPOCHS, MIN_EPOCHS = 1e4, 1e-3  # the allocation's search range in epochs D/U
MODEL_SIZE_RTOL = 1e-4  # model sizes within this relative difference are one cluster


def _huber(r: np.ndarray, delta: float) -> tuple[np.ndarray, np.ndarray]:
    psi = np.clip(r, -delta, delta)
    return _huber_rho(r, delta), psi


def _huber_rho(r: np.ndarray, delta: float) -> np.ndarray:
    """Huber loss of r: with m = min(|r|, delta), rho = m (|r| - m / 2) (0.5 r^2 inside, linear outside)."""
    a = np.abs(r)
    m = np.minimum(a, delta)
    a -= 0.5 * m
    a *= m
    return a


@dataclass(frozen=True)
class _Stage2:
    """Precomputed pieces of the stage-2 objective (base fixed): arrays of shape (n,)."""

    a_coef: float
    b_coef: float
    e_coef: float
    alpha: float
    beta: float
    log_un: np.ndarray
    r_n: np.ndarray
    log_ud: np.ndarray
    r_d: np.ndarray
    log_loss: np.ndarray
    delta: float

    def value_and_grad(self, z: np.ndarray, weights: np.ndarray) -> tuple[float, np.ndarray]:
        rn_star, rd_star = np.exp(z)
        term_n = self.a_coef * np.exp(-self.alpha * log_effective(self.log_un, self.r_n, rn_star))
        term_d = self.b_coef * np.exp(-self.beta * log_effective(self.log_ud, self.r_d, rd_star))
        pred = self.e_coef + term_n + term_d
        r = np.log(pred) - self.log_loss
        rho, psi = _huber(r, self.delta)
        dr_n = -self.alpha * term_n * d_log_effective_d_rstar(self.r_n, rn_star) * rn_star / pred
        dr_d = -self.beta * term_d * d_log_effective_d_rstar(self.r_d, rd_star) * rd_star / pred
        wpsi = weights * psi
        return float(np.sum(weights * rho)), np.array([np.sum(wpsi * dr_n), np.sum(wpsi * dr_d)])

    def grid_rho(self, log_rn: np.ndarray, log_rd: np.ndarray) -> np.ndarray:
        """Huber loss of every row at every cell of the grid log_rn x log_rd: shape (len(rn) * len(rd), n)."""
        term_n = self.a_coef * np.exp(-self.alpha * log_effective(self.log_un, self.r_n, np.exp(log_rn)[:, None]))
        term_d = self.b_coef * np.exp(-self.beta * log_effective(self.log_ud, self.r_d, np.exp(log_rd)[:, None]))
        r = np.log(self.e_coef + term_n[:, None, :] + term_d[None, :, :])
        r -= self.log_loss
        rho = _huber_rho(r, self.delta)
        return rho.reshape(-1, rho.shape[-1])

    def grid_solve(self, weights: np.ndarray, z0: np.ndarray | None = None, points: int = GRID_POINTS,
                   refine: int = 3) -> np.ndarray:
        """2-D search in log R* for many weight vectors at once: weights (B, n) -> z (B, 2).

        Without ``z0``: an exhaustive grid over GRID_LOG_RANGE^2 (one matmul for all replicates), then
        ``refine`` rounds of a local 11 x 11 grid (a fifth of the step each round) around each replicate's
        best cell. With ``z0`` (2,): a local descent from z0 by the same shrinking grids (starting at a step of
        0.1 in log R* and repeated while the best cell is on the edge), which stays in z0's basin.
        """
        offsets = np.linspace(-1, 1, 11)
        if z0 is None:
            axis = np.linspace(*GRID_LOG_RANGE, points)
            # rows of the R_N* axis in chunks, so memory stays ~GRID_CHUNK_BYTES however many runs there are
            rows = max(1, int(GRID_CHUNK_BYTES // (8 * 4 * points * max(len(self.log_loss), 1))))
            # (cells, n) @ (n, B): OpenBLAS is ~10x faster in this order than weights @ rho.T for few B
            values = np.concatenate([self.grid_rho(axis[i:i + rows], axis) @ weights.T
                                     for i in range(0, points, rows)], axis=0).T  # (B, points^2)
            best = np.argmin(values, axis=1)
            z = np.stack([axis[best // points], axis[best % points]], axis=1)
            step = axis[1] - axis[0]
        else:
            z = np.tile(np.asarray(z0, float), (len(weights), 1))
            step = 0.5
            for b in range(len(z)):  # walk downhill on a coarse local grid until the best cell is interior
                for _ in range(40):
                    rn_axis, rd_axis = z[b, 0] + step * offsets, z[b, 1] + step * offsets
                    k = int(np.argmin(self.grid_rho(rn_axis, rd_axis) @ weights[b]))
                    z[b] = np.clip((rn_axis[k // 11], rd_axis[k % 11]), *GRID_LOG_RANGE)
                    if 0 < k // 11 < 10 and 0 < k % 11 < 10:
                        break
        for _ in range(refine):
            for b in range(len(z)):
                rn_axis, rd_axis = z[b, 0] + step * offsets, z[b, 1] + step * offsets
                v = self.grid_rho(rn_axis, rd_axis) @ weights[b]
                k = int(np.argmin(v))
                z[b] = (rn_axis[k // 11], rd_axis[k % 11])
            step /= 5.0
        return z

    def solve(self, starts: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, float, bool]:
        best = (None, np.inf, False)
        for z0 in starts:
            res = minimize(self.value_and_grad, z0, args=(weights,), jac=True, method="L-BFGS-B",
                           bounds=[LOG_STAR_BOUNDS] * 2,
                           options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 2000})
            if res.fun < best[1]:
                best = (res.x, float(res.fun), bool(res.success))
        return best


@dataclass(frozen=True)
class EpochAllocation:
    """Compute-optimal N and epochs for compute C and unique tokens U, with bootstrap intervals.

    ``table`` has one row per (C, U): N_opt, D_opt, epochs (D_opt/U), L_opt, L_unlimited (the base law's
    compute-optimal loss with unlimited unique data) and each with _lo/_hi columns, and
    share_at_search_limit (replicates whose optimum is at 10,000 or 0.001 epochs).
    """

    table: pd.DataFrame
    level: float

    def summary(self) -> str:
        t = self.table
        lines = [f"Compute-optimal allocation under a unique-data budget ({self.level:.0%} intervals)",
                 f"{'C':>10} {'U':>10} {'N_opt':>24} {'epochs':>20} {'L_opt':>8} {'L_unlim':>8}"]
        for _, row in t.iterrows():
            lines.append(f"{row.C:10.3g} {row.U:10.3g} {row.N_opt:9.3g} [{row.N_opt_lo:.3g}, {row.N_opt_hi:.3g}]"
                         f" {row.epochs:6.3g} [{row.epochs_lo:.3g}, {row.epochs_hi:.3g}]"
                         f" {row.L_opt:8.4f} {row.L_unlimited:8.4f}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "rows": _records(self.table)}

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()


@dataclass(frozen=True)
class DataConstrainedFit:
    """Result of :func:`fit_data_constrained`.

    Attributes: ``base`` (E, A, B, alpha, beta) and ``base_source``; ``stars`` (R_N_star, R_D_star) of the
    staged fit; ``replicates`` (B, 2) bootstrap values of (R_N_star, R_D_star); ``intervals`` per star;
    ``joint`` (all 7 parameters fitted together, or None); ``objective`` value; ``n_runs``, ``n_clusters``.
    """

    base: dict[str, float]
    base_source: str
    stars: dict[str, float]
    objective: float
    replicates: np.ndarray
    intervals: dict[str, tuple[float, float]]
    level: float
    cluster: str
    n_runs: int
    n_clusters: int
    joint: dict[str, float] | None
    joint_objective: float | None
    seconds: float
    seed: int | None
    warnings: tuple[str, ...] = ()
    failed_replicates: int = 0
    local_minima: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    data: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def params(self) -> dict[str, float]:
        """All seven parameters of the staged fit: base then stars."""
        return {**self.base, **self.stars}

    def predict(self, N, D, U) -> np.ndarray:
        """Loss of the staged fit at arrays N (parameters), D (tokens), U (unique tokens)."""
        return predict_loss(self.params, N, D, U, self.base)

    def value_of_epochs(self, epochs) -> pd.DataFrame:
        """How much repeated data is worth: D'/D after ``epochs`` passes over the unique data.

        D'/D = (1 + R_D* (1 - exp(-R_D/R_D*))) / (1 + R_D) with R_D = epochs - 1; 1 means as good as fresh
        data. Returns a frame with epochs, value, value_lo, value_hi (bootstrap of R_D*).
        """
        e = np.atleast_1d(np.asarray(epochs, dtype=float))
        r = np.maximum(e - 1.0, 0.0)

        def value(r_star):
            r_star = np.asarray(r_star, dtype=float)[..., None]
            return (1.0 - r_star * np.expm1(-r / r_star)) / (1.0 + r)

        reps = value(self.replicates[:, 1]) if len(self.replicates) else np.full((1, len(e)), np.nan)
        lo, hi = np.quantile(reps, [(1 - self.level) / 2, (1 + self.level) / 2], axis=0)
        return pd.DataFrame({"epochs": e, "value": value(self.stars["R_D_star"]), "value_lo": lo, "value_hi": hi})

    def allocate(self, compute, unique_tokens, n_grid: int = 1201) -> EpochAllocation:
        """Compute-optimal N and epochs for each pair of compute C (FLOPs) and unique tokens U.

        Minimises L(N, C/(6N), U) over N on a fine log grid (from 10,000 epochs down to 1/1,000 of an epoch), then
        refines the minimum by a parabola through the three best grid points. Intervals: the same for every
        bootstrap replicate of (R_N*, R_D*).
        """
        cs, us = np.broadcast_arrays(np.atleast_1d(np.asarray(compute, float)),
                                     np.atleast_1d(np.asarray(unique_tokens, float)))
        reps = np.vstack([[self.stars["R_N_star"], self.stars["R_D_star"]], self.replicates])
        rows = []
        for c, u in zip(cs, us, strict=True):
            n_opt, loss = _optimal_n(self.base, reps, c, u, n_grid)
            d_opt = c / (6.0 * n_opt)
            epochs = d_opt / u
            row = {"C": c, "U": u}
            for name, val in (("N_opt", n_opt), ("D_opt", d_opt), ("epochs", epochs), ("L_opt", loss)):
                lo, hi = np.quantile(val[1:], [(1 - self.level) / 2, (1 + self.level) / 2])
                row.update({name: float(val[0]), f"{name}_lo": float(lo), f"{name}_hi": float(hi)})
            row["L_unlimited"] = float(_unlimited_loss(self.base, c))
            at_limit = np.mean((epochs >= MAX_EPOCHS * 0.999) | (epochs <= MIN_EPOCHS * 1.001))
            row["share_at_search_limit"] = float(at_limit)
            rows.append(row)
        table = pd.DataFrame(rows)
        limited = table[table.share_at_search_limit > (1 - self.level) / 2]
        if len(limited):
            warnings.warn(f"{len(limited)} allocations put the optimum at the search limit of "
                          f"{MAX_EPOCHS:g} epochs (or {MIN_EPOCHS:g}) in more than {(1 - self.level) / 2:.1%} of "
                          "replicates: their intervals are open", ScalefitWarning, stacklevel=2)
        return EpochAllocation(table, self.level)

    def summary(self) -> str:
        lines = [
            "Data-constrained law (Muennighoff et al. 2023): L = E + A/N'^alpha + B/D'^beta",
            f"runs: {self.n_runs}   clusters ({self.cluster}): {self.n_clusters}   base: {self.base_source}",
            "base: " + "  ".join(f"{k}={v:.6g}" for k, v in self.base.items()),
            f"{'parameter':<10} {'estimate':>10} {f'{self.level:.0%} interval':>22}",
        ]
        for name in STAR_NAMES:
            lo, hi = self.intervals[name]
            lines.append(f"{name:<10} {self.stars[name]:10.4g} [{lo:9.4g}, {hi:9.4g}]")
        lines.append(f"objective (Huber delta={HUBER_DELTA:g} on log loss, summed): {self.objective:.8g}")
        if len(self.local_minima) > 1:
            lines.append("local minima from the paper's start grid (R_N*, R_D*, objective):")
            lines += [f"  {r.R_N_star:9.4g} {r.R_D_star:9.4g} {r.objective:.8g}"
                      for r in self.local_minima.itertuples()]
        if self.joint is not None:
            lines.append("joint fit (7 parameters): " + "  ".join(f"{k}={v:.4g}" for k, v in self.joint.items())
                         + f"  objective={self.joint_objective:.6g}")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "law": "data_constrained", "base": self.base, "base_source": self.base_source, "stars": self.stars,
            "intervals": {k: list(v) for k, v in self.intervals.items()}, "level": self.level,
            "objective": self.objective, "cluster": self.cluster, "n_runs": self.n_runs,
            "n_clusters": self.n_clusters, "n_replicates": len(self.replicates),
            "failed_replicates": self.failed_replicates, "joint": self.joint,
            "joint_objective": self.joint_objective, "seed": self.seed, "seconds": self.seconds,
            "warnings": list(self.warnings), "local_minima": _records(self.local_minima),
        }

    def to_frame(self) -> pd.DataFrame:
        rows = [{"parameter": k, "estimate": v, "lo": np.nan, "hi": np.nan, "fit": "base (fixed)"}
                for k, v in self.base.items()]
        rows += [{"parameter": k, "estimate": self.stars[k], "lo": self.intervals[k][0],
                  "hi": self.intervals[k][1], "fit": "staged"} for k in STAR_NAMES]
        if self.joint is not None:
            rows += [{"parameter": k, "estimate": v, "lo": np.nan, "hi": np.nan, "fit": "joint"}
                     for k, v in self.joint.items()]
        return pd.DataFrame(rows)


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


def _local_minima(problem: _Stage2, weights: np.ndarray) -> pd.DataFrame:
    """Distinct optima reached by L-BFGS-B from each start of the paper's grid, best first."""
    rows = []
    for rn in PAPER_STARTS:
        for rd in PAPER_STARTS:
            z, value, _ = problem.solve(np.log([[rn, rd]]), weights)
            if z is not None:
                rows.append({"start_R_N_star": rn, "start_R_D_star": rd, "R_N_star": float(np.exp(z[0])),
                             "R_D_star": float(np.exp(z[1])), "objective": value})
    frame = pd.DataFrame(rows).sort_values("objective", kind="stable")
    keep, seen = [], []
    for i, row in frame.iterrows():
        point = np.log([row.R_N_star, row.R_D_star])
        if all(np.max(np.abs(point - p)) > 0.01 for p in seen):
            seen.append(point)
            keep.append(i)
    return frame.loc[keep].reset_index(drop=True)


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


def _optimal_n(base: Mapping[str, float], reps: np.ndarray, c: float, u: float, n_grid: int):
    """N minimising L(N, C/6N, U) for each row (R_N*, R_D*) of reps; returns (N_opt (B,), L_opt (B,))."""
    n_lo = max(c / 6.0 / (MAX_EPOCHS * u), 1.0)
    n_hi = c / 6.0 / max(MIN_EPOCHS * u, 1.0)
    log_n = np.linspace(np.log(n_lo), np.log(n_hi), n_grid)
    n = np.exp(log_n)
    d = c / (6.0 * n)
    params = {**base, "R_N_star": reps[:, :1], "R_D_star": reps[:, 1:2]}
    loss = predict_loss(params, n[None, :], d[None, :], u, base)
    k = np.clip(np.argmin(loss, axis=1), 1, n_grid - 2)
    rows = np.arange(len(reps))
    y0, y1, y2 = loss[rows, k - 1], loss[rows, k], loss[rows, k + 1]
    denom = y0 - 2 * y1 + y2
    shift = np.where(denom > 0, 0.5 * (y0 - y2) / np.where(denom > 0, denom, 1.0), 0.0)
    step = log_n[1] - log_n[0]
    n_opt = np.exp(log_n[k] + np.clip(shift, -1, 1) * step)
    loss_opt = predict_loss(params, n_opt[:, None], (c / (6.0 * n_opt))[:, None], u, base)[:, 0]
    return n_opt, loss_opt


def _unlimited_loss(base: Mapping[str, float], c: float) -> float:
    from ..laws.chinchilla import compute_optimal

    return float(compute_optimal(base, c)["L_opt"])


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in row.items()}
            for row in frame.to_dict(orient="records")]
