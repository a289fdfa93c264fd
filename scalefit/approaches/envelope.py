"""Chinchilla Approach 1: the lower envelope of training curves over compute, and its minimisers.

Each training run is a curve of checkpoints (N fixed, D growing; C = 6ND per checkpoint). On ``points``
log-spaced compute values, every curve that covers C gives its loss there by linear interpolation in
(ln C, ln loss); the envelope is the lowest of them and its minimiser N*(C) the size of that curve
(Hoffmann et al. 2022, section 3.1). Only compute values covered by at least two curves count, so a lone
curve never wins by default. Then ln N* = ln k_N + a ln C and D* = C / (6 N*) are fitted by least
squares. Intervals: a bootstrap over curves (whole runs resampled with replacement), the envelope rebuilt
for each replicate.

Caveat: intermediate checkpoints of a cosine schedule tuned for a longer run are worse than a run
decayed to that point, so the envelope is biased towards larger models unless each curve's schedule
ends at its checkpoints (Hoffmann et al. trained several schedule lengths per size for this reason).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..core import checks
from ..core.errors import FitError, ScalefitWarning
from ..data.runs import RunTable
from .isoflop import power_law


@dataclass(frozen=True)
class EnvelopeResult:
    """Approach 1 on a set of training curves.

    ``envelope``: one row per compute value -- C, N_opt (the winning curve's N), L_env, n_curves covering,
    N_opt_lo/hi (bootstrap over curves). ``exponents``: a, b, k_N, k_D; ``intervals``: a, b.
    ``replicates``: (B, 4) of (a, ln k_N, b, ln k_D). ``curves``: the checkpoints used (curve, N, C, loss).
    """

    envelope: pd.DataFrame
    exponents: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    replicates: np.ndarray
    level: float
    n_boot: int
    seed: int | None
    n_curves: int
    n_sizes: int
    warnings: tuple[str, ...] = ()
    curves: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    name = "Approach 1 (training-curve envelope)"

    def optimal(self, compute) -> dict[str, dict[str, np.ndarray]]:
        """N*, D* from the fitted power laws at compute C (FLOPs), with intervals."""
        c = np.atleast_1d(np.asarray(compute, dtype=float))
        point = np.array([self.exponents["a"], np.log(self.exponents["k_N"]), self.exponents["b"],
                          np.log(self.exponents["k_D"])])
        out = {}
        for key, slope, icpt in (("N_opt", 0, 1), ("D_opt", 2, 3)):
            est = np.exp(point[icpt] + point[slope] * np.log(c))
            reps = np.exp(self.replicates[:, icpt, None] + self.replicates[:, slope, None] * np.log(c)[None, :])
            lo, hi = np.nanquantile(reps, [(1 - self.level) / 2, (1 + self.level) / 2], axis=0)
            out[key] = {"estimate": est, "lo": lo, "hi": hi}
        return out

    def summary(self) -> str:
        lines = [f"{self.name}: {self.n_curves} curves, {self.n_sizes} model sizes, {self.n_boot} bootstrap "
                 f"replicates over curves, {self.level:.0%} intervals"]
        for k in ("a", "b"):
            lo, hi = self.intervals[k]
            lines.append(f"  {k} = {self.exponents[k]:.4f}  [{lo:.4f}, {hi:.4f}]")
        env = self.envelope
        step = max(1, len(env) // 12)
        lines.append(f"{'C':>10} {'N_opt':>10} {'interval':>23} {'L_env':>7} {'curves':>6}")
        for r in env.iloc[::step].itertuples():
            lines.append(f"{r.C:10.3g} {r.N_opt:10.3g} [{r.N_opt_lo:10.3g}, {r.N_opt_hi:10.3g}] {r.L_env:7.4f} "
                         f"{r.n_curves:6d}")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"approach": 1, "exponents": self.exponents,
                "intervals": {k: list(v) for k, v in self.intervals.items()}, "level": self.level,
                "n_boot": self.n_boot, "seed": self.seed, "n_curves": self.n_curves, "n_sizes": self.n_sizes,
                "warnings": list(self.warnings),
                "envelope": [{k: (float(v) if isinstance(v, (float, np.floating)) else int(v))
                              for k, v in row.items()} for row in self.envelope.to_dict(orient="records")]}

    def to_frame(self) -> pd.DataFrame:
        return self.envelope.copy()


def has_curves(runs: RunTable | pd.DataFrame, curve: str | None = None) -> bool:
    """True when some curve (``curve`` column; default the run table's ``curve`` id, else ``group``) has at
    least two checkpoints with different D.

    A ``group`` column that the loader derived from model sizes is not a curve id (several final runs of
    one size are not a training curve), unless the table has a ``step`` column.
    """
    frame = runs.df if isinstance(runs, RunTable) else runs
    curve = curve_column(frame, curve)
    if curve not in frame:
        return False
    if isinstance(runs, RunTable) and "curves" in runs.provenance and not runs.is_curves:
        return False  # the loader found no run ids and no steps: rows are final runs, not checkpoints
    return bool((frame.groupby(curve)["D"].nunique() >= 2).any())


def curve_column(frame: pd.DataFrame, curve: str | None) -> str:
    """The column naming a training run: ``curve`` if given, else the loader's ``curve`` id, else ``group``."""
    if curve is not None:
        return curve
    return "curve" if "curve" in frame else "group"


def envelope_approach(runs: RunTable | pd.DataFrame, *, curve: str | None = None, points: int = 60,
                      n_boot: int = 1000, level: float = 0.95, seed: int | None = 0) -> EnvelopeResult:
    """Approach 1 from checkpoint rows: envelope of loss over C = 6ND, N*(C) and power laws with intervals.

    ``curve`` names the column identifying a training run (default the run table's ``curve`` id, else its
    ``group``). Load checkpoint tables with ``checkpoints="all"`` (``--checkpoints all``): by default the
    loader keeps only the final checkpoint of each run, which is what a parametric fit wants.

    N_opt in parameters, D_opt in tokens, at compute C in FLOPs; loss in nats/token.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = [{"run": f"n{n:.0e}", "N": n, "D": d, "loss": 1.7 + 400 / n**0.34 + 410 / d**0.28}
    ...         for n in np.geomspace(2e7, 2e9, 6) for d in np.geomspace(2e8, 2e11, 16)]
    >>> runs = scalefit.load_runs(pd.DataFrame(rows), columns={"curve": "run"}, checkpoints="all")
    >>> res = scalefit.envelope_approach(runs, n_boot=20, seed=0)
    >>> print(f"N_opt grows as C^{res.exponents['a']:.2f}")
    N_opt grows as C^0.46
    """
    checks.resampling(n_boot, level, seed)
    checks.count(points, "points", 2, 10**6, "the points of the envelope")
    frame = runs.df if isinstance(runs, RunTable) else pd.DataFrame(runs)
    curve = curve_column(frame, curve)
    if not has_curves(runs if isinstance(runs, RunTable) else frame, curve):
        raise FitError("Approach 1 needs training curves (several checkpoints per run in the "
                       f"{curve!r} column); these data have one row per run (load checkpoint tables with "
                       "checkpoints='all' to keep every checkpoint)")
    messages: list[str] = []
    curves, n_of, points_rows = [], [], []
    for cid, g in frame.groupby(curve, sort=True):
        g = g.sort_values("D")
        c = 6.0 * g["N"].to_numpy(float) * g["D"].to_numpy(float)
        if len(g) < 2:
            continue
        curves.append((np.log(c), np.log(g["loss"].to_numpy(float))))
        points_rows.append(pd.DataFrame({"curve": str(cid), "N": g["N"].to_numpy(float), "C": c,
                                         "loss": g["loss"].to_numpy(float)}))
        n_of.append(float(g["N"].iloc[0]))
    if len(curves) < 2:
        raise FitError("Approach 1 needs at least two training curves")
    n_of = np.array(n_of)
    lo_c = min(c.min() for c, _ in curves)
    hi_c = max(c.max() for c, _ in curves)
    grid = np.linspace(lo_c, hi_c, points)
    table = np.full((len(curves), points), np.nan)  # ln loss of each curve at each compute value
    for i, (lc, ll) in enumerate(curves):
        inside = (grid >= lc.min()) & (grid <= lc.max())
        table[i, inside] = np.interp(grid[inside], lc, ll)
    covered = np.sum(np.isfinite(table), axis=0) >= 2
    if covered.sum() < 2:
        raise FitError("Approach 1 needs compute values covered by at least two curves; the curves do not overlap")
    table, grid = table[:, covered], grid[covered]
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(curves), (n_boot, len(curves)))
    mult = np.concatenate([np.ones((1, len(curves))),
                           np.stack([np.bincount(p, minlength=len(curves)) for p in picks]).astype(float)
                           if n_boot else np.zeros((0, len(curves)))])
    masked = np.where((mult[:, :, None] > 0) & np.isfinite(table)[None], table[None], np.inf)  # (B+1, K, m)
    winner = np.argmin(masked, axis=1)  # (B+1, m)
    ok = np.isfinite(np.min(masked, axis=1)) & (np.sum(np.isfinite(masked), axis=1) >= 2)
    log_n = np.where(ok, np.log(n_of)[winner], np.nan)
    log_d = grid[None, :] - np.log(6.0) - log_n
    reps = np.concatenate([power_law(grid, log_n), power_law(grid, log_d)], axis=1)
    q = [(1 - level) / 2, (1 + level) / 2]
    n_sizes = len(np.unique(np.round(np.log(n_of), 6)))
    winners = np.unique(log_n[0][np.isfinite(log_n[0])])
    if len(winners) < 3:
        messages.append(f"the envelope is won by only {len(winners)} model sizes: the exponent rests on "
                        f"{len(winners)} steps")
    if n_sizes < 4:
        messages.append(f"only {n_sizes} model sizes: Approach 1 exponents are coarse")
    lo_n, hi_n = np.nanquantile(log_n[1:], q, axis=0) if n_boot else (log_n[0], log_n[0])
    envelope = pd.DataFrame({"C": np.exp(grid), "N_opt": np.exp(log_n[0]), "N_opt_lo": np.exp(lo_n),
                             "N_opt_hi": np.exp(hi_n), "L_env": np.exp(np.min(masked[0], axis=0)),
                             "n_curves": np.sum(np.isfinite(table), axis=0)})
    exponents = {"a": float(reps[0, 0]), "k_N": float(np.exp(reps[0, 1])), "b": float(reps[0, 2]),
                 "k_D": float(np.exp(reps[0, 3]))}
    intervals = {k: tuple(map(float, np.nanquantile(reps[1:, j], q))) if n_boot else (np.nan, np.nan)
                 for k, j in (("a", 0), ("b", 2))}
    for m in messages:
        warnings.warn(m, ScalefitWarning, stacklevel=2)
    return EnvelopeResult(envelope=envelope, exponents=exponents, intervals=intervals, replicates=reps[1:],
                          level=level, n_boot=n_boot, seed=seed, n_curves=len(curves), n_sizes=n_sizes,
                          warnings=tuple(messages),
                          curves=pd.concat(points_rows, ignore_index=True))
