"""Figure of leave-one-out influence: which groups and runs move the fit's targets (matplotlib only here).

Only reads an :class:`scalefit.uncertainty.influence.Influence`; never fits.
"""

from __future__ import annotations

import numpy as np

from .figures import OKABE_ITO, axes_for, legend_below, styled

WIDTHS_LABEL = "shift when left out (interval widths of the full fit's law band)"
COLOURS = (OKABE_ITO["blue"], OKABE_ITO["orange"], OKABE_ITO["green"], OKABE_ITO["purple"], OKABE_ITO["sky"],
           OKABE_ITO["vermillion"])


@styled
def influence_figure(influence, ax=None, k: int = 10, kind: str = "groups"):
    """Which runs drive the extrapolation: for the groups (model sizes) whose removal moves a target most,
    the shift of each target when that group is left out and the law refitted, in units of the target's
    interval width; the dotted lines mark the threshold past which the summary names a group. Look for a
    bar past the dotted lines: the answer then rests on that one group, and a run there that went wrong
    (diverged, mislabelled) would move it; check its runs before trusting the answer.

    ``kind``: "groups" or "runs"; ``k``: how many bars (dimensionless counts).
    """
    own = ax is None
    top = influence.top(k, kind=kind)
    quantities = influence.judged
    fig, ax = axes_for(ax, figsize=(6.4, 1.8 + 0.2 * max(len(top), 1) * max(1, min(len(quantities), 3)) ** 0.5))
    y = np.arange(len(top))[::-1]
    height = 0.8 / max(len(quantities), 1)
    for j, q in enumerate(quantities):
        values = top[f"widths {q}"].to_numpy(float)
        ax.barh(y + (len(quantities) - 1) / 2 * height - j * height, np.nan_to_num(values), height=height,
                color=COLOURS[j % len(COLOURS)], label=q)
    limit = influence.threshold
    ax.axvline(limit, color=OKABE_ITO["black"], lw=0.9, ls=":", label=f"threshold ±{limit:g} widths")
    ax.axvline(-limit, color=OKABE_ITO["black"], lw=0.9, ls=":")
    ax.axvline(0.0, color=OKABE_ITO["black"], lw=0.6)
    ax.set_yticks(y, [f"{label} ({n})" for label, n in zip(top["label"], top["runs"], strict=True)])
    span = np.nanmax(np.abs(top[[f"widths {q}" for q in quantities]].to_numpy(float)), initial=0.0)
    ax.set_xlim(-max(span, limit) * 1.15, max(span, limit) * 1.15)
    what = "group (runs)" if kind == "groups" else "run"
    ax.set(xlabel=WIDTHS_LABEL, ylabel=f"left-out {what}",
           title=f"Leave-one-{kind[:-1]}-out influence: the {len(top)} most influential {kind}")
    legend_below(ax, ncols=2, figure_wide=own)
    return fig
