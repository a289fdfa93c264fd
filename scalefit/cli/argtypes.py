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


def _number(text: str, what: str, rule: str, shown: str | None = None) -> float:
    """``text`` as a float via the unit parser; ArgumentError (naming the rule) when it is not a number."""
    try:
        return parse_quantity(text)
    except (UnitError, ValueError):
        raise ArgumentError("", text, f"{what} must be a number {rule}", shown or repr(text)) from None


def _integer_text(text: str) -> Any:
    """``"1000"`` -> 1000, ``"1e3"`` -> 1000.0 (an integral float, accepted as a count), else the text itself."""
    try:
        return int(text.strip())
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def _typed_text(text: str) -> str:
    """The value as typed in a message: a number as it is (``-5``), anything else quoted (``'many'``)."""
    return repr(text) if isinstance(_integer_text(text), str) else text.strip()


def positive(what: str, unit: str = "") -> Callable[[str], float]:
    """> 0 and finite, with magnitude suffixes: budgets (FLOPs), sizes, losses."""
    rule = f"> 0 and finite{f' ({unit})' if unit else ''}"
    return _typed(lambda text: checks.positive_finite(_number(text, what, rule), "", what, unit, shown=text.strip()),
                  "positive")


def nonnegative(what: str, unit: str = "") -> Callable[[str], float]:
    """>= 0 and finite, with magnitude suffixes: inference tokens, prices, minimum token counts."""
    rule = f">= 0 and finite{f' ({unit})' if unit else ''}"
    return _typed(lambda text: checks.nonnegative_finite(_number(text, what, rule), "", what, unit,
                                                         shown=text.strip()), "nonnegative")


def level(what: str = "a confidence level") -> Callable[[str], float]:
    """A probability in (0, 1)."""
    return _typed(lambda text: checks.level(_number(text, what, "in (0, 1)"), "", what, shown=text.strip()), "level")


def fraction(what: str) -> Callable[[str], float]:
    """A fraction in (0, 1]."""
    return _typed(lambda text: checks.fraction(_number(text, what, "in (0, 1]"), "", what, shown=text.strip()),
                  "fraction")


def count(what: str, lo: int, hi: int) -> Callable[[str], int]:
    """An integer in [lo, hi]."""
    return _typed(lambda text: checks.count(_integer_text(text), "", lo, hi, what, shown=_typed_text(text)), "count")


def replicates(allow_zero: bool = True) -> Callable[[str], int]:
    """Bootstrap replicates: 0 (none, when allowed) or an integer in [2, MAX_REPLICATES]."""
    return _typed(lambda text: checks.replicates(_integer_text(text), "", allow_zero, shown=_typed_text(text)),
                  "replicates")


def seed() -> Callable[[str], int]:
    """A random seed: an integer in [0, 2**63 - 1]."""
    return _typed(lambda text: checks.seed(_integer_text(text), "", allow_none=False, shown=_typed_text(text)), "seed")


def point(what: str = "a point") -> Callable[[str], tuple[float, float]]:
    """``N=70B,D=1.4T`` -> (7e10, 1.4e12), each > 0 and finite."""

    def parse(text: str) -> tuple[float, float]:
        parts = dict(item.partition("=")[::2] for item in text.split(","))
        if set(parts) != {"N", "D"}:
            raise ArgumentError("", text, f"{what} must look like N=70B,D=1.4T", repr(text))
        n_what, d_what = "the model size N", "the token count D"
        n_shown, d_shown = f"N={parts['N'].strip()}", f"D={parts['D'].strip()}"
        n = checks.positive_finite(_number(parts["N"], n_what, "> 0 and finite (parameters)", n_shown), "", n_what,
                                   "parameters", shown=n_shown)
        d = checks.positive_finite(_number(parts["D"], d_what, "> 0 and finite (tokens)", d_shown), "", d_what,
                                   "tokens", shown=d_shown)
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
    one = positive(what, unit)

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
