"""The one screen `scalefit fit` prints (at most ``MAX_LINES`` lines): the answer with its three intervals, how
far to trust it, what to do next, the problems found and where the report is. ``--verbose`` prints the long
form (:func:`scalefit.cli.fit.print_results`); the report keeps everything."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ..fitting.identify import identifiability
from ..report.cells import _f, _largest_distance, _pair, far
from ..report.record import restore
from ..report.summary import next_steps, problems

MAX_LINES = 30
MAX_PROBLEMS = 3  # the most important problems shown, one line each
WIDTH = 200  # characters of one problem or step shown; the report has the full text


def _cut(text: str, width: int = WIDTH) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _three(row: dict[str, Any], pre: str = "") -> str:
    """"law band [a, b], new-run [c, d], extrapolation [e, f]" from a record row (``pre``: key prefix)."""
    band = (row.get("lo"), row.get("hi")) if not pre else (row.get(f"{pre}lo"), row.get(f"{pre}hi"))
    parts = []
    if band[0] is not None:
        parts.append(f"law band {_pair(*band)}")
    if f"{pre}newrun_lo" in row:
        parts.append(f"new-run {_pair(row[f'{pre}newrun_lo'], row[f'{pre}newrun_hi'])}")
        parts.append(f"extrapolation {_pair(row[f'{pre}extrap_lo'], row[f'{pre}extrap_hi'])}")
    return ", ".join(parts) if parts else "no intervals (no bootstrap)"


def _plan_loss(results, plan: dict[str, Any]) -> str:
    """The loss a run trained as planned reaches, with the three intervals (law band only without a backtest)."""
    boot = results.bootstrap
    if boot is None:
        return ""
    try:
        pi = boot.predict_intervals(plan["N"], plan["D"], backtest=results.backtest)
    except Exception:  # a plan the law cannot evaluate: the report has the plan itself
        return ""
    row = {"lo": float(pi.band_lo[0]), "hi": float(pi.band_hi[0])}
    if results.backtest is not None and np.isfinite(pi.extrap_lo[0]):
        row.update(newrun_lo=float(pi.newrun_lo[0]), newrun_hi=float(pi.newrun_hi[0]),
                   extrap_lo=float(pi.extrap_lo[0]), extrap_hi=float(pi.extrap_hi[0]))
    return f"; its loss {_f(float(pi.estimate[0]), 5)}: {_three(row)}"


def short_lines(record: dict[str, Any], report_path: str | None = None) -> list[str]:
    """The screen `scalefit fit` prints, as lines (no more than MAX_LINES)."""
    results = restore(record)
    fit, boot, bt, check = results.fit, results.bootstrap, results.backtest, results.holdout
    answers = record["answers"]
    pct = round(boot.level * 100) if boot is not None else None
    verdict = identifiability(fit, boot)
    head = [f"scalefit fit: L({', '.join(fit.inputs)}) = {fit.law.formula_text()} on {len(fit.runs)} runs "
            f"[{'identified' if verdict.identified else 'NOT identified'}]"]
    answer = [f"The answer (loss in nats/token; {pct}% intervals: law band, new-run, extrapolation):"
              if pct is not None else "The answer (loss in nats/token; no bootstrap: no intervals):"]
    for r in answers["predictions"]:
        answer.append(f"  loss at N = {_f(r['N'], 3)}, D = {_f(r['D'], 3)}: {_f(r['loss'], 5)}; {_three(r)}; "
                      f"{far(r['distance'])} beyond the data")
    for r in answers["optimal"]:
        answer.append(f"  compute-optimal at C = {_f(r['C'], 3)} FLOPs: N_opt = {_f(r['N_opt'], 4)}, D_opt = "
                      f"{_f(r['D_opt'], 4)}, L* = {_f(r['L_opt'], 5)}; {_three(r, 'L_opt_')}; {far(r['distance'])} "
                      "the largest run's compute")
    for p in answers["plans"]:
        goal = (f"target loss {_f(p['target_loss'], 5)}" if p.get("target_loss") is not None
                else f"compute {_f(p.get('training_flops'), 3)} FLOPs")
        answer.append(f"  plan for {goal}: N = {_f(p['N'], 4)}, D = {_f(p['D'], 4)}, total "
                      f"{_f(p['total_flops'], 4)} FLOPs{_plan_loss(results, p)}")
    if len(answer) == 1:
        answer.append("  fitted " + ", ".join(f"{k} = {_f(v, 4)}" for k, v in fit.params.items())
                      + "; no targets requested (--target, --compute, --target-loss)")
    trust = ["How far to trust it:", f"  identifiability: {verdict.status}"]
    reach = _largest_distance(answers)
    if bt is not None:
        trust.append(f"  backtest: {_cut(bt.verdict(reach).removeprefix('backtest: '), 400)}")
        rows = {r.interval: r for r in bt.coverage().itertuples() if int(r.n) > 0}  # no points: not graded, not shown
        ex = rows.pop("extrapolation interval", None)
        if ex is not None:
            info = "; ".join(f"{name} {int(r.inside)}/{int(r.n)}" for name, r in rows.items())
            trust.append(f"  backtest coverage: extrapolation interval {int(ex.inside)}/{int(ex.n)} ({ex.verdict})"
                         + (f"; information (excludes the law's error beyond the data): {info}" if info else ""))
    elif boot is not None:
        trust.append("  backtest: not run: nothing measures how wrong the law is beyond the data")
    if check is not None:
        trust.append(f"  held-out check: {check.verdict_line()}")
    elif record.get("holdout_skipped"):
        trust.append(f"  held-out check: skipped ({_cut(record['holdout_skipped'], 120)})")
    inf = results.influence
    if inf is not None:
        named = inf.summary_lines(k=2)
        top = inf.top(1)
        trust += [f"  influence: {_cut(x)}" for x in named] or [
            f"  influence: no group or run moves the answer by more than {inf.threshold:g} interval widths"
            + (f" (largest {top['label'].iloc[0]}: {top['max widths'].iloc[0]:.2f})" if len(top) else "")]
    steps = ["What to do next:"] + [f"  - {_cut(s)}" for s in next_steps(results, record, reach)[:3]]
    found = problems(results, record)
    probs = [f"Problems found: {len(found)}" + (" (the most important; all in the report):" if found else ".")]
    probs += [f"  {i}. {topic}: {_cut(text)}" for i, (topic, text) in enumerate(found[:MAX_PROBLEMS], start=1)]
    if len(found) > MAX_PROBLEMS:
        probs.append(f"  ... and {len(found) - MAX_PROBLEMS} more in the report")
    tail = [f"report: {report_path} (also report.md, fit.json, figures/; --verbose prints the long form)"] \
        if report_path else []
    lines = [*head, *answer, *trust, *steps, *probs, *tail]
    if len(lines) > MAX_LINES:  # many targets: keep the frame, shorten the answer list
        keep = MAX_LINES - (len(lines) - len(answer)) - 1
        answer = [*answer[:max(keep, 2)], f"  ... {len(answer) - max(keep, 2)} more answers in the report"]
        lines = [*head, *answer, *trust, *steps, *probs, *tail][:MAX_LINES]
    return [re.sub(r"\bnan\b", "n/a", line) for line in lines]
