"""Figures of the Chinchilla approaches and the data-constrained fit.

Every function takes results (and an optional Axes) and returns the matplotlib Figure; none fits. Same
conventions as :mod:`scalefit.plots`: log axes for compute, parameters and tokens, units on every axis,
Okabe-Ito colours for categories, viridis for model size, bands = bootstrap percentile intervals.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from .figures import (
    COMPUTE_LABEL,
    LOSS_LABEL,
    N_LABEL,
    OKABE_ITO,
    SIZE_CMAP,
    _axes,
    _plain_log_y,
    _size_colorbar,
    _size_norm,
)

APPROACH_COLOURS = {"Approach 1": OKABE_ITO["orange"], "Approach 2": OKABE_ITO["blue"],
                    "Approach 3": OKABE_ITO["green"]}


BIAS_FLAGS = ("outside", "off-centre", "wide", "narrow")


def _colour(name: str) -> str:
    return next((c for k, c in APPROACH_COLOURS.items() if name.startswith(k)), OKABE_ITO["black"])


def approaches_allocation(comparison, compute: Sequence[float] | None = None, ax=None):
    """N*(C) from each approach of an :class:`ApproachComparison`, each with its band; Approach-2 budget
    vertices and Approach-1 envelope minimisers shown as points."""
    fig, ax = _axes(ax)
    lo_c, hi_c = _compute_range(comparison, compute)
    grid = np.geomspace(lo_c, hi_c, 80)
    for name, res in comparison.results.items():
        colour = _colour(name)
        if hasattr(res, "optimal") and hasattr(res, "exponents"):
            opt = res.optimal(grid)["N_opt"]
            est, lo, hi = opt["estimate"], opt["lo"], opt["hi"]
        else:  # Approach 3: a Bootstrap (intervals) or a Fit (estimate only)
            opt = res.optimal(grid)
            n = opt["N_opt"]
            est, lo, hi = (n["estimate"], n["lo"], n["hi"]) if isinstance(n, dict) else (n, None, None)
        ax.plot(grid, np.ravel(est), color=colour, lw=1.8, label=name)
        if lo is not None:
            ax.fill_between(grid, np.ravel(lo), np.ravel(hi), color=colour, alpha=0.18, lw=0)
        if name.startswith("Approach 2"):
            b = res.budgets
            yerr = np.vstack([b.N_opt - b.N_opt_lo, b.N_opt_hi - b.N_opt]).clip(min=0)
            ax.errorbar(b.C, b.N_opt, yerr=np.nan_to_num(yerr), fmt="o", ms=4, color=colour, capsize=2, lw=1)
        if name.startswith("Approach 1"):
            env = res.envelope
            ax.plot(env.C, env.N_opt, ".", ms=3, color=colour, alpha=0.6)
    for c in comparison.computes:
        ax.axvline(c, color="0.6", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(COMPUTE_LABEL)
    ax.set_ylabel("compute-optimal parameters N*(C) (count)")
    title = "Compute-optimal model size by approach"
    if comparison.unavailable:
        title += "\n(not available: " + "; ".join(comparison.unavailable) + ")"
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, frameon=False)
    return fig


def _compute_range(comparison, compute):
    if compute is not None:
        return float(np.min(compute)), float(np.max(compute))
    cs = list(comparison.computes)
    for res in comparison.results.values():
        if hasattr(res, "budgets"):
            cs += list(res.budgets.C)
        if hasattr(res, "envelope"):
            cs += list(res.envelope.C)
        fit = getattr(res, "fit", res)
        if hasattr(fit, "runs"):
            cs += [float(np.min(fit.runs.C)), float(np.max(fit.runs.C))]
    return min(cs) / 2, max(cs) * 2


def isoflop_parabolas(result, ax=None):
    """Approach 2: the IsoFLOP points of each budget (viridis by compute; hollow when outside the fitted
    window), the fitted parabolas over the sampled range and their vertices; flagged budgets dashed."""
    from matplotlib.colors import LogNorm

    fig, ax = _axes(ax)
    pts = result.points[np.isfinite(result.points.budget_C)]
    norm = LogNorm(vmin=result.budgets.C.min(), vmax=result.budgets.C.max() * (1 + 1e-9))
    cmap = plt.get_cmap(SIZE_CMAP)
    inside = pts[pts.in_fit]
    ax.scatter(inside.N, inside.loss, c=inside.budget_C, cmap=cmap, norm=norm, s=12, zorder=3, edgecolors="none")
    outside = pts[~pts.in_fit]
    if len(outside):
        ax.scatter(outside.N, outside.loss, facecolors="none", edgecolors=cmap(norm(outside.budget_C.to_numpy())),
                   s=12, lw=0.7, zorder=3)
    for row in result.budgets.itertuples():
        colour = cmap(norm(row.C))
        if row.method in ("parabola", "shared") and np.isfinite(row.c2):
            x = np.linspace(np.log(row.N_min), np.log(row.N_max), 60) - row.x_centre
            ax.plot(np.exp(x + row.x_centre), row.c0 + row.c1 * x + row.c2 * x * x, color=colour, lw=1.2,
                    ls="--" if any(f in row.flags for f in BIAS_FLAGS) else "-")
        ax.plot([row.N_opt], [row.L_opt], marker="D", ms=5, color=colour, mec="black", mew=0.6, zorder=4)
    ax.set_xscale("log")
    ax.set_xlabel(N_LABEL)
    ax.set_ylabel(LOSS_LABEL)
    ax.set_title(f"Approach 2: IsoFLOP parabolas, a = {result.exponents['a']:.3f} "
                 f"[{result.intervals['a'][0]:.3f}, {result.intervals['a'][1]:.3f}] (dashed: flagged)", fontsize=9)
    mappable = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(mappable, ax=ax, label="compute budget C (FLOPs)")
    return fig


def training_envelope(result, ax=None, max_curves: int = 60):
    """Approach 1: training curves (loss against C, viridis by N), their lower envelope and its winners."""
    fig, ax = _axes(ax)
    curves = result.curves
    norm = _size_norm(curves.N.to_numpy())
    cmap = plt.get_cmap(SIZE_CMAP)
    for i, (_, g) in enumerate(curves.groupby("curve", sort=False)):
        if i >= max_curves:
            break
        ax.plot(g.C, g.loss, color=cmap(norm(g.N.iloc[0])), lw=0.8, alpha=0.7)
    env = result.envelope
    ax.plot(env.C, env.L_env, color="black", lw=1.6, label="lower envelope")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(COMPUTE_LABEL)
    ax.set_ylabel(LOSS_LABEL)
    _plain_log_y(ax)
    ax.set_title(f"Approach 1: envelope of {result.n_curves} curves, a = {result.exponents['a']:.3f}", fontsize=9)
    ax.legend(fontsize=8, frameon=False)
    _size_colorbar(fig, ax, norm)
    return fig


def epochs_worth_it(dc_fit, unique_tokens: Sequence[float], compute: Sequence[float] | None = None, ax=None):
    """Data-constrained fit: compute-optimal epochs against compute for a few unique-data budgets U, with
    bands from the bootstrap of (R_N*, R_D*)."""
    fig, ax = _axes(ax)
    cs = np.geomspace(1e19, 1e24, 16) if compute is None else np.asarray(compute, float)
    palette = list(OKABE_ITO.values())[1:]
    for i, u in enumerate(unique_tokens):
        t = dc_fit.allocate(cs, u).table
        colour = palette[i % len(palette)]
        ax.plot(t.C, t.epochs, color=colour, lw=1.6, label=f"U = {u:.3g} unique tokens")
        ax.fill_between(t.C, t.epochs_lo, t.epochs_hi, color=colour, alpha=0.18, lw=0)
    ax.axhline(1.0, color="0.6", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(COMPUTE_LABEL)
    ax.set_ylabel("compute-optimal epochs D*/U (1)")
    ax.set_title("How many epochs are worth it (data-constrained law)", fontsize=9)
    ax.legend(fontsize=8, frameon=False)
    return fig
