"""Misspecification study: the fitted law is wrong on purpose (a truth with curvature the law lacks); how often
do the three intervals at 10x the largest compute still hold the truth and a new run?

:func:`check_misspecified` with its result :class:`Misspecified`; the truth :func:`curved_chinchilla`, the design
:func:`sweep_design` and :func:`describe_truth`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .simulate import simulate_log_losses


def curved_chinchilla(N, D, curvature: float = 1e-3, pivot: float = 1e18,
                      params: dict[str, float] | None = None) -> np.ndarray:
    """A law of a different form: Chinchilla times exp(curvature x ln(6ND / pivot)^2) (nats/token).

    The compute frontier bends (log loss is quadratic, not asymptotically linear, in log compute), which no
    choice of E, A, B, alpha, beta reproduces; the error of a Chinchilla fit grows with the distance it
    extrapolates.
    """
    p = params or {"E": 1.8, "A": 400.0, "B": 410.0, "alpha": 0.34, "beta": 0.28}
    n, d = np.asarray(N, float), np.asarray(D, float)
    base = p["E"] + p["A"] * n ** -p["alpha"] + p["B"] * d ** -p["beta"]
    return base * np.exp(curvature * np.log(6.0 * n * d / pivot) ** 2)


def sweep_design(sizes=None, tokens_per_param=(5, 10, 20, 40, 80)) -> dict[str, np.ndarray]:
    """A Chinchilla-like sweep: every model size x every tokens-per-parameter ratio; groups = model size."""
    sizes = np.geomspace(1e7, 1e9, 8) if sizes is None else np.asarray(sizes, float)
    tpp = np.asarray(tokens_per_param, float)
    n = np.repeat(sizes, tpp.size)
    return {"N": n, "D": n * np.tile(tpp, sizes.size), "group": np.repeat(np.arange(sizes.size), tpp.size)}


@dataclass(frozen=True)
class Misspecified:
    """Outcome of :func:`check_misspecified`: per simulated dataset and interval, whether it held the true
    curve (``hits_truth``) and a fresh run (``hits_newrun``) at each target, and its width (log ratio)."""

    level: float
    n_datasets: int
    n_boot: int
    seed: int | None
    target_N: np.ndarray
    target_D: np.ndarray
    hits_truth: dict[str, np.ndarray]
    hits_newrun: dict[str, np.ndarray]
    widths: dict[str, np.ndarray]
    log_errors: np.ndarray
    backtest_points: np.ndarray
    failed_datasets: int
    #: what the data were simulated from, e.g. "curved_chinchilla(curvature=0)"
    truth: str = "curved_chinchilla"

    def table(self) -> pd.DataFrame:
        """One row per interval: coverage of the true curve and of a new run, Monte-Carlo SE, median
        half-width (log units), and whether coverage of the truth is at least nominal - 2 MCSE."""
        rows = []
        for key in ("band", "newrun", "extrap"):
            truth, newrun = self.hits_truth[key], self.hits_newrun[key]
            r = truth.size
            cov = float(truth.mean())
            mcse = float(np.sqrt(max(cov * (1 - cov), self.level * (1 - self.level)) / r))
            rows.append({"interval": key, "coverage_truth": cov, "coverage_newrun": float(newrun.mean()),
                         "mcse": mcse, "median_halfwidth": float(np.median(self.widths[key]) / 2),
                         "at_least_nominal": bool(cov >= self.level - 2 * mcse), "datasets": int(r)})
        return pd.DataFrame(rows)

    def summary(self) -> str:
        lines = [f"truth {self.truth} fitted by the law, {self.n_datasets} datasets x {self.n_boot} replicates "
                 f"(seed {self.seed}); mean log error of the fit at the target {float(np.mean(self.log_errors)):.4f}; "
                 f"backtest points per dataset: median {int(np.median(self.backtest_points))}",
                 f"  {'interval':<10}{'truth':>8}{'new run':>9}{'MCSE':>8}{'half-width':>12}  verdict"]
        for row in self.table().itertuples():
            lines.append(f"  {row.interval:<10}{row.coverage_truth:>8.3f}{row.coverage_newrun:>9.3f}{row.mcse:>8.3f}"
                         f"{row.median_halfwidth:>12.4f}  {'ok' if row.at_least_nominal else 'UNDER-COVERS'}")
        if self.failed_datasets:
            lines.append(f"  excluded: {self.failed_datasets} datasets whose fit failed")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "n_datasets": self.n_datasets, "n_boot": self.n_boot, "seed": self.seed,
                "target_N": self.target_N.tolist(), "target_D": self.target_D.tolist(),
                "failed_datasets": self.failed_datasets, "mean_log_error": float(np.mean(self.log_errors)),
                "table": self.table().to_dict(orient="records")}


def check_misspecified(truth=curved_chinchilla, design: dict[str, np.ndarray] | None = None,
                       noise: dict[str, float] | None = None, compute_factor: float = 10.0, R: int = 200,
                       n_boot: int = 100, level: float = 0.95, seed: int | None = 0, n_jobs: int = 1,
                       backtest_options: dict[str, Any] | None = None) -> Misspecified:
    """Simulate R sweeps from ``truth(N, D)`` (a law the Chinchilla form cannot express), fit Chinchilla to
    each (automatic Huber delta), bootstrap, backtest, and check the three intervals at a target
    ``compute_factor`` x the largest compute (the largest N and D both scaled by sqrt(compute_factor)).
    """
    design = sweep_design() if design is None else design
    noise = {"sd_between": 0.002, "sd_within": 0.002} if noise is None else noise
    n, d = design["N"], design["D"]
    k = np.argmax(n * d)
    target_n = np.array([n[k] * np.sqrt(compute_factor)])
    target_d = np.array([d[k] * np.sqrt(compute_factor)])
    seeds = np.random.SeedSequence(seed).spawn(R)
    args = (truth, design, noise, target_n, target_d, n_boot, level, dict(backtest_options or {}))
    if n_jobs == 1:
        results = [_one_misspecified(s, *args) for s in seeds]
    else:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=n_jobs)(delayed(_one_misspecified)(s, *args) for s in seeds)
    good = [r for r in results if r is not None]
    keys = ("band", "newrun", "extrap")
    return Misspecified(truth=describe_truth(truth), level=level, n_datasets=R,
                        n_boot=n_boot, seed=seed, target_N=target_n, target_D=target_d,
                        hits_truth={k: np.array([r["truth"][k] for r in good]) for k in keys},
                        hits_newrun={k: np.array([r["newrun"][k] for r in good]) for k in keys},
                        widths={k: np.array([r["width"][k] for r in good]) for k in keys},
                        log_errors=np.array([r["log_error"] for r in good]),
                        backtest_points=np.array([r["points"] for r in good]), failed_datasets=R - len(good))


def describe_truth(truth: Callable) -> str:
    """A simulation truth's name with its fixed arguments: ``partial(curved_chinchilla, curvature=0.0)`` ->
    "curved_chinchilla(curvature=0)"."""
    if isinstance(truth, functools.partial):
        args = ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v!r}"
                         for k, v in truth.keywords.items())
        return f"{describe_truth(truth.func)}({args})"
    return getattr(truth, "__name__", type(truth).__name__)


def _one_misspecified(seed_seq, truth, design, noise, target_n, target_d, n_boot, level, backtest_options):
    import warnings

    from ..core.errors import ScalefitError, ScalefitWarning
    from ..data.runs import load_runs
    from ..extrapolation.backtest import backtest
    from ..fitting.fit import fit as fit_law
    from ..uncertainty.prediction import loss_intervals

    rng = np.random.default_rng(seed_seq)
    y = simulate_log_losses(np.log(truth(design["N"], design["D"])), design["group"], noise, 1, rng)[0]
    frame = pd.DataFrame({"N": design["N"], "D": design["D"], "loss": np.exp(y), "group": design["group"]})
    child = int(rng.integers(2**31))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ScalefitWarning)
            fitted = fit_law(load_runs(frame, source_name="simulated sweep"))
            boot = fitted.bootstrap(n=n_boot, seed=child, level=level, progress=False)
        bt = backtest(fitted, level=level, seed=child, **{"n_boot": 0, **backtest_options})
        pi = loss_intervals(boot, target_n, target_d, bt)
    except (ScalefitError, np.linalg.LinAlgError):
        return None
    true = float(truth(target_n, target_d)[0])
    new = true * float(np.exp(rng.normal(0, noise["sd_between"]) + rng.normal(0, noise["sd_within"])))
    out = {"truth": {}, "newrun": {}, "width": {}, "log_error": float(np.log(pi.estimate[0] / true)),
           "points": bt.n_points}
    for key in ("band", "newrun", "extrap"):
        lo, hi = float(getattr(pi, f"{key}_lo")[0]), float(getattr(pi, f"{key}_hi")[0])
        out["truth"][key] = lo <= true <= hi
        out["newrun"][key] = lo <= new <= hi
        out["width"][key] = float(np.log(hi / lo))
    return out
