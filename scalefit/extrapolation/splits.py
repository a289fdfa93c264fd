"""The pieces every backtest shares: its settings, the cut-offs (which runs train, which are held out), the one
refit, the binomial coverage row, and the JSON records of its tables."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest

FRACTIONS = (0.5, 0.6, 0.7, 0.8, 0.9)  # share of runs below each cut-off
CUT_BY = ("N", "C")
MIN_DISTINCT = 3  # a training subset needs at least this many distinct N and distinct D values
N_BOOT = 100
INTERVALS = ("band", "newrun", "extrap")
INTERVAL_NAMES = {"band": "law band", "newrun": "new-run interval", "extrap": "extrapolation interval"}
P_VALUE = 0.05

_TABLE_COLUMNS = ("cutoff", "kind", "cut", "n_train", "run", "group", "N", "D", "C", "N_ratio", "D_ratio", "C_ratio",
                  "distance", "predicted", "observed", "log_error", "noise_sd", "span", "band_lo", "band_hi",
                  "newrun_lo", "newrun_hi", "extrap_lo", "extrap_hi", "inside_band", "inside_newrun", "inside_extrap")
_CUTOFF_COLUMNS = ("cutoff", "kind", "fraction", "cut", "n_train", "n_held", "status")


def refit(fit, table):
    """Refit ``fit``'s law and objective on another run table, choosing the Huber delta the way the
    original fit did (re-estimated when it was automatic, the same number otherwise).

    The ONE place the backtest builds a fit: when the shared fit specification exists, this becomes
    ``fit_spec(spec, table)``.
    """
    from ..fitting.fit import fit as fit_law  # a use of the API, like a user's script

    if fit.objective.kind == "ls":
        return fit_law(table, law=fit.law, objective="ls", check_outliers=False)
    automatic = fit.delta_source.startswith("automatic")
    return fit_law(table, law=fit.law, objective="huber", delta=None if automatic else fit.objective.delta,
                   check_outliers=False)  # outliers are the full fit's to report, not each cut-off's


def cutoffs(N, D, fractions: Sequence[float] = FRACTIONS, by: Sequence[str] = CUT_BY,
            min_train: int = 0) -> list[dict[str, Any]]:
    """Training masks of the backtest: {kind, fraction, cut, train (bool (n,))}, duplicates removed.

    ``kind`` "N" keeps runs with N <= the ``fraction`` quantile of N; "C" the same for 6ND. A cut-off is
    kept only when both sides are non-empty, the training side has more than ``min_train`` runs and at
    least MIN_DISTINCT distinct N and D values.
    """
    n, d = np.asarray(N, float), np.asarray(D, float)
    values = {"N": n, "C": 6.0 * n * d, "D": d}
    out, seen = [], set()
    for kind in by:
        if kind not in values:
            raise ValueError(f"cut-offs are by 'N', 'D' or 'C', not {kind!r}")
        x = values[kind]
        for frac in fractions:
            cut = float(np.quantile(x, frac, method="lower"))
            train = x <= cut
            key = train.tobytes()
            if key in seen or train.all() or not train.any() or train.sum() <= min_train:
                continue
            if len(np.unique(n[train])) < MIN_DISTINCT or len(np.unique(d[train])) < MIN_DISTINCT:
                continue
            seen.add(key)
            out.append({"kind": kind, "fraction": float(frac), "cut": cut, "train": train})
    return out


def _binomial_row(name: str, inside: np.ndarray, level: float) -> dict[str, Any]:
    inside = np.asarray(inside, dtype=bool)
    n, k = int(inside.size), int(inside.sum())
    if n == 0:
        return {"interval": name, "inside": 0, "n": 0, "coverage": np.nan, "nominal": level, "se": np.nan,
                "p_value": np.nan, "verdict": "no points"}
    share = k / n
    se = math.sqrt(level * (1 - level) / n)
    p = float(binomtest(k, n, level).pvalue)
    verdict = ("under-covers" if share < level and p < P_VALUE else
               "over-covers" if share > level and p < P_VALUE else "consistent with nominal")
    return {"interval": name, "inside": k, "n": n, "coverage": share, "nominal": level, "se": se,
            "p_value": p, "verdict": verdict}


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    from ..core.formatting import json_safe

    return [{str(k): json_safe(v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            for row in frame.to_dict(orient="records")]


def _frame(records, columns) -> pd.DataFrame:
    from ..core.formatting import from_json_safe

    return pd.DataFrame([{k: from_json_safe(v) for k, v in r.items()} for r in records], columns=list(columns))
