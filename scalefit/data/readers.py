"""Read a run table from a file or DataFrame into a raw DataFrame plus how to name its rows.

Only the reading happens here: which format, which text encoding, which delimiter, and how a row position
maps to what the user sees (a line number in a text file, a record number in JSON, an index label in a
DataFrame). Column meaning and validation live in :mod:`scalefit.data.columns` and :mod:`scalefit.data.runs`.
This module picks the format and reads JSON, JSONL and Parquet; text tables are parsed by
:mod:`scalefit.data.text`, with :mod:`scalefit.data.encodings` and :mod:`scalefit.data.delimiters` (a
semicolon, tab or pipe table named ``.csv`` is read with its delimiter and a
:class:`~scalefit.data.delimiters.DelimiterWarning`); :mod:`scalefit.data.rawtable` holds what they return.

Encodings: a byte-order mark decides (UTF-8, UTF-16, UTF-32); without one the bytes must be UTF-8, else
the file is read as Windows-1252 (Excel's "CSV" export on Western systems; Latin-1 where cp1252 leaves a
byte undefined) with an :class:`TextEncodingWarning` that names the encoding assumed. ``encoding=`` overrides.

Speed: plain UTF-8 text is parsed by ``pandas.read_csv(engine="pyarrow")`` when pyarrow is installed (an
extra: ``scalefit[parquet]``) and the machine has :data:`PYARROW_MIN_CORES` cores for its threads; otherwise,
and for anything odd (quotes, other encodings, an explicit unusual delimiter, a parse the pyarrow engine
refuses), by pandas' C engine, which reads plain ASCII or UTF-8 files as they are. Line numbers for messages
are computed only when a message needs them.
"""

from __future__ import annotations

import codecs
import json
import os
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import DataError

# re-exported: these names were defined here before the reader was split
from .delimiters import TEXT_DELIMITERS, DelimiterWarning, _name, _split_header, sniff_delimiter  # noqa: F401
from .encodings import _BOMS, FALLBACK_ENCODING, _as_utf8, decode, sniff_encoding  # noqa: F401
from .rawtable import RawTable, RowNumbering, _check_duplicate_names, _join, _short  # noqa: F401
from .text import (  # noqa: F401
    _COMPRESSED,
    _compressed,
    _decompressed,
    _first_line,
    _parse_c,
    _read_text_fast,
    _read_text_plain,
    _starts_with_blank,
    _text_table,
    read_text,
)

#: pyarrow's CSV parser spends 1.2-1.35x the CPU time of pandas' C engine on a 1e6-row file (measured with
#: benchmarks/bench_load.py on a 2-core machine: it ran 1.1-1.3x slower there); it wins by parsing on several
#: threads, so it is used only when the process may run on at least this many cores
PYARROW_MIN_CORES = 4

SUFFIX_FORMATS = {
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".txt": "csv", ".json": "json",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet",
}



def read_table(source: object, fmt: str | None = None, sep: str | None = None, encoding: str | None = None,
               *, hint_style: str = "python") -> RawTable:
    """Read ``source`` (path or DataFrame) into a :class:`RawTable`.

    ``fmt`` overrides the format guessed from the file suffix (csv, tsv, json, jsonl, parquet); ``sep``
    overrides the delimiter of a text table; ``encoding`` overrides the detected text encoding.
    ``hint_style`` ("python" or "cli") chooses how messages name options (``sep=';'`` or ``--sep ';'``).
    """
    if isinstance(source, pd.DataFrame):
        index = source.index
        frame = source.reset_index(drop=True)
        _check_duplicate_names([str(c) for c in frame.columns], "DataFrame", "")
        return RawTable(frame, "DataFrame", "dataframe", RowNumbering("index ", index=index))
    if not isinstance(source, (str, os.PathLike)):
        raise DataError(f"cannot read runs from a {type(source).__name__}; give a file path or a DataFrame")
    path = Path(source)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a run table")
    suffixes = [s for s in path.suffixes if s.lower() not in _COMPRESSED]
    fmt = fmt or (SUFFIX_FORMATS.get(suffixes[-1].lower()) if suffixes else None) or "csv"
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty (expected a header row and one row per run)")
    if encoding is not None:
        try:
            encoding = codecs.lookup(encoding).name
        except LookupError:
            raise DataError(f"{path}: unknown text encoding {encoding!r} "
                            "(e.g. utf-8, utf-16, cp1252, latin-1)") from None
    if fmt in ("csv", "tsv"):
        return read_text(path, fmt, sep, encoding, hint_style, use_pyarrow=_use_pyarrow())
    reader = {"json": _read_json, "jsonl": _read_jsonl, "parquet": _read_parquet}.get(fmt)
    if reader is None:
        raise DataError(f"{path}: unknown format {fmt!r}; use one of csv, tsv, json, jsonl, parquet")
    return reader(path, fmt, sep, encoding, hint_style)



def _use_pyarrow() -> bool:
    """Whether plain text goes to the pyarrow engine: installed, and enough cores for its threads."""
    return _has_pyarrow() and _usable_cores() >= PYARROW_MIN_CORES



def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1



@cache
def _has_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:  # pragma: no cover
        return False
    return True



# ------------------------------------------------------------------------------------------ JSON, Parquet
def _read_json(path: Path, fmt: str, sep: str | None, encoding: str | None, hint_style: str) -> RawTable:
    text, info = decode(path.read_bytes(), path, encoding, hint_style)
    try:
        data = json.loads(text.lstrip("\ufeff"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: line {exc.lineno}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    if isinstance(data, dict) and isinstance(data.get("runs"), list):
        data = data["runs"]
    if isinstance(data, list):
        bad = next((i for i, item in enumerate(data) if not isinstance(item, dict)), None)
        if bad is not None:
            raise DataError(f"{path}: record {bad + 1}: a JSON list of runs must hold one object per run, "
                            f"not {type(data[bad]).__name__}")
        if not data:
            raise DataError(f"{path}: the JSON list holds no runs")
        frame = pd.DataFrame.from_records(data)
        return RawTable(frame, str(path), fmt, RowNumbering("record "), info)
    if isinstance(data, dict) and data and all(isinstance(v, list) for v in data.values()):
        lengths = {k: len(v) for k, v in data.items()}
        if len(set(lengths.values())) > 1:
            raise DataError(f"{path}: JSON columns have different lengths {lengths}")
        return RawTable(pd.DataFrame(data), str(path), fmt, RowNumbering("entry "), info)
    raise DataError(f"{path}: JSON must be a list of run objects or an object of equal-length column lists")



def _read_jsonl(path: Path, fmt: str, sep: str | None, encoding: str | None, hint_style: str) -> RawTable:
    text, info = decode(path.read_bytes(), path, encoding, hint_style)
    records, lines = [], []
    for number, line in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
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
    return RawTable(pd.DataFrame.from_records(records), str(path), fmt, RowNumbering("line ", np.asarray(lines)),
                    info)



def _read_parquet(path: Path, fmt: str, sep: str | None, encoding: str | None, hint_style: str) -> RawTable:
    try:
        frame = pd.read_parquet(path)
    except ImportError:
        raise DataError(f"{path}: reading Parquet needs pyarrow: pip install 'scalefit[parquet]'") from None
    except Exception as exc:  # pyarrow raises its own hierarchy
        raise DataError(f"{path}: not a readable Parquet file ({_short(exc)})") from None
    frame = frame.reset_index(drop=True)
    return RawTable(frame, str(path), fmt, RowNumbering("row "), None)
