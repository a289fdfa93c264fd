"""Synthetic sweeps with a few corrupted runs: the robustness benchmark's and the outlier tests' data.

A Chinchilla-like sweep (:func:`scalefit.simulation.misspecified.sweep_design`: 8 model sizes from 1e7 to 1e9
parameters x 5 tokens-per-parameter ratios, 40 runs), losses from Hoffmann et al.'s law (E = 1.69 nats/token,
A = 406.4, B = 410.7, alpha = 0.34, beta = 0.28) times exp(noise) with noise ~ N(0, 0.4%) per run, then ``k``
runs chosen by the seed have their loss multiplied by ``factor`` (x10: a diverged run or a perplexity pasted
into the loss column; /10: a unit slip).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .misspecified import sweep_design

CHINCHILLA_TRUTH = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
NOISE = 0.004  # sd of the log loss of one run


def corrupted_sweep(seed: int, factor: float = 1.0, k: int = 0, noise: float = NOISE,
                    truth: dict[str, float] | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """(runs with columns N, D, loss (nats/token), the 0-based positions (k,) of the corrupted runs).

    The clean losses of a seed do not depend on ``factor`` or ``k``; the corrupted runs are drawn after the
    noise, so the same seed with k = 0 is the clean sweep the corrupted one is compared with.

    Examples
    --------
    >>> clean, _ = corrupted_sweep(0)
    >>> bad, where = corrupted_sweep(0, factor=10, k=2)
    >>> len(bad), (bad.loss / clean.loss).round(6).value_counts().to_dict()
    (40, {1.0: 38, 10.0: 2})
    """
    p = truth or CHINCHILLA_TRUTH
    design = sweep_design()
    rng = np.random.default_rng(seed)
    n, d = design["N"], design["D"]
    loss = (p["E"] + p["A"] * n ** -p["alpha"] + p["B"] * d ** -p["beta"]) * np.exp(rng.normal(0.0, noise, n.size))
    where = np.sort(rng.choice(n.size, size=k, replace=False)) if k else np.array([], dtype=int)
    loss[where] *= factor
    return pd.DataFrame({"N": n, "D": d, "loss": loss}), where
