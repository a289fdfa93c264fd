"""Figures: every function takes results (and an optional Axes) and returns the matplotlib Figure.

Only reads results; never fits. Colours are colour-blind safe: model sizes on the perceptually uniform
``viridis`` map, categorical marks from the Okabe-Ito palette. Every axis carries its unit; compute,
parameters and tokens are on log scales. Bands are the bootstrap percentile intervals. Font and tick sizes
are set in one place (:data:`STYLE`) for figures shown about 700 px wide, as the report shows them.

The first paragraph of each figure function's docstring is its caption: what a reader should look at.
:data:`FIGURES` maps a figure's name to ``(maker, caption)``.

The style (palette, labels, sizes, axes and legend helpers) lives in :mod:`.style`, the figures of one fit's
predictions in :mod:`.fit_figures`, the diagnostic figures in :mod:`.diagnostics`; every name stays importable
from here.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

# every name of the module before the split, private helpers included, stays reachable here
from .diagnostics import _dodge, _log_scaled, corner, holdout, residuals  # noqa: F401
from .fit_figures import _frontier, _groups, allocation, compute_budgets, isoflop, loss_vs_compute  # noqa: F401
from .style import (  # noqa: F401
    COMPUTE_LABEL,
    CORNER_LABEL_SIZE,
    CURVE_EXTENSION,
    D_LABEL,
    LOG_RATIO_LABEL,
    LOSS_LABEL,
    MINOR_LABEL_SIZE,
    N_LABEL,
    OKABE_ITO,
    PARAM_LABELS,
    SIZE_CMAP,
    STYLE,
    _axes,
    _compute,
    _few_log_ticks,
    _param_label,
    _plain_log_y,
    _size_colorbar,
    _size_norm,
    _tokens,
    axes_for,
    compact_number,
    legend_below,
    save,
    styled,
)

__all__ = [
    "COMPUTE_LABEL", "CORNER_LABEL_SIZE", "CURVE_EXTENSION", "D_LABEL", "FIGURES", "LOG_RATIO_LABEL", "LOSS_LABEL",
    "MINOR_LABEL_SIZE", "N_LABEL", "OKABE_ITO", "PARAM_LABELS", "SIZE_CMAP", "STYLE", "allocation", "axes_for",
    "caption", "compact_number", "compute_budgets", "corner", "holdout", "isoflop", "legend_below",
    "loss_vs_compute", "residuals", "save", "styled",
]


def caption(maker: Callable) -> str:
    """The caption of a figure function: the first paragraph of its docstring, on one line.

    Examples
    --------
    >>> caption(residuals).startswith("Left, parity")
    True
    """
    doc = inspect.getdoc(maker) or ""
    return " ".join(doc.split("\n\n")[0].split())


#: name -> (maker, caption). Makers take: loss_vs_compute/isoflop/allocation (fit, boot=None, ...),
#: residuals (fit), corner (boot), holdout (a HoldoutCheck). The caption is the docstring's first paragraph.
FIGURES: dict[str, tuple[Callable, str]] = {
    name: (maker, caption(maker))
    for name, maker in (("loss_vs_compute", loss_vs_compute), ("isoflop", isoflop), ("allocation", allocation),
                        ("residuals", residuals), ("corner", corner), ("holdout", holdout))
}
