"""backtest(): fit below each cut-off, predict above it, cross-fit the extrapolation interval; returns a Backtest."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..core import checks
from ..core.errors import ScalefitError, ScalefitWarning
from ..laws import allocation
from ..uncertainty.calibration import calibrate
from ..uncertainty.noise import estimate_noise, noise_sd
from ..uncertainty.prediction import compute_span, extrapolation_limits, newrun_interval
from .backtest_result import Backtest
from .splits import _CUTOFF_COLUMNS, _TABLE_COLUMNS, CUT_BY, FRACTIONS, N_BOOT, cutoffs, refit


def backtest(fit, fractions: Sequence[float] = FRACTIONS, by: Sequence[str] = CUT_BY, n_boot: int = N_BOOT,
             level: float = 0.95, seed: int | None = 0) -> Backtest:
    """Fit below each cut-off, predict above it, and calibrate the extrapolation interval.

    Cut-offs whose fit fails are skipped and listed in ``skipped``; warnings from cut-off fits are
    silenced (they concern subsets, not the user's fit).

    Distances are dimensionless multiples of the training maxima; errors are |log(predicted/observed)| of the
    loss (nats/token).

    Parameters
    ----------
    fractions, by:
        Cut-offs: for each kind in ``by`` ("N", "C" = 6ND, or "D") and each fraction, the runs at or
        below that quantile are the training set (see :func:`cutoffs`).
    n_boot:
        Bootstrap replicates per cut-off fit, for the law band and new-run interval of the held-out
        points (0: skip them; the extrapolation calibration does not need them).
    level:
        Nominal level of every interval.
    seed:
        Seeds the cut-off bootstraps (one child stream each).

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> bt = scalefit.backtest(fit, fractions=(0.7,), n_boot=0)
    >>> bt.n_points, bt.calibration.rule
    (89, 'conformal')
    >>> print(bt.coverage()[["interval", "inside", "n"]].to_string(index=False))
                  interval  inside  n
                  law band       0  0
          new-run interval      80 89
    extrapolation interval      85 89
    """
    checks.resampling(n_boot, level, seed)
    checks.real(list(fractions), "fractions", "a cut-off fraction", lo=0.0, hi=1.0)
    runs = fit.runs
    n_all, d_all, loss, groups = runs.N, runs.D, runs.loss, runs.groups
    inputs_all = {k: runs.df[k].to_numpy(float) for k in fit.law.inputs}  # the law's own inputs (N, D, U, C...)
    n_params = len(fit.law.param_names)
    masks = cutoffs(n_all, d_all, fractions, by, min_train=2 * n_params)
    streams = np.random.SeedSequence(seed).spawn(max(len(masks), 1))
    rows, cut_rows, skipped = [], [], []
    flagged = flagged_runs(fit)
    if flagged.any():
        skipped.append(f"the runs the fit flags as outliers ({', '.join(runs.df['row'].astype(str)[flagged])}) are "
                       "never held-out points: their error is the run's, not the law's")
    for k, cut in enumerate(masks):
        train = cut["train"]
        held = np.flatnonzero(~train & ~flagged)
        record = {"cutoff": k, "kind": cut["kind"], "fraction": cut["fraction"], "cut": cut["cut"],
                  "n_train": int(train.sum()), "n_held": int(held.size), "status": "ok"}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ScalefitWarning)
                table = runs.subset(train, reason=f"backtest: {cut['kind']} <= {cut['cut']:.4g}")
                small = refit(fit, table)
                if not small.diagnostics["converged"]:
                    raise ScalefitError("the cut-off fit did not converge")
        except ScalefitError as exc:
            record["status"] = f"skipped: {exc}"
            skipped.append(f"cut-off {cut['kind']} <= {cut['cut']:.4g}: {exc}")
            cut_rows.append(record)
            continue
        boot = None
        if n_boot:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ScalefitWarning)
                    boot = small.bootstrap(n=n_boot, seed=int(streams[k].generate_state(1)[0]), progress=False)
            except (ScalefitError, ValueError, np.linalg.LinAlgError) as exc:  # the band is optional here
                record["status"] = f"ok, without law band (bootstrap failed: {exc})"
                skipped.append(f"cut-off {cut['kind']} <= {cut['cut']:.4g}: bootstrap failed ({exc}); "
                               "its points have no law band")
        cut_rows.append(record)
        rows.append(_held_out_rows(k, cut, small, boot, held, inputs_all, n_all, d_all, loss, groups, level))
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=list(_TABLE_COLUMNS))
    calibration = calibrate(table["log_error"], table["distance"], table["noise_sd"], level,
                            table["run"], table["cutoff"], table["span"])
    if len(table):
        _cross_fit(table, level)
    return Backtest(table=table, cutoffs=pd.DataFrame(cut_rows, columns=list(_CUTOFF_COLUMNS)),
                    calibration=calibration, level=level, n_boot=int(n_boot), seed=seed,
                    noise=estimate_noise(fit.residuals, groups), maxima=fit.data_maxima, fit=fit,
                    skipped=tuple(skipped))


def flagged_runs(fit) -> np.ndarray:
    """(n,) mask of the runs the fit's outlier check named (``fit.diagnostics["outliers"]``)."""
    names = {str(o["row"]) for o in fit.diagnostics.get("outliers", []) or []}
    return fit.runs.df["row"].astype(str).isin(names).to_numpy() if names else np.zeros(len(fit.runs), bool)


def _held_out_rows(k, cut, small, boot, held, inputs_all, n_all, d_all, loss, groups, level) -> pd.DataFrame:
    n, d, observed = n_all[held], d_all[held], loss[held]
    x = {key: value[held] for key, value in inputs_all.items()}
    predicted = small.predict(x, threshold=None)
    dist = allocation.extrapolation_distance(small.data_maxima, n, d)
    sd = noise_sd(estimate_noise(small.residuals, small.runs.groups))
    span = compute_span(small)
    if boot is not None:
        reps = np.log(small.law.predict(boot.replicates, x))  # (B, m)
        band_lo, band_hi = np.exp(np.quantile(reps, [(1 - level) / 2, (1 + level) / 2], axis=0))
        newrun_lo, newrun_hi = newrun_interval(reps, sd, level)
    else:
        band_lo = band_hi = np.full(n.shape, np.nan)
        newrun_lo, newrun_hi = newrun_interval(np.log(predicted)[None, :], sd, level)
    frame = pd.DataFrame({
        "cutoff": k, "kind": cut["kind"], "cut": cut["cut"], "n_train": int(cut["train"].sum()), "run": held,
        "group": groups[held], "N": n, "D": d, "C": 6.0 * n * d, **dist, "predicted": predicted,
        "observed": observed, "log_error": np.log(predicted) - np.log(observed), "noise_sd": sd, "span": span,
        "band_lo": band_lo, "band_hi": band_hi, "newrun_lo": newrun_lo, "newrun_hi": newrun_hi})
    frame["inside_band"] = _inside(frame, "band") if boot is not None else np.nan
    frame["inside_newrun"] = _inside(frame, "newrun")
    return frame


def _inside(frame: pd.DataFrame, key: str) -> np.ndarray:
    return ((frame[f"{key}_lo"] <= frame["observed"]) & (frame["observed"] <= frame[f"{key}_hi"])).to_numpy()


def _cross_fit(table: pd.DataFrame, level: float) -> None:
    """extrap_lo/hi and inside_extrap of each point from a calibration on the other cut-offs' points of
    other runs (in place)."""
    cut, run = table["cutoff"].to_numpy(), table["run"].to_numpy()
    err, dist, sd, span = (table[c].to_numpy(float) for c in ("log_error", "distance", "noise_sd", "span"))
    lo, hi = np.full(len(table), np.nan), np.full(len(table), np.nan)
    for i in range(len(table)):
        other = (cut != cut[i]) & (run != run[i])
        cal = calibrate(err[other], dist[other], sd[other], level, spans=span[other])
        lo[i], hi[i] = extrapolation_limits(table["predicted"].iat[i], table["newrun_lo"].iat[i],
                                            table["newrun_hi"].iat[i], dist[i], sd[i], cal, span[i])
    table["extrap_lo"], table["extrap_hi"] = lo, hi
    inside = (lo <= table["observed"].to_numpy()) & (table["observed"].to_numpy() <= hi)
    table["inside_extrap"] = np.where(np.isfinite(lo), inside, np.nan)
