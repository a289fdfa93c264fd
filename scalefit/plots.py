"""Figures: every function takes results (and an optional Axes) and returns the matplotlib Figure.

Only reads results; never fits. Colours are colour-blind safe: model sizes on the perceptually uniform
``viridis`` map, categorical marks from the Okabe-Ito palette. Every axis carries its unit; compute,
parameters and tokens are on log scales. Bands are the bootstrap percentile intervals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.ticker import FormatStrFormatter

from . import conventions

#: Okabe & Ito (2008) colour-blind-safe palette
OKABE_ITO = {"black": "#000000", "orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73",
             "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7"}
SIZE_CMAP = "viridis"
LOSS_LABEL = "loss (nats/token)"
COMPUTE_LABEL = "training compute C = 6ND (FLOPs)"
N_LABEL = "parameters N (count)"
D_LABEL = "training tokens D (count)"
PARAM_LABELS = {"E": "E (nats/token)", "A": "A (nats/token x N^alpha)", "B": "B (nats/token x D^beta)",
                "alpha": "alpha (exponent of N, 1)", "beta": "beta (exponent of D, 1)"}


def _compute(fit, n, d):
    """Training compute (FLOPs) under the fit's compute convention."""
    return conventions.training_compute(n, d, fit.law.flops_per_token_param)


def _tokens(fit, c, n):
    return conventions.tokens_for_compute(c, n, fit.law.flops_per_token_param)


def _axes(ax=None, figsize=(6.4, 4.4)):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
        return fig, ax
    return ax.figure, ax


def _plain_log_y(ax) -> None:
    """Loss on a log axis, but labelled 2.2, 2.4 ... rather than 2.2 x 10^0."""
    ax.yaxis.set_major_formatter(FormatStrFormatter("%.3g"))
    ax.yaxis.set_minor_formatter(FormatStrFormatter("%.3g"))
    ax.tick_params(axis="y", which="minor", labelsize=7)


def _size_norm(n: np.ndarray) -> LogNorm:
    return LogNorm(vmin=float(np.min(n)), vmax=float(np.max(n)) * (1 + 1e-9))


def _size_colorbar(fig, ax, norm) -> None:
    mappable = plt.cm.ScalarMappable(norm=norm, cmap=SIZE_CMAP)
    fig.colorbar(mappable, ax=ax, label="model size N (parameters)")


def loss_vs_compute(fit, boot=None, targets: Sequence[tuple[float, float]] = (), ax=None, max_curves: int = 12):
    """Plot 1: runs (coloured by model size) and fitted iso-N curves against compute, with the compute-optimal
    frontier L*(C) and its band; optional target points (N, D) with their predicted interval."""
    fig, ax = _axes(ax)
    runs = fit.runs
    c_runs = _compute(fit, runs.N, runs.D)
    norm = _size_norm(runs.N)
    cmap = plt.get_cmap(SIZE_CMAP)
    ax.scatter(c_runs, runs.loss, c=runs.N, cmap=SIZE_CMAP, norm=norm, s=14, edgecolors="none", zorder=3,
               label="runs")
    sizes = np.unique(runs.N)
    for n in sizes[np.unique(np.linspace(0, len(sizes) - 1, min(max_curves, len(sizes))).astype(int))]:
        d = np.geomspace(runs.D.min() / 2, runs.D.max() * 2, 80)
        ax.plot(_compute(fit, n, d), fit.predict(n, d, threshold=None), color=cmap(norm(n)), lw=0.8, alpha=0.7)
    c_hi = max(c_runs.max() * 30, *(_compute(fit, n, d) * 1.5 for n, d in targets)) if targets else c_runs.max() * 30
    grid = np.geomspace(c_runs.min() / 2, c_hi, 120)
    ax.plot(grid, fit.optimal(grid)["L_opt"], color=OKABE_ITO["black"], lw=1.6, label="compute-optimal L*(C)")
    if boot is not None:
        band = boot.optimal(grid)["L_opt"]
        ax.fill_between(grid, band["lo"], band["hi"], color=OKABE_ITO["orange"], alpha=0.35, lw=0,
                        label=f"{round(boot.level * 100)}% band")
    ax.axvline(c_runs.max(), color=OKABE_ITO["sky"], ls=":", lw=1, label="largest run")
    for i, (n, d) in enumerate(targets):
        est = float(fit.predict(n, d, threshold=None))
        yerr = None
        if boot is not None:
            b = boot.predict(n, d, threshold=None)
            yerr = [[est - float(b["lo"])], [float(b["hi"]) - est]]
        ax.errorbar(_compute(fit, n, d), est, yerr=yerr, fmt="*", ms=11, color=OKABE_ITO["vermillion"], capsize=3,
                    zorder=4, label="target" if i == 0 else None)
    ax.set(xscale="log", yscale="log", xlabel=COMPUTE_LABEL, ylabel=LOSS_LABEL, title="Loss against compute")
    _plain_log_y(ax)
    ax.legend(loc="upper right", fontsize=8)
    _size_colorbar(fig, ax, norm)
    return fig


def isoflop(fit, boot=None, computes: Sequence[float] | None = None, ax=None, tolerance: float = 1.25):
    """Plot 2: loss against N at fixed compute (IsoFLOP slices): fitted curves, runs within a factor
    ``tolerance`` of each budget, and the optimum with its N_opt interval."""
    fig, ax = _axes(ax)
    runs = fit.runs
    c_runs = _compute(fit, runs.N, runs.D)
    if computes is None:
        computes = np.geomspace(*np.quantile(c_runs, [0.1, 0.9]), 4)
    colours = [OKABE_ITO[k] for k in ("blue", "vermillion", "green", "purple", "orange", "sky")]
    for i, c in enumerate(computes):
        colour = colours[i % len(colours)]
        opt = fit.optimal(c)
        n = float(opt["N_opt"]) * np.geomspace(1 / 30, 30, 120)
        ax.plot(n, fit.predict(n, _tokens(fit, c, n), threshold=None), color=colour, lw=1.3, label=f"C = {c:.2g} FLOPs")
        if boot is not None:
            band = boot.predict(n, _tokens(fit, c, n), threshold=None)
            ax.fill_between(n, band["lo"], band["hi"], color=colour, alpha=0.2, lw=0)
        near = (c_runs > c / tolerance) & (c_runs < c * tolerance)
        ax.scatter(runs.N[near], runs.loss[near], color=colour, s=16, edgecolors="none", zorder=3)
        xerr = None
        if boot is not None:
            b = boot.optimal(c)["N_opt"]
            xerr = [[float(opt["N_opt"] - b["lo"])], [float(b["hi"] - opt["N_opt"])]]
            ax.hlines(float(opt["L_opt"]), float(b["lo"]), float(b["hi"]), color=colour, lw=5, alpha=0.35)
        ax.errorbar(float(opt["N_opt"]), float(opt["L_opt"]), xerr=xerr, fmt="o", mfc="white", color=colour,
                    capsize=3, zorder=4)
    ax.set(xscale="log", xlabel=N_LABEL, ylabel=LOSS_LABEL,
           title="IsoFLOP slices (circle: optimum, bar: N_opt interval)")
    ax.legend(fontsize=8)
    return fig


def allocation(fit, boot=None, compute: Sequence[float] | None = None,
               references: Mapping[str, tuple[float, float]] | None = None, ax=None):
    """Plot 3: N_opt(C) and D_opt(C) with bands; ``references`` {name: (N, D)} are drawn at C = 6ND."""
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
        ax.scatter([_compute(fit, n, d)] * 2, [n, d], marker="D", color=[OKABE_ITO["blue"], OKABE_ITO["vermillion"]],
                   s=30, edgecolors="black", zorder=4)
        ax.annotate(name, (_compute(fit, n, d), n), textcoords="offset points", xytext=(5, -10), fontsize=8)
    ax.axvline(c_runs.max(), color=OKABE_ITO["sky"], ls=":", lw=1, label="largest run")
    ax.set(xscale="log", yscale="log", xlabel=COMPUTE_LABEL, ylabel="parameters or tokens (count)",
           title="Compute-optimal allocation")
    ax.legend(fontsize=8)
    return fig


def residuals(fit, axes=None):
    """Plot 4: parity (predicted against observed loss) and log residuals against compute, by model size."""
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), layout="constrained")
    fig = axes[0].figure
    runs = fit.runs
    norm = _size_norm(runs.N)
    pred = fit.fitted
    lim = [min(pred.min(), runs.loss.min()) * 0.98, max(pred.max(), runs.loss.max()) * 1.02]
    axes[0].plot(lim, lim, color=OKABE_ITO["black"], lw=1, label="predicted = observed")
    axes[0].scatter(runs.loss, pred, c=runs.N, cmap=SIZE_CMAP, norm=norm, s=14, edgecolors="none")
    axes[0].set(xlabel=f"observed {LOSS_LABEL}", ylabel=f"predicted {LOSS_LABEL}", title="Parity", xlim=lim,
                ylim=lim)
    axes[0].legend(fontsize=8)
    c_runs = _compute(fit, runs.N, runs.D)
    axes[1].axhline(0.0, color=OKABE_ITO["black"], lw=1)
    if fit.objective.kind == "huber":
        for sign in (-1, 1):
            axes[1].axhline(sign * fit.objective.delta, color=OKABE_ITO["orange"], ls="--", lw=1,
                            label="Huber delta" if sign > 0 else None)
        axes[1].legend(fontsize=8)
    axes[1].scatter(c_runs, fit.residuals, c=runs.N, cmap=SIZE_CMAP, norm=norm, s=14, edgecolors="none")
    axes[1].set(xscale="log", xlabel=COMPUTE_LABEL, ylabel="log residual log(pred / obs) (nats)",
                title="Residuals by compute and model size")
    _size_colorbar(fig, axes[1], norm)
    return fig


def corner(boot, names: Sequence[str] | None = None, max_points: int = 2000, fig=None):
    """Plot 5: bootstrap distributions (diagonal) and pairwise scatter (lower triangle) of the parameters,
    with the full-data estimate marked."""
    names = list(boot.names if names is None else names)
    k = len(names)
    if fig is None:
        fig = plt.figure(figsize=(1.9 * k + 1, 1.9 * k + 1), layout="constrained")
    axes = fig.subplots(k, k, squeeze=False)
    reps = boot.params()
    take = slice(None, max_points)
    for i, yi in enumerate(names):
        for j, xj in enumerate(names):
            ax = axes[i, j]
            if j > i:
                ax.set_visible(False)
                continue
            if i == j:
                ax.hist(reps[xj], bins=30, color=OKABE_ITO["sky"], edgecolor="white", lw=0.3)
                lo, hi = boot.percentile(reps[xj])
                for v in (lo, hi):
                    ax.axvline(v, color=OKABE_ITO["orange"], ls="--", lw=1)
                ax.set_ylabel("replicates (count)" if j == 0 else "")
            else:
                ax.scatter(reps[xj][take], reps[yi][take], s=2, color=OKABE_ITO["blue"], alpha=0.4,
                           edgecolors="none", rasterized=True)
                ax.axhline(boot.fit.params[yi], color=OKABE_ITO["vermillion"], lw=0.8)
                ax.set_ylabel(PARAM_LABELS.get(yi, yi) if j == 0 else "", fontsize=7)
            ax.axvline(boot.fit.params[xj], color=OKABE_ITO["vermillion"], lw=0.8)
            ax.set_xlabel(PARAM_LABELS.get(xj, xj) if i == k - 1 else "", fontsize=7)
            ax.tick_params(labelsize=6)
    fig.suptitle(f"Bootstrap replicates ({len(boot.replicates)}, {boot.scheme} scheme); "
                 "red: estimate, dashed: interval", fontsize=9)
    return fig


def holdout(check, ax=None):
    """Plot 6: fit on the smaller runs, predict the held-out largest with their band and prediction interval."""
    fig, ax = _axes(ax)
    fit = check.fit
    c_train = _compute(fit, fit.runs.N, fit.runs.D)
    ax.scatter(c_train, fit.runs.loss, s=10, color="0.6", edgecolors="none", label="runs fitted")
    t = check.table
    ax.errorbar(t["C"], t["predicted"], yerr=[t["predicted"] - t["pi_lo"], t["pi_hi"] - t["predicted"]],
                fmt="none", ecolor=OKABE_ITO["sky"], lw=3, alpha=0.6, label="prediction interval (+ run noise)")
    ax.errorbar(t["C"], t["predicted"], yerr=[t["predicted"] - t["lo"], t["hi"] - t["predicted"]], fmt="_",
                color=OKABE_ITO["blue"], capsize=2, lw=1.2, label=f"predicted, {round(check.level * 100)}% band")
    ax.scatter(t["C"], t["loss"], marker="x", s=22, color=OKABE_ITO["vermillion"], zorder=4,
               label="held-out runs (observed)")
    ax.axvline(c_train.max(), color=OKABE_ITO["black"], ls=":", lw=1, label="largest fitted run")
    ax.set(xscale="log", yscale="log", xlabel=COMPUTE_LABEL, ylabel=LOSS_LABEL,
           title=f"Held-out check: {int(t['inside'].sum())}/{len(t)} in band, "
                 f"{int(t['inside_pi'].sum())}/{len(t)} in prediction interval")
    _plain_log_y(ax)
    ax.legend(fontsize=7)
    return fig


def save(fig, stem, formats: Sequence[str] = ("png", "svg"), dpi: int = 110) -> list[str]:
    """Write ``fig`` as stem.png / stem.svg with fixed metadata (no dates, fixed SVG ids): the same
    figure gives the same bytes. Returns the paths written."""
    paths = []
    for fmt in formats:
        path = f"{stem}.{fmt}"
        meta = {"Date": None} if fmt == "svg" else {"Software": None} if fmt == "png" else {}
        with plt.rc_context({"svg.hashsalt": "scalefit", "svg.fonttype": "path"}):
            fig.savefig(path, format=fmt, dpi=dpi, metadata=meta)
        paths.append(path)
    return paths
