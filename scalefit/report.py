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
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from . import plots
from .errors import ExtrapolationWarning, ScalefitError
from .formatting import NOT_IDENTIFIED, as_float, num, percent
from .identify import identifiability
from .record import Requests, Results, build_record, new_meta, read_record, restore, write_record

FAR = 10.0  # an answer farther than this multiple beyond the data is listed among the problems
FIGURES = ("loss_vs_compute", "isoflop", "allocation", "residuals", "corner", "holdout")
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
           collected_warnings: list[str] | tuple[str, ...] = ()) -> Path:
    """Write report.html, report.md, fit.json and figures/ for ``fit`` (and its ``bootstrap``) into ``out``.

    ``targets`` are (N, D) pairs to predict, ``computes`` budgets (FLOPs) to allocate, ``plans`` dicts with
    ``target_loss`` or ``compute`` and ``inference_tokens``, ``hardware`` a dict for
    :class:`allocation.Hardware`, ``references`` {name: (N, D)} drawn on the allocation plot.
    ``collected_warnings`` are warnings a caller caught while loading and fitting (the command line passes
    them); the report lists them under "Problems found" with everything else.
    """
    out = Path(out)
    check_output_dir(out, force)
    check, skipped = None, None
    if holdout:
        from .holdout import holdout_check

        try:
            check = holdout_check(fit, n_boot=holdout_boot, seed=seed)
        except ScalefitError as exc:
            skipped = str(exc)
        except (ArithmeticError, ValueError, np.linalg.LinAlgError) as exc:  # a sub-fit the data cannot support
            skipped = f"the fit without the largest model sizes failed ({type(exc).__name__}: {exc})"
    requests = Requests(targets=tuple(targets), computes=tuple(computes), plans=tuple(plans), hardware=hardware,
                        references=dict(references or {}))
    meta = new_meta(command, collected_warnings=collected_warnings, holdout_skipped=skipped)
    record = build_record(Results(fit, bootstrap, check, requests, meta))
    return render_record(record, out, force=force)


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
    sections = [problems_section(results, record), _data_section(record), _form_section(fit), _optimizer_section(fit),
                _parameter_section(fit, boot), _derived_section(fit, boot, answers),
                _diagnostics_section(fit, boot), _extrapolation_section(answers),
                _plan_section(answers), _holdout_section(check, record.get("holdout_skipped")),
                _regime_section(fit)]
    images = _figures(results, figure_dir)
    captions = {
        "loss_vs_compute": "Runs coloured by model size, fitted iso-N curves, compute-optimal frontier L*(C) "
                           "with its bootstrap band, and requested targets.",
        "isoflop": "IsoFLOP slices: loss against N at fixed compute, with the optimum and its N_opt interval.",
        "allocation": "Compute-optimal N_opt(C) and D_opt(C) with bands.",
        "residuals": "Parity and log residuals by compute and model size.",
        "corner": "Bootstrap distributions and pairwise scatter of the parameters.",
        "holdout": "Held-out check: fit on the smaller runs, predict the largest with band and prediction interval.",
    }
    sections.append(Section("Figures", figures=[(name, captions[name]) for name in images]))
    sections.append(Section("Reproduce", paragraphs=[
        "Every number above is in fit.json (schema " + record["schema"] + ") at full precision, with the input "
        "table and the bootstrap replicates. Re-render this report without refitting: "
        "`scalefit report fit.json`. Refit: `" + " ".join(record.get("command") or ["scalefit", "fit", "..."]) + "`."]))
    return sections, images


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


def _parameter_section(fit, boot) -> Section:
    names = list(fit.law.param_names)
    lost = set(identifiability(fit, boot).parameters)

    def status(n: str) -> str:
        return NOT_IDENTIFIED if n in lost else "yes"

    if boot is None:
        rows = [[n, _f(fit.params[n], 8), "", "", "", status(n)] for n in names]
        note = "No bootstrap was run: parameters have no intervals."
    else:
        iv = boot.intervals()
        rows = [[n, _f(fit.params[n], 8), _f(iv[n]["se"], 4, NOT_IDENTIFIED), _f(iv[n]["lo"], 6), _f(iv[n]["hi"], 6),
                 status(n)] for n in names]
        note = (f"Intervals: {round(boot.level * 100)}% {boot.method} intervals from {len(boot.replicates)} "
                f"{boot.scheme}-bootstrap replicates (seed {boot.seed}; {boot.failed} failed and excluded; "
                f"{boot.global_checks['checked']} replicates re-solved by the global method, "
                f"{len(boot.global_checks['mismatches'])} mismatches).")
    if lost:
        whose = "their estimates and intervals describe" if len(lost) > 1 else "its estimate and interval describe"
        note += (f" The data do not identify {', '.join(n for n in names if n in lost)} (see Problems found): "
                 f"{whose} the optimizer, not the data.")
    return Section("Parameters", [note], [(["parameter", "estimate", "se", "lo", "hi", "identified"], rows)])


def _derived_section(fit, boot, answers) -> Section:
    header = ["quantity", "estimate", "se", "lo", "hi"]
    iv = boot.intervals() if boot is not None else {}
    rows = [[k, _f(v, 6)] + ([_f(iv[k]["se"], 4), _f(iv[k]["lo"], 6), _f(iv[k]["hi"], 6)] if k in iv else
                             ["", "", ""]) for k, v in fit.derived.items()]
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
            opt_rows.append([_f(r["C"], 4), cell("N_opt"), cell("D_opt"), cell("tokens_per_param"), cell("L_opt"),
                             _f(r["distance"], 3) + "x"])
        tables.append((["C (FLOPs)", "N_opt", "D_opt", "tokens/param", "L* (nats/token)", "C / largest run"],
                       opt_rows))
        paragraphs.append("Compute-optimal allocation at the requested budgets, with intervals in brackets.")
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


def _extrapolation_section(answers) -> Section:
    if not answers["predictions"]:
        return Section("Extrapolation", ["No targets were requested (use --target N=...,D=...)."])
    rows = []
    for r in answers["predictions"]:
        band = f"[{_f(r['lo'], 5)}, {_f(r['hi'], 5)}]" if "lo" in r else "n/a"
        flag = " (far)" if r["distance"] > 10 else ""
        rows.append([_f(r["N"], 4), _f(r["D"], 4), _f(r["C"], 4), _f(r["loss"], 6), band,
                     _f(r["N_ratio"], 3), _f(r["D_ratio"], 3), _f(r["C_ratio"], 3) + flag, r["regime"]])
    return Section("Extrapolation", [
        "Predicted loss at the requested (N, D), with the bootstrap interval of the law's prediction and how far each "
        "lies beyond the data (ratio to the largest N, D and compute fitted; '(far)' past 10x)."],
        [(["N", "D", "C (FLOPs)", "loss (nats/token)", "interval", "N ratio", "D ratio", "C ratio", "regime"], rows)])


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
             f"[{_f(r.lo, 5)}, {_f(r.hi, 5)}]", f"[{_f(r.pi_lo, 5)}, {_f(r.pi_hi, 5)}]", _f(r.distance, 3)]
            for r in t.itertuples()]
    paragraphs = [check.summary()]
    paragraphs += [f"Warning from the sub-fit without the largest model sizes: {w}" for w in check.warnings]
    return Section("Held-out check", paragraphs,
                   [(["group", "N", "D", "observed", "predicted", "band", "prediction interval", "distance"], rows)])


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


def _figures(results: Results, figure_dir: Path) -> dict[str, str]:
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
color:#444}code{background:#f5f5f5;padding:0 .2em}.meta{color:#555;font-size:.9em}"""

CHECK_SCRIPT = ("window.addEventListener('load',function(){var i=Array.prototype.slice.call(document.images);"
                "document.body.setAttribute('data-figures-loaded',i.filter(function(x){return x.complete&&"
                "x.naturalWidth>0;}).length);});")


def _inline(text: str) -> str:
    """Escape, then turn `code` spans into <code>."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def to_html(sections: list[Section], images: dict[str, str], record: dict[str, Any], rendered: str) -> str:
    fit = record["fit"]
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>scalefit report: {html.escape(fit['formula'])}</title>", f"<style>{CSS}</style>",
           f"<script>{CHECK_SCRIPT}</script></head><body>",
           f"<h1>Scaling-law fit: L(N, D) = {html.escape(fit['formula'])}</h1>",
           f"<p class=\"meta\">scalefit {html.escape(str(record.get('scalefit_version')))}; fitted "
           f"{html.escape(str(record.get('created')))}</p>", f'<p class="meta">{html.escape(rendered)}</p>']
    for s in sections:
        out.append(f"<h2>{html.escape(s.title)}</h2>")
        out += [f"<p>{_inline(p)}</p>" for p in s.paragraphs]
        for header, rows in s.tables:
            out.append("<table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header)
                       + "</tr></thead><tbody>")
            out += ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows]
            out.append("</tbody></table>")
        for name, caption in s.figures:
            out.append(f'<figure id="fig-{name}"><img alt="{html.escape(caption)}" '
                       f'src="data:image/png;base64,{images[name]}"><figcaption>{html.escape(caption)} '
                       f'(figures/{name}.png, figures/{name}.svg)</figcaption></figure>')
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def to_markdown(sections: list[Section], record: dict[str, Any], rendered: str) -> str:
    fit = record["fit"]
    out = [f"# Scaling-law fit: L(N, D) = {fit['formula']}", "",
           f"scalefit {record.get('scalefit_version')}; fitted {record.get('created')}", "", f"_{rendered}_", ""]
    for s in sections:
        out += [f"## {s.title}", ""]
        for p in s.paragraphs:
            out += [p, ""]
        for header, rows in s.tables:
            out.append("| " + " | ".join(header) + " |")
            out.append("|" + "|".join(["---"] * len(header)) + "|")
            out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
            out.append("")
        for name, caption in s.figures:
            out += [f"![{caption}](figures/{name}.png)", "", f"_{caption}_", ""]
    return "\n".join(out)
