"""Which delimiter a text table uses: the one given, else the format's default, else one sniffed from the head.

A ``.csv`` file is comma-separated and a ``.tsv`` file tab-separated unless its header says otherwise: when the
header is one column under the default delimiter, the header and the first few kB of rows are tried with each
of comma, semicolon, tab and pipe (spreadsheet programs in much of Europe write semicolons). The one delimiter
that splits the header into several columns, and every row looked at into as many, is used, and a
:class:`DelimiterWarning` says which. Several that fit, or one the rows disagree with, is an error naming them.
An explicit ``sep=`` (``--sep``) is used as it is. Only the head of the file is looked at, so a plain comma
CSV costs nothing more.

A first line ``sep=X`` (what Excel writes so that a file opens right in any locale: ``sep=,``, ``sep=;``,
``sep=`` and a tab) declares the delimiter: the line is skipped, X is used, and a DelimiterWarning says so
(line numbers in messages stay the file's own). An explicit ``sep=`` that disagrees with it wins, with a note.
"""

from __future__ import annotations

import csv
import re
import warnings
from pathlib import Path

from ..core.errors import DataError, DelimiterWarning
from .columns import speak
from .rawtable import _check_duplicate_names

TEXT_DELIMITERS = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}
#: how many bytes after the header line the rows are checked on when the delimiter is sniffed
SNIFF_BYTES = 8192
#: a spreadsheet's first line declaring the delimiter: ``sep=;`` (optionally quoted, ``sep=\\t`` spelled out)
_SEP_LINE = re.compile(r'^\ufeff?"?sep=(?P<sep>\\t|[^"\r\n])"?[ \r]*$', re.IGNORECASE)


def declared_delimiter(line: str) -> str | None:
    """The delimiter X a ``sep=X`` line declares, else None.

    Examples
    --------
    >>> declared_delimiter("sep=;"), declared_delimiter("sep=\\t"), declared_delimiter("N,D,loss")
    (';', '\\t', None)
    """
    match = _SEP_LINE.match(line)
    if match is None:
        return None
    return "\t" if match["sep"] == "\\t" else match["sep"]


def check_header(header_line: str, header_number: int, head: bytes, path: Path, sep: str | None,
                 default: str, hint_style: str, declared: str | None = None) -> tuple[str, str]:
    """The delimiter to parse with and how it was chosen ("given", "default", "sniffed" or "sep line").

    ``head`` holds the first bytes of the (UTF-8) text, header included, for the rows a sniff is checked on;
    ``declared`` is the delimiter of a ``sep=X`` first line (see :func:`declared_delimiter`), used unless
    ``sep`` is given. Duplicated names and a header no delimiter explains are errors naming line
    ``header_number``.
    """
    if sep is not None:
        delimiter, how = sep, "given"
    elif declared is not None:
        delimiter, how = declared, "sep line"
    else:
        delimiter, how = sniff_delimiter(header_line, header_number, head, path, default, hint_style), "default"
        how = "sniffed" if delimiter != default else how
    _check_duplicate_names(_split_header(header_line, delimiter), str(path), f"line {header_number}: ")
    return delimiter, how


def sniff_delimiter(header_line: str, header_number: int, head: bytes, path: Path, default: str,
                    hint_style: str = "python") -> str:
    """``default`` when it splits the header, else the one other delimiter the header and rows agree on.

    Examples
    --------
    >>> from pathlib import Path
    >>> sniff_delimiter("N;D;loss", 1, b"N;D;loss\\n1e8;2e9;3.1\\n", Path("runs.csv"), ",")
    ';'
    >>> sniff_delimiter("N,D,loss", 1, b"N,D,loss\\n1e8,2e9,3.1\\n", Path("runs.csv"), ",")
    ','
    """
    header = _split_header(header_line, default)
    if len(header) > 1:
        return default
    widths = {d: len(_split_header(header_line, d)) for d in TEXT_DELIMITERS if d != default}
    candidates = [d for d, width in widths.items() if width > 1]
    if not candidates:
        return default  # one column whatever the delimiter: the caller says which columns are missing
    rows = _rows_after_header(head, header_number)
    agreeing = [d for d in candidates if all(len(_split_header(row, d)) == widths[d] for row in rows)]
    if len(agreeing) == 1:
        return agreeing[0]
    named = " or ".join(TEXT_DELIMITERS[d] for d in (agreeing or candidates))
    options = " or ".join(speak(hint_style, f"sep={d!r}", f"--sep {d!r}") for d in (agreeing or candidates))
    why = "" if agreeing or len(candidates) > 1 else "; its rows do not split into as many columns"
    raise DataError(
        f"{path}: line {header_number}: the header {header[0]!r} is one column; the file looks {named}-separated, "
        f"not {_name(default)}-separated{why}. Pass {options} (or rename the file to match)."
    )


def announce(path: Path, delimiter: str, default: str, hint_style: str) -> None:
    """Warn (once per file) that the file was read with a sniffed delimiter."""
    option = speak(hint_style, "sep='...'", "--sep '...'")
    warnings.warn(
        f"{path}: the header is not {_name(default)}-separated; read the file as {_name(delimiter)}-separated "
        f"({delimiter!r}). Pass {option} to choose the delimiter",
        DelimiterWarning, stacklevel=5)


def announce_sep_line(path: Path, declared: str, used: str, hint_style: str) -> None:
    """Note (once per file) that a ``sep=X`` first line was read, and whether its delimiter was used."""
    if declared == used:
        text = (f"{path}: line 1 is a spreadsheet's 'sep={_shown(declared)}' line; read the file as "
                f"{_name(declared)}-separated ({declared!r}) and the header from the next line")
    else:
        option = speak(hint_style, f"sep={used!r}", f"--sep {used!r}")
        text = (f"{path}: line 1 declares 'sep={_shown(declared)}' ({_name(declared)}), but {option} was given "
                f"and is used; the sep= line is skipped")
    warnings.warn(text, DelimiterWarning, stacklevel=5)


def _shown(delimiter: str) -> str:
    return "\\t" if delimiter == "\t" else delimiter


def _rows_after_header(head: bytes, header_number: int) -> list[str]:
    """The non-blank complete lines in the first :data:`SNIFF_BYTES` after the header line."""
    lines = head.split(b"\n")
    body = b"\n".join(lines[header_number:])[:SNIFF_BYTES]
    complete = body.split(b"\n")
    if len(body) == SNIFF_BYTES or not head.endswith(b"\n"):
        complete = complete[:-1]  # the last line may be cut off
    return [line.decode("utf-8", errors="replace").rstrip("\r") for line in complete if line.strip()]


def _split_header(line: str, delimiter: str) -> list[str]:
    try:
        return [cell.strip() for cell in next(csv.reader([line], delimiter=delimiter))]
    except (csv.Error, StopIteration):
        return [line]


def _name(delimiter: str) -> str:
    return TEXT_DELIMITERS.get(delimiter, repr(delimiter))
