"""Figure style shared by every figure family: the colour-blind-safe palette, axis labels with units, font
and tick sizes (:data:`STYLE`), the :func:`styled` decorator, new axes, legends below the axes, log-axis tick
helpers and deterministic saving.

Colours: model sizes on the perceptually uniform ``viridis`` map, categorical marks from the Okabe-Ito
palette. Sizes are set for figures shown about 700 px wide, as the report shows them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.ticker import FixedLocator, FormatStrFormatter, FuncFormatter, LogLocator, NullFormatter

from ..core import conventions

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
