"""Report sections about the answers and how far they hold: extrapolation, backtest, which law, plans,
held-out check, regimes."""

from __future__ import annotations

from typing import Any

from ..core.formatting import num, percent
from .cells import FAR, Section, _f, _largest_distance, _pair, far, figure_caption
from .record import Results


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
    has_ex = "ex_lo" in t
    rows = []
    for r in t.to_dict("records"):
        row = [str(r["group"]), _f(r["N"], 4), _f(r["D"], 4), _f(r["loss"], 5), _f(r["predicted"], 5),
               _pair(r["lo"], r["hi"]), _pair(r["pi_lo"], r["pi_hi"])]
        if has_ex:
            row.append(_pair(r.get("ex_lo"), r.get("ex_hi")))
        rows.append([*row, far(r["distance"])])
    paragraphs = [check.summary()]
    paragraphs.append("The verdict judges the extrapolation interval of the sub-fit (calibrated by its own backtest), "
                      "the interval to bet on beyond the data. The law band and the new-run interval leave out the "
                      "law's error beyond the data by design: how many held-out runs they hold is information, not "
                      "a failure.")
    paragraphs += [f"Warning from the sub-fit without the largest model sizes: {w}" for w in check.warnings]
    header = ["group", "N", "D", "observed", "predicted", "law band", "new-run interval"]
    header += ["extrapolation interval"] if has_ex else []
    return Section("Held-out check", paragraphs, [([*header, "distance"], rows)])


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
