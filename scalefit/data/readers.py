"""Read a run table from a file or DataFrame into a raw DataFrame plus how to name its rows.

Only the reading happens here: which format, which text encoding, which delimiter, and how a row position
maps to what the user sees (a line number in a text file, a record number in JSON, an index label in a
DataFrame). Column meaning and validation live in :mod:`scalefit.data.columns` and :mod:`scalefit.data.runs`.

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
import csv
import io
import json
import os
import warnings
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import DataError, TextEncodingWarning
from .columns import speak

#: pyarrow's CSV parser spends 1.2-1.35x the CPU time of pandas' C engine on a 1e6-row file (measured with
#: benchmarks/bench_load.py on a 2-core machine: it ran 1.1-1.3x slower there); it wins by parsing on several
#: threads, so it is used only when the process may run on at least this many cores
PYARROW_MIN_CORES = 4
TEXT_DELIMITERS = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}
SUFFIX_FORMATS = {
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".txt": "csv", ".json": "json",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet",
}
_COMPRESSED = {".gz", ".bz2", ".xz", ".zst", ".zip"}
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
FALLBACK_ENCODING = "cp1252"


@dataclass(frozen=True)
class RowNumbering:
    """How the 0-based position of a row as read maps to the words a user needs to find it in the source.

    A label is ``prefix`` followed by the row's number: ``numbers[position]`` when ``numbers`` (int64, one
    per row as read) is given, else ``position + start``. DataFrame sources give ``index`` instead: the label
    is ``"index "`` and the repr of the row's index value. Small and picklable (it holds no frame), so a
    RunTable can keep it and write its ``row`` column only when someone reads it.
    """

    prefix: str
    numbers: np.ndarray | None = field(default=None, repr=False)
    start: int = 1
    index: pd.Index | None = field(default=None, repr=False)

    def label(self, position: int) -> str:
        """The label of one row ("line 17", "record 3", "index 'run-a'")."""
        if self.index is not None:
            return f"index {self.index[[int(position)]].tolist()[0]!r}"
        number = self.numbers[position] if self.numbers is not None else position + self.start
        return f"{self.prefix}{int(number)}"

    def labels(self, positions: np.ndarray) -> np.ndarray | pd.api.extensions.ExtensionArray:
        """Labels of many rows at once, shape (k,); vectorised unless an index holds non-integer labels."""
        positions = np.asarray(positions, dtype=np.int64)
        if self.index is not None:
            if pd.api.types.is_signed_integer_dtype(self.index.dtype):
                return _join("index ", self.index.to_numpy()[positions])
            return np.array([f"index {value!r}" for value in self.index[positions].tolist()], dtype=object)
        return _join(self.prefix, self.numbers[positions] if self.numbers is not None else positions + self.start)


@dataclass(frozen=True)
class RawTable:
    """A table as read, before any interpretation.

    ``rows`` maps the 0-based position of a row of ``frame`` to the words a user needs to find it in the
    source; ``row_label(i)`` and ``row_labels(positions)`` apply it. ``encoding`` is the text encoding used
    (None for DataFrames and Parquet) and how it was chosen.
    """

    frame: pd.DataFrame
    source: str
    fmt: str
    rows: RowNumbering
    encoding: dict | None = None

    def row_label(self, position: int) -> str:
        """The label of one row ("line 17")."""
        return self.rows.label(position)

    def row_labels(self, positions: np.ndarray) -> np.ndarray | pd.api.extensions.ExtensionArray:
        """Labels of many rows at once, shape (k,)."""
        return self.rows.labels(positions)


def _join(prefix: str, numbers: np.ndarray) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """``prefix + str(n)`` for every integer n, fast (pyarrow compute when available)."""
    numbers = np.asarray(numbers, dtype=np.int64)
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:  # pragma: no cover - pyarrow is in the test extras
        return np.array([f"{prefix}{n}" for n in numbers.tolist()], dtype=object)
    joined = pc.binary_join_element_wise(prefix, pc.cast(pa.array(numbers), pa.string()), "")
    try:
        return pd.array(joined, dtype="string[pyarrow]")
    except (TypeError, ValueError):  # pragma: no cover - older pandas
        return np.asarray(joined.to_pylist(), dtype=object)


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
    reader = {"csv": _read_text, "tsv": _read_text, "json": _read_json, "jsonl": _read_jsonl,
              "parquet": _read_parquet}.get(fmt)
    if reader is None:
        raise DataError(f"{path}: unknown format {fmt!r}; use one of csv, tsv, json, jsonl, parquet")
    return reader(path, fmt, sep, encoding, hint_style)


# ---------------------------------------------------------------------------------------------- encodings
def sniff_encoding(data: bytes) -> str | None:
    """The encoding a byte-order mark at the start of ``data`` announces, else None."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    return None


def decode(data: bytes, path: Path, encoding: str | None, hint_style: str = "python") -> tuple[str, dict]:
    """Text of ``data`` and how its encoding was chosen: given, byte-order mark, UTF-8, or a fallback.

    A fallback (no BOM, not UTF-8) is announced with an :class:`TextEncodingWarning`; nothing here raises
    UnicodeDecodeError.
    """
    if encoding is not None:
        try:
            return data.decode(encoding), {"encoding": encoding, "how": "given"}
        except UnicodeDecodeError as exc:
            option = speak(hint_style, "encoding=...", "--encoding ...")
            line = data.count(b"\n", 0, exc.start) + 1
            raise DataError(f"{path}: line {line}: byte {exc.start} is not valid {encoding} ({exc.reason}); "
                            f"pass {option} with the file's encoding") from None
    bom = sniff_encoding(data)
    if bom is not None:
        try:
            return data.decode(bom), {"encoding": bom, "how": "byte-order mark"}
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}: starts with a {bom} byte-order mark but byte {exc.start} is not valid "
                            f"{bom}") from None
    try:
        return data.decode("utf-8"), {"encoding": "utf-8", "how": "valid UTF-8"}
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    line = data.count(b"\n", 0, first_bad) + 1
    try:
        text, used = data.decode(FALLBACK_ENCODING), FALLBACK_ENCODING
    except UnicodeDecodeError:
        text, used = data.decode("latin-1"), "latin-1"
    option = speak(hint_style, "encoding='...'", "--encoding ...")
    warnings.warn(
        f"{path}: line {line}: byte 0x{data[first_bad]:02X} is not UTF-8; read the file as {used} "
        f"(Windows/Excel Western encoding). If text looks wrong, pass {option} with the right encoding",
        TextEncodingWarning, stacklevel=4)
    return text, {"encoding": used, "how": f"fallback: not UTF-8 (line {line}, byte 0x{data[first_bad]:02X})"}


# --------------------------------------------------------------------------------------------- text files
def _read_text(path: Path, fmt: str, sep: str | None, encoding: str | None, hint_style: str) -> RawTable:
    delimiter = sep or ("\t" if fmt == "tsv" else ",")
    fast = _read_text_fast(path, fmt, sep, delimiter, encoding, hint_style)
    if fast is not None:
        return fast
    if encoding is None and not _compressed(path):
        plain = _read_text_plain(path, fmt, sep, delimiter, hint_style)
        if plain is not None:
            return plain
    data = path.read_bytes() if not _compressed(path) else _decompressed(path)
    raw_bytes, info = _as_utf8(data, path, encoding, hint_style)  # one canonical form from here on
    if not raw_bytes or raw_bytes.isspace():
        raise DataError(f"{path}: the file is empty (expected a header row and one row per run)")
    header_line, header_number = _first_line(raw_bytes)
    _check_header(header_line, header_number, path, sep, delimiter, hint_style)
    # skipinitialspace strips " 1e9" to "1e9" (and " a" to "a" in label columns); it costs ~25% of the
    # parse, so it is asked for only when a space (or a tab that is not the delimiter) is in the file at all
    spaced = b" " in raw_bytes or (delimiter != "\t" and b"\t" in raw_bytes)
    options = dict(sep=delimiter, skip_blank_lines=False, encoding="utf-8", skiprows=header_number - 1)
    frame = _parse_c(path, delimiter, lambda: io.BytesIO(raw_bytes), skipinitialspace=spaced, **options)
    return _text_table(frame, path, fmt, header_number, {**info, "parser": "c", "delimiter": delimiter})


def _read_text_plain(path: Path, fmt: str, sep: str | None, delimiter: str, hint_style: str) -> RawTable | None:
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
        header_line, header_number = _first_line(head)
    except UnicodeDecodeError:
        return None
    _check_header(header_line, header_number, path, sep, delimiter, hint_style)
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
    info = {"encoding": "utf-8", "how": "valid UTF-8", "parser": "c", "delimiter": delimiter}
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


def _as_utf8(data: bytes, path: Path, encoding: str | None, hint_style: str) -> tuple[bytes, dict]:
    """The file's bytes as UTF-8 without a byte-order mark, and how the encoding was chosen (see decode).

    ASCII and valid UTF-8 without a byte-order mark (nearly every file) are used as they are; other
    encodings are decoded and written out again as UTF-8.
    """
    if encoding is None and data.isascii():  # no byte-order mark either: every BOM has a byte >= 0x80
        return data, {"encoding": "utf-8", "how": "valid UTF-8"}
    text, info = decode(data, path, encoding, hint_style)
    if info["encoding"] == "utf-8" and info["how"] == "valid UTF-8":
        return data, info  # valid UTF-8 without a byte-order mark: the bytes are already the canonical form
    return text.lstrip("\ufeff").encode("utf-8"), info


def _read_text_fast(path: Path, fmt: str, sep: str | None, delimiter: str, encoding: str | None,
                    hint_style: str) -> RawTable | None:
    """Plain UTF-8 text parsed straight from the file by the pyarrow engine, else None (the caller falls
    back to decoding the bytes and pandas' C engine). Invalid UTF-8 makes pyarrow refuse, never guess."""
    if encoding not in (None, "utf-8", "utf-8-sig") or _compressed(path) or delimiter not in ",\t;|" \
            or not _use_pyarrow():
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
        header_line, header_number = _first_line(head)
    except UnicodeDecodeError:
        return None
    if b"\n" not in head:  # the header may continue past what was read
        return None
    _check_header(header_line, header_number, path, sep, delimiter, hint_style)
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
            "parser": "pyarrow", "delimiter": delimiter}
    return _text_table(frame, path, fmt, header_number, info)


def _check_header(header_line: str, header_number: int, path: Path, sep: str | None, delimiter: str,
                  hint_style: str) -> None:
    """One-column headers that are really another delimiter, and duplicated names: errors naming line 1."""
    header = _split_header(header_line, delimiter)
    if len(header) == 1 and sep is None:
        for other, name in TEXT_DELIMITERS.items():
            if other != delimiter and other in header[0]:
                option = speak(hint_style, f"sep={other!r}", f"--sep {other!r}")
                raise DataError(
                    f"{path}: line {header_number}: the header {header[0]!r} is one column; the file looks "
                    f"{name}-separated, not {_name(delimiter)}-separated. Pass {option} (or rename the file "
                    "to match)."
                )
    _check_duplicate_names(header, str(path), f"line {header_number}: ")


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


def _first_line(data: bytes) -> tuple[str, int]:
    """The first non-blank line (the header) and its 1-based line number."""
    number = 1
    start = 0
    while True:
        end = data.find(b"\n", start)
        line = data[start:] if end < 0 else data[start:end]
        if line.strip():
            return line.decode("utf-8").rstrip("\r"), number
        if end < 0:
            return "", number
        start, number = end + 1, number + 1


def _split_header(line: str, delimiter: str) -> list[str]:
    try:
        return [cell.strip() for cell in next(csv.reader([line], delimiter=delimiter))]
    except (csv.Error, StopIteration):
        return [line]


def _check_duplicate_names(names: list[str], source: str, where: str) -> None:
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if name in seen and name != "":
            raise DataError(
                f"{source}: {where}column {name!r} appears twice in the header (columns {seen[name]} and "
                f"{position}); rename one so each column has one meaning"
            )
        seen.setdefault(name, position)


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


def _short(exc: Exception) -> str:
    return " ".join(str(exc).split())


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


def _name(delimiter: str) -> str:
    return TEXT_DELIMITERS.get(delimiter, repr(delimiter))
