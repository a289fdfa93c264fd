"""Fit reports: report.html (self-contained), report.md, fit.json and figures/ in one directory.

The content follows the reporting checklist of Li et al. 2025 ("(Mis)fitting: a survey of scaling laws"):
data and filters, functional form, objective and delta, optimizer and initialisation, parameter table with
intervals, derived quantities, diagnostics and warnings, extrapolation table with distances, held-out check.

A report is always rendered from a fit.json record (restored with :func:`record.restore`), never from
live objects, so ``scalefit report fit.json`` reproduces it byte for byte apart from the "rendered" line.
The directory is written under a temporary name and renamed into place at the end: an interrupted run
leaves no half-written report, and an existing directory is replaced only with ``force=True``.
"""

from __future__ import annotations

import base64
import html
import inspect
import os
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from ..core.errors import ExtrapolationWarning, ScalefitError
from ..core.formatting import NOT_IDENTIFIED, SPREAD_NOTE, as_float, num, percent, spread
from ..fitting.identify import identifiability
from ..laws import allocation
from ..plots import figures as plots
from .record import Requests, Results, build_record, new_meta, read_record, restore, write_record

FAR = allocation.EXTRAPOLATION_THRESHOLD  # farther than this multiple beyond the data: "(far)" in every table
FIGURES = ("loss_vs_compute", "isoflop", "allocation", "residuals", "corner", "holdout")
BACKTEST_BOOT = 0  # bootstrap replicates per backtest cut-off (0: calibration only, law band not graded)
PROFILE_SECONDS = 8.0  # profile-likelihood intervals taking more CPU seconds are skipped with the reason
RENDERED_PREFIX = "Rendered "


@dataclass
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[tuple[list[str], list[list[str]]]] = field(default_factory=list)
    figures: list[tuple[str, str]] = field(default_factory=list)  # (name, caption)


def report(fit, out: str | os.PathLike, bootstrap=None, targets=(), computes=(), plans=(), hardware=None,
           references=None, holdout: bool = True, holdout_boot: int = 200, seed: int | None = 0,
           force: bool = False, command: list[str] | None = None,
           collected_warnings: list[str] | tuple[str, ...] = (), backtest: bool = True,
           backtest_boot: int = BACKTEST_BOOT, compare_laws: Sequence[Any] = (), profile: bool = True) -> Path:
    """Write report.html, report.md, fit.json and figures/ for ``fit`` (and its ``bootstrap``) into ``out``.

    ``targets`` are (N, D) pairs to predict, ``computes`` budgets (FLOPs) to allocate, ``plans`` dicts with
    ``target_loss`` or ``compute`` and ``inference_tokens``, ``hardware`` a dict for
    :class:`allocation.Hardware`, ``references`` {name: (N, D)} drawn on the allocation plot.
    ``collected_warnings`` are warnings a caller caught while loading and fitting (the command line passes
    them); the report lists them under "Problems found" with everything else.
    ``backtest``: with a bootstrap, run :func:`scalefit.extrapolation.backtest.backtest` once
    (``backtest_boot`` replicates per cut-off; 0 calibrates the extrapolation interval only) for the new-run
    and extrapolation intervals.
    ``compare_laws``: other laws (names, import paths or Law objects) compared with the fitted one by
    :func:`scalefit.approaches.compare_laws.compare` in a "Which law" section.
    ``profile``: try profile-likelihood intervals (skipped with the reason when lmfit fails or takes longer
    than PROFILE_SECONDS).

    Targets are (N parameters, D tokens) pairs; computes are budgets in FLOPs; losses print in nats/token.

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> boot = fit.bootstrap(n=50, seed=0)
    >>> out = scalefit.report(fit, "report", bootstrap=boot, targets=[(7e9, 1.4e11)], computes=[1e22],
    ...                       holdout=False, backtest=False, profile=False)
    >>> sorted(p.name for p in out.iterdir())
    ['figures', 'fit.json', 'report.html', 'report.md']
    """
    out = Path(out)
    check_output_dir(out, force)
    check, skipped = None, None
    if holdout:
        from ..extrapolation.holdout import holdout_check

        try:
            check = holdout_check(fit, n_boot=holdout_boot, seed=seed)
        except ScalefitError as exc:
            skipped = str(exc)
        except (ArithmeticError, ValueError, np.linalg.LinAlgError) as exc:  # a sub-fit the data cannot support
            skipped = f"the fit without the largest model sizes failed ({type(exc).__name__}: {exc})"
    requests = Requests(targets=tuple(targets), computes=tuple(computes), plans=tuple(plans), hardware=hardware,
                        references=dict(references or {}))
    meta = new_meta(command, collected_warnings=collected_warnings, holdout_skipped=skipped)
    bt = run_backtest(fit, bootstrap, backtest_boot, seed) if (backtest and bootstrap is not None) else None
    comparison = run_comparison(fit, compare_laws) if compare_laws else None
    prof = profile_intervals(fit) if profile else None
    record = build_record(Results(fit, bootstrap, check, requests, meta, backtest=bt, comparison=comparison,
                                  profile=prof))
    return render_record(record, out, force=force)


def run_backtest(fit, boot, n_boot: int = BACKTEST_BOOT, seed: int | None = 0):
    """The backtest behind the extrapolation interval, at the bootstrap's level; None when it cannot run."""
    from ..extrapolation.backtest import backtest

    try:
        return backtest(fit, n_boot=n_boot, level=boot.level, seed=seed)
    except (ScalefitError, ArithmeticError, ValueError, np.linalg.LinAlgError):
        return None


def run_comparison(fit, laws: Sequence[Any]):
    """The fitted law compared with ``laws`` on the same runs and objective
    (:func:`scalefit.approaches.compare_laws.compare`)."""
    from ..approaches.compare_laws import compare

    delta = fit.objective.delta if fit.objective.kind == "huber" and not fit.delta_source.startswith(
        "automatic") else None
    kind = fit.objective.kind if fit.objective.kind in ("huber", "ls") else "huber"
    return compare(fit.runs, laws=[fit.law, *laws], objective=kind, delta=delta)


class _TooSlow(BaseException):
    """Raised by the CPU-time alarm; a BaseException so that no ``except Exception`` inside lmfit or scipy
    swallows it."""


def profile_intervals(fit, seconds: float | None = None) -> dict[str, Any]:
    """Profile-likelihood intervals (1 and 2 sigma) from :meth:`Fit.profile_intervals`, or the reason they
    were skipped: lmfit failed, or it took more than ``seconds`` of CPU time (PROFILE_SECONDS; enforced by a
    CPU-time alarm when running in the main thread, so a busy machine does not change the outcome)."""
    import signal
    import threading
    import time

    limit = PROFILE_SECONDS if seconds is None else seconds
    timed = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
    start = time.perf_counter()

    fired = []

    def stop(signum, frame):
        fired.append(True)
        raise _TooSlow

    old = signal.signal(signal.SIGPROF, stop) if timed else None
    try:
        if timed:
            signal.setitimer(signal.ITIMER_PROF, limit)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = fit.profile_intervals(sigmas=(1.0, 2.0))
    except _TooSlow:
        found = None
    except Exception as exc:
        found = exc
    finally:
        if timed:
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.signal(signal.SIGPROF, old)
    if fired:  # the alarm decides, whatever a library made of the exception it raised
        return {"skipped": f"lmfit's profile took more than {limit:g} CPU seconds (the bootstrap intervals stand "
                           "alone)"}
    if isinstance(found, Exception):
        return {"skipped": f"lmfit could not profile this fit ({type(found).__name__}: {one_line_text(found)})"}
    out = {}
    for name, pairs in found.items():
        values = [[float(p), float(v)] for p, v in pairs]
        if not all(np.isfinite(v) for pair in values for v in pair):
            return {"skipped": f"lmfit's profile of {name} did not close (a limit is not finite)"}
        out[name] = values
    return {"sigmas": [1.0, 2.0], "intervals": out, "seconds": round(time.perf_counter() - start, 3)}


def one_line_text(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:160] + ("..." if len(text) > 160 else "")


def check_output_dir(out: Path, force: bool) -> None:
    """Fail early (before any work) when ``out`` exists and is not empty without ``force``, or cannot be made."""
    if out.exists() and not out.is_dir():
        raise ScalefitError(f"{out}: exists and is not a directory")
    if out.exists() and any(out.iterdir()) and not force:
        raise ScalefitError(f"{out}: directory exists and is not empty; use --force to replace it")
    parent = out.resolve().parent
    if not parent.is_dir():
        raise ScalefitError(f"{out}: parent directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise ScalefitError(f"{out}: cannot write in {parent} (permission denied)")


def render_record(record: dict[str, Any], out: Path, force: bool = False) -> Path:
    """Render a record into ``out`` atomically: fit.json, report.html, report.md, figures/."""
    out = Path(out)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        (tmp / "figures").mkdir(parents=True)
        write_record(record, tmp / "fit.json")
        results = restore(read_record(tmp / "fit.json"))  # exactly what a later re-render will see
        sections, images = document(results, record, tmp / "figures")
        rendered = f"{RENDERED_PREFIX}{datetime.now(timezone.utc).isoformat(timespec='seconds')}"
        (tmp / "report.html").write_text(to_html(sections, images, record, rendered), encoding="utf-8")
        (tmp / "report.md").write_text(to_markdown(sections, record, rendered), encoding="utf-8")
        _swap_into_place(tmp, out, force)
    except OSError as exc:
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        raise ScalefitError(f"{out}: cannot write the report ({exc.strerror or exc}{where})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def rerender(fit_json: str | os.PathLike, out: str | os.PathLike | None = None, force: bool = False) -> Path:
    """Re-render the report of a fit.json without refitting, into ``out`` (default: beside the fit.json).

    Writing over an existing report, the one beside the fit.json included, needs ``force``.
    """
    path = Path(fit_json)
    record = read_record(path)
    target = path.parent if out is None else Path(out)
    if target.resolve() == path.parent.resolve() and not force:
        raise ScalefitError(f"{target}: re-rendering would replace the report beside {path.name}; use --force to "
                            "replace it, or --out DIR to write a new one")
    check_output_dir(target, force)
    return render_record(record, target, force=force)


def _swap_into_place(tmp: Path, out: Path, force: bool) -> None:
    if out.exists():
        if any(out.iterdir()) and not force:
            raise ScalefitError(f"{out}: directory exists and is not empty; use --force to replace it")
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out)


# -- content -------------------------------------------------------------------------------------------------
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
                _backtest_section(results, record, images), _plan_section(answers),
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


def figure_caption(name: str) -> str:
    """What a reader should look at in a figure: the first paragraph of its maker's docstring."""
    if name in plots.FIGURES:
        text = plots.FIGURES[name][1]
    elif name == "backtest":
        from ..plots.backtest import backtest_figure

        text = plots.caption(backtest_figure)
    elif name == "compare":
        from ..plots.comparison import comparison

        text = plots.caption(comparison)
    else:
        return name
    return text.split(" Returns the Figure")[0].split(" Returns a Figure")[0]


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


# -- summary ---------------------------------------------------------------------------------------------------
def summary_lines(results: Results, record: dict[str, Any]) -> list[str]:
    """The report's opening (and the end of ``scalefit fit``'s output): the answer, how far to trust it, and
    what to do next. One paragraph per line."""
    fit, boot, bt, check = results.fit, results.bootstrap, results.backtest, results.holdout
    answers = record["answers"]
    pct = round(boot.level * 100) if boot is not None else None
    lines = ["**The answer.**"]
    for r in answers["predictions"]:
        text = f"Loss at N = {_f(r['N'], 3)}, D = {_f(r['D'], 3)}: {_f(r['loss'], 5)} nats/token"
        if "lo" in r:
            text += f"; {pct}% law band {_pair(r['lo'], r['hi'])}"
        if "newrun_lo" in r:
            text += (f", new-run interval {_pair(r['newrun_lo'], r['newrun_hi'])}, extrapolation interval "
                     f"{_pair(r['extrap_lo'], r['extrap_hi'])} (resting on {r['n_backtest']} backtest points)")
        lines.append(text + f"; {far(r['distance'])} beyond the data.")
    for r in answers["optimal"]:
        def band(key, r=r):
            return f" {_pair(r[key + '_lo'], r[key + '_hi'], 4)}" if key + "_lo" in r else ""
        text = (f"Compute-optimal at C = {_f(r['C'], 3)} FLOPs: N_opt = {_f(r['N_opt'], 4)}{band('N_opt')}, "
                f"D_opt = {_f(r['D_opt'], 4)}{band('D_opt')} ({_f(r['tokens_per_param'], 3)} tokens/parameter), "
                f"L* = {_f(r['L_opt'], 5)}")
        if "L_opt_lo" in r:
            text += f", law band {_pair(r['L_opt_lo'], r['L_opt_hi'])}"
        if "L_opt_newrun_lo" in r:
            text += (f", new-run interval {_pair(r['L_opt_newrun_lo'], r['L_opt_newrun_hi'])}, extrapolation "
                     f"interval {_pair(r['L_opt_extrap_lo'], r['L_opt_extrap_hi'])} ({r['n_backtest']} backtest "
                     "points)")
        lines.append(text + f"; {far(r['distance'])} the largest run's compute.")
    if not answers["predictions"] and not answers["optimal"]:
        lines.append(f"Fitted L({', '.join(fit.inputs)}) = {fit.law.formula_text()} with "
                     + ", ".join(f"{k} = {_f(v, 4)}" for k, v in fit.params.items())
                     + ". No targets or budgets were requested (--target, --compute).")
    if boot is None:
        lines.append("No bootstrap was run: the answers have no intervals.")
    elif pct is not None:
        lines.append(f"All intervals are {pct}%: the law band is where the fitted curve lies; the new-run interval "
                     "where one new training run lands (adds run-to-run noise); the extrapolation interval adds "
                     "the law's own error beyond the data, measured by backtests on this sweep.")
    lines.append("**How far to trust it.**")
    verdict = identifiability(fit, boot)
    lines.append(f"Identifiability: {verdict.status}" + ("" if verdict.identified else
                 f" ({', '.join(verdict.parameters) or 'see Problems found'})") + ".")
    reach = _largest_distance(answers)
    if bt is not None:
        lines.append(f"Backtest: {bt.verdict(reach).removeprefix('backtest: ')}.")
    elif boot is not None:
        lines.append("Backtest: not run (--no-backtest): nothing measures how wrong the law is beyond the data.")
    if reach is not None:
        lines.append(f"Extrapolation distance: the farthest requested answer lies {far(reach)} beyond the data "
                     "(largest of its N, D and compute ratios to the largest fitted).")
    if check is not None:
        lines.append(f"Held-out check: {check.verdict_line()}.")
    lines.append("**What to do next.**")
    lines += [f"- {step}" for step in next_steps(results, record, reach)]
    return lines


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


def next_steps(results: Results, record: dict[str, Any], reach: float | None) -> list[str]:
    """Concrete next actions, most useful first, from what the fit, the backtest and the checks found."""
    fit, boot, bt, check = results.fit, results.bootstrap, results.backtest, results.holdout
    steps = []
    verdict = identifiability(fit, boot)
    if not verdict.identified:
        steps.append("Do not quote the unidentified parameters; add runs that vary the quantity they describe "
                     "(more model sizes and token counts, especially larger ones), or fix/tie them in the law.")
    if boot is None:
        steps.append("Rerun with --bootstrap 1000 for intervals on every answer.")
    if _unsupported(bt, reach):
        steps.append(f"Before betting compute on the {far(reach)} extrapolation, train a model closer to the target "
                     f"(the backtest reaches {_f(bt.calibration.max_distance, 3)}x); the extrapolation interval "
                     "there extrapolates the error model itself.")
    elif reach is not None and reach > FAR:
        steps.append(f"The answers lie {far(reach)} beyond the data: quote the extrapolation interval, not the law "
                     "band.")
    if check is not None and check.verdict != "PASSES":
        steps.append("The held-out check fails: compare other laws (--compare-law kaplan) and inspect the residuals "
                     "per model size for a trend the form misses.")
    if results.comparison is not None and len(results.comparison.table):
        t = results.comparison.table
        if "llo_mean" in t and t["llo_mean"].notna().any():
            best = str(t.loc[t["llo_mean"].idxmin(), "law"])
            if best != str(t["law"].iloc[0]):
                steps.append(f"The law `{best}` extrapolated better in leave-largest-out than the fitted law: see "
                             "Which law.")
    if not steps:
        steps.append("Nothing blocks these answers: use them with the extrapolation interval; to reach further, "
                     "add runs at larger compute and refit.")
    return steps


def _f(x: Any, digits: int = 6, nonfinite: str | None = None) -> str:
    return num(x, digits, nonfinite=nonfinite)


# -- problems found ------------------------------------------------------------------------------------------
def problems(results: Results, record: dict[str, Any]) -> list[tuple[str, str]]:
    """Every problem a reader must know before trusting a number: (topic, sentence), most serious first.

    Identifiability, warnings of the fit and the bootstrap, load-time checks recorded by the loader
    (``provenance["checks"]``), warnings the caller collected while loading and fitting, the held-out verdict
    and its sub-fit's warnings, extrapolation distances of the requested answers, unreachable plan targets.
    """
    fit, boot, check = results.fit, results.bootstrap, results.holdout
    found: list[tuple[str, str]] = []
    seen: set[str] = set()

    def add(topic: str, text: str) -> None:
        key = " ".join(str(text).split())
        if key and key not in seen:
            seen.add(key)
            found.append((topic, key))

    verdict = identifiability(fit, boot)
    if not verdict.identified:
        lines = verdict.lines()
        add("identifiability", lines[0])
        for reason in lines[1:]:
            add("identifiability", reason)
    for w in fit.warnings:
        add("fit", w)
    for w in (boot.warnings if boot is not None else ()):
        add("bootstrap", w)
    for item in record["data"]["provenance"].get("checks", []) or []:
        add("data", item.get("message", str(item)) if isinstance(item, dict) else str(item))
    for w in record.get("collected_warnings") or []:
        add("warning", w)
    if check is not None:
        if check.verdict != "PASSES":
            add("held-out check", check.verdict_line())
        for w in check.warnings:
            add("held-out check", f"(sub-fit without the largest model sizes) {w}")
    elif record.get("holdout_skipped"):
        add("held-out check", f"skipped: {record['holdout_skipped']}")
    answers = record["answers"]
    reach = _largest_distance(answers)
    if _unsupported(results.backtest, reach):
        add("backtest", results.backtest.verdict(reach).removeprefix("backtest: "))
    for r in answers["predictions"]:
        dist = as_float(r.get("distance"))
        if dist is not None and dist > FAR:
            add("extrapolation", f"the target N = {_f(r['N'], 3)}, D = {_f(r['D'], 3)} lies {_f(dist, 3)}x beyond the "
                                 "largest N, D or compute in the data: its prediction is an extrapolation")
    for r in answers["optimal"]:
        dist = as_float(r.get("distance"))
        if dist is not None and dist > FAR:
            add("extrapolation", f"the budget C = {_f(r['C'], 3)} FLOPs is {_f(dist, 3)}x the largest run's compute: "
                                 "its allocation is an extrapolation")
    for p in answers["plans"]:
        if p.get("unreachable"):
            add("plans", f"{p['unreachable']} bootstrap replicates cannot reach the target loss "
                         f"{_f(p['target_loss'], 5)} (their E is above it): the plan's intervals leave them out")
    return found


def problems_section(results: Results, record: dict[str, Any]) -> Section:
    found = problems(results, record)
    if not found:
        return Section("Problems found", ["No problems found: the parameters are identified, no warnings were "
                                          "raised, and the held-out check " + (
                                              "passes." if results.holdout is not None else "was not run.")])
    lines = [f"{len(found)} problem{'s' if len(found) > 1 else ''} found; read these before any number below."]
    lines += [f"{i}. {topic.capitalize()}: {text}" for i, (topic, text) in enumerate(found, start=1)]
    return Section("Problems found", lines)


def _data_section(record: dict[str, Any]) -> Section:
    d = record["data"]
    prov = d["provenance"]
    table = d["table"]
    lines = [f"Source: `{d['source']}` ({d['rows']} runs in {d['groups']} groups). Table checksum (sha256 of the "
             f"canonical columns): `{d['table_sha256']}`"
             + (f"; source file sha256 `{d['source_sha256']}`." if d.get("source_sha256") else ".")]
    rows = []
    for col, unit in (("N", "parameters"), ("D", "tokens"), ("C", "FLOPs"), ("loss", "nats/token")):
        if col in table:
            rows.append([col, unit, _f(min(table[col]), 4), _f(max(table[col]), 4)])
    mapping = ", ".join(f"{k} <- {v}" for k, v in prov.get("columns", {}).items())
    if mapping:
        lines.append(f"Columns: {mapping}. N convention: {prov.get('n_convention', 'not stated')}.")
    for col, how in prov.get("derived", {}).items():
        lines.append(f"Derived column {col}: {how}.")
    filters = prov.get("filters", [])
    if filters:
        lines.append("Filters, in order: " + "; ".join(f"{f['filter']}={f['value']!r} removed {f['removed']} rows"
                                                     for f in filters) + ".")
    else:
        lines.append("No filters were applied.")
    lines.append(f"Invalid rows dropped: {d['rows_dropped_invalid']}. Rows removed by filters: {d['rows_filtered']}.")
    return Section("Data and filters", lines, [(["column", "unit", "min", "max"], rows)])


def _form_section(fit) -> Section:
    k = fit.law.flops_per_token_param
    units = {"N": "N in parameters", "D": "D in training tokens", "C": "C in FLOPs"}
    specs = "; ".join(f"{s.name}" + (f" [{s.unit}]" if s.unit else "")
                      + (f" fixed at {s.fixed:g}" if s.fixed is not None else f" = {s.tied}" if s.tied else "")
                      for s in fit.law.specs)
    return Section("Functional form", [
        f"L({', '.join(fit.inputs)}) = {fit.law.formula_text()} (law `{fit.law.name}`), "
        + ", ".join(units.get(x, x) for x in fit.inputs) + f", L in nats/token; training compute C = {k:g}ND FLOPs.",
        f"Parameters: {specs}."])


def _optimizer_section(fit) -> Section:
    d = fit.diagnostics
    return Section("Objective and optimizer", [
        f"Objective: {fit.objective.describe()} ({fit.delta_source}), summed over runs; value at the optimum "
        f"{num(fit.solution.value, 10)}.",
        f"Optimizer and initialisation: {fit.method}. Grid searched over exponents: "
        + ", ".join(f"{n} in [{num(lo, 4)}, {num(hi, 4)}]"
                    for n, (lo, hi) in zip(d.get("grid_names", fit.law.nonlinear_names), d["grid_range"],
                                           strict=False)) + ".",
        f"Converged: {d['converged']} ({d['message']}); max |gradient| {num(d['grad_norm'], 3)}; "
        f"{d['starts_at_optimum']} of {d['starts']} polished starts reached the same optimum.",
        f"Identification: {identifiability(fit).status} (judged from the starts, the condition number, vanishing "
        "terms and, in the Problems section, the bootstrap intervals)."])


def _profile_pair(pairs: list[list[float]], sigma_prob: float) -> str:
    """[lo, hi] at one lmfit sigma level from conf_interval's [(prob, value), ...] (lo first, then hi)."""
    values = [v for p_, v in pairs if abs(p_ - sigma_prob) < 1e-3]
    return _pair(values[0], values[-1], 5) if len(values) == 2 else "n/a"


def _parameter_section(fit, boot, profile: dict[str, Any] | None = None) -> Section:
    names = list(fit.law.param_names)
    lost = set(identifiability(fit, boot).parameters)
    prof = (profile or {}).get("intervals") or {}

    def status(n: str) -> str:
        return NOT_IDENTIFIED if n in lost else "yes"

    def prof_cells(n: str) -> list[str]:
        if not prof:
            return []
        pairs = prof.get(n)
        return ["fixed or tied"] if pairs is None else [_profile_pair(pairs, 0.6827), _profile_pair(pairs, 0.9545)]

    header = ["parameter", "estimate"]
    if boot is None:
        rows = [[n, _f(fit.params[n], 8), *prof_cells(n), status(n)] for n in names]
        note = "No bootstrap was run: parameters have no bootstrap intervals."
    else:
        iv = boot.intervals()
        pct = round(boot.level * 100)
        column = {name: boot.replicates[:, j] for j, name in enumerate(boot.names)}
        header += ["spread", f"{pct}% interval"]
        rows = [[n, _f(fit.params[n], 8), spread(column[n]) if n in column else "",
                 _pair(iv[n]["lo"], iv[n]["hi"], 6), *prof_cells(n), status(n)] for n in names]
        note = (f"Intervals: {pct}% {boot.method} intervals from {len(boot.replicates)} "
                f"{boot.scheme}-bootstrap replicates (seed {boot.seed}; {boot.failed} failed and excluded; "
                f"{boot.global_checks['checked']} replicates re-solved by the global method, "
                f"{len(boot.global_checks['mismatches'])} mismatches).")
    if prof:
        header += ["profile 68%", "profile 95%"]
    header.append("identified")
    if lost:
        whose = "their estimates and intervals describe" if len(lost) > 1 else "its estimate and interval describe"
        note += (f" The data do not identify {', '.join(n for n in names if n in lost)} (see Problems found): "
                 f"{whose} the optimizer, not the data.")
    notes = [note]
    if boot is not None:
        notes.append(SPREAD_NOTE)
    if prof:
        notes.append(f"Profile-likelihood intervals (lmfit.conf_interval at 1 and 2 sigma, {profile['seconds']:g} s) "
                     "are a cross-check: their F-test calibration assumes Gaussian log residuals, so where they "
                     "disagree with the bootstrap, trust the bootstrap.")
    elif profile and profile.get("skipped"):
        notes.append(f"Profile-likelihood intervals skipped: {profile['skipped']}.")
    return Section("Parameters", notes, [(header, rows)])


def _goodness_section(fit, record: dict[str, Any]) -> Section:
    from ..fitting.goodness import residuals_by_group

    g = record.get("goodness") or {}
    stats = [["runs n", str(g.get("n", ""))], ["free law parameters", str(g.get("n_params", ""))],
             ["degrees of freedom", str(g.get("dof", ""))],
             ["residual sd (log loss, ~relative error)", _f(g.get("residual_sd"), 4)],
             ["mean |log residual|", _f(g.get("mean_abs_residual"), 4)],
             ["max |log residual|", _f(g.get("max_abs_residual"), 4)],
             ["Huber pseudo-log-likelihood" if fit.objective.kind != "ls" else "log-likelihood",
              _f(g.get("loglik"), 6)], ["AIC", _f(g.get("aic"), 6)], ["BIC", _f(g.get("bic"), 6)]]
    groups = residuals_by_group(fit)
    rows = [[str(r.group), _f(r.N, 4), str(int(r.runs)), f"{r.bias:+.4f}", _f(r.mean_abs, 3), _f(r.max_abs, 3)]
            for r in groups.itertuples()]
    return Section("Goodness of fit", [
        "Log residuals r = log(predicted) - log(observed) of the fit. The likelihood reads the objective as the "
        "negative log-density of r with a fitted scale (see scalefit.fitting.goodness); compare AIC/BIC only between "
        "fits to the same runs with the same objective.",
        "Residuals per model size: a bias that trends with N is a shape the law does not capture "
        "(bias > 0: the law over-predicts that size's loss)."],
        [(["quantity", "value"], stats),
         (["group", "N", "runs", "bias (mean r)", "mean |r|", "max |r|"], rows)])


def _derived_section(fit, boot, answers) -> Section:
    header = ["quantity", "estimate", "interval"]
    iv = boot.intervals() if boot is not None else {}
    rows = [[k, _f(v, 6), _pair(iv[k]["lo"], iv[k]["hi"], 6) if k in iv else ""] for k, v in fit.derived.items()]
    tables = [(header, rows)]
    doc = inspect.getdoc(type(fit.law).derived) or ""
    parts = [" ".join(p.split()) for p in doc.split("Works elementwise")[0].split("\n\n") if p.strip()]
    paragraphs = [" ".join(parts)] if fit.derived and parts else \
        ([] if fit.derived else ["The law defines no derived quantities."])
    if answers["optimal"]:
        opt_rows = []
        for r in answers["optimal"]:
            def cell(key, r=r):
                band = f" [{_f(r[key + '_lo'], 4)}, {_f(r[key + '_hi'], 4)}]" if key + "_lo" in r else ""
                return _f(r[key], 4) + band
            three = [_pair(r.get("L_opt_newrun_lo"), r.get("L_opt_newrun_hi")),
                     _pair(r.get("L_opt_extrap_lo"), r.get("L_opt_extrap_hi")), str(r.get("n_backtest", "n/a"))] \
                if "L_opt_newrun_lo" in r else []
            opt_rows.append([_f(r["C"], 4), cell("N_opt"), cell("D_opt"), cell("tokens_per_param"), cell("L_opt"),
                             *three, far(r["distance"])])
        three_header = ["L* new-run interval", "L* extrapolation interval", "backtest points"] \
            if any("L_opt_newrun_lo" in r for r in answers["optimal"]) else []
        tables.append((["C (FLOPs)", "N_opt", "D_opt", "tokens/param", "L* (nats/token), law band", *three_header,
                        "C / largest run"], opt_rows))
        paragraphs.append("Compute-optimal allocation at the requested budgets, with law bands in brackets"
                          + ("; the loss a new compute-optimal run reaches also gets the new-run and extrapolation "
                             "intervals (N_opt and D_opt have a law band only: run noise does not move the optimum)"
                             if three_header else "") + f". '(far)' marks more than {FAR:g}x beyond the data.")
    return Section("Derived quantities and compute-optimal allocation", paragraphs, tables)


def _diagnostics_section(fit, boot) -> Section:
    d = fit.diagnostics
    lines = [f"Condition number of the Gauss-Newton Hessian: {num(d['condition_number'], 3)}. Parameters at a bound: "
             f"{', '.join(d['at_bounds']) or 'none'}. Negligible terms: {', '.join(d['negligible_terms']) or 'none'}."]
    warns = list(fit.warnings) + ([] if boot is None else list(boot.warnings))
    lines += [f"Warning: {w}" for w in warns] or ["No warnings."]
    names = list(d["correlations"])  # the free parameters (fixed and tied ones have none of their own)
    lost = set(identifiability(fit, boot).parameters)

    def corr_cell(a: str, b: str) -> str:
        if a != b and (a in lost or b in lost):
            return NOT_IDENTIFIED
        value = d["correlations"].get(a, {}).get(b)
        return num(value, 3, "f", nonfinite=NOT_IDENTIFIED)

    corr = [[n] + [corr_cell(n, m) for m in names] for n in names]
    return Section("Diagnostics and warnings", lines, [(["correlation", *names], corr)])


def _extrapolation_section(answers, has_boot: bool = True, has_backtest: bool = False) -> Section:
    if not answers["predictions"]:
        return Section("Extrapolation", ["No targets were requested (use --target N=...,D=...)."])
    three = any("newrun_lo" in r for r in answers["predictions"])
    rows = []
    for r in answers["predictions"]:
        row = [_f(r["N"], 4), _f(r["D"], 4), _f(r["C"], 4), _f(r["loss"], 6), _pair(r.get("lo"), r.get("hi"))]
        if three:
            row += [_pair(r.get("newrun_lo"), r.get("newrun_hi")), _pair(r.get("extrap_lo"), r.get("extrap_hi")),
                    str(r.get("n_backtest", "n/a"))]
        rows.append([*row, _f(r["N_ratio"], 3), _f(r["D_ratio"], 3), _f(r["C_ratio"], 3), far(r["distance"]),
                     r["regime"]])
    header = ["N", "D", "C (FLOPs)", "loss (nats/token)", "law band"]
    if three:
        header += ["new-run interval", "extrapolation interval", "backtest points"]
    header += ["N ratio", "D ratio", "C ratio", "distance", "regime"]
    text = ("Predicted loss at the requested (N, D) and how far each lies beyond the data (ratio to the largest N, "
            f"D and compute fitted; distance = the largest ratio, '(far)' past {FAR:g}x).")
    if three:
        text += (" Three intervals: the law band (where the fitted curve lies), the new-run interval (where one new "
                 "run lands: adds run-to-run noise) and the extrapolation interval (adds the law's error beyond the "
                 "data, calibrated on the backtest points counted beside it).")
    elif not has_boot:
        text += " No bootstrap was run: no intervals."
    elif not has_backtest:
        text += " The backtest was not run (--no-backtest): only the law band is shown."
    return Section("Extrapolation", [text], [(header, rows)])


def _backtest_section(results: Results, record: dict[str, Any], images: dict[str, str]) -> Section:
    bt = results.backtest
    if bt is None:
        why = "no bootstrap was run" if results.bootstrap is None else "it was skipped (--no-backtest) or failed"
        return Section("Backtest", [f"Not run: {why}. Without it nothing measures how wrong the law is beyond the "
                                    "data, and predictions have a law band only."])
    reach = _largest_distance(record["answers"])
    lines = [bt.verdict(reach)[0].upper() + bt.verdict(reach)[1:] + ".",
             f"Fit on the runs below each cut-off (by model size N and by compute C), predict the runs above; each "
             f"held-out run is one point. Extrapolation rule: {bt.calibration.describe()}.",
             "Coverage: the share of held-out points inside each interval of the sub-fit, with an exact binomial test "
             "against the nominal level (nested cut-offs share runs, so read p as a guide). The extrapolation "
             "interval of each point is cross-fitted: calibrated without that point's cut-off and run."]
    if bt.n_boot == 0:
        lines.append("The cut-off fits were not bootstrapped (to keep the report fast), so the law band is not "
                     "graded here; the new-run interval of a point is centred on its sub-fit's prediction.")
    lines += [f"Skipped: {x}" for x in bt.skipped]
    cov = bt.coverage()
    rows = [[r.interval, str(int(r.inside)), str(int(r.n)), num(r.coverage, 3, "f"), num(r.nominal, 2, "f"),
             num(r.p_value, 3), "not graded (cut-off fits not bootstrapped)" if (r.n == 0 and bt.n_boot == 0)
             else r.verdict] for r in cov.itertuples()]
    ok = bt.cutoffs[bt.cutoffs["status"].astype(str).str.startswith("ok")]
    cut_rows = [[str(r.kind), _f(r.cut, 4), str(int(r.n_train)), str(int(r.n_held)), str(r.status)]
                for r in bt.cutoffs.itertuples()]
    lines.append(f"{len(ok)} of {len(bt.cutoffs)} cut-offs fitted.")
    return Section("Backtest", lines,
                   [(["interval", "inside", "of", "share", "nominal", "p-value", "verdict"], rows),
                    (["cut by", "cut-off", "training runs", "held-out runs", "status"], cut_rows)],
                   [("backtest", figure_caption("backtest"))] if "backtest" in images else [])


def _comparison_section(comparison, images: dict[str, str]) -> Section:
    t = comparison.table
    ks = [int(c.split("_")[1]) for c in t.columns if c.startswith("llo_") and c.split("_")[1].isdigit()]
    rows = [[str(r["law"]), str(r["formula"]), str(int(r["free_params"])), num(r["objective"], 6),
             num(r["aic"], 5), num(r["delta_aic"], 3, "f"), num(r["bic"], 5)]
            + [num(r.get(f"llo_{k}"), 3) for k in ks] + [str(bool(r["converged"]))] for r in t.to_dict("records")]
    n_runs = t["runs"].iloc[0] if len(t) else 0
    lines = [f"The fitted law (first row) against the others, each fitted to the same {n_runs} "
             f"runs with the same objective ({comparison.objective}). AIC/BIC from the Huber pseudo-likelihood "
             "(lower is better; differences below ~2 do not discriminate). LLO k: leave-largest-out error, the mean "
             "|log predicted - log observed| on the k largest model sizes when fitted without them (lower "
             "extrapolates better)."]
    for label, messages in comparison.warnings.items():
        lines += [f"Warning ({label}): {m}" for m in messages]
    header = ["law", "form", "free", "objective", "AIC", "ΔAIC", "BIC", *[f"LLO k={k}" for k in ks], "converged"]
    return Section("Which law", lines, [(header, rows)],
                   [("compare", figure_caption("compare"))] if "compare" in images else [])


def _plan_section(answers) -> Section:
    if not answers["plans"]:
        return Section("Inference-aware plans", ["No plans were requested (use --target-loss or --plan-compute)."])
    rows = []
    for p in answers["plans"]:
        iv = p.get("intervals", {})

        def band(key, iv=iv):
            return f" [{_f(iv[key]['lo'], 3)}, {_f(iv[key]['hi'], 3)}]" if key in iv else ""
        rows.append([_f(p["target_loss"], 5), _f(p["inference_tokens"], 3), _f(p["N"], 4) + band("N"),
                     _f(p["D"], 4) + band("D"), _f(p["overtraining"], 3) + band("overtraining"),
                     _f(p["total_flops"], 4), percent(p["flops_saved_fraction"])])
    return Section("Inference-aware plans", [
        "Minimum lifetime FLOPs 6ND + 2N x inference tokens at the target loss (Sardana et al. 2023), against the "
        "Chinchilla-optimal model reaching the same loss; over-training = (D/N) / (D/N at the Chinchilla optimum)."],
        [(["target loss", "inference tokens", "N", "D", "over-training", "total FLOPs", "FLOPs saved"], rows)])


def _holdout_section(check, skipped: str | None = None) -> Section:
    if check is None:
        return Section("Held-out check", [f"Skipped: {skipped}." if skipped else "Not run (--no-holdout)."])
    t = check.table
    rows = [[str(r.group), _f(r.N, 4), _f(r.D, 4), _f(r.loss, 5), _f(r.predicted, 5),
             f"[{_f(r.lo, 5)}, {_f(r.hi, 5)}]", f"[{_f(r.pi_lo, 5)}, {_f(r.pi_hi, 5)}]", far(r.distance)]
            for r in t.itertuples()]
    paragraphs = [check.summary()]
    paragraphs += [f"Warning from the sub-fit without the largest model sizes: {w}" for w in check.warnings]
    return Section("Held-out check", paragraphs,
                   [(["group", "N", "D", "observed", "predicted", "law band", "new-run (prediction) interval",
                      "distance"], rows)])


def _regime_section(fit) -> Section:
    if not fit.has_allocation:
        return Section("Regimes of the runs", ["Not defined: the law has no compute-optimal allocation."])
    table = fit.regimes()
    counts = table.groupby(["regime", "rule_of_thumb_regime"]).size().reset_index(name="runs")
    rows = [[r.regime, r.rule_of_thumb_regime, str(r.runs)] for r in counts.itertuples()]
    return Section("Regimes of the runs", [
        "Each run against the fitted optimum at its own compute (tokens per parameter within 2x of optimal: near "
        "compute-optimal), beside the 20-tokens-per-parameter rule of thumb."],
        [(["fitted regime", "rule-of-thumb regime", "runs"], rows)])


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


# -- renderers -----------------------------------------------------------------------------------------------
CSS = """body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1000px;margin:2em auto;
padding:0 1em;color:#111;line-height:1.45}h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ccc;
padding-bottom:.2em;margin-top:1.6em}table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}th{background:#f2f2f2}td:first-child,
th:first-child{text-align:left}figure{margin:1em 0}figure img{max-width:100%;height:auto}figcaption{font-size:.9em;
color:#444}code{background:#f5f5f5;padding:0 .2em}.meta{color:#555;font-size:.9em}
h3{font-size:1.05em;margin:1em 0 .3em}"""

CHECK_SCRIPT = ("window.addEventListener('load',function(){var i=Array.prototype.slice.call(document.images);"
                "document.body.setAttribute('data-figures-loaded',i.filter(function(x){return x.complete&&"
                "x.naturalWidth>0;}).length);});")


def _inline(text: str) -> str:
    """Escape, then turn `code` spans into <code>."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _html_paragraphs(paragraphs: list[str]) -> list[str]:
    """Paragraphs as HTML: "**Title.**" alone becomes a sub-heading, runs of "- item" a list."""
    out, items = [], []
    for p in [*paragraphs, ""]:
        if p.startswith("- "):
            items.append(f"<li>{_inline(p[2:])}</li>")
            continue
        if items:
            out += ["<ul>", *items, "</ul>"]
            items = []
        if not p:
            continue
        if p.startswith("**") and p.endswith("**") and p.count("**") == 2:
            out.append(f"<h3>{_inline(p[2:-2])}</h3>")
        else:
            out.append(f"<p>{_inline(p)}</p>")
    return out


def to_html(sections: list[Section], images: dict[str, str], record: dict[str, Any], rendered: str) -> str:
    fit = record["fit"]
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>scalefit report: {html.escape(fit['formula'])}</title>", f"<style>{CSS}</style>",
           f"<script>{CHECK_SCRIPT}</script></head><body>",
           f"<h1>Scaling-law fit: L(N, D) = {html.escape(fit['formula'])}</h1>",
           f"<p class=\"meta\">scalefit {html.escape(str(record.get('scalefit_version')))}; fitted "
           f"{html.escape(str(record.get('created')))}</p>", f'<p class="meta">{html.escape(rendered)}</p>',
           *sections_html(sections, images), "</body></html>"]
    return "\n".join(out) + "\n"


def sections_html(sections: list[Section], images: dict[str, str]) -> list[str]:
    """HTML lines of the sections: heading, paragraphs, tables and figures (``images``: name -> base64 PNG of
    figures/name.png, which has an SVG twin)."""
    out = []
    for s in sections:
        out.append(f"<h2>{html.escape(s.title)}</h2>")
        out += _html_paragraphs(s.paragraphs)
        for header, rows in s.tables:
            out.append("<table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header)
                       + "</tr></thead><tbody>")
            out += ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows]
            out.append("</tbody></table>")
        for name, caption in s.figures:
            out.append(f'<figure id="fig-{name}"><img alt="{html.escape(caption)}" '
                       f'src="data:image/png;base64,{images[name]}"><figcaption>{html.escape(caption)} '
                       f'(figures/{name}.png, figures/{name}.svg)</figcaption></figure>')
    return out


def to_markdown(sections: list[Section], record: dict[str, Any], rendered: str) -> str:
    fit = record["fit"]
    out = [f"# Scaling-law fit: L(N, D) = {fit['formula']}", "",
           f"scalefit {record.get('scalefit_version')}; fitted {record.get('created')}", "", f"_{rendered}_", "",
           *sections_markdown(sections)]
    return "\n".join(out)


def sections_markdown(sections: list[Section]) -> list[str]:
    """Markdown lines of the sections: heading, paragraphs, tables and figures (figures/name.png)."""
    out = []
    for s in sections:
        out += [f"## {s.title}", ""]
        for p in s.paragraphs:
            out += [p, ""]
        for header, rows in s.tables:
            out.append("| " + " | ".join(h.replace("|", "\\|") for h in header) + " |")
            out.append("|" + "|".join(["---"] * len(header)) + "|")
            out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
            out.append("")
        for name, caption in s.figures:
            out += [f"![{caption}](figures/{name}.png)", "", f"_{caption}_", ""]
    return out
