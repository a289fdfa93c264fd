"""The model-comparison figure: leave-largest-out error against k, and AIC/BIC differences, per law.

Imported only when a figure is drawn, so ``import scalefit`` never imports matplotlib.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .figures import OKABE_ITO, legend_below, styled

COLOURS = [OKABE_ITO[k] for k in ("blue", "vermillion", "green", "purple", "orange", "sky", "black", "yellow")]


@styled
def comparison(result, axes=None):
    """Model comparison: left, the mean |log error| on the k largest model sizes held out from the fit
    (log scale) against k, one line per law; right, each law's AIC and BIC minus the best law's (lower is
    better). Look at which law keeps its extrapolation error lowest as more of the largest sizes are held
    out: that tests the use a law is put to, where AIC/BIC only score the fit inside the data.
    """
    own = axes is None
    if own:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.4), layout="constrained")
    fig = axes[0].figure
    table, extra = result.table, result.extrapolation
    for i, label in enumerate(table["law"]):
        rows = extra[extra["law"] == label]
        if "mean_abs_log_error" in rows:
            axes[0].plot(rows["k"], rows["mean_abs_log_error"], "o-", color=COLOURS[i % len(COLOURS)], label=label)
    axes[0].set(yscale="log", xlabel="k largest model sizes held out",
                ylabel="mean |log(predicted / observed)| (~relative error)",
                title="Leave-largest-out extrapolation error")
    axes[0].set_xticks(range(1, result.k_max + 1))
    x = np.arange(len(table))
    axes[1].bar(x - 0.2, table["aic"] - table["aic"].min(), width=0.4, color=OKABE_ITO["blue"], label="delta AIC")
    axes[1].bar(x + 0.2, table["bic"] - table["bic"].min(), width=0.4, color=OKABE_ITO["orange"], label="delta BIC")
    axes[1].set_xticks(x, table["law"], rotation=20)
    axes[1].set(ylabel="difference to the best law (1)", title="Huber pseudo-likelihood AIC / BIC")
    handles, labels = axes[0].get_legend_handles_labels()
    more, more_labels = axes[1].get_legend_handles_labels()
    legend_below(axes[1] if not own else axes[0], handles + more, labels + more_labels, ncols=4, figure_wide=own)
    return fig
