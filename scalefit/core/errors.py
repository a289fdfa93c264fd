"""The small error and warning hierarchy every scalefit module raises from."""

from __future__ import annotations


class ScalefitError(Exception):
    """Base class of every error scalefit raises on purpose."""


class DataError(ScalefitError, ValueError):
    """Input data that cannot be used as given.

    The message names the source (file or DataFrame), the rows as the user sees them (line numbers in a
    text file, index labels in a DataFrame), the column and the offending value.
    """


class FitError(ScalefitError, RuntimeError):
    """A fit that could not be carried out at all (as opposed to one that finished with warnings)."""


class DatasetError(ScalefitError):
    """A registered dataset could not be fetched, found in a mirror, or verified against its checksum."""


class ScalefitWarning(UserWarning):
    """Something a user must see but may accept (dropped rows, few groups, parameter at a bound, ...)."""


class ConvergenceWarning(ScalefitWarning):
    """An optimizer stopped without meeting its convergence test."""


class OutlierWarning(ScalefitWarning):
    """Runs far outside the others' residual scale (see :mod:`scalefit.fitting.outliers`); never dropped."""


class ExtrapolationWarning(ScalefitWarning):
    """A prediction far beyond the range of the data it was fitted on."""


class TextEncodingWarning(ScalefitWarning):
    """A text file that is not UTF-8 and has no byte-order mark was read in an assumed encoding."""


class DelimiterWarning(ScalefitWarning):
    """A text table was read with a delimiter sniffed from its header, not the one its format implies."""


class DataCheckWarning(ScalefitWarning):
    """A load-time sanity check found values whose meaning looks wrong (units, perplexity, repeated data...).

    ``check`` names the check (see :mod:`scalefit.data.sanity`), ``column`` the canonical or source column.
    """

    def __init__(self, message: str, check: str = "", column: str = "") -> None:
        super().__init__(message)
        self.check = check
        self.column = column


class CheckpointWarning(ScalefitWarning):
    """Intermediate checkpoints of training curves are used as if they were finished runs."""


class ArgumentError(ScalefitError, ValueError):
    """An argument (API keyword or command-line option) outside its allowed domain.

    ``argument`` names it, ``value`` is what was given, ``rule`` says what is allowed ("must be > 0 and
    finite (FLOPs)"); ``detail`` is the message without the argument's name (the command line prefixes
    the option instead).
    """

    def __init__(self, argument: str, value: object, rule: str, shown: str | None = None) -> None:
        self.argument = argument
        self.value = value
        self.rule = rule
        self.shown = shown
        self.detail = f"{shown if shown is not None else repr(value)} is not allowed: {rule}"
        super().__init__(f"{argument}: {self.detail}" if argument else self.detail)


    def __reduce__(self):  # picklable across worker processes despite the keyword-rich constructor
        return type(self), (self.argument, self.value, self.rule, self.shown)
