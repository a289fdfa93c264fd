"""Filters a user asks for (min_tokens, checkpoints, min_fraction_of_run, max_loss, drop_highest_loss,
query), applied in order, each recorded in the provenance with the rows it removed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.errors import DataError
from .columns import speak
from .curves import _final_checkpoints


def _apply_filters(table, curves, checkpoints, min_tokens, min_fraction_of_run, max_loss, drop_highest_loss,
                   query, source, mapping, hint_style="python", numbering=None):
    """Filters in order; returns the table, the removed rows (labelled by ``numbering``, from their index: the
    position in the source), the log and which checkpoints were kept."""
    log, removed_frames = [], []
    key = curves["key"]
    key = pd.Series(key, index=table.index) if key is not None else None

    def keep(mask: np.ndarray, name: str, value: object) -> None:
        nonlocal table, key
        mask = np.asarray(mask, dtype=bool)
        if (~mask).any():
            removed = table.loc[~mask].copy()
            if "row" not in removed and numbering is not None:
                removed.insert(0, "row", numbering.labels(removed.index.to_numpy()))
            removed.insert(1 if "row" in removed else 0, "filter", name)
            removed_frames.append(removed)
        log.append({"filter": name, "value": value, "removed": int((~mask).sum())})
        table = table.loc[mask]
        key = key.loc[mask] if key is not None else None

    if min_tokens is not None:
        keep(table["D"].to_numpy() >= float(min_tokens), "min_tokens", float(min_tokens))
    kept = "all"
    if curves["is_curves"] and min_fraction_of_run is None and checkpoints in (None, "final"):
        keep(_final_checkpoints(table, key.to_numpy()), "checkpoints", "final")
        kept = "final"
    elif min_fraction_of_run is not None:
        by = key.to_numpy() if key is not None and curves["is_curves"] else table["group"].to_numpy()
        largest = table["D"].groupby(by).transform("max").to_numpy()
        keep(table["D"].to_numpy() >= float(min_fraction_of_run) * largest, "min_fraction_of_run",
             float(min_fraction_of_run))
        kept = f"D >= {float(min_fraction_of_run):g} x the final D of each curve"
        if min_fraction_of_run >= 1:
            kept = "final"
    if max_loss is not None:
        keep(table["loss"].to_numpy() <= float(max_loss), "max_loss", float(max_loss))
    if drop_highest_loss:
        k = int(drop_highest_loss)
        order = np.argsort(-table["loss"].to_numpy(), kind="stable")
        mask = np.ones(len(table), dtype=bool)
        mask[order[:k]] = False
        keep(mask, "drop_highest_loss", k)
    if query:
        try:
            # the query may name a column by its source name ("params") or its canonical one ("N")
            aliases = {src: table[can] for can, src in mapping.items() if src not in table}
            mask = table.assign(**aliases).eval(query)
        except Exception as exc:
            raise DataError(f"{source}: {speak(hint_style, 'query', '--filter')} {query!r} failed: "
                            f"{' '.join(str(exc).split())}") from None
        keep(np.asarray(mask, dtype=bool), "query", query)
    filtered = pd.concat(removed_frames, ignore_index=True) if removed_frames else pd.DataFrame()
    return table, filtered, log, kept
