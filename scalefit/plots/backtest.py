"""Figures of the backtest and of the three intervals (matplotlib is imported here only).

Only reads results; never fits. Colours from the Okabe-Ito palette of :mod:`scalefit.plots`.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FormatStrFormatter

from .figures import OKABE_ITO, axes_for, legend_below, styled

DISTANCE_LABEL = "extrapolation distance d (largest of the N, D, C ratios to the training maxima)"
ERROR_LABEL = "|log(predicted / observed)| (~relative error)"  # a log ratio: dimensionless, no unit


@styled
def backtest_figure(backtest, ax=None, requested: Sequence[float] = ()):
    """Backtest: the |log error| of every held-out run (fit on the runs below a cut-off in N or C, predict
    the runs above) against its extrapolation distance, with the calibrated half-width of the extrapolation
    interval (solid where backtest points support it, dashed beyond the largest backtested distance) and the
    points outside their cross-fitted interval ringed; dash-dotted red lines mark the distances of the
    requested predictions. Look at whether the error grows with distance, how many points lie above the curve
    (about 5% at 95%), and whether a requested prediction lies right of the dotted line: there the
    interval extrapolates its own error model.

    ``requested``: extrapolation distances (dimensionless) of the predictions a report answers.
    """
    own = ax is None
    fig, ax = axes_for(ax, figsize=(6.4, 5.0))
    t = backtest.table
    colours = {"N": OKABE_ITO["blue"], "C": OKABE_ITO["orange"], "D": OKABE_ITO["green"]}
    for kind, part in t.groupby("kind"):
        ax.scatter(part["distance"], np.abs(part["log_error"]), s=12, alpha=0.6, edgecolors="none",
                   color=colours.get(kind, OKABE_ITO["black"]), label=f"held-out run, cut-off by {kind}")
    missed = t[t["inside_extrap"] == False]  # noqa: E712 - NaN (no calibration) must not count as a miss
    if len(missed):
        ax.scatter(missed["distance"], np.abs(missed["log_error"]), s=44, facecolors="none", linewidths=1.1,
                   edgecolors=OKABE_ITO["black"], label="outside its (cross-fitted) extrapolation interval")
    title = "Backtest: no held-out points"
    if len(t):
        largest = float(t["distance"].max())
        pct = round(backtest.level * 100)
        rule = backtest.calibration.rule.split(" ")[0]
        far = [float(d) for d in requested if np.isfinite(d) and d > 0]
        inside = np.geomspace(max(float(t["distance"].min()), 1.0), max(largest, 1.01), 120)
        beyond = np.geomspace(max(largest, 1.01), max(largest * 3, *(d * 1.2 for d in far), 1.02), 40)
        ax.plot(inside, backtest.growth_curve(inside), color=OKABE_ITO["black"],
                label=f"{pct}% extrapolation half-width ({rule})")
        ax.plot(beyond, backtest.growth_curve(beyond), color=OKABE_ITO["black"], ls="--",
                label="half-width beyond the backtested distances")
        ax.axvline(largest, color=OKABE_ITO["black"], lw=0.9, ls=":", label="largest backtested distance")
        for i, d in enumerate(sorted(set(far))):
            ax.axvline(d, color=OKABE_ITO["vermillion"], lw=1.2, ls="-.",
                       label="requested prediction" if i == 0 else None)
        n_out = len(missed)
        title = (f"Backtest: {len(t)} held-out points from {backtest.calibration.n_runs} runs, "
                 f"{n_out} ({n_out / len(t):.0%}) outside")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.set_ylim(bottom=-0.02 * ax.get_ylim()[1])  # errors start at 0; a zero error shows as a whole dot
    ax.set(xlabel=DISTANCE_LABEL, ylabel=ERROR_LABEL, title=title)
    legend_below(ax, figure_wide=own)
    return fig


@styled
def intervals_figure(intervals, ax=None):
    """The three intervals at each point, nested, against the point's extrapolation distance. Look at how
    much wider the extrapolation interval (light) is than the law band (dark) as the distance grows."""
    own = ax is None
    fig, ax = axes_for(ax)
    x = np.asarray(intervals.distance)
    order = np.argsort(x)
    for key, colour, label, width in (("extrap", OKABE_ITO["sky"], "extrapolation interval", 9),
                                      ("newrun", OKABE_ITO["orange"], "new-run interval", 5),
                                      ("band", OKABE_ITO["blue"], "law band", 2)):
        lo, hi = getattr(intervals, f"{key}_lo")[order], getattr(intervals, f"{key}_hi")[order]
        ax.vlines(x[order], lo, hi, colors=colour, lw=width, label=label)
    ax.plot(x[order], intervals.estimate[order], "k.", label="estimate")
    ax.set_xscale("log")
    ax.set_xlabel(DISTANCE_LABEL)
    ax.set_ylabel(f"{intervals.what} (nats/token)")
    legend_below(ax, figure_wide=own)
    return fig


__all__ = ["backtest_figure", "intervals_figure", "plt"]
