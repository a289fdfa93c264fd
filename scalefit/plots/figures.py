"""Figures: every function takes results (and an optional Axes) and returns the matplotlib Figure.

Only reads results; never fits. Colours are colour-blind safe: model sizes on the perceptually uniform
``viridis`` map, categorical marks from the Okabe-Ito palette. Every axis carries its unit; compute,
parameters and tokens are on log scales. Bands are the bootstrap percentile intervals. Font and tick sizes
are set in one place (:data:`STYLE`) for figures shown about 700 px wide, as the report shows them.

The first paragraph of each figure function's docstring is its caption: what a reader should look at.
:data:`FIGURES` maps a figure's name to ``(maker, caption)``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FormatStrFormatter, FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from ..core import conventions
from ..core.errors import FitError

#: Okabe & Ito (2008) colour-blind-safe palette
OKABE_ITO = {"black": "#000000", "orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73",
             "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7"}
SIZE_CMAP = "viridis"
LOSS_LABEL = "loss (nats/token)"
COMPUTE_LABEL = "training compute C = 6ND (FLOPs)"
N_LABEL = "parameters N (count)"
D_LABEL = "training tokens D (count)"
LOG_RATIO_LABEL = "log residual log(pred/obs)"  # a log ratio: dimensionless, no unit
PARAM_LABELS = {"E": "E (nats/token)", "A": "A (nats/token x N^alpha)", "B": "B (nats/token x D^beta)",
                "alpha": "alpha (exponent of N, 1)", "beta": "beta (exponent of D, 1)"}
#: Font and tick sizes of every figure, in one place: readable when a 6.4 in figure is shown ~700 px wide
STYLE = {"font.size": 10, "axes.titlesize": 10.5, "axes.labelsize": 10, "xtick.labelsize": 9,
         "ytick.labelsize": 9, "legend.fontsize": 8, "legend.framealpha": 0.85, "figure.titlesize": 10.5}
MINOR_LABEL_SIZE = 8
#: tick and axis labels of the corner plot's small panels (the figure is shown ~0.85x its size)
CORNER_LABEL_SIZE = 8
#: iso-N curves and IsoFLOP slices run this factor beyond the runs they describe, drawn dashed
CURVE_EXTENSION = 2.0



def _compute(fit, n, d):
    """Training compute (FLOPs) under the fit's compute convention."""
    return conventions.training_compute(n, d, fit.law.flops_per_token_param)


def _tokens(fit, c, n):
    """Tokens that spend compute ``c`` (FLOPs) on ``n`` parameters under the fit's convention."""
    return conventions.tokens_for_compute(c, n, fit.law.flops_per_token_param)

def styled(maker: Callable) -> Callable:
    """Decorator: run a figure function under :data:`STYLE`, so sizes are the same wherever it is called."""

    @functools.wraps(maker)
    def wrapper(*args, **kwargs):
        with plt.rc_context(STYLE):
            return maker(*args, **kwargs)

    return wrapper


def caption(maker: Callable) -> str:
    """The caption of a figure function: the first paragraph of its docstring, on one line.

    Examples
    --------
    >>> caption(residuals).startswith("Left, parity")
    True
    """
    doc = inspect.getdoc(maker) or ""
    return " ".join(doc.split("\n\n")[0].split())


def axes_for(ax=None, figsize=(6.4, 4.4)):
    """(Figure, Axes): a new constrained-layout figure of ``figsize`` inches, or ``ax`` and its figure."""
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
        return fig, ax
    return ax.figure, ax


_axes = axes_for  # the short name this module's figures use


def legend_below(ax, handles=None, labels=None, ncols: int = 2, figure_wide: bool = False):
    """The legend below the axes, outside them, so it can never cover a point or a curve.

    ``figure_wide``: centre it under the whole figure (axes and colour bar) with constrained layout's
    "outside" placement, for a figure the maker created itself; otherwise it hangs under ``ax``.
    """
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    fig = ax.figure
    if figure_wide and type(fig.get_layout_engine()).__name__ == "ConstrainedLayoutEngine":
        return fig.legend(handles, labels, loc="outside lower center", ncols=ncols)
    return ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncols=ncols)


def _plain_log_y(ax) -> None:
    """Loss on a log axis, but labelled 2.2, 2.4 ... rather than 2.2 x 10^0, at a readable size.

    Minor labels only when the axis spans less than a decade (otherwise they crowd the major ones).
    """
    lo, hi = ax.get_ylim()
    ax.yaxis.set_major_formatter(FormatStrFormatter("%.3g"))
    if hi / lo < 10:
        ratio = hi / lo
        step = 0.1 if ratio < 1.3 else 0.2 if ratio < 2.5 else 0.5 if ratio < 5 else 1.0
        ax.yaxis.set_minor_locator(LogLocator(subs=np.arange(1.0, 10.0, step)))
        ax.yaxis.set_minor_formatter(FormatStrFormatter("%.3g"))
        ax.tick_params(axis="y", which="minor", labelsize=MINOR_LABEL_SIZE)
    else:
        ax.yaxis.set_minor_formatter(NullFormatter())


def _size_norm(n: np.ndarray) -> LogNorm:
    return LogNorm(vmin=float(np.min(n)), vmax=float(np.max(n)) * (1 + 1e-9))


def _size_colorbar(fig, ax, norm, label: str = "model size N (parameters)") -> None:
    mappable = plt.cm.ScalarMappable(norm=norm, cmap=SIZE_CMAP)
    fig.colorbar(mappable, ax=ax, label=label)


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
        n_lo, n_hi = min(n_lo, n_opt) / CURVE_EXTENSION, max(n_hi, n_opt) * CURVE_EXTENSION
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
        xerr = None
        if boot is not None:
            b = boot.optimal(c)["N_opt"]
            xerr = [[n_opt - float(b["lo"])], [float(b["hi"]) - n_opt]]
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


@styled
def residuals(fit, axes=None):
    """Left, parity: predicted against observed loss (on the line: a perfect fit). Right: log residuals
    log(pred/obs) against compute, coloured by model size, with the Huber threshold (dashed) when the
    objective is Huber. Look for structure: a trend with compute or a band of one colour above or below
    zero is a size or scale the law does not capture; points past the dashed lines were down-weighted.
    """
    own = axes is None
    if own:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.6), layout="constrained")
    fig = axes[0].figure
    runs = fit.runs
    norm = _size_norm(runs.N)
    pred = fit.fitted
    lim = [min(pred.min(), runs.loss.min()) * 0.98, max(pred.max(), runs.loss.max()) * 1.02]
    axes[0].plot(lim, lim, color=OKABE_ITO["black"], lw=1, label="predicted = observed")
    axes[0].scatter(runs.loss, pred, c=runs.N, cmap=SIZE_CMAP, norm=norm, s=14, edgecolors="none")
    axes[0].set(xlabel=f"observed {LOSS_LABEL}", ylabel=f"predicted {LOSS_LABEL}", title="Parity", xlim=lim,
                ylim=lim)
    axes[0].legend(loc="upper left")
    c_runs = _compute(fit, runs.N, runs.D)
    axes[1].axhline(0.0, color=OKABE_ITO["black"], lw=1)
    if fit.objective.kind == "huber":
        for sign in (-1, 1):
            axes[1].axhline(sign * fit.objective.delta, color=OKABE_ITO["orange"], ls="--", lw=1,
                            label=f"Huber threshold ±{fit.objective.delta:.2g}" if sign > 0 else None)
    axes[1].scatter(c_runs, fit.residuals, c=runs.N, cmap=SIZE_CMAP, norm=norm, s=14, edgecolors="none")
    axes[1].set(xscale="log", xlabel=COMPUTE_LABEL, ylabel=LOG_RATIO_LABEL,
                title="Residuals by compute and model size")
    _size_colorbar(fig, axes[1], norm)
    if fit.objective.kind == "huber":
        handles, labels = axes[0].get_legend_handles_labels()
        more, more_labels = axes[1].get_legend_handles_labels()
        axes[0].get_legend().remove()
        legend_below(axes[1], handles + more, labels + more_labels, figure_wide=own)
    return fig


def _log_scaled(values: np.ndarray) -> bool:
    """A parameter goes on a log axis when all replicates are positive and they span more than 3x
    (coefficients such as A and B: right-skewed, multiplicative; exponents and E stay linear)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return bool(v.size and v.min() > 0 and v.max() / v.min() > 3)


def compact_number(value: float) -> str:
    """A tick label as short as it can be: 500, 2e3, 1.5e4, 3e-5 (no "+" and no leading zero in the exponent).

    Examples
    --------
    >>> [compact_number(v) for v in (500.0, 2000.0, 15000.0, 0.25, 3e-5)]
    ['500', '2e3', '1.5e4', '0.25', '3e-5']
    """
    if 0.01 <= abs(value) < 1000:
        return f"{value:.3g}"
    text = f"{value:.2g}"
    mantissa, _, exponent = text.partition("e")
    return f"{mantissa}e{int(exponent)}" if exponent else mantissa


def _few_log_ticks(axis, most: int = 3) -> None:
    """At most ``most`` labelled ticks (1, 2, 5 x 10^k, thinned) on a narrow log axis of a corner panel,
    labelled compactly (2e3, not 2e+03), so neighbouring labels never run into each other."""
    lo, hi = sorted(axis.get_view_interval())
    decades = np.arange(np.floor(np.log10(lo)), np.ceil(np.log10(hi)) + 1)
    for subs in ((1, 2, 5), (1, 3), (1,)):
        ticks = [m * 10**e for e in decades for m in subs if lo <= m * 10**e <= hi]
        if len(ticks) <= most:
            break
    else:
        ticks = ticks[:: int(np.ceil(len(ticks) / most))]
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FuncFormatter(lambda v, _: compact_number(v)))
    axis.set_minor_formatter(NullFormatter())


def _param_label(law, name: str) -> str:
    label = getattr(law, "param_label", None)
    if callable(label):
        try:
            return str(label(name))
        except (KeyError, ValueError):
            pass
    return PARAM_LABELS.get(name, f"{name} (law units)")


@styled
def corner(boot, names: Sequence[str] | None = None, max_points: int = 2000, fig=None):
    """Bootstrap replicates of the parameters: distributions (diagonal) with the percentile interval (dashed
    orange) and pairwise scatter (lower triangle), with the full-data estimate as a solid black line.
    Parameters whose replicates are positive and span more than 3x are on log axes. Look for
    elongated or curved clouds (parameters that trade off, e.g. A with alpha) and for estimates at the
    edge of their distribution.
    """
    names = list(boot.names if names is None else names)
    k = len(names)
    if fig is None:
        fig = plt.figure(figsize=(1.9 * k + 1, 1.9 * k + 1), layout="constrained")
    axes = fig.subplots(k, k, squeeze=False)
    reps = boot.params()
    take = slice(None, max_points)
    logs = {name: _log_scaled(reps[name]) for name in names}
    law = getattr(boot.fit, "law", None)
    estimate = {"color": OKABE_ITO["black"], "lw": 1.0}
    for i, yi in enumerate(names):
        for j, xj in enumerate(names):
            ax = axes[i, j]
            if j > i:
                ax.set_visible(False)
                continue
            if i == j:
                values = reps[xj][np.isfinite(reps[xj])]
                bins = np.geomspace(values.min(), values.max(), 31) if logs[xj] else 30
                ax.hist(values, bins=bins, color=OKABE_ITO["sky"], edgecolor="white", lw=0.3)
                lo, hi = boot.percentile(reps[xj])
                for v in (lo, hi):
                    ax.axvline(v, color=OKABE_ITO["orange"], ls="--", lw=1.2)
                ax.set_ylabel("replicates (count)" if j == 0 else "", fontsize=CORNER_LABEL_SIZE)
            else:
                ax.scatter(reps[xj][take], reps[yi][take], s=2, color=OKABE_ITO["blue"], alpha=0.4,
                           edgecolors="none", rasterized=True)
                ax.axhline(boot.fit.params[yi], **estimate)
                ax.set_ylabel(_param_label(law, yi) if j == 0 else "", fontsize=CORNER_LABEL_SIZE)
                if logs[yi]:
                    ax.set_yscale("log")
            ax.axvline(boot.fit.params[xj], **estimate)
            if logs[xj]:
                ax.set_xscale("log")
            ax.set_xlabel(_param_label(law, xj) if i == k - 1 else "", fontsize=CORNER_LABEL_SIZE)
            if logs[xj]:
                _few_log_ticks(ax.xaxis)
            else:
                ax.xaxis.set_major_locator(MaxNLocator(4))
            if logs[yi] and i != j:
                _few_log_ticks(ax.yaxis)
            elif i != j:
                ax.yaxis.set_major_locator(MaxNLocator(5))
            ax.tick_params(labelsize=CORNER_LABEL_SIZE)
            ax.tick_params(which="minor", labelsize=CORNER_LABEL_SIZE - 1)
    fig.suptitle(f"Bootstrap replicates ({len(boot.replicates)}, {boot.scheme} scheme): solid black line = "
                 f"full-data estimate, dashed orange = {round(boot.level * 100)}% interval")
    return fig


def _dodge(x: np.ndarray, step: float = 0.012) -> np.ndarray:
    """Spread points sharing (to 1%) an x position on a log axis by small multiplicative steps."""
    key = np.round(np.log10(x), 2)
    out = np.asarray(x, dtype=float).copy()
    for value in np.unique(key):
        rows = np.flatnonzero(key == value)
        out[rows] = x[rows] * 10 ** (step * (np.arange(rows.size) - (rows.size - 1) / 2))
    return out


@styled
def holdout(check, ax=None):
    """Held-out check: each run held out from the fit (the largest-compute model sizes), as its error
    log(pred/obs) against its extrapolation distance (largest of N, D and C over the fitted runs' maxima),
    with the law's confidence band (dark bar) and the prediction interval that adds run-to-run noise
    (light bar), coloured by model size. Look at how many bars cross zero (observed inside) and whether
    the error grows with distance; runs left of the dotted line lie within the fitted range in every
    coordinate.
    """
    own = ax is None
    fig, ax = _axes(ax, figsize=(6.4, 5.0))
    t = check.table.sort_values(["distance", "N", "D"]).reset_index(drop=True)
    obs = t["loss"].to_numpy(float)
    x = _dodge(t["distance"].to_numpy(float))
    err = np.log(t["predicted"].to_numpy(float) / obs)
    norm = _size_norm(t["N"].to_numpy(float))
    colours = plt.get_cmap(SIZE_CMAP)(norm(t["N"].to_numpy(float)))
    ax.axhline(0.0, color=OKABE_ITO["black"], lw=1, label="observed = predicted")
    ax.axvline(1.0, color=OKABE_ITO["black"], ls=":", lw=1.2, label="edge of the fitted data (distance 1)")
    for lo_key, hi_key, width, alpha in (("pi_lo", "pi_hi", 4.0, 0.3), ("lo", "hi", 1.4, 0.95)):
        lo = np.log(t[lo_key].to_numpy(float) / obs)
        hi = np.log(t[hi_key].to_numpy(float) / obs)
        ax.vlines(x, lo, hi, colors=colours, lw=width, alpha=alpha)
    ax.scatter(x, err, c=colours, s=16, edgecolors="black", linewidths=0.3, zorder=4)
    level = round(check.level * 100)
    handles, labels = ax.get_legend_handles_labels()
    handles += [Line2D([], [], color="0.3", lw=1.4), Line2D([], [], color="0.3", lw=4.0, alpha=0.3)]
    labels += [f"{level}% confidence band of the law", f"{level}% prediction interval (+ run noise)"]
    ax.set(xscale="log", xlabel="extrapolation distance (x the fitted runs' largest N, D or C)",
           ylabel=LOG_RATIO_LABEL,
           title=f"Held-out runs: {int(t['inside'].sum())}/{len(t)} in band, "
                 f"{int(t['inside_pi'].sum())}/{len(t)} in prediction interval")
    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if f"{v:.1e}"[0] in "235" else ""))
    ax.tick_params(axis="x", which="minor", labelsize=MINOR_LABEL_SIZE)
    _size_colorbar(fig, ax, norm, label="held-out model size N (parameters)")
    legend_below(ax, handles, labels, figure_wide=own)
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


#: name -> (maker, caption). Makers take: loss_vs_compute/isoflop/allocation (fit, boot=None, ...),
#: residuals (fit), corner (boot), holdout (a HoldoutCheck). The caption is the docstring's first paragraph.
FIGURES: dict[str, tuple[Callable, str]] = {
    name: (maker, caption(maker))
    for name, maker in (("loss_vs_compute", loss_vs_compute), ("isoflop", isoflop), ("allocation", allocation),
                        ("residuals", residuals), ("corner", corner), ("holdout", holdout))
}
