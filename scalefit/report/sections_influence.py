"""The report's "Which runs drive the extrapolation" section: leave-one-out influence on the targets."""

from __future__ import annotations

from typing import Any

from ..core.formatting import num
from .cells import Section, figure_caption
from .record import Results

TOP_GROUPS = 8
TOP_RUNS = 5


def _influence_section(results: Results, images: dict[str, str]) -> Section:
    title = "Which runs drive the extrapolation"
    inf = results.influence
    if inf is None:
        why = "no bootstrap was run" if results.bootstrap is None else "it was skipped (--no-influence) or failed"
        return Section(title, [f"Not computed: {why}."])
    lines = [inf.describe(),
             f"Each row: the fit refitted without that group or run; its shift in the judged quantities, in units of "
             f"their {inf.level:.0%} law band's width. A group past {inf.threshold:g} widths carries the answer on its "
             "own: check its runs. Nothing was dropped; to drop a run, exclude it in the input (--query or the "
             "loader's query=) and it is recorded in the provenance."]
    named = inf.summary_lines()
    lines += [f"Past the threshold: {x}." for x in named] or [
        f"No group or run moves a judged quantity by more than {inf.threshold:g} interval widths."]
    judged = list(inf.judged)
    head = ["left out", "runs", "lines", *[f"{q} shift (widths)" for q in judged], "refit"]
    return Section(title, lines, [(head, _rows(inf.top(TOP_GROUPS), judged)),
                                  (["run left out", *head[1:]], _rows(inf.top(TOP_RUNS, kind="runs"), judged))],
                   [("influence", figure_caption("influence"))] if "influence" in images else [])


def _rows(frame, judged: list[str]) -> list[list[str]]:
    rows = []
    for _, r in frame.iterrows():
        shifts = [("not identified" if not r["identified"] else
                   f"{num(r[f'shift {q}'], 3)} ({num(r[f'widths {q}'], 2, 'f')})") for q in judged]
        rows.append([str(r["label"]), str(int(r["runs"])), str(r["lines"]), *shifts, str(r["method"])])
    return rows


def influence_lines(results: Results) -> list[str]:
    """The summary's influence sentence(s): the units past the threshold, or the largest shift when none is."""
    inf = results.influence
    if inf is None:
        return []
    named = inf.summary_lines()
    if named:
        return [f"Influence: {x}." for x in named]
    top = inf.top(1)
    largest: Any = top["max widths"].iloc[0] if len(top) else float("nan")
    return [f"Influence: no single group or run moves {', '.join(inf.judged)} by more than {inf.threshold:g} "
            f"interval widths (largest: {top['label'].iloc[0] if len(top) else 'n/a'}, {num(largest, 2, 'f')})."]
