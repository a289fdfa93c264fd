"""The model-comparison figure: leave-largest-out error against k, and AIC/BIC differences, per law.

Imported only when a figure is drawn, so ``import scalefit`` never imports matplotlib.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .plots import OKABE_ITO

COLOURS = [OKABE_ITO[k] for k in ("blue", "vermillion", "green", "purple", "orange", "sky", "black", "yellow")]


def comparison(result, axes=None):
    """Left: mean |log error| on the held-out largest model sizes against k (log scale); right: delta AIC
    and delta BIC bars (lower is better). Returns the Figure."""
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    fig = axes[0].figure
    table, extra = result.table, result.extrapolation
    for i, label in enumerate(table["law"]):
        rows = extra[extra["law"] == label]
        if "mean_abs_log_error" in rows:
            axes[0].plot(rows["k"], rows["mean_abs_log_error"], "o-", color=COLOURS[i % len(COLOURS)], label=label)
    axes[0].set(yscale="log", xlabel="k largest model sizes held out", ylabel="mean |log pred - log obs| (nats)",
                title="Leave-largest-out extrapolation error")
    axes[0].set_xticks(range(1, result.k_max + 1))
    axes[0].legend(fontsize=8)
    x = np.arange(len(table))
    axes[1].bar(x - 0.2, table["aic"] - table["aic"].min(), width=0.4, color=OKABE_ITO["blue"], label="delta AIC")
    axes[1].bar(x + 0.2, table["bic"] - table["bic"].min(), width=0.4, color=OKABE_ITO["orange"], label="delta BIC")
    axes[1].set_xticks(x, table["law"], rotation=20, fontsize=8)
    axes[1].set(ylabel="difference to the best law (1)", title="Huber pseudo-likelihood AIC / BIC")
    axes[1].legend(fontsize=8)
    return fig
