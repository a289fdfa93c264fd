"""Numbers as text for reports and the command line: never a format error, never a bare 'inf' or 'nan'.

Values read back from fit.json may be strings ("inf", "-inf", "nan": JSON has no non-finite floats),
None, numpy scalars or plain floats; every one of them prints as a number or as words.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

NOT_AVAILABLE = "n/a"
NOT_IDENTIFIED = "not identified"


def as_float(value: Any) -> float | None:
    """A float for numbers and their JSON spellings ("inf", "-inf", "nan"); None for anything else."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def num(value: Any, digits: int = 6, spec: str = "g", nonfinite: str | None = None) -> str:
    """``value`` with ``digits`` significant digits (``spec`` "g", "e" or "f" as in format()).

    None and NaN print as "n/a"; +-inf as "inf"/"-inf", or as ``nonfinite`` when given (e.g.
    "not identified" for a standard error or correlation that the data do not determine); a string that is
    not a number prints as itself.
    """
    x = as_float(value)
    if x is None:
        return NOT_AVAILABLE if value is None else str(value)
    if math.isnan(x):
        return nonfinite or NOT_AVAILABLE
    if math.isinf(x):
        return nonfinite or ("inf" if x > 0 else "-inf")
    return f"{x:.{digits}{spec}}"


def percent(value: Any, digits: int = 2) -> str:
    """A fraction as a percentage, e.g. 0.0123 -> "1.23%"; words for missing or non-finite values."""
    x = as_float(value)
    if x is None or not math.isfinite(x):
        return num(value)
    return f"{100 * x:.{digits}f}%"


def json_safe(value: Any) -> Any:
    """``value`` with numpy scalars and arrays turned into Python numbers and lists, and non-finite floats
    into their strings ("inf", "nan"), so ``json.dumps(..., allow_nan=False)`` accepts it."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return v if np.isfinite(v) else str(v)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return value


def from_json_safe(value: Any) -> Any:
    """The inverse of :func:`json_safe` for one scalar: "nan", "inf" and "-inf" back to floats, anything
    else unchanged."""
    return float(value) if isinstance(value, str) and value in ("nan", "inf", "-inf") else value
