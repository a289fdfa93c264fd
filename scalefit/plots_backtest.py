"""Figures of the backtest and of the three intervals (matplotlib is imported here only).

Only reads results; never fits. Colours from the Okabe-Ito palette of :mod:`scalefit.plots`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .plots import OKABE_ITO, axes_for

DISTANCE_LABEL = "extrapolation distance d (largest of N, D, C ratios to the training maxima, x)"
ERROR_LABEL = "|log predicted - log observed| (nats, ~relative error)"


def backtest_figure(backtest, ax=None):
    """|log error| of every backtest point against its extrapolation distance (N cut-offs and C cut-offs in
    two colours, points outside their cross-fitted extrapolation interval ringed), with the half-width of
    the extrapolation interval as calibrated (q x sqrt(noise^2 + (c ln d)^2) at the median noise sd)."""
    fig, ax = axes_for(ax)
    t = backtest.table
    colours = {"N": OKABE_ITO["blue"], "C": OKABE_ITO["orange"], "D": OKABE_ITO["green"]}
    for kind, part in t.groupby("kind"):
        ax.scatter(part["distance"], np.abs(part["log_error"]), s=12, alpha=0.6, edgecolors="none",
                   color=colours.get(kind, OKABE_ITO["black"]), label=f"cut-offs by {kind}")
    missed = t[t["inside_extrap"] == False]  # noqa: E712 - NaN (no calibration) must not count as a miss
    if len(missed):
        ax.scatter(missed["distance"], np.abs(missed["log_error"]), s=40, facecolors="none",
                   edgecolors=OKABE_ITO["vermillion"], label="outside its (cross-fitted) extrapolation interval")
    if len(t):
        grid = np.geomspace(max(float(t["distance"].min()), 1.0), max(float(t["distance"].max()), 1.01) * 3, 200)
        pct = round(backtest.level * 100)
        ax.plot(grid, backtest.growth_curve(grid), color=OKABE_ITO["black"],
                label=f"{pct}% extrapolation half-width ({backtest.calibration.rule.split(' ')[0]})")
        ax.axvline(float(t["distance"].max()), color=OKABE_ITO["black"], lw=0.8, ls=":",
                   label="largest backtested distance")
    ax.set_xscale("log")
    ax.set_xlabel(DISTANCE_LABEL)
    ax.set_ylabel(ERROR_LABEL)
    ax.set_title(f"backtest: {len(t)} points, {backtest.calibration.n_runs} runs")
    ax.legend(fontsize=7, loc="upper left")
    return fig


def intervals_figure(intervals, ax=None):
    """The three intervals at each point, nested, against the point's extrapolation distance."""
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
    ax.legend(fontsize=7)
    return fig


__all__ = ["backtest_figure", "intervals_figure", "plt"]
