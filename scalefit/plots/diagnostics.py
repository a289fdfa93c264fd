"""Diagnostic figures: residuals of a fit, the bootstrap corner plot, and the held-out check.

Each takes a result (Fit, Bootstrap or HoldoutCheck) and returns the matplotlib Figure; the first paragraph
of each docstring is its caption.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import FormatStrFormatter, FuncFormatter, MaxNLocator

from .style import (
    COMPUTE_LABEL,
    CORNER_LABEL_SIZE,
    LOG_RATIO_LABEL,
    LOSS_LABEL,
    MINOR_LABEL_SIZE,
    OKABE_ITO,
    SIZE_CMAP,
    _axes,
    _compute,
    _few_log_ticks,
    _param_label,
    _size_colorbar,
    _size_norm,
    legend_below,
    styled,
)


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
    with the law's confidence band (dark bar), the new-run interval that adds run-to-run noise (middle bar)
    and the extrapolation interval that adds the law's own error beyond the data (light bar; the verdict
    counts it), coloured by model size. Look at how many light bars cross zero (observed inside) and whether
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
    level = round(check.level * 100)
    bars = [("pi_lo", "pi_hi", 4.0, 0.45, f"{level}% new-run interval (+ run noise)"),
            ("lo", "hi", 1.4, 0.95, f"{level}% confidence band of the law")]
    if "ex_lo" in t:  # records written before the verdict judged the extrapolation interval have no such column
        bars.insert(0, ("ex_lo", "ex_hi", 7.0, 0.18, f"{level}% extrapolation interval (the verdict)"))
    handles, labels = ax.get_legend_handles_labels()
    for lo_key, hi_key, width, alpha, label in bars:
        lo = np.log(t[lo_key].to_numpy(float) / obs)
        hi = np.log(t[hi_key].to_numpy(float) / obs)
        ax.vlines(x, lo, hi, colors=colours, lw=width, alpha=alpha)
        handles.append(Line2D([], [], color="0.3", lw=width, alpha=alpha))
        labels.append(label)
    ax.scatter(x, err, c=colours, s=16, edgecolors="black", linewidths=0.3, zorder=4)
    counts = f"new-run {int(t['inside_pi'].sum())}/{len(t)}, band {int(t['inside'].sum())}/{len(t)}"
    title = (f"Held-out runs inside: extrapolation {int(t['inside_ex'].sum())}/{len(t)}, {counts}"
             if "inside_ex" in t else f"Held-out runs inside: {counts}")
    ax.set(xscale="log", xlabel="extrapolation distance (x the fitted runs' largest N, D or C)",
           ylabel=LOG_RATIO_LABEL, title=title)
    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if f"{v:.1e}"[0] in "235" else ""))
    ax.tick_params(axis="x", which="minor", labelsize=MINOR_LABEL_SIZE)
    _size_colorbar(fig, ax, norm, label="held-out model size N (parameters)")
    legend_below(ax, handles, labels, figure_wide=own)
    return fig
