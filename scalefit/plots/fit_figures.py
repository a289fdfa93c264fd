"""Figures of one fit's predictions: loss against compute, IsoFLOP slices and the compute-optimal allocation.

Each takes a Fit (and optionally its Bootstrap for bands) and returns the matplotlib Figure; the first
paragraph of each docstring is its caption.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D

from ..core.errors import FitError
from .style import (
    COMPUTE_LABEL,
    CURVE_EXTENSION,
    LOSS_LABEL,
    N_LABEL,
    OKABE_ITO,
    SIZE_CMAP,
    _axes,
    _compute,
    _plain_log_y,
    _size_colorbar,
    _size_norm,
    _tokens,
    legend_below,
    styled,
)


def _groups(runs) -> list[tuple[float, float, float]]:
    """(median N, smallest D, largest D) of every run group (model size), sorted by N."""
    groups = np.asarray(runs.groups)
    out = []
    for g in np.unique(groups):
        rows = groups == g
        out.append((float(np.median(runs.N[rows])), float(runs.D[rows].min()), float(runs.D[rows].max())))
    return sorted(out)


def _frontier(fit, compute: np.ndarray) -> np.ndarray | None:
    """L*(C) when the law has a compute-optimal frontier, else None (the figure then leaves it out)."""
    try:
        return np.asarray(fit.optimal(compute)["L_opt"], dtype=float)
    except (FitError, AttributeError, NotImplementedError):
        return None


@styled
def loss_vs_compute(fit, boot=None, targets: Sequence[tuple[float, float]] = (), ax=None, max_curves: int = 12):
    """Loss against compute: runs coloured by model size, the fitted loss of each size over its own token
    range (dashed: up to 2x beyond it), the compute-optimal frontier L*(C) with its bootstrap band (dashed past
    the largest run) and requested targets. Look at whether each size's runs follow its curve, and how far
    right of the largest run the frontier and targets are read.
    """
    own = ax is None
    fig, ax = _axes(ax, figsize=(6.4, 5.2))
    runs = fit.runs
    c_runs = _compute(fit, runs.N, runs.D)
    norm = _size_norm(runs.N)
    cmap = plt.get_cmap(SIZE_CMAP)
    ax.scatter(c_runs, runs.loss, c=runs.N, cmap=SIZE_CMAP, norm=norm, s=14, edgecolors="none", zorder=3,
               label="runs")
    groups = _groups(runs)
    for n, d_lo, d_hi in [groups[i] for i in np.unique(np.linspace(0, len(groups) - 1,
                                                                       min(max_curves, len(groups))).astype(int))]:
        colour = cmap(norm(n))
        inside = np.geomspace(d_lo, d_hi, 40)
        ax.plot(_compute(fit, n, inside), fit.predict(n, inside, threshold=None), color=colour, lw=1.0, alpha=0.8)
        for a, b in ((d_lo / CURVE_EXTENSION, d_lo), (d_hi, d_hi * CURVE_EXTENSION)):
            d = np.geomspace(a, b, 12)
            ax.plot(_compute(fit, n, d), fit.predict(n, d, threshold=None), color=colour, lw=0.8, alpha=0.6, ls="--")
    c_hi = max(c_runs.max() * 30, *(_compute(fit, n, d) * 1.5 for n, d in targets)) if targets else c_runs.max() * 30
    grid = np.geomspace(c_runs.min() / 2, c_hi, 120)
    frontier = _frontier(fit, grid)
    if frontier is not None:
        seen = grid <= c_runs.max()
        ax.plot(grid[seen], frontier[seen], color=OKABE_ITO["black"], lw=1.6, label="compute-optimal L*(C)")
        ax.plot(grid[~seen], frontier[~seen], color=OKABE_ITO["black"], lw=1.6, ls="--",
                label="L*(C) beyond the largest run")
        if boot is not None:
            band = boot.optimal(grid)["L_opt"]
            ax.fill_between(grid, band["lo"], band["hi"], color=OKABE_ITO["orange"], alpha=0.35, lw=0,
                            label=f"{round(boot.level * 100)}% band of L*(C)")
    ax.axvline(c_runs.max(), color=OKABE_ITO["sky"], ls=":", lw=1.2, label="largest run")
    for i, (n, d) in enumerate(targets):
        est = float(fit.predict(n, d, threshold=None))
        yerr = None
        if boot is not None:
            b = boot.predict(n, d, threshold=None)
            yerr = [[est - float(b["lo"])], [float(b["hi"]) - est]]
        ax.errorbar(_compute(fit, n, d), est, yerr=yerr, fmt="*", ms=11, color=OKABE_ITO["vermillion"], capsize=3,
                    zorder=4, label="target" if i == 0 else None)
    handles, labels = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], color="0.4", lw=1.0))
    labels.append("fitted loss of one size (dashed: beyond its runs)")
    ax.set(xscale="log", yscale="log", xlabel=COMPUTE_LABEL, ylabel=LOSS_LABEL, title="Loss against compute")
    _plain_log_y(ax)
    _size_colorbar(fig, ax, norm)
    legend_below(ax, handles, labels, figure_wide=own)  # never over the runs
    return fig


def compute_budgets(compute: np.ndarray, k: int = 4, tolerance: float = 1.25, min_runs: int = 3) -> np.ndarray:
    """Up to ``k`` compute budgets (FLOPs) present in the data, ascending, for IsoFLOP slices.

    Every run defines a window of runs whose C = 6ND lies within a factor ``tolerance`` of its own; a budget
    is the geometric-mean C of a window holding at least ``min_runs`` runs. The budgets are the windows nearest
    to ``k`` targets spread evenly in log C from the largest such window (always taken) to the smallest, no
    two within a factor ``tolerance**2`` of each other. Falls back to the fullest windows when none reaches
    ``min_runs``.

    Examples
    --------
    >>> c = np.repeat([1e18, 1e19, 1e20, 1e21, 3e21], 5) * np.tile([0.98, 0.99, 1.0, 1.01, 1.02], 5)
    >>> [f"{b:.0e}" for b in compute_budgets(c, k=3)]
    ['1e+18', '1e+20', '3e+21']
    """
    logc = np.log(np.asarray(compute, dtype=float))
    width = np.log(tolerance)
    members = np.abs(logc[:, None] - logc[None, :]) <= width  # (n, n): run j in the window of run i
    counts = members.sum(axis=1)
    centres = np.array([logc[row].mean() for row in members])
    eligible = counts >= min(min_runs, counts.max())
    centres, counts = centres[eligible], counts[eligible]
    chosen: list[float] = []
    for target in np.linspace(centres.max(), centres.min(), k):
        free = np.all(np.abs(centres[:, None] - np.array(chosen)[None, :]) >= 2 * width, axis=1) if chosen \
            else np.ones(centres.size, dtype=bool)
        if not free.any():
            break
        order = np.lexsort((-counts[free], np.abs(centres[free] - target)))  # nearest, then fullest
        chosen.append(float(centres[free][order[0]]))
    return np.exp(np.sort(chosen))


SLICE_REACH = 1e3  # IsoFLOP slices end at most this factor beyond the runs' N range


@styled
def isoflop(fit, boot=None, computes: Sequence[float] | None = None, ax=None, tolerance: float = 1.25):
    """IsoFLOP slices: loss against N at compute budgets taken from the runs (the largest included), with
    the runs within a factor 1.25 of each budget, the fitted slice over those runs' N (dashed beyond them),
    its band, and the optimum (circle) with its N_opt interval (bar). Look at whether the runs sit on their
    slice and whether each optimum lies within the runs' N range; an optimum outside it is extrapolated.
    """
    own = ax is None
    fig, ax = _axes(ax, figsize=(6.4, 5.0))
    runs = fit.runs
    c_runs = _compute(fit, runs.N, runs.D)
    if computes is None:
        computes = compute_budgets(c_runs, tolerance=tolerance)
    colours = [OKABE_ITO[k] for k in ("blue", "vermillion", "green", "purple", "orange", "sky")]
    for i, c in enumerate(computes):
        colour = colours[i % len(colours)]
        opt = fit.optimal(c)
        n_opt, l_opt = float(opt["N_opt"]), float(opt["L_opt"])
        near = (c_runs >= c / tolerance) & (c_runs <= c * tolerance)
        n_lo, n_hi = (runs.N[near].min(), runs.N[near].max()) if near.any() else (n_opt, n_opt)
        # the slice reaches the optimum, but never more than SLICE_REACH past the runs (a degenerate fit's
        # N_opt can be 1e45 or more, where the law is meaningless and its inputs are refused)
        reach = (runs.N.min() / SLICE_REACH, runs.N.max() * SLICE_REACH)
        n_lo = max(min(n_lo, n_opt), reach[0]) / CURVE_EXTENSION
        n_hi = min(max(n_hi, n_opt), reach[1]) * CURVE_EXTENSION
        n = np.geomspace(n_lo, n_hi, 120)
        seen = (n >= (runs.N[near].min() if near.any() else n_opt)) & (n <= (runs.N[near].max() if near.any()
                                                                               else n_opt))
        pred = fit.predict(n, _tokens(fit, c, n), threshold=None)
        ax.plot(np.where(seen, n, np.nan), pred, color=colour, lw=1.4,
                label=f"C = {c:.2g} FLOPs ({int(near.sum())} runs)")
        ax.plot(np.where(seen, np.nan, n), pred, color=colour, lw=1.0, ls="--")
        if boot is not None:
            band = boot.predict(n, _tokens(fit, c, n), threshold=None)
            ax.fill_between(n, band["lo"], band["hi"], color=colour, alpha=0.2, lw=0)
        ax.scatter(runs.N[near], runs.loss[near], color=colour, s=18, edgecolors="white", linewidths=0.4, zorder=3)
        if not reach[0] <= n_opt <= reach[1]:  # an optimum off the slice is not drawn (the report states it)
            continue
        xerr = None
        if boot is not None:
            b = boot.optimal(c)["N_opt"]
            # a percentile interval of very few replicates need not contain the estimate: no negative bar
            xerr = [[max(n_opt - float(b["lo"]), 0.0)], [max(float(b["hi"]) - n_opt, 0.0)]]
        ax.errorbar(n_opt, l_opt, xerr=xerr, fmt="o", ms=7, mfc="white", mew=1.5, color=colour, capsize=4,
                    elinewidth=2, zorder=4)
    ax.set(xscale="log", yscale="log", xlabel=N_LABEL, ylabel=LOSS_LABEL,
           title="IsoFLOP slices at budgets in the data (circle: optimum, bar: N_opt interval)")
    _plain_log_y(ax)
    legend_below(ax, figure_wide=own)
    return fig


@styled
def allocation(fit, boot=None, compute: Sequence[float] | None = None,
               references: Mapping[str, tuple[float, float]] | None = None, ax=None):
    """Compute-optimal allocation: N_opt(C) (parameters) and D_opt(C) (tokens) with their bootstrap bands,
    from the smallest run's compute to 1000x the largest (dotted line), and reference models at C = 6ND
    (diamonds). Look at how fast the bands widen right of the largest run, and whether a reference sits
    above (more parameters) or below its compute-optimal allocation.
    """
    fig, ax = _axes(ax)
    c_runs = _compute(fit, fit.runs.N, fit.runs.D)
    grid = np.geomspace(c_runs.min(), c_runs.max() * 1e3, 120) if compute is None else np.asarray(compute, float)
    opt = fit.optimal(grid)
    band = boot.optimal(grid) if boot is not None else None
    for key, colour, label in (("N_opt", OKABE_ITO["blue"], "N_opt(C) (parameters)"),
                               ("D_opt", OKABE_ITO["vermillion"], "D_opt(C) (tokens)")):
        ax.plot(grid, opt[key], color=colour, lw=1.6, label=label)
        if band is not None:
            ax.fill_between(grid, band[key]["lo"], band[key]["hi"], color=colour, alpha=0.25, lw=0)
    for name, (n, d) in (references or {}).items():
        ax.scatter([_compute(fit, n, d)] * 2, [n, d], marker="D",
                   color=[OKABE_ITO["blue"], OKABE_ITO["vermillion"]], s=30, edgecolors="black", zorder=4)
        ax.annotate(name, (_compute(fit, n, d), n), textcoords="offset points", xytext=(5, -10), fontsize=8)
    ax.axvline(c_runs.max(), color=OKABE_ITO["sky"], ls=":", lw=1.2, label="largest run")
    ax.set(xscale="log", yscale="log", xlabel=COMPUTE_LABEL, ylabel="parameters or tokens (count)",
           title="Compute-optimal allocation")
    ax.legend(loc="upper left")
    return fig
