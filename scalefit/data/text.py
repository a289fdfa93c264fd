"""Parse a CSV or TSV file into a :class:`~scalefit.data.rawtable.RawTable`, with line numbers for messages.

Plain UTF-8 text is parsed by ``pandas.read_csv(engine="pyarrow")`` when the caller says pyarrow is to be used
(see :func:`scalefit.data.readers._use_pyarrow`); otherwise, and for anything odd (quotes, other encodings, an
explicit unusual delimiter, a parse the pyarrow engine refuses), by pandas' C engine, which reads plain ASCII or
UTF-8 files as they are. The encoding is chosen by :mod:`scalefit.data.encodings`, the delimiter by
:mod:`scalefit.data.delimiters` (on the head of the file only). Line numbers are computed only when a message
needs them.
"""

from __future__ import annotations

import codecs
import io
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import DataError
from .delimiters import _name, announce, announce_sep_line, check_header, declared_delimiter
from .encodings import _as_utf8, sniff_encoding
from .rawtable import RawTable, RowNumbering, _short

_COMPRESSED = {".gz", ".bz2", ".xz", ".zst", ".zip"}



def read_text(path: Path, fmt: str, sep: str | None, encoding: str | None, hint_style: str,
              use_pyarrow: bool = False) -> RawTable:
    """Read a CSV or TSV file (``sep`` given, else the format's delimiter, else one sniffed from the header)."""
    default = "\t" if fmt == "tsv" else ","
    table = _read_text(path, fmt, sep, default, encoding, hint_style, use_pyarrow)
    if table.encoding.get("delimiter_how") == "sniffed":
        announce(path, table.encoding["delimiter"], default, hint_style)
    if "sep_line" in table.encoding:
        announce_sep_line(path, table.encoding["sep_line"], table.encoding["delimiter"], hint_style)
    return table


def _read_text(path: Path, fmt: str, sep: str | None, default: str, encoding: str | None, hint_style: str,
               use_pyarrow: bool) -> RawTable:
    fast = _read_text_fast(path, fmt, sep, default, encoding, hint_style) if use_pyarrow else None
    if fast is not None:
        return fast
    if encoding is None and not _compressed(path):
        plain = _read_text_plain(path, fmt, sep, default, hint_style)
        if plain is not None:
            return plain
    data = path.read_bytes() if not _compressed(path) else _decompressed(path)
    raw_bytes, info = _as_utf8(data, path, encoding, hint_style)  # one canonical form from here on
    if not raw_bytes or raw_bytes.isspace():
        raise DataError(f"{path}: the file is empty (expected a header row and one row per run)")
    header_line, header_number, declared = _header(raw_bytes)
    delimiter, how = check_header(header_line, header_number, raw_bytes[:1 << 16], path, sep, default, hint_style,
                                  declared)
    # skipinitialspace strips " 1e9" to "1e9" (and " a" to "a" in label columns); it costs ~25% of the
    # parse, so it is asked for only when a space (or a tab that is not the delimiter) is in the file at all
    spaced = b" " in raw_bytes or (delimiter != "\t" and b"\t" in raw_bytes)
    options = dict(sep=delimiter, skip_blank_lines=False, encoding="utf-8", skiprows=header_number - 1)
    frame = _parse_c(path, delimiter, lambda: io.BytesIO(raw_bytes), skipinitialspace=spaced, **options)
    return _text_table(frame, path, fmt, header_number,
                       {**info, "parser": "c", **_delimiter(delimiter, how, declared)})


def _read_text_plain(path: Path, fmt: str, sep: str | None, default: str, hint_style: str) -> RawTable | None:
    """UTF-8 text without a byte-order mark parsed by pandas' C engine from the path (pandas >= 3.1 splits a
    large file over threads), else None: pandas refuses bytes that are not UTF-8 and the caller decodes them.

    No pass over the file before the parse: ``skipinitialspace`` (which costs ~25% of the parse) is asked
    for only when the parse shows it matters, a name or a text cell starting with a space or tab, or a row
    that splits wrongly (`` "a,b"`` is a quoted field only once the space is skipped); then the file is parsed
    again with it.
    """
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    if not head.strip() or b"\n" not in head or sniff_encoding(head) is not None:
        return None  # blank lines past 64 kB before the header, or a byte-order mark: the general path
    try:
        header_line, header_number, declared = _header(head)
    except UnicodeDecodeError:
        return None
    delimiter, how = check_header(header_line, header_number, head, path, sep, default, hint_style, declared)
    options = dict(sep=delimiter, skip_blank_lines=False, encoding="utf-8", skiprows=header_number - 1)
    try:
        try:
            frame = _parse_c(path, delimiter, lambda: path, skipinitialspace=False, strict=True, **options)
            trim = _starts_with_blank(frame)
        except pd.errors.ParserError:
            trim = True
        if trim:
            frame = _parse_c(path, delimiter, lambda: path, skipinitialspace=True, **options)
    except UnicodeDecodeError:
        return None
    info = {"encoding": "utf-8", "how": "valid UTF-8", "parser": "c", **_delimiter(delimiter, how, declared)}
    return _text_table(frame, path, fmt, header_number, info)


def _parse_c(path: Path, delimiter: str, source, strict: bool = False, **options) -> pd.DataFrame:
    """``pandas.read_csv`` (C engine) of ``source()``, with pandas' errors turned into DataError (a
    ParserError is re-raised as it is when ``strict``, for the caller to try again)."""
    try:
        try:
            # low_memory parsing (in chunks) is ~30% faster; a column whose chunks parse to different types
            # would come out as mixed Python objects, pandas says so with a DtypeWarning, and only then is the
            # table parsed again in one piece
            with warnings.catch_warnings():
                warnings.simplefilter("error", pd.errors.DtypeWarning)
                return pd.read_csv(source(), low_memory=True, **options)
        except pd.errors.DtypeWarning:
            return pd.read_csv(source(), low_memory=False, **options)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty (expected a header row and one row per run)") from None
    except pd.errors.ParserError as exc:
        if strict:
            raise
        raise DataError(f"{path}: not a valid {_name(delimiter)}-separated table: {_short(exc)}") from None


def _starts_with_blank(frame: pd.DataFrame) -> bool:
    """Whether a column name or a text cell starts with a space or tab (numbers parse with them anyway)."""
    if any(str(name)[:1] in (" ", "\t") for name in frame.columns):
        return True
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
            continue
        try:
            blank = column.str.startswith((" ", "\t"), na=False)
        except AttributeError:  # not all text: look at the text form of every cell
            blank = column.astype(str).str.startswith((" ", "\t"))
        if blank.any():
            return True
    return False


def _read_text_fast(path: Path, fmt: str, sep: str | None, default: str, encoding: str | None,
                    hint_style: str) -> RawTable | None:
    """Plain UTF-8 text parsed straight from the file by the pyarrow engine, else None (the caller falls
    back to decoding the bytes and pandas' C engine). Invalid UTF-8 makes pyarrow refuse, never guess."""
    if encoding not in (None, "utf-8", "utf-8-sig") or _compressed(path) or (sep or default) not in ",\t;|":
        return None
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    bom = sniff_encoding(head)
    if bom not in (None, "utf-8-sig"):
        return None
    head = head[len(codecs.BOM_UTF8):] if bom else head
    if not head.strip():
        return None
    try:
        header_line, header_number, declared = _header(head)
    except UnicodeDecodeError:
        return None
    if b"\n" not in head:  # the header may continue past what was read
        return None
    delimiter, how = check_header(header_line, header_number, head, path, sep, default, hint_style, declared)
    try:
        frame = pd.read_csv(path, sep=delimiter, engine="pyarrow", skip_blank_lines=False,
                            skiprows=header_number - 1)
    except Exception:  # any refusal of the fast path (invalid UTF-8, ragged rows...) falls back
        return None
    if any(str(c) != str(c).strip() for c in frame.columns):
        return None  # spaces around names: the C engine's skipinitialspace handles those
    for col in frame.columns:  # pyarrow reads a column that is not valid UTF-8 as bytes: not plain text
        if frame[col].dtype == object:
            first = frame[col].first_valid_index()
            if first is not None and isinstance(frame[col].iloc[first], bytes):
                return None
    info = {"encoding": "utf-8-sig" if bom else "utf-8", "how": "byte-order mark" if bom else "valid UTF-8",
            "parser": "pyarrow", **_delimiter(delimiter, how, declared)}
    return _text_table(frame, path, fmt, header_number, info)


def _text_table(frame: pd.DataFrame, path: Path, fmt: str, header_number: int, info: dict) -> RawTable:
    """Drop blank rows; map row positions to line numbers (both parsers keep blank lines as rows)."""
    first = frame.iloc[:, 0].isna().to_numpy() if frame.shape[1] else np.zeros(len(frame), dtype=bool)
    # a blank row is empty in every column, so only rows empty in the first column need the full test
    blank = frame.isna().all(axis=1).to_numpy() if first.any() else first
    # physical line number (1-based) of every kept data row: simply position + 1 + the header's line number
    # unless blank lines sit between the rows
    if blank.any():
        frame = frame.loc[~blank].reset_index(drop=True)
        rows = RowNumbering("line ", np.flatnonzero(~blank) + header_number + 1)
    else:
        rows = RowNumbering("line ", start=header_number + 1)
    return RawTable(frame, str(path), fmt, rows, info)


def _delimiter(delimiter: str, how: str, declared: str | None = None) -> dict:
    """The delimiter's entries of the provenance (``delimiter_how`` only when it was sniffed or read from a
    ``sep=`` first line; ``sep_line``: the delimiter that line declared, whether used or not)."""
    entries = {"delimiter": delimiter}
    if how in ("sniffed", "sep line"):
        entries["delimiter_how"] = how
    if declared is not None:
        entries["sep_line"] = declared
    return entries


def _compressed(path: Path) -> bool:
    return path.suffix.lower() in _COMPRESSED


def _decompressed(path: Path) -> bytes:
    import bz2
    import gzip
    import lzma

    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(path.suffix.lower())
    if opener is None:
        raise DataError(f"{path}: {path.suffix} files are not supported; decompress it first")
    with opener(path, "rb") as handle:
        return handle.read()


def _header(data: bytes) -> tuple[str, int, str | None]:
    """The header line, its 1-based line number and the delimiter a spreadsheet's ``sep=X`` first line
    declares (None when there is none; then the header is the first non-blank line, else the one after it)."""
    line, number = _first_line(data)
    declared = declared_delimiter(line)
    if declared is None:
        return line, number, None
    line, number = _first_line(data, after=number)
    return line, number, declared


def _first_line(data: bytes, after: int = 0) -> tuple[str, int]:
    """The first non-blank line after line ``after`` (the header) and its 1-based line number."""
    number = 1
    start = 0
    while number <= after:
        end = data.find(b"\n", start)
        if end < 0:
            return "", number + 1
        start, number = end + 1, number + 1
    while True:
        end = data.find(b"\n", start)
        line = data[start:] if end < 0 else data[start:end]
        if line.strip():
            return line.decode("utf-8").rstrip("\r"), number
        if end < 0:
            return "", number
        start, number = end + 1, number + 1
