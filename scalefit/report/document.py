"""The report as a list of sections and its figures, from a restored record."""

from __future__ import annotations

import base64
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from ..core.errors import ExtrapolationWarning
from ..plots import figures as plots
from .cells import Section, _distances, figure_caption
from .record import Results
from .sections_answers import (
    _backtest_section,
    _comparison_section,
    _extrapolation_section,
    _holdout_section,
    _plan_section,
    _regime_section,
)
from .sections_fit import (
    _data_section,
    _derived_section,
    _diagnostics_section,
    _form_section,
    _goodness_section,
    _optimizer_section,
    _parameter_section,
)
from .sections_influence import _influence_section
from .summary import problems_section, summary_lines


def document(results: Results, record: dict[str, Any], figure_dir: Path) -> tuple[list[Section], dict[str, str]]:
    """Sections of the report and the figures (name -> base64 PNG), written into ``figure_dir``."""
    fit, boot, check, _req = results.fit, results.bootstrap, results.holdout, results.requests
    answers = record["answers"]
    images = _figures(results, figure_dir, requested=_distances(answers))
    sections = [Section("Summary", summary_lines(results, record)), problems_section(results, record),
                _data_section(record), _form_section(fit), _optimizer_section(fit),
                _parameter_section(fit, boot, results.profile), _goodness_section(fit, record),
                _derived_section(fit, boot, answers), _diagnostics_section(fit, boot),
                _extrapolation_section(answers, boot is not None, results.backtest is not None),
                _backtest_section(results, record, images), _influence_section(results, images), _plan_section(answers),
                _holdout_section(check, record.get("holdout_skipped")), _regime_section(fit)]
    if results.comparison is not None:
        sections.insert(sections.index(next(x for x in sections if x.title == "Inference-aware plans")),
                        _comparison_section(results.comparison, images))
    placed = {name for sec in sections for name, _ in sec.figures}
    sections.append(Section("Figures", figures=[(name, figure_caption(name)) for name in images
                                                if name not in placed]))
    sections.append(Section("Reproduce", paragraphs=[
        "Every number above is in fit.json (schema " + record["schema"] + ") at full precision, with the input "
        "table and the bootstrap replicates. Re-render this report without refitting: "
        "`scalefit report fit.json`. Refit: `" + " ".join(record.get("command") or ["scalefit", "fit", "..."]) + "`."]))
    return sections, images


def _figures(results: Results, figure_dir: Path, requested: Sequence[float] = ()) -> dict[str, str]:
    fit, boot, check, req = results.fit, results.bootstrap, results.holdout, results.requests
    makers = {
        "loss_vs_compute": lambda: plots.loss_vs_compute(fit, boot, targets=list(req.targets)),
        "isoflop": lambda: plots.isoflop(fit, boot),
        "allocation": lambda: plots.allocation(fit, boot, references=req.references),
        "residuals": lambda: plots.residuals(fit),
        "corner": (lambda: plots.corner(boot)) if boot is not None else None,
        "holdout": (lambda: plots.holdout(check)) if check is not None else None,
    }
    if not fit.has_allocation:
        makers = {"residuals": makers["residuals"], "corner": makers["corner"]}
    if results.backtest is not None and len(results.backtest.table):
        from ..plots.backtest import backtest_figure

        makers["backtest"] = lambda: backtest_figure(results.backtest, requested=requested)
    if results.influence is not None and len(results.influence.groups):
        from ..plots.influence import influence_figure

        makers["influence"] = lambda: influence_figure(results.influence)
    if results.comparison is not None and len(results.comparison.table):
        makers["compare"] = lambda: results.comparison.plot()
    images = {}
    with warnings.catch_warnings(), plt.style.context("default"):
        warnings.simplefilter("ignore", ExtrapolationWarning)
        for name, make in makers.items():
            if make is None:
                continue
            fig = make()
            plots.save(fig, str(figure_dir / name))
            plt.close(fig)
            images[name] = base64.b64encode((figure_dir / f"{name}.png").read_bytes()).decode("ascii")
    return images
