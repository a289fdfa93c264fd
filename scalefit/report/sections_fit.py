"""Report sections about the fit itself: data and filters, form, optimizer, parameters, goodness of fit,
derived quantities, diagnostics."""

from __future__ import annotations

import inspect
from typing import Any

from ..core.formatting import NOT_IDENTIFIED, SPREAD_NOTE, num, spread
from ..fitting.identify import identifiability
from .cells import FAR, Section, _f, _pair, far


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
