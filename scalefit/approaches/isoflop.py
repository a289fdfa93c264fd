"""Chinchilla Approach 2: a parabola in log N through each IsoFLOP curve, then power laws of the minima.

Steps (Hoffmann et al. 2022, section 3.2):

1. Group runs by compute budget: budgets are runs whose log10 C lie within ``tolerance`` decades of their
   neighbour (sorted), so C = 6ND values that differ in the last digits fall in one budget.
2. Per budget, fit loss = c0 + c1 x + c2 x^2 with x = ln N (least squares). The vertex gives N*(C);
   D*(C) = C / (6 N*) and L*(C) = the parabola at the vertex. A budget with fewer than ``min_points``
   points, or with c2 <= 0, falls back on ``fallback``: ``"shared"`` (a parabola whose curvature is the
   median curvature of the good budgets, fitting c0 and c1 only; needs 3 points), ``"measured"`` (the
   lowest measured point, when it is not at either end) or ``"skip"``; budgets that allow neither are
   skipped. Each use is a :class:`FewPointsWarning`.
3. Fit ln N* = ln k_N + a ln C and ln D* = ln k_D + b ln C by least squares over budgets.

Intervals: a bootstrap that resamples points within each budget (B replicates, all parabolas at once by
batched weighted normal equations); the power laws are refitted on each replicate's vertices. A resample
that draws fewer than 3 distinct points of a budget has no parabola (common with a 5-point window: ~10% of
resamples); its vertex is left out of that budget's interval and counted in ``replicates_too_few_points``.
Only resamples whose parabola opens downwards although they hold 3 or more distinct points are evidence
that the budget has no minimum; more than 5% of them set the flag "no minimum in k of B resamples".

Bias diagnostics (after Czech et al. 2026, "Problems with Chinchilla Approach 2: Systematic Biases in
IsoFLOP Parabola Fits", Open-Athena): a parabola is a second-order Taylor model of an IsoFLOP curve that
is asymmetric in ln N unless alpha = beta, so the vertex is biased when the sampled ln N range is wide,
when the sampling is not centred on the true minimum, and the more alpha and beta differ. Per budget this
module reports the sampled span (decades; "wide" above 1 decade with the vertex more than a quarter of
the half-span off centre), the vertex position within the span (offset -1..1; |offset|
> 0.5 = off-centre, beyond 1 = outside the data), whether the span is too narrow for the noise (the
vertex interval wider than half the span), and -- when an Approach-3 fit is given -- the bias of the
vertex simulated by fitting the same parabola to the Approach-3 law evaluated at the budget's own N
values (noise free), together with the exponent a that Approach 2 would give on that noise-free surface.

This module runs the approach and holds its result; the parabola algebra is in :mod:`.parabolas`, the bias
simulation in :mod:`.isoflop_bias`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..core import checks
from ..core.errors import FitError
from ..data.runs import RunTable
from .errors import FewPointsWarning, IsoFLOPBiasWarning

# the parabola algebra and the bias simulation moved to parabolas / isoflop_bias; old names stay reachable here
from .isoflop_bias import (  # noqa: F401
    _law_loss,
    _reference_params,
    _simulated_bias,
    _simulated_exponent,
    _simulated_vertex,
    _true_log_nopt,
)
from .parabolas import _design, assign_budgets, bin_budgets, fit_fixed_curvature, fit_parabolas, power_law, vertex  # noqa: F401

OFF_CENTRE = 0.5  # |vertex offset| within the sampled span beyond which the vertex counts as off-centre
WIDE = 1.0  # decades of N: a parabola over a wider span is a poor Taylor model of the IsoFLOP curve ...
WIDE_OFFSET = 0.25  # ... and biased when the vertex is this far off the span's centre
NARROW = 0.5  # vertex interval width / sampled span beyond which the span is too narrow for the noise


@dataclass(frozen=True)
class IsoFLOPResult:
    """Approach 2 on one sweep.

    ``budgets``: one row per budget -- C, n_points, method (parabola / shared / measured / skipped),
    N_opt, D_opt, L_opt with _lo/_hi, span_decades, offset, flags, and (with an Approach-3 law)
    sim_bias_logN (ln of the simulated vertex over the law's true N_opt), and the parabola
    loss = c0 + c1 (ln N - x_centre) + c2 (ln N - x_centre)^2. ``points``: every run with its budget_C (NaN
    when left out) and in_fit (inside the fitted window). ``exponents``: a, b with
    intervals and coefficients k_N, k_D of N* = k_N C^a, D* = k_D C^b. ``replicates``: (B, 4) of
    (a, ln k_N, b, ln k_D).
    """

    budgets: pd.DataFrame
    exponents: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    replicates: np.ndarray
    level: float
    n_boot: int
    seed: int | None
    tolerance: float
    fallback: str
    window: int | None = None
    simulated: dict[str, float] | None = None
    warnings: tuple[str, ...] = ()
    points: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    name = "Approach 2 (IsoFLOP parabolas)"

    def optimal(self, compute) -> dict[str, dict[str, np.ndarray]]:
        """N*, D* (and tokens per parameter) from the fitted power laws at compute C, with intervals."""
        c = np.atleast_1d(np.asarray(compute, dtype=float))
        out = {}
        for key, slope, icpt in (("N_opt", 0, 1), ("D_opt", 2, 3)):
            est = np.exp(self._point[icpt] + self._point[slope] * np.log(c))
            reps = np.exp(self.replicates[:, icpt, None] + self.replicates[:, slope, None] * np.log(c)[None, :])
            lo, hi = np.nanquantile(reps, [(1 - self.level) / 2, (1 + self.level) / 2], axis=0)
            out[key] = {"estimate": est, "lo": lo, "hi": hi}
        return out

    @property
    def _point(self) -> np.ndarray:
        e = self.exponents
        return np.array([e["a"], np.log(e["k_N"]), e["b"], np.log(e["k_D"])])

    def summary(self) -> str:
        lines = [f"{self.name}: {len(self.budgets)} budgets, {self.n_boot} bootstrap replicates "
                 f"(points resampled within budget), {self.level:.0%} intervals"]
        for k in ("a", "b"):
            lo, hi = self.intervals[k]
            lines.append(f"  {k} = {self.exponents[k]:.4f}  [{lo:.4f}, {hi:.4f}]")
        if self.simulated:
            lines.append(f"  noise-free simulation from the Approach-3 law at these N values: a = "
                         f"{self.simulated['a_sim']:.4f} vs the law's {self.simulated['a_true']:.4f}")
        lines.append(f"{'C':>10} {'n':>3} {'method':>9} {'N_opt':>10} {'interval':>23} {'span':>5} "
                     f"{'offset':>6} {'bias%':>6} flags")
        for r in self.budgets.itertuples():
            bias = f"{100 * np.expm1(r.sim_bias_logN):6.1f}" if np.isfinite(r.sim_bias_logN) else "     -"
            lines.append(f"{r.C:10.3g} {r.n_points:3d} {r.method:>9} {r.N_opt:10.3g} "
                         f"[{r.N_opt_lo:10.3g}, {r.N_opt_hi:10.3g}] {r.span_decades:5.2f} {r.offset:6.2f} "
                         f"{bias} {r.flags}")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"approach": 2, "exponents": self.exponents,
                "intervals": {k: list(v) for k, v in self.intervals.items()}, "level": self.level,
                "n_boot": self.n_boot, "seed": self.seed, "tolerance": self.tolerance, "fallback": self.fallback,
                "window": self.window,
                "simulated": self.simulated, "warnings": list(self.warnings),
                "budgets": _records(self.budgets)}

    def to_frame(self) -> pd.DataFrame:
        return self.budgets.copy()


def isoflop_approach(runs: RunTable | pd.DataFrame, *, tolerance: float = 0.05, min_points: int = 5,
                     budgets: np.ndarray | list[float] | None = None, window: int | None = None,
                     fallback: str = "shared", n_boot: int = 1000, level: float = 0.95, seed: int | None = 0,
                     reference: Mapping[str, float] | Any | None = None, warn: bool = True) -> IsoFLOPResult:
    """Approach 2 on an IsoFLOP sweep.

    N_opt in parameters, D_opt in tokens, at compute budgets C in FLOPs; loss in nats/token.

    Parameters
    ----------
    runs:
        RunTable (or frame with N, C or D, loss). C defaults to 6ND.
    tolerance:
        Budget binning: neighbours within this many decades of compute are one budget.
    min_points:
        Budgets with fewer points use ``fallback`` ("shared", "measured" or "skip"). At least 3 points are
        needed for any parabola.
    budgets:
        Nominal compute budgets (FLOPs): each run goes to the nearest one within ``tolerance`` decades;
        runs near none are left out (counted in a warning). Default: budgets found by :func:`bin_budgets`.
    window:
        Fit each parabola only to the ``window`` points (by N) centred on the lowest measured loss: the
        remedy for the Taylor bias of wide grids. Default: all points of the budget.
    reference:
        An Approach-3 result (a :class:`scalefit.Fit` of the Chinchilla law or a dict E, A, B, alpha, beta)
        for the simulated bias of each vertex.

    Examples
    --------
    >>> runs = scalefit.datasets.load("example_chinchilla")
    >>> res = scalefit.isoflop_approach(runs, n_boot=20, seed=0)
    >>> print(f"N_opt grows as C^{res.exponents['a']:.2f}, D_opt as C^{res.exponents['b']:.2f}")
    N_opt grows as C^0.52, D_opt as C^0.48
    """
    checks.resampling(n_boot, level, seed)
    checks.positive_finite(tolerance, "tolerance", "a budget tolerance", "decades of compute")
    checks.count(min_points, "min_points", 3, 10**6, "the points per parabola")
    if window is not None:
        checks.count(window, "window", 3, 10**6, "a parabola window")
    if budgets is not None:
        checks.compute(budgets, "budgets")
    if fallback not in ("shared", "measured", "skip"):
        raise ValueError(f"fallback must be 'shared', 'measured' or 'skip', not {fallback!r}")
    frame = runs.df if isinstance(runs, RunTable) else pd.DataFrame(runs)
    n_arr = frame["N"].to_numpy(float)
    c_arr = frame["C"].to_numpy(float) if "C" in frame else 6.0 * n_arr * frame["D"].to_numpy(float)
    loss = frame["loss"].to_numpy(float)
    messages: list[str] = []
    nominal = None if budgets is None else np.asarray(budgets, dtype=float)
    if nominal is None:
        labels = bin_budgets(c_arr, tolerance)
    else:
        labels = assign_budgets(c_arr, nominal, tolerance)
        if np.any(labels < 0):
            messages.append(f"{int(np.sum(labels < 0))} of {len(labels)} runs are more than {tolerance:g} "
                            "decades from every nominal budget and were left out")
    rng = np.random.default_rng(seed)
    ref = _reference_params(reference)

    fitted = []
    for lab in np.unique(labels[labels >= 0]):
        idx = np.flatnonzero(labels == lab)
        if window is not None and len(idx) > window:
            by_n = idx[np.argsort(n_arr[idx], kind="stable")]
            j = int(np.argmin(loss[by_n]))
            start = min(max(j - window // 2, 0), len(by_n) - window)
            idx = by_n[start:start + window]
        c = float(nominal[lab]) if nominal is not None else float(np.exp(np.mean(np.log(c_arr[idx]))))
        x = np.log(n_arr[idx])
        centre = float(np.mean(x))
        picks = rng.integers(0, len(idx), (n_boot, len(idx)))
        w = np.concatenate([np.ones((1, len(idx))),
                            np.stack([np.bincount(p, minlength=len(idx)) for p in picks]).astype(float)
                            if n_boot else np.zeros((0, len(idx)))])
        coef = fit_parabolas(x - centre, loss[idx], w) if len(idx) >= 3 else np.full((len(w), 3), np.nan)
        good = len(idx) >= min_points and np.isfinite(coef[0, 2]) and coef[0, 2] > 0
        fitted.append({"label": lab, "idx": idx, "C": c, "x": x, "centre": centre, "w": w, "coef": coef,
                       "method": "parabola" if good else None})
    curvatures = [f["coef"][0, 2] for f in fitted if f["method"] == "parabola"]
    shared_k = float(np.median(curvatures)) if curvatures else np.nan
    rows, vert_x, vert_y = [], [], []
    budget_of = np.full(len(loss), np.nan)
    in_fit = np.zeros(len(loss), dtype=bool)
    for f in fitted:
        budget_of[labels == f["label"]] = f["C"]
        in_fit[f["idx"]] = True
        x, y, w, centre = f["x"], loss[f["idx"]], f["w"], f["centre"]
        if f["method"] is None:
            interior_min = len(x) >= 3 and 0 < int(np.argmin(y[np.argsort(x)])) < len(x) - 1
            if fallback == "shared" and np.isfinite(shared_k) and len(x) >= 3:
                f["coef"], f["method"] = fit_fixed_curvature(x - centre, y, w, shared_k), "shared"
            elif fallback in ("measured", "shared") and interior_min:
                f["method"] = "measured"
            else:
                f["method"] = "skipped"
            opening_down = len(x) >= min_points and not (f["coef"][0, 2] > 0)
            messages.append(f"budget C={f['C']:.3g} has {len(x)} points"
                            + (" and a parabola opening downwards" if opening_down else "")
                            + (f": {f['method']}" if f["method"] == "skipped" else f": used {f['method']}"))
        if f["method"] == "measured":
            k = np.argmin(np.where(w > 0, y[None, :], np.inf), axis=1)
            vx, vy = x[k], y[k]
        elif f["method"] == "skipped":
            vx = vy = np.full(len(w), np.nan)
        else:
            vx, vy = vertex(f["coef"], centre)
        vert_x.append(vx)
        vert_y.append(vy)
        q = [(1 - level) / 2, (1 + level) / 2]
        lo_x, hi_x = np.nanquantile(vx[1:], q) if n_boot and np.isfinite(vx[1:]).any() else (np.nan, np.nan)
        lo_y, hi_y = np.nanquantile(vy[1:], q) if n_boot and np.isfinite(vy[1:]).any() else (np.nan, np.nan)
        span = float(x.max() - x.min())
        offset = (vx[0] - (x.max() + x.min()) / 2) / (span / 2) if span > 0 else np.nan
        flags = []
        if np.isfinite(offset) and abs(offset) > 1:
            flags.append("outside")
        elif np.isfinite(offset) and abs(offset) > OFF_CENTRE:
            flags.append("off-centre")
        if span > 0 and np.isfinite(hi_x - lo_x) and (hi_x - lo_x) > NARROW * span:
            flags.append("narrow")
        if f["method"] == "parabola" and span / np.log(10) > WIDE and np.isfinite(offset) \
                and abs(offset) > WIDE_OFFSET:
            flags.append("wide")
        failed = int(np.sum(~np.isfinite(vx[1:])))
        # a resample of a few points often draws fewer than 3 distinct ones: no parabola is possible, which
        # says nothing about the budget; only a parabola through >= 3 distinct points that opens downwards does
        too_few = int(np.sum((w[1:] > 0).sum(axis=1) < 3))
        no_minimum = max(0, failed - too_few) if f["method"] == "parabola" else failed
        if f["method"] == "skipped":
            flags = []
        elif no_minimum > 0.05 * max(n_boot, 1):
            flags.append(f"no minimum in {no_minimum} of {n_boot} resamples")
        bias = np.nan
        if ref is not None and f["method"] in ("parabola", "shared"):
            bias = _simulated_bias(ref, f["C"], x, f["method"], shared_k)
        rows.append({"C": f["C"], "n_points": len(x), "method": f["method"],
                     "N_opt": float(np.exp(vx[0])), "N_opt_lo": float(np.exp(lo_x)), "N_opt_hi": float(np.exp(hi_x)),
                     "D_opt": float(f["C"] / (6 * np.exp(vx[0]))), "D_opt_lo": float(f["C"] / (6 * np.exp(hi_x))),
                     "D_opt_hi": float(f["C"] / (6 * np.exp(lo_x))),
                     "L_opt": float(vy[0]), "L_opt_lo": float(lo_y), "L_opt_hi": float(hi_y),
                     "N_min": float(np.exp(x.min())), "N_max": float(np.exp(x.max())),
                     "span_decades": span / np.log(10), "offset": float(offset), "flags": ",".join(flags),
                     "sim_bias_logN": float(bias), "replicates_without_minimum": failed,
                     "replicates_too_few_points": too_few,
                     "c0": float(f["coef"][0, 0]), "c1": float(f["coef"][0, 1]), "c2": float(f["coef"][0, 2]),
                     "x_centre": centre})
    budgets = pd.DataFrame(rows)
    if nominal is None and (budgets.n_points < 3).mean() > 0.25:
        messages.append(f"{int((budgets.n_points < 3).sum())} of {len(budgets)} budgets have fewer than 3 points: "
                        "the compute values do not cluster into IsoFLOP budgets at tolerance "
                        f"{tolerance:g} decades; pass budgets= (nominal budgets) or a larger tolerance")
    for r in budgets.itertuples():
        if r.flags:
            messages.append(f"budget C={r.C:.3g}: vertex {r.flags} (offset {r.offset:+.2f} of the sampled "
                            f"half-span, span {r.span_decades:.2f} decades)")
    log_c = np.log(budgets["C"].to_numpy())
    vx_all, use = np.stack(vert_x, axis=1), budgets["method"].to_numpy() != "skipped"  # (B+1, budgets)
    if use.sum() < 2:
        raise FitError(f"Approach 2 needs at least two budgets with a minimum; found {int(use.sum())}")
    vx_all = vx_all[:, use]
    log_d = np.log(budgets["C"].to_numpy()[use] / 6.0)[None, :] - vx_all
    fit_n = power_law(log_c[use], vx_all)
    fit_d = power_law(log_c[use], log_d)
    reps = np.concatenate([fit_n, fit_d], axis=1)  # (B+1, 4): a, ln k_N, b, ln k_D
    q = [(1 - level) / 2, (1 + level) / 2]
    exponents = {"a": float(reps[0, 0]), "k_N": float(np.exp(reps[0, 1])), "b": float(reps[0, 2]),
                 "k_D": float(np.exp(reps[0, 3]))}
    intervals = {k: tuple(map(float, np.nanquantile(reps[1:, j], q))) if n_boot else (np.nan, np.nan)
                 for k, j in (("a", 0), ("b", 2))}
    simulated = None
    if ref is not None:
        simulated = _simulated_exponent(ref, budgets[use], [f for f, u in zip(fitted, use, strict=True) if u],
                                        shared_k)
        if abs(simulated["a_sim"] - simulated["a_true"]) > 0.5 * (intervals["a"][1] - intervals["a"][0]):
            messages.append(f"on the Approach-3 surface, Approach 2 with this sampling gives a = "
                            f"{simulated['a_sim']:.4f} instead of {simulated['a_true']:.4f}: the parabola "
                            "bias is comparable to the interval")
    if warn:
        for m in messages:
            category = FewPointsWarning if "points" in m else IsoFLOPBiasWarning
            warnings.warn(m, category, stacklevel=2)
    points = pd.DataFrame({"C": c_arr, "N": n_arr, "loss": loss, "budget_C": budget_of, "in_fit": in_fit})
    return IsoFLOPResult(budgets=budgets, exponents=exponents, intervals=intervals, replicates=reps[1:],
                         level=level, n_boot=n_boot, seed=seed, tolerance=tolerance, fallback=fallback,
                         window=window,
                         simulated=simulated, warnings=tuple(messages), points=points)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in frame.to_dict(orient="records"):
        out.append({k: (None if isinstance(v, float) and not np.isfinite(v) else
                        float(v) if isinstance(v, (float, np.floating)) else
                        int(v) if isinstance(v, (np.integer,)) else v) for k, v in row.items()})
    return out
