"""Parse and format human-readable magnitudes: "70M", "1.4T", "6e23", "1,400,000".

Suffixes are powers of 1000 and case-insensitive, as used in model and dataset names:
K (1e3), M (1e6), B or G (1e9), T (1e12), P (1e15). A lowercase "m" means million ("125m" is the OPT
naming), never milli. Thousands separators are accepted only in groups of three digits.
"""

from __future__ import annotations

import math
import re

SUFFIXES: dict[str, float] = {"K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12, "P": 1e15}
_FORMAT_SUFFIXES: tuple[tuple[str, float], ...] = (("P", 1e15), ("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3))

_NUMBER = r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][+-]?\d+)?"
_QUANTITY = re.compile(rf"^\s*(?P<num>{_NUMBER})\s*(?P<suffix>[A-Za-z]?)\s*$")


class UnitError(ValueError):
    """A cell that is neither a number nor a number with a known magnitude suffix."""


def parse_quantity(value: object) -> float:
    """Return ``value`` as a float, accepting magnitude suffixes.

    Parameters
    ----------
    value:
        A number, or a string such as ``"70M"``, ``"1.4T"``, ``"6e23"``, ``"1,400,000"`` or ``"2.8 B"``.

    Raises
    ------
    UnitError
        For anything else (``"70 apples"``, ``"1.4X"``, ``"1,40,000"``, ``""``), with the reason.
    """
    if isinstance(value, bool):
        raise UnitError(f"{value!r} is a boolean, not a quantity")
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        try:
            return float(value)  # numpy scalars and the like
        except (TypeError, ValueError):
            raise UnitError(f"{value!r} is not a quantity") from None
    text = value.strip()
    if text.lower() in {"nan", "inf", "+inf", "-inf", "infinity", "-infinity"}:
        return float(text)
    match = _QUANTITY.match(text)
    if match is None or not any(ch.isdigit() for ch in match["num"]):
        raise UnitError(f"{value!r} is not a number with an optional K/M/B/T/P suffix")
    suffix = match["suffix"].upper()
    if suffix and suffix not in SUFFIXES:
        raise UnitError(f"{value!r} has an unknown magnitude suffix {match['suffix']!r} (known: K, M, B/G, T, P)")
    number = float(match["num"].replace(",", ""))
    return number * SUFFIXES[suffix] if suffix else number


def format_quantity(value: float, digits: int | None = 3) -> str:
    """Format ``value`` with the largest suffix that keeps the mantissa >= 1 ("70B", "1.4T").

    ``digits`` is the number of significant digits; ``None`` keeps full precision (the shortest text that
    parses back to the same mantissa), which is what round-trip tests use.
    """
    value = float(value)
    if not math.isfinite(value) or value == 0:
        return repr(value) if not math.isfinite(value) else "0"
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    suffix, scale = next(((s, f) for s, f in _FORMAT_SUFFIXES if magnitude >= f), ("", 1.0))
    mantissa = magnitude / scale
    text = repr(mantissa) if digits is None else f"{mantissa:.{digits}g}"
    if "e" in text:  # beyond the largest suffix: plain scientific notation is clearer
        return sign + (repr(magnitude) if digits is None else f"{magnitude:.{digits}g}")
    if text.endswith(".0"):
        text = text[:-2]
    return f"{sign}{text}{suffix}"
