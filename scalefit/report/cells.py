"""Pieces every report section shares: the Section record, number cells, the "(far)" flag, figure captions
and the extrapolation distances of the requested answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.formatting import as_float, num
from ..laws import allocation
from ..plots import figures as plots

FAR = allocation.EXTRAPOLATION_THRESHOLD  # farther than this multiple beyond the data: "(far)" in every table


@dataclass
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[tuple[list[str], list[list[str]]]] = field(default_factory=list)
    figures: list[tuple[str, str]] = field(default_factory=list)  # (name, caption)


def far(distance: Any) -> str:
    """A distance beyond the data as "12.3x", with " (far)" past FAR: the one flag every table uses."""
    value = as_float(distance)
    if value is None:
        return "n/a"
    return f"{_f(value, 3)}x" + (" (far)" if value > FAR else "")


def _pair(lo: Any, hi: Any, digits: int = 5) -> str:
    a, b = as_float(lo), as_float(hi)
    if a is None or b is None or not (np.isfinite(a) and np.isfinite(b)):
        return "n/a"
    return f"[{_f(a, digits)}, {_f(b, digits)}]"


def _f(x: Any, digits: int = 6, nonfinite: str | None = None) -> str:
    return num(x, digits, nonfinite=nonfinite)


def figure_caption(name: str) -> str:
    """What a reader should look at in a figure: the first paragraph of its maker's docstring."""
    if name in plots.FIGURES:
        text = plots.FIGURES[name][1]
    elif name == "backtest":
        from ..plots.backtest import backtest_figure

        text = plots.caption(backtest_figure)
    elif name == "influence":
        from ..plots.influence import influence_figure

        text = plots.caption(influence_figure)
    elif name == "compare":
        from ..plots.comparison import comparison

        text = plots.caption(comparison)
    else:
        return name
    return text.split(" Returns the Figure")[0].split(" Returns a Figure")[0]


def _distances(answers: dict[str, Any]) -> list[float]:
    """Extrapolation distances of every requested prediction and compute-optimal answer."""
    values = [as_float(r.get("distance")) for r in (*answers["predictions"], *answers["optimal"])]
    return [v for v in values if v is not None]


def _largest_distance(answers: dict[str, Any]) -> float | None:
    values = _distances(answers)
    return max(values) if values else None


def _unsupported(bt, reach: float | None) -> bool:
    if bt is None or reach is None:
        return False
    return not bt.calibration.available or not bool(bt.calibration.supports(reach))
