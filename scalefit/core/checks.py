"""Validators for arguments at the boundary: every public function and command-line option checks its numbers
here, so a bad value ends in one :class:`~scalefit.core.errors.ArgumentError` naming the argument, the value and
the allowed range, and never reaches numpy (no RuntimeWarning, no internal error).

Each validator takes the value and the argument's name (``"compute"``, ``"level"``; empty when the caller, e.g.
the command line, prefixes its own name) and returns the checked value: a float or int for a scalar; an array
argument is checked elementwise and returned as given.

Examples
--------
>>> from scalefit.core import checks
>>> checks.positive_finite(1e24, "compute", "a compute budget", "FLOPs")
1e+24
>>> checks.positive_finite(0, "compute", "a compute budget", "FLOPs")
Traceback (most recent call last):
...
scalefit.core.errors.ArgumentError: compute: 0 is not allowed: a compute budget must be > 0 and finite (FLOPs)
>>> checks.count(-5, "n", 2, 10**7, "bootstrap replicates")
Traceback (most recent call last):
...
scalefit.core.errors.ArgumentError: n: -5 is not allowed: bootstrap replicates must be an integer in [2, 10000000]
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from .errors import ArgumentError

#: the largest seed accepted (numpy's SeedSequence takes any non-negative integer; this keeps them printable)
MAX_SEED = 2**63 - 1
#: replicate counts above this would run for days; refused instead of hanging
MAX_REPLICATES = 10**7
#: a law's input -> (what it is, its unit), for messages
INPUTS = {"N": ("a model size", "parameters"), "D": ("a token count", "tokens"), "C": ("a compute budget", "FLOPs"),
          "U": ("a unique-token count", "tokens")}
#: caps on command-line values, far beyond any training run: a larger value is refused instead of printing inf
#: or numpy's overflow warnings
MAX_COMPUTE = 1e40  # FLOPs
MAX_SIZE = 1e25  # parameters or tokens
MAX_LOSS = 1e3  # nats/token (a uniform guess over a 50k vocabulary is 10.8)
#: caps on API arguments: far higher, so that ranges a report extends past a command-line value (compute up to
#: 6 x MAX_SIZE**2 for a target point) and the allocations of a degenerate fit (N_opt = 2.8e45 when the data
#: term vanishes) stay inside, and still below where the laws' arithmetic overflows (C**2, 6 N D)
API_MAX_COMPUTE = 1e150
API_MAX_SIZE = 1e75
API_MAX_LOSS = 1e10
CAPS = {"N": API_MAX_SIZE, "D": API_MAX_SIZE, "U": API_MAX_SIZE, "C": API_MAX_COMPUTE}


def show(value: object) -> str:
    """A value as a user would type it: ``0``, ``-1``, ``nan``, ``inf``, ``1e+24``, ``'abc'``, ``[1e+20, -1]``."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return f"{float(value):g}"
    if isinstance(value, (list, tuple, np.ndarray)):
        flat = np.asarray(value, dtype=object).ravel().tolist()
        body = ", ".join(show(v) for v in flat[:6]) + (", ..." if len(flat) > 6 else "")
        return f"[{body}]"
    return repr(value)


def _numbers(value: object, name: str, what: str, rule: str, shown: str | None) -> np.ndarray:
    """``value`` as a float array (a scalar: shape ()); ArgumentError for booleans, text and other non-numbers."""
    if isinstance(value, (bool, np.bool_, str, bytes)) or value is None:
        raise ArgumentError(name, value, f"{what} must be a number {rule}", shown or show(value))
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ArgumentError(name, value, f"{what} must be a number {rule}", shown or show(value)) from None
    if np.asarray(value).dtype.kind == "b":
        raise ArgumentError(name, value, f"{what} must be a number {rule}", shown or show(value))
    return array


def real(value: Any, name: str, what: str = "the value", unit: str = "", *, lo: float | None = None,
         hi: float | None = None, lo_open: bool = True, hi_open: bool = True, cap: float | None = None,
         shown: str | None = None) -> Any:
    """A finite real number (or array of them, elementwise) in the interval from ``lo`` to ``hi`` (None: no
    bound; ``lo_open``/``hi_open``: whether the bound itself is excluded) and at most ``cap`` (a practical limit
    rather than a domain, said so: "> 0 and at most 1e+40"). Returns a float, or the array as given.
    """
    rule = _rule(lo, hi, lo_open, hi_open)
    if cap is not None:
        rule = rule.replace(" and finite", "") + f" and at most {cap:g}"
    rule += f" ({unit})" if unit else ""
    array = _numbers(value, name, what, rule, shown)
    if array.size == 0:
        return value
    bad = ~np.isfinite(array)
    if lo is not None:
        bad |= (array <= lo) if lo_open else (array < lo)
    if hi is not None:
        bad |= (array >= hi) if hi_open else (array > hi)
    if cap is not None:
        bad |= array > cap
    if bad.any():
        first = array.ravel()[np.argmax(bad.ravel())] if array.ndim else array.item()
        if shown is None:
            shown = show(value) if array.ndim == 0 else f"{show(float(first))} (in {show(value)})"
        raise ArgumentError(name, value, f"{what} must be {rule}", shown)
    return float(array) if array.ndim == 0 and not isinstance(value, np.ndarray) else value


def _rule(lo, hi, lo_open, hi_open) -> str:
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo:g} and finite"
    if hi is not None:
        return f"{'<' if hi_open else '<='} {hi:g} and finite"
    return "finite"


def positive_finite(value: Any, name: str, what: str = "the value", unit: str = "", shown: str | None = None,
                    cap: float | None = None) -> Any:
    """> 0 and finite (and at most ``cap``): budgets (FLOPs), sizes (parameters, tokens), target losses
    (nats/token), deltas."""
    return real(value, name, what, unit, lo=0.0, cap=cap, shown=shown)


def nonnegative_finite(value: Any, name: str, what: str = "the value", unit: str = "",
                       shown: str | None = None, cap: float | None = None) -> Any:
    """>= 0 and finite (and at most ``cap``): inference tokens, prices, minimum token counts."""
    return real(value, name, what, unit, lo=0.0, lo_open=False, cap=cap, shown=shown)


def level(value: Any, name: str = "level", what: str = "a confidence level", shown: str | None = None) -> float:
    """A probability strictly inside (0, 1): confidence levels of intervals."""
    return real(value, name, what, lo=0.0, hi=1.0, shown=shown)


def fraction(value: Any, name: str, what: str = "a fraction", shown: str | None = None) -> float:
    """A fraction in (0, 1]: model FLOPs utilisation, the fraction of a run kept."""
    return real(value, name, what, lo=0.0, hi=1.0, hi_open=False, shown=shown)


def count(value: Any, name: str, lo: int = 0, hi: int = MAX_REPLICATES, what: str = "the count",
          shown: str | None = None) -> int:
    """An integer in [lo, hi]; a float with no fractional part (``1000.0``) counts as that integer; booleans,
    fractions, text and lists do not."""
    rule = f"an integer in [{lo}, {hi}]"
    number = _integer(value)
    if number is None or not lo <= number <= hi:
        raise ArgumentError(name, value, f"{what} must be {rule}", shown or show(value))
    return number


def replicates(value: Any, name: str = "n", allow_zero: bool = False, shown: str | None = None) -> int:
    """A number of bootstrap replicates: an integer in [2, MAX_REPLICATES] (or 0 for none, when allowed)."""
    number = _integer(value)
    if allow_zero and number == 0:
        return 0
    rule = f"an integer, at least 2 and at most {MAX_REPLICATES}" + (" (or 0 for none)" if allow_zero else "")
    if number is None or not 2 <= number <= MAX_REPLICATES:
        raise ArgumentError(name, value, f"the number of bootstrap replicates must be {rule}", shown or show(value))
    return number


def resampling(n_boot: Any, level_: Any, seed_: Any) -> None:
    """The bootstrap arguments shared by the approaches: n_boot 0 (none) or >= 2, level in (0, 1), an integer
    seed (or None)."""
    replicates(n_boot, "n_boot", allow_zero=True)
    level(level_, "level")
    seed(seed_, "seed")


def seed(value: Any, name: str = "seed", allow_none: bool = True, shown: str | None = None) -> Any:
    """A random seed: an integer in [0, 2**63 - 1], or None (fresh entropy) when allowed; a numpy Generator or
    SeedSequence is passed through."""
    if value is None and allow_none:
        return None
    if isinstance(value, (np.random.Generator, np.random.SeedSequence)):
        return value
    number = _integer(value)
    if number is None or not 0 <= number <= MAX_SEED:
        raise ArgumentError(name, value, f"a seed must be an integer in [0, 2**63 - 1]"
                            f"{' or None' if allow_none else ''}", shown or show(value))
    return number


def _integer(value: Any) -> int | None:
    """``value`` as an int when it is one (an integral float included), else None."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and math.isfinite(float(value)) and float(value).is_integer():
        return int(value)
    return None


def compute(value: Any, name: str = "compute") -> Any:
    """Compute budgets in FLOPs: > 0 and at most API_MAX_COMPUTE (elementwise)."""
    return positive_finite(value, name, "a compute budget", "FLOPs", cap=API_MAX_COMPUTE)


def loss(value: Any, name: str = "target_loss") -> Any:
    """Target losses in nats/token: > 0 and at most API_MAX_LOSS (elementwise)."""
    return positive_finite(value, name, "a target loss", "nats/token", cap=API_MAX_LOSS)


def law_inputs(values: Mapping[str, Any]) -> None:
    """Every input of a law (N, D, C, U, ...) > 0 and finite (N, D, U at most API_MAX_SIZE, C at most
    API_MAX_COMPUTE), elementwise, named by its key."""
    for key, value in values.items():
        what, unit = INPUTS.get(key, (f"the input {key}", ""))
        positive_finite(value, key, what, unit, cap=CAPS.get(key))
