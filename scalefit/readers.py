"""Read a run table from a file or DataFrame into a raw DataFrame plus how to name its rows.

Only the reading happens here: which format, which delimiter, and how a row position maps to what the user
sees (a line number in a text file, a record number in JSON, an index label in a DataFrame). Column
meaning and validation live in :mod:`scalefit.columns` and :mod:`scalefit.runs`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .errors import DataError

TEXT_DELIMITERS = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}
SUFFIX_FORMATS = {
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".txt": "csv", ".json": "json",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet",
}


@dataclass(frozen=True)
class RawTable:
    """A table as read, before any interpretation.

    ``row_label(i)`` turns the 0-based position of a row of ``frame`` into the words a user needs to find
    it in the source ("line 17", "record 3", "index 'run-a'").
    """

    frame: pd.DataFrame
    source: str
    fmt: str
    row_label: Callable[[int], str]


def read_table(source: object, fmt: str | None = None, sep: str | None = None) -> RawTable:
    """Read ``source`` (path or DataFrame) into a :class:`RawTable`.

    ``fmt`` overrides the format guessed from the file suffix (csv, tsv, json, jsonl, parquet);
    ``sep`` overrides the delimiter of a text table.
    """
    if isinstance(source, pd.DataFrame):
        index = source.index
        return RawTable(source.reset_index(drop=True), "DataFrame", "dataframe",
                        lambda i: f"index {index[i]!r}")
    if not isinstance(source, (str, os.PathLike)):
        raise DataError(f"cannot read runs from a {type(source).__name__}; give a file path or a DataFrame")
    path = Path(source)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a run table")
    suffixes = [s for s in path.suffixes if s not in {".gz", ".bz2", ".xz", ".zst", ".zip"}]
    fmt = fmt or (SUFFIX_FORMATS.get(suffixes[-1].lower()) if suffixes else None) or "csv"
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty (expected a header row and one row per run)")
    reader = {"csv": _read_text, "tsv": _read_text, "json": _read_json, "jsonl": _read_jsonl,
              "parquet": _read_parquet}.get(fmt)
    if reader is None:
        raise DataError(f"{path}: unknown format {fmt!r}; use one of csv, tsv, json, jsonl, parquet")
    return reader(path, fmt, sep)


def _read_text(path: Path, fmt: str, sep: str | None) -> RawTable:
    delimiter = sep or ("\t" if fmt == "tsv" else ",")
    try:
        frame = pd.read_csv(path, sep=delimiter, skip_blank_lines=False, skipinitialspace=True,
                            low_memory=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty (expected a header row and one row per run)") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"{path}: not a valid {_name(delimiter)}-separated table: {exc}") from None
    if frame.shape[1] == 1 and sep is None:
        header = str(frame.columns[0])
        for other, name in TEXT_DELIMITERS.items():
            if other != delimiter and other in header:
                raise DataError(
                    f"{path}: the header {header!r} is one column; the file looks {name}-separated, not "
                    f"{_name(delimiter)}-separated. Pass sep={other!r} (or rename the file to match)."
                )
    # Blank lines are kept by the reader so that positions map to line numbers; they are not rows.
    blank = frame.isna().all(axis=1).to_numpy()
    positions = [i for i, b in enumerate(blank) if not b]
    frame = frame.loc[~blank].reset_index(drop=True)
    return RawTable(frame, str(path), fmt, lambda i: f"line {positions[i] + 2}")


def _read_json(path: Path, fmt: str, sep: str | None) -> RawTable:
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    if isinstance(data, dict) and isinstance(data.get("runs"), list):
        data = data["runs"]
    if isinstance(data, list):
        if not all(isinstance(item, dict) for item in data):
            raise DataError(f"{path}: a JSON list of runs must hold one object per run")
        frame = pd.DataFrame.from_records(data)
        return RawTable(frame, str(path), fmt, lambda i: f"record {i + 1}")
    if isinstance(data, dict) and all(isinstance(v, list) for v in data.values()):
        lengths = {len(v) for v in data.values()}
        if len(lengths) > 1:
            raise DataError(f"{path}: JSON columns have different lengths {sorted(lengths)}")
        return RawTable(pd.DataFrame(data), str(path), fmt, lambda i: f"entry {i + 1}")
    raise DataError(f"{path}: JSON must be a list of run objects or an object of equal-length column lists")


def _read_jsonl(path: Path, fmt: str, sep: str | None) -> RawTable:
    records, lines = [], []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: line {number}: not valid JSON ({exc.msg})") from None
        if not isinstance(item, dict):
            raise DataError(f"{path}: line {number}: expected one JSON object per line")
        records.append(item)
        lines.append(number)
    if not records:
        raise DataError(f"{path}: the file holds no runs")
    return RawTable(pd.DataFrame.from_records(records), str(path), fmt, lambda i: f"line {lines[i]}")


def _read_parquet(path: Path, fmt: str, sep: str | None) -> RawTable:
    try:
        frame = pd.read_parquet(path)
    except ImportError:
        raise DataError(f"{path}: reading Parquet needs pyarrow: pip install 'scalefit[parquet]'") from None
    except Exception as exc:  # pyarrow raises its own hierarchy
        raise DataError(f"{path}: not a readable Parquet file ({exc})") from None
    return RawTable(frame.reset_index(drop=True), str(path), fmt, lambda i: f"row {i + 1}")


def _name(delimiter: str) -> str:
    return TEXT_DELIMITERS.get(delimiter, repr(delimiter))
