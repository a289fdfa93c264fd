"""argparse ``type=`` factories: every numeric option is parsed (with the unit parser: "1e24", "70B", "1.4T")
and checked by :mod:`scalefit.core.checks` while the command line is read, before any file is loaded or fit run.

A bad value ends in one line and exit status 2, naming the option, the value as typed and the allowed range::

    scalefit: error: argument --compute: 0 is not allowed: a compute budget must be > 0 and finite (FLOPs) (usage:
    `scalefit fit --help`)
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ..core import checks
from ..core.errors import ArgumentError
from ..data.units import UnitError, parse_quantity


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line (exit 2), pointing at ``--help`` for the usage."""

    def error(self, message: str):  # type: ignore[override]
        # "scalefit: error: ..." like every other error of the command, so one pattern finds them all
        self.exit(2, f"scalefit: error: {' '.join(message.split())} (usage: `{self.prog} --help`)\n")


def _typed(check: Callable[[str], Any], name: str) -> Callable[[str], Any]:
    """``check`` as an argparse type: an ArgumentError becomes argparse's one-line usage error."""

    def convert(text: str) -> Any:
        try:
            return check(text)
        except ArgumentError as exc:
            raise argparse.ArgumentTypeError(exc.detail) from None

    convert.__name__ = name  # argparse names the type in some messages
    return convert


def _number(text: str) -> float | str:
    """``text`` as a float via the unit parser ("1e24", "70B"), else the text itself (which the checks refuse)."""
    try:
        return parse_quantity(text)
    except (UnitError, ValueError):
        return text


def _as_typed(text: str, parsed: Any) -> str:
    """The value as typed in a message: a number as it is (``-5``, ``1e400``), anything else quoted (``'abc'``)."""
    return repr(text.strip()) if isinstance(parsed, str) else text.strip()


def _integer_text(text: str) -> Any:
    """``"1000"`` -> 1000, ``"1e3"`` -> 1000.0 (an integral float, accepted as a count), else the text itself."""
    try:
        return int(text.strip())
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def positive(what: str, unit: str = "", cap: float | None = None) -> Callable[[str], float]:
    """> 0 and finite (and at most ``cap``), with magnitude suffixes: budgets (FLOPs), losses, throughputs."""
    return between(what, unit, lo=0.0, cap=cap)


def nonnegative(what: str, unit: str = "", cap: float | None = None) -> Callable[[str], float]:
    """>= 0 and finite (and at most ``cap``), with magnitude suffixes: inference tokens, prices, token counts."""
    return between(what, unit, lo=0.0, lo_open=False, cap=cap)


def size(what: str, unit: str) -> Callable[[str], float]:
    """A count of parameters or tokens: at least 1 and at most MAX_SIZE (a fraction of a parameter means nothing,
    and the laws' arithmetic over- or underflows far outside)."""
    return between(what, unit, lo=1.0, lo_open=False, cap=checks.MAX_SIZE)


def between(what: str, unit: str = "", **bounds: Any) -> Callable[[str], float]:
    """A number (magnitude suffixes allowed) within ``bounds`` (see :func:`scalefit.core.checks.real`)."""

    def parse(text: str) -> float:
        number = _number(text)
        return checks.real(number, "", what, unit, shown=_as_typed(text, number), **bounds)

    return _typed(parse, "number")


def level(what: str = "a confidence level") -> Callable[[str], float]:
    """A probability in (0, 1)."""
    return between(what, lo=0.0, hi=1.0)


def fraction(what: str) -> Callable[[str], float]:
    """A fraction in (0, 1]."""
    return between(what, lo=0.0, hi=1.0, hi_open=False)


def count(what: str, lo: int, hi: int) -> Callable[[str], int]:
    """An integer in [lo, hi]."""
    return _integral(lambda value, shown: checks.count(value, "", lo, hi, what, shown=shown), "count")


def replicates(allow_zero: bool = True) -> Callable[[str], int]:
    """Bootstrap replicates: 0 (none, when allowed) or an integer in [2, MAX_REPLICATES]."""
    return _integral(lambda value, shown: checks.replicates(value, "", allow_zero, shown=shown), "replicates")


def seed() -> Callable[[str], int]:
    """A random seed: an integer in [0, 2**63 - 1]."""
    return _integral(lambda value, shown: checks.seed(value, "", allow_none=False, shown=shown), "seed")


def _integral(check: Callable[[Any, str], int], name: str) -> Callable[[str], int]:
    """An argparse type for an integer option: the text as a number, then ``check(value, shown)``."""

    def parse(text: str) -> int:
        value = _integer_text(text)
        return check(value, _as_typed(text, value))

    return _typed(parse, name)


def point(what: str = "a point") -> Callable[[str], tuple[float, float]]:
    """``N=70B,D=1.4T`` -> (7e10, 1.4e12), each > 0 and finite."""

    def parse(text: str) -> tuple[float, float]:
        parts = dict(item.partition("=")[::2] for item in text.split(","))
        if set(parts) != {"N", "D"}:
            raise ArgumentError("", text, f"{what} must look like N=70B,D=1.4T", repr(text))
        bounds = dict(lo=1.0, lo_open=False, cap=checks.MAX_SIZE)
        n, d = _number(parts["N"]), _number(parts["D"])
        n = checks.real(n, "", "the model size N", "parameters", shown=f"N={_as_typed(parts['N'], n)}", **bounds)
        d = checks.real(d, "", "the token count D", "tokens", shown=f"D={_as_typed(parts['D'], d)}", **bounds)
        return n, d

    return _typed(parse, "point")


def reference() -> Callable[[str], tuple[str, tuple[float, float]]]:
    """``Chinchilla:N=70B,D=1.4T`` -> ("Chinchilla", (7e10, 1.4e12))."""
    parse_point = point("a reference model")

    def parse(text: str) -> tuple[str, tuple[float, float]]:
        name, sep, rest = text.partition(":")
        if not sep or not name.strip():
            raise argparse.ArgumentTypeError(f"{text!r} is not allowed: a reference model must look like "
                                             "NAME:N=70B,D=1.4T")
        return name, parse_point(rest)

    return parse


def budget_list(what: str = "a compute budget", unit: str = "FLOPs") -> Callable[[str], list[float]]:
    """``6e18,1e19,3e19`` -> [6e18, 1e19, 3e19], each > 0 and finite."""
    one = positive(what, unit, cap=checks.MAX_COMPUTE)

    def parse(text: str) -> list[float]:
        values = []
        for part in (p for p in text.split(",") if p.strip()):
            try:
                values.append(one(part))
            except argparse.ArgumentTypeError as exc:
                raise argparse.ArgumentTypeError(f"budget {exc}") from None
        if not values:
            raise argparse.ArgumentTypeError(f"{text!r} is not allowed: give one or more budgets, e.g. 6e18,1e19")
        return values

    return parse


#: how a delimiter may be typed in a shell
DELIMITER_NAMES = {"\\t": "\t", "tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}


def delimiter() -> Callable[[str], str]:
    """A text table's delimiter: one character, or ``\\t``/``tab``/``comma``/``semicolon``/``pipe``."""

    def parse(text: str) -> str:
        value = DELIMITER_NAMES.get(text, text)
        if len(value) != 1 or value in "\r\n\"":
            raise ArgumentError("", text, "a delimiter must be one character other than a quote or a line break, "
                                "e.g. ';', ',', '|' or '\\t'", repr(text))
        return value

    return _typed(parse, "delimiter")
