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


#: What :func:`spread` means, in the words the report and the summaries print beside it
SPREAD_NOTE = ("Spread: for a quantity whose replicates are all positive, ×/÷ f with f = exp(sd of "
               "log(replicate)), the multiplicative scale of a right-skewed distribution (estimate ×/÷ f "
               "covers about 68% when log(value) is roughly normal); otherwise ± the sd of the replicates. "
               "Read the interval, not the spread, for the uncertainty.")


def spread(values: Any) -> str:
    """The scale of a bootstrap distribution that fits its shape, as text: "×/÷ f" (the factor
    f = exp(sd of log value), dimensionless) when every replicate is positive, else "± sd" (in the
    quantity's own unit). "not identified" when fewer than two replicates are finite.

    A plain standard error misleads on the right-skewed replicates of a coefficient such as A (an sd of
    2.5e4 beside an interval [197, 2459]); the multiplicative factor does not. The report's parameter table
    and :meth:`scalefit.Bootstrap.summary` both print this.

    Examples
    --------
    >>> spread([1.0, 2.0, 4.0])
    '×/÷ 2'
    >>> spread([-1.0, 0.0, 1.0])
    '± 1'
    >>> spread([float("nan"), 3.0])
    'not identified'
    """
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    if v.size < 2:
        return NOT_IDENTIFIED
    if np.all(v > 0):
        factor = float(np.exp(np.std(np.log(v), ddof=1)))
        return f"×/÷ {num(factor, 3, nonfinite=NOT_IDENTIFIED)}"
    return f"± {num(float(np.std(v, ddof=1)), 3, nonfinite=NOT_IDENTIFIED)}"


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
