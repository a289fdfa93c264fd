"""The RunTable class: validated runs in canonical columns, with their provenance and the rows left out.

:func:`scalefit.data.runs.load_runs` builds one; the ``row`` labels ("line 17") of a loaded table are written
only when ``RunTable.df`` is first read (:class:`Unlabelled`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .rawtable import RawTable, RowNumbering


@dataclass(frozen=True)
class Unlabelled:
    """A canonical table still without its ``row`` column, and what writing that column needs.

    ``frame`` (n rows), ``positions`` (integers, shape (n,); an array or a pandas Index, often a RangeIndex that
    costs nothing to keep): each row's 0-based position in the source as read,
    ``numbering``: how a position becomes a label ("line 17"). Formatting a label per row costs about as much
    as parsing the file, and nothing but a person reading the table needs it, so it is written on first read.
    """

    frame: pd.DataFrame
    positions: np.ndarray | pd.Index
    numbering: RowNumbering

    def labelled(self) -> pd.DataFrame:
        """The frame with ``row`` as its first column."""
        frame = self.frame.copy(deep=False)
        frame.insert(0, "row", self.numbering.labels(np.asarray(self.positions)))
        return frame

    def take(self, mask: np.ndarray) -> Unlabelled:
        """The rows where ``mask`` (bool, shape (n,)) is True, renumbered from 0."""
        return Unlabelled(self.frame.loc[mask].reset_index(drop=True), self.positions[mask], self.numbering)



class _LabelledOnRead:
    """The ``df`` field of :class:`RunTable`: stores a DataFrame or an :class:`Unlabelled` table, and turns
    the latter into the DataFrame (with its ``row`` column) the first time ``df`` is read."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.store = f"_{name}"

    def __get__(self, table: RunTable | None, owner: type | None = None) -> pd.DataFrame:
        if table is None:  # the dataclass asks the class for a default value: there is none
            raise AttributeError("RunTable.df has no default")
        stored = table.__dict__[self.store]
        if isinstance(stored, Unlabelled):
            stored = stored.labelled()
            table.__dict__[self.store] = stored
        return stored

    def __set__(self, table: RunTable, value: pd.DataFrame | Unlabelled) -> None:
        table.__dict__[self.store] = value



@dataclass(frozen=True, repr=False)
class RunTable:
    """Validated runs in canonical columns, with where they came from and what was left out.

    Attributes
    ----------
    df:
        One row per run (or checkpoint): ``row`` (where it is in the source: "line 17"), canonical columns,
        then the source's other columns. ``load_runs`` passes an :class:`Unlabelled` table, whose ``row``
        labels are formatted the first time ``df`` is read (the properties below never need them).
    provenance:
        ``source``, ``format``, ``encoding``, ``columns`` (canonical -> source name), ``derived`` (columns
        computed here and how), ``group`` (which column is the cluster and why), ``curves`` (checkpoint
        data: how curves were found and which checkpoints kept), ``filters`` (in the order applied, with
        rows removed by each), ``checks`` (load-time sanity checks that fired), ``n_convention``.
    dropped:
        Rows removed as invalid (only with ``on_invalid="drop"``): ``row``, ``column``, ``value``, ``reason``.
    filtered:
        Rows removed by filters: ``row``, ``filter`` and the row's canonical values.

    Examples
    --------
    >>> runs = scalefit.datasets.load("example_chinchilla")
    >>> runs  # doctest: +ELLIPSIS
    RunTable(153 runs, 36 groups, source='...example_chinchilla.csv', checks=0)
    >>> len(runs), runs.n_groups
    (153, 36)
    >>> print(f"N from {runs.N.min():.0e} to {runs.N.max():.0e} parameters")
    N from 3e+07 to 4e+09 parameters
    """

    df: pd.DataFrame = _LabelledOnRead()  # type: ignore[assignment]
    provenance: dict[str, Any]
    dropped: pd.DataFrame = field(default_factory=lambda: _problem_frame([]))
    filtered: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __len__(self) -> int:
        return len(self._frame)

    @property
    def _frame(self) -> pd.DataFrame:
        """The table's columns without forcing the ``row`` labels to be written (see :class:`Unlabelled`)."""
        stored = self.__dict__["_df"]
        return stored.frame if isinstance(stored, Unlabelled) else stored

    def __repr__(self) -> str:
        curves = f", {self.n_curves} curves" if self.is_curves else ""
        return (f"RunTable({len(self)} runs, {self.n_groups} groups{curves}, "
                f"source={self.provenance.get('source')!r}, checks={len(self.checks)})")

    @property
    def N(self) -> np.ndarray:
        """Parameters, shape (n,)."""
        return self._frame["N"].to_numpy(float)

    @property
    def D(self) -> np.ndarray:
        """Training tokens, shape (n,)."""
        return self._frame["D"].to_numpy(float)

    @property
    def C(self) -> np.ndarray:
        """Training compute in FLOPs, shape (n,)."""
        return self._frame["C"].to_numpy(float)

    @property
    def loss(self) -> np.ndarray:
        """Loss in nats per token, shape (n,)."""
        return self._frame["loss"].to_numpy(float)

    @property
    def U(self) -> np.ndarray | None:
        """Unique tokens, shape (n,), or None when the table has none."""
        return self._frame["U"].to_numpy(float) if "U" in self._frame else None

    @property
    def weights(self) -> np.ndarray | None:
        """Fit weights, shape (n,), or None when the table has none."""
        return self._frame["weight"].to_numpy(float) if "weight" in self._frame else None

    @property
    def groups(self) -> np.ndarray:
        """Group label of every row, shape (n,): what shares noise (see ``provenance['group']``)."""
        return self._frame["group"].to_numpy()

    @property
    def n_groups(self) -> int:
        return int(self._frame["group"].nunique())

    @property
    def curves(self) -> np.ndarray | None:
        """Curve (training run) id of every row, shape (n,), or None when the table has no curve ids."""
        return self._frame["curve"].to_numpy() if "curve" in self._frame else None

    @property
    def n_curves(self) -> int:
        if "curve" in self._frame:
            return int(self._frame["curve"].nunique())
        return int(self.provenance.get("curves", {}).get("count", 0)) if self.is_curves else 0

    @property
    def is_curves(self) -> bool:
        """True when the source held training curves (several checkpoints per run id)."""
        return bool(self.provenance.get("curves", {}).get("is_curves", False))

    @property
    def checks(self) -> list[dict[str, str]]:
        """Load-time sanity checks that fired: ``check``, ``column``, ``message`` (see scalefit.data.sanity)."""
        return list(self.provenance.get("checks", []))

    def summary(self) -> str:
        """A few lines: rows, groups, ranges of N, D, C and loss, what was derived, left out or flagged.

        N in parameters, D in tokens, C in FLOPs, loss in nats/token.

        Examples
        --------
        >>> runs = scalefit.datasets.load("example_chinchilla")
        >>> print(runs.summary().splitlines()[0])  # doctest: +ELLIPSIS
        153 runs in 36 groups from ...example_chinchilla.csv
        """
        from .units import format_quantity as fq

        df = self._frame
        lines = [f"{len(df)} runs in {self.n_groups} groups from {self.provenance['source']}"]
        for col, unit in (("N", "params"), ("D", "tokens"), ("C", "FLOPs")):
            lines.append(f"  {col:<5}{fq(df[col].min()):>9} .. {fq(df[col].max()):<9}{unit}")
        lines.append(f"  loss {df['loss'].min():9.4f} .. {df['loss'].max():<9.4f}nats/token")
        group = self.provenance.get("group")
        if group:
            lines.append(f"  groups (bootstrap clusters): {group['how']}")
        curves = self.provenance.get("curves") or {}
        if curves.get("is_curves"):
            lines.append(f"  curves: {curves['count']} training curves ({curves['how']}); "
                         f"checkpoints: {curves['checkpoints']}")
        for col, how in self.provenance["derived"].items():
            lines.append(f"  {col} derived: {how}")
        for step in self.provenance["filters"]:
            lines.append(f"  filter {step['filter']}={step['value']!r}: removed {step['removed']} rows")
        if len(self.dropped):
            lines.append(f"  {self.dropped['row'].nunique()} invalid rows dropped (see RunTable.dropped)")
        for check in self.checks:
            lines.append(f"  check {check['check']}: {check['message']}")
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """A copy of the canonical table.

        Examples
        --------
        >>> runs = scalefit.datasets.load("example_chinchilla")
        >>> frame = runs.to_frame()
        >>> [c for c in ("N", "D", "C", "loss", "group") if c in frame]
        ['N', 'D', 'C', 'loss', 'group']
        """
        return self.df.copy()

    def subset(self, mask: np.ndarray, reason: str) -> RunTable:
        """The runs where ``mask`` (n,) is True; the others are recorded in ``filtered`` under ``reason``.

        Examples
        --------
        >>> runs = scalefit.datasets.load("example_chinchilla")
        >>> small = runs.subset(runs.N < 1e9, "N below 1e9 parameters")
        >>> len(small) < len(runs), len(small.filtered) == len(runs) - len(small)
        (True, True)
        """
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (len(self),):
            raise ValueError(f"mask must have shape ({len(self)},), not {mask.shape}")
        stored = self.__dict__["_df"]
        if isinstance(stored, Unlabelled):  # keep the labels unwritten for the kept rows
            removed, kept = stored.take(~mask).labelled(), stored.take(mask)
        else:
            removed, kept = self.df.loc[~mask].copy(), self.df.loc[mask].reset_index(drop=True)
        removed.insert(0, "filter", reason)
        provenance = {**self.provenance, "filters": [*self.provenance["filters"],
                                                     {"filter": reason, "value": None, "removed": int((~mask).sum())}]}
        filtered = pd.concat([self.filtered, removed], ignore_index=True) if len(self.filtered) else removed
        return RunTable(kept, provenance, self.dropped, filtered)



def _problem_frame(problems: list[dict[str, Any]], raw: RawTable | None = None) -> pd.DataFrame:
    positions = np.array([p["position"] for p in problems], dtype=np.int64)
    labels = [str(label) for label in raw.row_labels(positions)] if raw else positions.tolist()
    rows = [{"row": label, "column": p["column"], "value": p["value"], "reason": p["reason"]}
            for label, p in zip(labels, problems, strict=True)]
    return pd.DataFrame(rows, columns=["row", "column", "value", "reason"])
