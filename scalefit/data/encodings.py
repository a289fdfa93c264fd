"""Which text encoding a file is in: a byte-order mark, else UTF-8, else Windows-1252 with a warning.

A byte-order mark decides (UTF-8, UTF-16, UTF-32); without one the bytes must be UTF-8, else the file is read as
Windows-1252 (Excel's "CSV" export on Western systems; Latin-1 where cp1252 leaves a byte undefined) with a
:class:`~scalefit.core.errors.TextEncodingWarning` that names the encoding assumed. ``encoding=`` overrides.
"""

from __future__ import annotations

import codecs
import warnings
from pathlib import Path

from ..core.errors import DataError, TextEncodingWarning
from .columns import speak

_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))

FALLBACK_ENCODING = "cp1252"



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
