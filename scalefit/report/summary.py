"""The text summary of a fit: the answer, how far to trust it, what to do next, and the problems found."""

from __future__ import annotations

from typing import Any

from ..core.formatting import as_float
from ..fitting.identify import identifiability
from .cells import FAR, Section, _f, _largest_distance, _pair, _unsupported, far
from .record import Results
from .sections_influence import influence_lines


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
    lines += influence_lines(results)
    lines.append("**What to do next.**")
    lines += [f"- {step}" for step in next_steps(results, record, reach)]
    return lines


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
    if check is not None and check.verdict == "FAILS":
        steps.append("The held-out check fails (the extrapolation interval missed the largest runs more often than "
                     "its level): compare other laws (--compare-law kaplan) and inspect the residuals "
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
        if check.verdict == "FAILS":
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
                                              _holdout_word(results.holdout))])
    lines = [f"{len(found)} problem{'s' if len(found) > 1 else ''} found; read these before any number below."]
    lines += [f"{i}. {topic.capitalize()}: {text}" for i, (topic, text) in enumerate(found, start=1)]
    return Section("Problems found", lines)


def _holdout_word(check) -> str:
    if check is None:
        return "was not run."
    return "passes." if check.verdict == "PASSES" else f"is {check.verdict.lower()} (see Held-out check)."
