"""A table as read, before any interpretation, and how a row position maps to what the user sees.

:class:`RawTable` is what every reader of :mod:`scalefit.data.readers` returns; :class:`RowNumbering` turns the
0-based position of a row into "line 17", "record 3" or "index 'run-a'". Also the header check shared by all
readers (a column name given twice).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..core.errors import DataError


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


def _check_duplicate_names(names: list[str], source: str, where: str) -> None:
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if name in seen and name != "":
            raise DataError(
                f"{source}: {where}column {name!r} appears twice in the header (columns {seen[name]} and "
                f"{position}); rename one so each column has one meaning"
            )
        seen.setdefault(name, position)


def _short(exc: Exception) -> str:
    return " ".join(str(exc).split())
