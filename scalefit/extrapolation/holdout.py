"""Held-out extrapolation check: fit on the smaller runs, predict the largest ones with their band.

The honest test of a scaling law is whether it predicts runs it has not seen, at larger scale. Whole
model sizes are held out, largest compute first (a model size ranks by the largest compute C = 6ND among
its runs), until about ``fraction`` of the runs are held out, and never more than ``MAX_FRACTION`` of them
(unless a single model size is already more than that); no model size is half in, half out. The law is
refitted on the rest with the same settings, bootstrapped, and every held-out run gets a predicted loss,
its interval, its prediction interval and its extrapolation distance.

The verdict: the number of held-out runs inside their prediction interval against the nominal level, by
a one-sided binomial test (too few inside fails). Runs of one model size share noise, so the test is
optimistic about its own precision; it is a flag, not a proof. Warnings raised by the sub-fit and its
bootstrap are collected on the result (``warnings``) instead of being printed unattributed.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..core import conventions
from ..core.errors import ExtrapolationWarning, FitError
from ..fitting.fit import fit_spec
from ..uncertainty.noise import fit_noise, noise_sd

HOLDOUT_FRACTION = 0.1
MAX_FRACTION = 0.25  # hold out at most this share of the runs (unless one model size alone is more)
FAIL_P = 0.01  # binomial p-value below which the held-out check FAILS
MIN_JUDGED = 5  # fewer held-out runs than this: too few to judge


@dataclass(frozen=True)
class HoldoutCheck:
    """Result of :func:`holdout_check`: the small-run fit, its bootstrap and the held-out table.

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> check = scalefit.holdout_check(fit, n_boot=50, seed=0)
    >>> check.verdict, check.inside <= len(check.table)
    ('PASSES', True)
    """

    fit: Any
    bootstrap: Any
    #: one row per held-out run: N, D, C, loss, predicted, lo/hi (confidence band of the law), inside,
    #: pi_lo/pi_hi (prediction interval: the band plus run-to-run noise), inside_pi, log_error, distance
    table: pd.DataFrame
    train_rows: np.ndarray  # bool mask over the full run table
    level: float
    #: the held-out model sizes (N), largest compute first
    held_sizes: tuple[float, ...] = ()
    #: warnings raised by the sub-fit and its bootstrap, collected here instead of printed
    warnings: tuple[str, ...] = ()

    @property
    def inside(self) -> int:
        """Held-out runs inside their prediction interval."""
        return int(self.table["inside_pi"].sum())

    @property
    def p_value(self) -> float:
        """One-sided binomial p-value of so few runs inside the prediction interval at its nominal level."""
        from scipy.stats import binomtest

        n = len(self.table)
        if n == 0:
            return float("nan")
        return float(binomtest(self.inside, n, self.level, alternative="less").pvalue)

    @property
    def verdict(self) -> str:
        """"PASSES", "FAILS" or "TOO FEW TO JUDGE" (held-out runs inside the prediction interval vs its level)."""
        if len(self.table) < MIN_JUDGED:
            return "TOO FEW TO JUDGE"
        return "FAILS" if self.p_value < FAIL_P else "PASSES"

    def verdict_line(self) -> str:
        """E.g. "FAILS: 5 of 63 held-out runs inside the 95% prediction interval (p = 1e-40)".

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> check = scalefit.holdout_check(fit, n_boot=50, seed=0)
        >>> print(check.verdict_line())  # doctest: +ELLIPSIS
        PASSES: 18 of 20 held-out runs inside the 95% prediction interval (expected about 19; ...
        """
        pct = round(self.level * 100)
        text = (f"{self.verdict}: {self.inside} of {len(self.table)} held-out runs inside the {pct}% prediction "
                f"interval (expected about {self.level * len(self.table):.3g}")
        p = self.p_value
        return text + (f"; one-sided binomial p = {p:.2g})" if np.isfinite(p) else ")")

    def held_out_text(self) -> str:
        """Exactly what was held out, in words.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> check = scalefit.holdout_check(fit, n_boot=50, seed=0)
        >>> print(check.held_out_text())  # doctest: +ELLIPSIS
        the 4 model sizes whose runs reach the largest training compute (N = 1.5e+09, 3.48e+09, ...
        """
        k = len(self.held_sizes) or len(np.unique(self.table["N"]))
        sizes = self.held_sizes or tuple(sorted(np.unique(self.table["N"]), reverse=True))
        size_text = ", ".join(f"{n:.3g}" for n in sizes[:6]) + (", ..." if len(sizes) > 6 else "")
        plural = "s" if k > 1 else ""
        return (f"the {k} model size{plural} whose runs reach the largest training compute (N = {size_text}; "
                f"{len(self.table)} of {len(self.table) + int(self.train_rows.sum())} runs)")

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
        """The verdict, what was held out and the held-out table as text (losses in nats/token).

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> check = scalefit.holdout_check(fit, n_boot=50, seed=0)
        >>> print(check.summary().splitlines()[0])  # doctest: +ELLIPSIS
        held-out check PASSES: 18 of 20 held-out runs inside the 95% prediction interval (expected ...
        """
        t = self.table
        return (f"held-out check {self.verdict_line()}. Held out {self.held_out_text()}, "
                f"{t['C'].min():.3g}-{t['C'].max():.3g} FLOPs, up to {t['distance'].max():.3g}x beyond the "
                f"training data; fitted on the other {int(self.train_rows.sum())} runs. Mean |log error| "
                f"{self.mean_abs_log_error:.4f}; {int(t['inside'].sum())} of {len(t)} inside the "
                f"{round(self.level * 100)}% confidence band of the law (law uncertainty only)")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record of the check (held-out rows, verdict, coverage, the small-run fit's parameters).

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> check = scalefit.holdout_check(fit, n_boot=50, seed=0)
        >>> record = check.to_dict()
        >>> record["verdict"], sorted(record)[:3]
        ('PASSES', ['coverage', 'held_out', 'held_out_runs'])
        """
        return {"train_runs": int(self.train_rows.sum()), "held_out_runs": len(self.table),
                "coverage": self.coverage,
                "prediction_coverage": self.prediction_coverage, "mean_abs_log_error": self.mean_abs_log_error,
                "level": self.level, "inside_prediction_interval": self.inside, "p_value": self.p_value,
                "verdict": self.verdict, "verdict_line": self.verdict_line(), "held_out": self.held_out_text(),
                "held_sizes": list(self.held_sizes), "warnings": list(self.warnings),
                "params": self.fit.params, "rows": self.table.to_dict(orient="records")}


def holdout_check(fit, fraction: float = HOLDOUT_FRACTION, n_boot: int = 200, seed: int | None = 0,
                  scheme: str | None = None) -> HoldoutCheck:
    """Refit ``fit``'s law and objective without the largest model sizes and predict their runs.

    Whole model sizes are held out, largest compute first, until about ``fraction`` of the runs are (at most
    MAX_FRACTION, unless one model size alone is more). Raises FitError when too few runs or model sizes would
    remain to fit the law. Warnings of the sub-fit are collected in ``HoldoutCheck.warnings``.

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> check = scalefit.holdout_check(fit, n_boot=50, seed=0)
    >>> check.verdict, len(check.table)
    ('PASSES', 20)
    """
    runs = fit.runs
    compute = conventions.training_compute(runs.N, runs.D, fit.law.flops_per_token_param)
    groups = runs.groups
    held, sizes = select_held_out(runs.N, compute, fraction)
    if (~held).sum() <= 2 * len(fit.law.param_names) or len(np.unique(runs.N[~held])) < 3:
        raise FitError(f"holding out the largest model size ({held.sum()} of {len(runs)} runs) leaves too few runs "
                       "or model sizes to fit the law")
    train_table = runs.subset(~held, reason=f"held-out check: the {len(sizes)} largest model sizes by compute "
                                            "held out")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        small = fit_spec(fit.spec, train_table)  # the same spec: an automatic delta is re-estimated, and says so
        boot = small.bootstrap(n=n_boot, seed=seed, scheme=scheme, progress=False)
        warnings.simplefilter("ignore", ExtrapolationWarning)
        inputs = {k: runs.df[k].to_numpy(float)[held] for k in fit.law.inputs}
        band = boot.predict(inputs, threshold=None)
    collected = tuple(dict.fromkeys(str(w.message) for w in caught))
    observed = runs.loss[held]
    pi_lo, pi_hi = _prediction_interval(small, boot, inputs, seed)
    table = pd.DataFrame({"group": groups[held], "N": runs.N[held], "D": runs.D[held], "C": compute[held],
                          "loss": observed, "predicted": band["estimate"], "lo": band["lo"], "hi": band["hi"],
                          "inside": (band["lo"] <= observed) & (observed <= band["hi"]),
                          "pi_lo": pi_lo, "pi_hi": pi_hi, "inside_pi": (pi_lo <= observed) & (observed <= pi_hi),
                          "log_error": np.log(band["estimate"]) - np.log(observed), "distance": band["distance"]})
    return HoldoutCheck(fit=small, bootstrap=boot, table=table.sort_values("C").reset_index(drop=True),
                        train_rows=~held, level=boot.level, held_sizes=sizes, warnings=collected)


def select_held_out(N: np.ndarray, compute: np.ndarray, fraction: float = HOLDOUT_FRACTION,
                    max_fraction: float = MAX_FRACTION) -> tuple[np.ndarray, tuple[float, ...]]:
    """Mask of held-out runs (n,) and the held-out model sizes, largest compute first.

    Model sizes rank by the largest compute among their runs; sizes are added until at least ``fraction``
    of the runs are held out, without passing ``max_fraction`` (the first size is always held out).
    """
    N = np.asarray(N, float)
    sizes = np.unique(N)
    top = np.array([compute[N == s].max() for s in sizes])
    order = sizes[np.argsort(-top, kind="stable")]
    held = np.zeros(len(N), dtype=bool)
    chosen: list[float] = []
    for size in order:
        more = held | (N == size)
        if chosen and more.sum() > max_fraction * len(N):
            break
        held, chosen = more, [*chosen, float(size)]
        if held.sum() >= fraction * len(N):
            break
    return held, tuple(chosen)


def _prediction_interval(fit, boot, inputs: dict[str, np.ndarray], seed: int | None):
    """Percentile interval of replicate predictions times exp(noise), noise ~ N(0, sd_between^2 + sd_within^2)
    estimated from the small-run fit's residuals: where a single new run is expected to land."""
    sd = noise_sd(fit_noise(fit))
    reps = fit.law.predict(boot.replicates, inputs)  # (B, m), all replicates at once
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])
    draws = np.log(reps) + rng.normal(0.0, sd, size=reps.shape)
    lo, hi = np.quantile(draws, [(1 - boot.level) / 2, (1 + boot.level) / 2], axis=0)
    return np.exp(lo), np.exp(hi)
