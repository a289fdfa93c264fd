"""Held-out extrapolation check: fit on the smaller runs, predict the largest ones with their band.

The honest test of a scaling law is whether it predicts runs it has not seen, at larger scale. The runs
whose training compute C = 6ND is in the top ``fraction`` are held out (whole groups at a time, so no
model size is half in, half out), the law is refitted on the rest with the same settings, bootstrapped,
and every held-out run gets a predicted loss, its interval and its extrapolation distance.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import conventions
from .errors import ExtrapolationWarning, FitError

HOLDOUT_FRACTION = 0.1


@dataclass(frozen=True)
class HoldoutCheck:
    """Result of :func:`holdout_check`: the small-run fit, its bootstrap and the held-out table."""

    fit: Any
    bootstrap: Any
    #: one row per held-out run: N, D, C, loss, predicted, lo/hi (confidence band of the law), inside,
    #: pi_lo/pi_hi (prediction interval: the band plus run-to-run noise), inside_pi, log_error, distance
    table: pd.DataFrame
    train_rows: np.ndarray  # bool mask over the full run table
    level: float

    @property
    def coverage(self) -> float:
        """Share of held-out runs whose observed loss lies inside the predicted interval."""
        return float(self.table["inside"].mean())

    @property
    def prediction_coverage(self) -> float:
        """Share of held-out runs inside their prediction interval (law uncertainty + run noise)."""
        return float(self.table["inside_pi"].mean())

    @property
    def mean_abs_log_error(self) -> float:
        """Mean |log predicted - log observed| over the held-out runs (about the relative error)."""
        return float(np.mean(np.abs(self.table["log_error"])))

    def summary(self) -> str:
        t = self.table
        return (f"held-out check: fitted on {int(self.train_rows.sum())} runs, predicted the {len(t)} runs with the "
                f"largest compute ({t['C'].min():.3g}-{t['C'].max():.3g} FLOPs, up to {t['distance'].max():.3g}x "
                f"beyond the training data): mean |log error| {self.mean_abs_log_error:.4f}; "
                f"{int(t['inside'].sum())} of {len(t)} inside the {round(self.level * 100)}% confidence band "
                "of the law, "
                f"{int(t['inside_pi'].sum())} inside the prediction interval that adds run-to-run noise")

    def to_dict(self) -> dict[str, Any]:
        return {"train_runs": int(self.train_rows.sum()), "held_out_runs": len(self.table),
                "coverage": self.coverage,
                "prediction_coverage": self.prediction_coverage, "mean_abs_log_error": self.mean_abs_log_error,
                "level": self.level,
                "params": self.fit.params, "rows": self.table.to_dict(orient="records")}


def holdout_check(fit, fraction: float = HOLDOUT_FRACTION, n_boot: int = 200, seed: int | None = 0,
                  scheme: str | None = None) -> HoldoutCheck:
    """Refit ``fit``'s law and objective on all but the largest-compute runs and predict those.

    ``fraction`` of the runs (by compute, rounded up to whole groups) are held out. Raises FitError when
    too few runs would remain to fit the law.
    """
    runs = fit.runs
    compute = conventions.training_compute(runs.N, runs.D, fit.law.flops_per_token_param)
    groups = runs.groups
    cut = np.quantile(compute, 1.0 - fraction)
    held_groups = np.unique(groups[compute >= cut])
    held = np.isin(groups, held_groups)
    if (~held).sum() <= 2 * len(fit.law.param_names):
        raise FitError(f"holding out {held.sum()} of {len(runs)} runs leaves too few to fit")
    train_table = runs.subset(~held, reason=f"held-out check: top {fraction:.0%} of runs by compute held out")
    small = fit.spec.fit(train_table)  # the same spec: an automatic delta is re-estimated, and says so
    boot = small.bootstrap(n=n_boot, seed=seed, scheme=scheme, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)
        inputs = {k: runs.df[k].to_numpy(float)[held] for k in fit.law.inputs}
        band = boot.predict(inputs, threshold=None)
    observed = runs.loss[held]
    pi_lo, pi_hi = _prediction_interval(small, boot, inputs, seed)
    table = pd.DataFrame({"group": groups[held], "N": runs.N[held], "D": runs.D[held], "C": compute[held],
                          "loss": observed, "predicted": band["estimate"], "lo": band["lo"], "hi": band["hi"],
                          "inside": (band["lo"] <= observed) & (observed <= band["hi"]),
                          "pi_lo": pi_lo, "pi_hi": pi_hi, "inside_pi": (pi_lo <= observed) & (observed <= pi_hi),
                          "log_error": np.log(band["estimate"]) - np.log(observed), "distance": band["distance"]})
    return HoldoutCheck(fit=small, bootstrap=boot, table=table.sort_values("C").reset_index(drop=True),
                        train_rows=~held, level=boot.level)


def _prediction_interval(fit, boot, inputs: dict[str, np.ndarray], seed: int | None):
    """Percentile interval of replicate predictions times exp(noise), noise ~ N(0, sd_between^2 + sd_within^2)
    estimated from the small-run fit's residuals: where a single new run is expected to land."""
    from .coverage import estimate_noise

    noise = estimate_noise(fit.residuals, fit.runs.groups)
    sd = float(np.hypot(noise["sd_between"], noise["sd_within"]))
    reps = fit.law.predict(boot.replicates, inputs)  # (B, m), all replicates at once
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])
    draws = np.log(reps) + rng.normal(0.0, sd, size=reps.shape)
    lo, hi = np.quantile(draws, [(1 - boot.level) / 2, (1 + boot.level) / 2], axis=0)
    return np.exp(lo), np.exp(hi)
