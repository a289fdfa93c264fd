"""Results of the data-constrained fit: :class:`DataConstrainedFit` (the staged fit, its bootstrap, its
predictions, the value of repeated data) and :class:`EpochAllocation` (compute-optimal N and epochs under a
unique-data budget), with the allocation's search over N.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import ScalefitWarning
from ..laws.data_constrained import predict_loss
from .dc_stage2 import HUBER_DELTA, STAR_NAMES

MAX_EPOCHS, MIN_EPOCHS = 1e4, 1e-3  # the allocation's search range in epochs D/U


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
