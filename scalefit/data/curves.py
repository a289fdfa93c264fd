"""Training curves and groups: which rows are checkpoints of one run, which share noise (the bootstrap's
cluster: by default the model size), and the final checkpoint of each curve.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .columns import model_label_column

GROUP_TOLERANCE = 1e-4  # model sizes closer than this (relative) are one model size
CHECKPOINT_CAUTION = (
    "the loss at an intermediate checkpoint of a cosine (decay-to-the-end) schedule is higher than a run "
    "trained and decayed to that many tokens would reach, so such rows bias a parametric fit (Hoffmann et al. "
    "2022). Choshen, Zhang, Andreas 2024 (arXiv:2410.11840) find intermediate checkpoints improve estimates "
    "but advise leaving out the earliest part of each run; keep only the later part of each curve"
)


def _find_curves(table: pd.DataFrame, sizes: np.ndarray, mapping: Mapping[str, str]) -> dict[str, Any]:
    """Whether rows are checkpoints of training curves, and each row's curve key (int codes, shape (n,))."""
    if "curve" in table:
        ids = table["curve"].to_numpy()
        codes = pd.factorize(ids)[0]
        size_codes = pd.factorize(sizes)[0]
        mixed = pd.Series(size_codes).groupby(codes).nunique().to_numpy().max() > 1
        if mixed:  # one id over several model sizes: a curve is (id, size)
            codes = pd.factorize(pd.MultiIndex.from_arrays([codes, size_codes]))[0]
        repeated = len(np.unique(codes)) < len(codes)
        how = f"run id column {mapping['curve']!r}" + (" split by model size (an id spans several sizes)"
                                                       if mixed else "")
        return {"is_curves": bool(repeated), "how": how, "count": int(codes.max()) + 1 if len(codes) else 0,
                "key": codes}
    if "step" in table:
        codes = pd.factorize(sizes)[0]
        repeated = len(np.unique(codes)) < len(codes)
        return {"is_curves": bool(repeated), "how": f"step column {mapping['step']!r} without a run id: one "
                "curve per model size", "count": int(codes.max()) + 1 if len(codes) else 0, "key": codes}
    return {"is_curves": False, "how": "no run id or step column", "count": 0, "key": None}



def _choose_group(table: pd.DataFrame, sizes: np.ndarray, mapping: Mapping[str, str],
                  columns: Mapping[str, str] | None, curves: dict[str, Any]) -> dict[str, Any]:
    """Fill ``table['group']`` (what shares noise) and say which column it is and why."""
    if "group" in table:
        source = mapping["group"]
        if columns and "group" in columns:
            how = f"column {source!r}, given explicitly"
        elif model_label_column(mapping, columns):
            how = f"model label column {source!r}"
        else:
            how = f"column {source!r}"
        return {"column": source, "how": how}
    if curves["is_curves"] and "curve" in table:
        per_size = pd.Series(curves["key"]).groupby(pd.factorize(sizes)[0]).nunique()
        if (per_size <= 1).all():
            table["group"] = table["curve"].to_numpy()
            return {"column": mapping["curve"], "how": f"the curve (run id {mapping['curve']!r}): one curve "
                    "per model size, so curve and model size are the same cluster"}
        table["group"] = sizes
        return {"column": None, "how": f"model size (N equal within {GROUP_TOLERANCE:g} relative): several "
                f"curves share a model size, and runs of one size share noise"}
    table["group"] = sizes
    return {"column": None, "how": f"model size (N equal within {GROUP_TOLERANCE:g} relative): runs of one "
            "model size share noise"}



def _model_size_groups(n: np.ndarray) -> pd.Categorical:
    """Label rows by model size: N values within GROUP_TOLERANCE (relative) of their neighbour share a label.

    Works on the distinct values of N (hashing the rows once), so the cost is linear in rows.
    """
    if len(n) == 0:
        return pd.Categorical([])
    codes, distinct = pd.factorize(n)
    order = np.argsort(distinct, kind="stable")
    log_sorted = np.log(distinct[order])
    starts = np.concatenate([[True], np.diff(log_sorted) > GROUP_TOLERANCE])
    cluster = np.cumsum(starts) - 1
    representative = distinct[order][starts]
    names = [f"N={r:.4g}" for r in representative]
    if len(set(names)) < len(names):  # sizes closer than 4 digits but beyond the tolerance: say so in full
        names = [f"N={r!r}" for r in representative.tolist()]
    cluster_of_distinct = np.empty(len(distinct), dtype=np.int64)
    cluster_of_distinct[order] = cluster
    # a Categorical: one small list of names and integer codes, cheap at a million rows
    return pd.Categorical.from_codes(cluster_of_distinct[codes], categories=names)



def _final_checkpoints(table: pd.DataFrame, key: np.ndarray) -> np.ndarray:
    """Mask of the last checkpoint of each curve: largest D, then largest step, then the last row."""
    step = table["step"].to_numpy(float) if "step" in table else np.zeros(len(table))
    order = np.lexsort((np.arange(len(table)), step, table["D"].to_numpy(float), key))
    last = np.ones(len(order), dtype=bool)
    last[:-1] = key[order][1:] != key[order][:-1]
    mask = np.zeros(len(table), dtype=bool)
    mask[order[last]] = True
    return mask
