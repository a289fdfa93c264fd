"""RunTable and load_runs: a validated table of training runs in canonical columns.

Canonical columns (units): ``N`` parameters, ``D`` training tokens, ``loss`` nats/token, ``C`` FLOPs,
``U`` unique tokens, ``group`` what shares noise (the bootstrap's cluster: by default the model size),
``curve`` the id of a training run whose checkpoints are rows, ``step`` optimizer step, ``weight`` fit weight.
Every row that is not used is kept, with its reason, in ``RunTable.dropped`` (invalid input in lenient
mode) or ``RunTable.filtered`` (removed by a filter the user asked for, or by the default choice of the
final checkpoint of each training curve).

The RunTable class lives in :mod:`scalefit.data.runtable`, value checks in :mod:`scalefit.data.validate`,
curves and groups in :mod:`scalefit.data.curves`, filters in :mod:`scalefit.data.filters`; their names are
importable from here as before.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import replace
from typing import Literal

import pandas as pd

from ..core import checks
from ..core.errors import ArgumentError, CheckpointWarning, DataCheckWarning, DataError, ScalefitWarning
from .columns import CANONICAL, LABELS, REQUIRED, columns_hint, resolve_columns, speak
from .curves import (  # noqa: F401
    CHECKPOINT_CAUTION,
    GROUP_TOLERANCE,
    _choose_group,
    _final_checkpoints,
    _find_curves,
    _model_size_groups,
)
from .filters import _apply_filters
from .rawtable import RawTable, RowNumbering  # noqa: F401
from .readers import read_table
from .runtable import RunTable, Unlabelled, _LabelledOnRead, _problem_frame  # noqa: F401
from .sanity import run_checks
from .validate import (  # noqa: F401
    _MAX_LISTED,
    _POSITIVE,
    _RESERVED,
    _canonical_frame,
    _check_values,
    _derive,
    _describe,
    _duplicates,
    _is_quantity,
    _parse_numeric,
    _show,
)


def load_runs(
    source: object,
    columns: Mapping[str, str] | None = None,
    *,
    fmt: str | None = None,
    sep: str | None = None,
    encoding: str | None = None,
    on_invalid: Literal["raise", "drop"] = "raise",
    n_convention: Literal["total", "non-embedding", "unknown"] = "unknown",
    checkpoints: Literal["final", "all"] | None = None,
    min_tokens: float | None = None,
    min_fraction_of_run: float | None = None,
    max_loss: float | None = None,
    drop_highest_loss: int | None = None,
    query: str | None = None,
    source_name: str | None = None,
    hint_style: Literal["python", "cli"] = "python",
    checks: bool = True,
) -> RunTable:
    """Load and validate a table of training runs.

    Canonical units: N in parameters, D in tokens, C in FLOPs (else 6ND), loss in nats/token.

    Parameters
    ----------
    source:
        Path to a CSV, TSV, JSON (records or columns), JSONL or Parquet file, or a pandas DataFrame.
    columns:
        Explicit ``{canonical: source column}`` entries, e.g. ``{"N": "n_embd_params", "group": "arch"}``;
        the rest are found by alias (see :data:`scalefit.data.columns.ALIASES`).
    fmt, sep, encoding:
        Override the format (from the suffix), the delimiter, the text encoding (detected: byte-order mark,
        else UTF-8, else cp1252 with a :class:`~scalefit.core.errors.TextEncodingWarning`).
    on_invalid:
        ``"raise"`` (default): any invalid cell raises :class:`DataError` naming source, rows, column and
        value. ``"drop"``: invalid rows go to ``RunTable.dropped`` with the reason, and a warning says how many.
    n_convention:
        Whether N counts all parameters or non-embedding ones; recorded, never guessed.
    checkpoints:
        For training curves (a curve id repeated over rows, or a ``step`` column): ``"final"`` (the default
        for curves) keeps the last checkpoint (largest D) of each curve and records the rest in ``filtered``;
        ``"all"`` keeps every checkpoint (with a :class:`~scalefit.core.errors.CheckpointWarning`).
    min_tokens, min_fraction_of_run, max_loss, drop_highest_loss, query:
        Filters, applied in this order and recorded in the provenance with the rows each removed.
        ``min_fraction_of_run`` keeps checkpoints with D >= fraction x the largest D of their curve (of
        their group when there are no curves); with curves it replaces the final-checkpoint default.
        ``drop_highest_loss=k`` removes the k rows with the highest loss (ties broken by row order).
        ``query`` is a :meth:`pandas.DataFrame.query` expression over the canonical and source columns.
    source_name:
        What to call a DataFrame source in messages and provenance (default ``"DataFrame"``).
    hint_style:
        ``"python"`` (default) or ``"cli"``: how messages name options (``columns={'N': ...}`` or
        ``--columns N=...``). The command line passes ``"cli"``.
    checks:
        Run the load-time sanity checks of :mod:`scalefit.data.sanity` (each fired check is a
        :class:`~scalefit.core.errors.DataCheckWarning` and an entry of ``RunTable.checks``).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"params": ["70M", "70M", "160M", "160M"], "tokens": ["1B", "2B", "1B", "2B"],
    ...                       "val_loss": [3.9, 3.7, 3.6, 3.4]})
    >>> runs = scalefit.load_runs(frame)
    >>> runs.N.tolist(), runs.D.tolist()
    ([70000000.0, 70000000.0, 160000000.0, 160000000.0], [1000000000.0, 2000000000.0, 1000000000.0, 2000000000.0])
    >>> runs.n_groups
    2
    """
    if on_invalid not in ("raise", "drop"):
        raise ValueError(f"on_invalid must be 'raise' or 'drop', not {on_invalid!r}")
    if checkpoints not in (None, "final", "all"):
        raise ValueError(f"checkpoints must be 'final' or 'all', not {checkpoints!r}")
    _check_arguments(sep, min_tokens, min_fraction_of_run, max_loss, drop_highest_loss)
    if checkpoints == "final" and min_fraction_of_run is not None:
        raise DataError(f"{speak(hint_style, 'checkpoints=final', '--checkpoints final')} keeps one checkpoint "
                        f"per curve; {speak(hint_style, 'min_fraction_of_run', '--min-fraction-of-run')} keeps "
                        "more: give one of them")
    raw = read_table(source, fmt=fmt, sep=sep, encoding=encoding, hint_style=hint_style)
    if source_name is not None:
        raw = replace(raw, source=source_name)
    if raw.frame.empty:
        raise DataError(f"{raw.source}: the table has a header but no runs")
    available = [str(c) for c in raw.frame.columns]
    raw_frame = raw.frame.set_axis(available, axis=1)
    mapping = resolve_columns(available, columns, raw.source, lambda col: _is_quantity(raw_frame[col]),
                              hint_style)
    derived: dict[str, str] = {}
    if "D" not in mapping and {"N", "C"} <= mapping.keys():
        derived["D"] = "C / (6 N) from the compute column"
    if "N" not in mapping and {"D", "C"} <= mapping.keys():
        derived["N"] = "C / (6 D) from the compute column"
    absent = [c for c in REQUIRED if c not in mapping and c not in derived]
    if absent:
        raise DataError(
            f"{raw.source}: no column for {absent}; the table has {available}. "
            f"Name them with {columns_hint(hint_style, {a: '...' for a in absent})}"
        )
    table, problems = _canonical_frame(raw, raw_frame, mapping)
    reported = {(p["position"], p["column"]) for p in problems}
    problems += [p for p in _check_values(table) if (p["position"], p["column"]) not in reported]
    bad_rows = sorted({p["position"] for p in problems})
    dropped = _problem_frame(problems, raw)
    if problems and on_invalid == "raise":
        raise DataError(_describe(problems, raw, mapping, hint_style))
    if bad_rows:
        warnings.warn(f"{raw.source}: dropped {len(bad_rows)} invalid rows (see RunTable.dropped)",
                      ScalefitWarning, stacklevel=2)
        table = table.drop(index=bad_rows)
    _derive(table, derived)
    if "C" not in table:
        table["C"] = 6.0 * table["N"].to_numpy() * table["D"].to_numpy()
        derived["C"] = "6 N D"
    duplicate_problems = _duplicates(table, raw, derived)
    if duplicate_problems and on_invalid == "raise":
        raise DataError(_describe(duplicate_problems, raw, mapping, hint_style))
    if duplicate_problems:
        dup_rows = [p["position"] for p in duplicate_problems]
        warnings.warn(f"{raw.source}: dropped {len(dup_rows)} duplicated rows (see RunTable.dropped)",
                      ScalefitWarning, stacklevel=2)
        table = table.drop(index=dup_rows)
        dropped = pd.concat([dropped, _problem_frame(duplicate_problems, raw)], ignore_index=True)
    needs_sizes = "group" not in table or "curve" in table or "step" in table
    sizes = _model_size_groups(table["N"].to_numpy(float)) if needs_sizes else None
    curve_info = _find_curves(table, sizes, mapping)
    group_info = _choose_group(table, sizes, mapping, columns, curve_info)
    if query and "row" in query:  # the query may name rows by their labels
        table.insert(0, "row", raw.row_labels(table.index.to_numpy()))
    table, filtered, filter_log, kept = _apply_filters(
        table, curve_info, checkpoints, min_tokens, min_fraction_of_run, max_loss, drop_highest_loss, query,
        raw.source, mapping, hint_style, raw.rows)
    curve_info["checkpoints"] = kept
    if table.empty:
        raise DataError(f"{raw.source}: no runs left after validation and filters ({filter_log})")
    if curve_info["is_curves"] and kept != "final":
        warnings.warn(f"{raw.source}: keeping intermediate checkpoints ({kept}): {CHECKPOINT_CAUTION}",
                      CheckpointWarning, stacklevel=2)
    findings = run_checks(table, mapping, derived, hint_style, label_columns=tuple(LABELS)) if checks else []
    for finding in findings:
        warnings.warn(DataCheckWarning(f"{raw.source}: {finding.message}", finding.check, finding.column),
                      stacklevel=2)
    order = [c for c in ("row", *CANONICAL) if c in table]
    extra = [c for c in table.columns if c not in order]
    provenance = {
        "source": raw.source,
        "format": raw.fmt,
        "encoding": raw.encoding,
        "columns": mapping,
        "derived": derived,
        "group": group_info,
        "curves": {k: v for k, v in curve_info.items() if k != "key"},
        "filters": filter_log,
        "checks": [f.to_dict() for f in findings],
        "n_convention": n_convention,
        "rows_read": len(raw.frame),
        "rows_dropped": len({*bad_rows, *(p["position"] for p in duplicate_problems)}),
        "rows_filtered": len(filtered),
    }
    frame = table[order + extra].reset_index(drop=True)
    if "row" not in frame:
        frame = Unlabelled(frame, table.index, raw.rows)
    return RunTable(frame, provenance, dropped, filtered)


def _check_arguments(sep, min_tokens, min_fraction_of_run, max_loss, drop_highest_loss) -> None:
    """The delimiter (one character) and the numeric filters' domains: min_tokens >= 0, min_fraction_of_run in
    (0, 1], max_loss > 0 (all finite), drop_highest_loss a count >= 0."""
    if sep is not None and not (isinstance(sep, str) and len(sep) == 1 and sep not in "\r\n\""):
        raise ArgumentError("sep", sep, "a delimiter must be one character other than a quote or a line break, "
                            "e.g. ';', ',', '|' or '\\t'", checks.show(sep))
    if min_tokens is not None:
        checks.nonnegative_finite(min_tokens, "min_tokens", "a token count", "tokens")
    if min_fraction_of_run is not None:
        checks.fraction(min_fraction_of_run, "min_fraction_of_run", "a fraction of the final D")
    if max_loss is not None:
        checks.positive_finite(max_loss, "max_loss", "a loss", "nats/token")
    if drop_highest_loss is not None:
        checks.count(drop_highest_loss, "drop_highest_loss", 0, 10**6, "the number of runs dropped")
