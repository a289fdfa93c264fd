"""Report sections for the results that are not a parametric Fit: Approach 2, the side-by-side comparison of
Approaches 1-3, and the staged data-constrained fit.

Each function takes the JSON-safe record of a result (``IsoFLOPResult.to_dict()``,
``ApproachComparison.to_dict()``, ``DataConstrainedFit.to_dict()``, i.e. the ``result`` entry of the files
`scalefit fit` writes: approach2.json, data_constrained_staged.json) and returns a
:class:`scalefit.report.Section`, so a report re-rendered from JSON shows the same thing. Renders only; never fits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.formatting import num
from .render import Section


def _band(lo: Any, hi: Any, digits: int = 4) -> str:
    if lo is None or hi is None:
        return "-"
    return f"[{num(lo, digits)}, {num(hi, digits)}]"


def approach2_section(record: Mapping[str, Any]) -> Section:
    """Approach 2 (IsoFLOP parabolas): exponents with intervals, one row per budget, and its diagnostics."""
    level = record.get("level", 0.95)
    exps, bands = record["exponents"], record["intervals"]
    paragraphs = [
        "Chinchilla Approach 2: a parabola in ln N through each IsoFLOP budget"
        + (f" (the {record['window']} points around the lowest measured loss)" if record.get("window") else "")
        + f"; power laws N* = k_N C^a and D* = k_D C^b through the vertices. {level:.0%} intervals from "
        f"{record.get('n_boot', 0)} bootstrap replicates that resample points within each budget.",
        f"a = {num(exps['a'], 4)} {_band(*bands['a'])}; b = {num(exps['b'], 4)} {_band(*bands['b'])}; "
        f"k_N = {num(exps['k_N'])}, k_D = {num(exps['k_D'])}.",
    ]
    sim = record.get("simulated")
    if sim:
        paragraphs.append(f"On the noise-free surface of the Approach-3 law at the same N values, this sampling "
                          f"gives a = {num(sim['a_sim'], 4)} instead of the law's {num(sim['a_true'], 4)} "
                          "(the parabola's own bias).")
    paragraphs += [f"Warning: {w}" for w in record.get("warnings", [])]
    rows = [[num(b["C"]), str(b["n_points"]), b["method"], num(b["N_opt"], 3), _band(b["N_opt_lo"], b["N_opt_hi"], 3),
             num(b["L_opt"], 4), num(b["span_decades"], 2), num(b["offset"], 2), b.get("flags") or ""]
            for b in record.get("budgets", [])]
    header = ["C (FLOPs)", "points", "method", "N*", "interval", "L*", "span (decades)", "offset", "flags"]
    return Section("Approach 2 (IsoFLOP parabolas)", paragraphs, [(header, rows)])


def comparison_section(record: Mapping[str, Any]) -> Section:
    """Approaches 1, 2, 3 side by side: a, b and N*(C) at each budget with intervals, and disagreements."""
    level = record.get("level", 0.95)
    approaches = list(dict.fromkeys(r["approach"] for r in record["rows"]))
    quantities = list(dict.fromkeys(r["quantity"] for r in record["rows"]))
    cell = {(r["approach"], r["quantity"]): r for r in record["rows"]}
    rows = []
    for q in quantities:
        line = [q]
        for a in approaches:
            r = cell.get((a, q))
            digits = 4 if q in ("a", "b") else 3
            line.append("-" if r is None else f"{num(r['estimate'], digits)} {_band(r['lo'], r['hi'], digits)}")
        rows.append(line)
    paragraphs = [f"The compute-optimal exponents and model sizes from each approach on the same runs "
                  f"({level:.0%} intervals)."]
    paragraphs += [f"{name}: not available: {why}" for name, why in record.get("unavailable", {}).items()]
    if record.get("disagreements"):
        paragraphs += [f"Warning: {d}" for d in record["disagreements"]]
    else:
        paragraphs.append("The approaches agree within their intervals.")
    return Section("Chinchilla approaches side by side", paragraphs, [(["quantity", *approaches], rows)])


def staged_section(record: Mapping[str, Any]) -> Section:
    """The data-constrained law fitted the paper's way: base constants, R_N*, R_D* with intervals."""
    level = record.get("level", 0.95)
    base = record["base"]
    paragraphs = [
        "Data-constrained law (Muennighoff et al. 2023): L = E + A/N'^alpha + B/D'^beta with effective data "
        "D' = U + U R_D* (1 - exp(-R_D/R_D*)) and effective parameters N' likewise. Fitted in stages as in the "
        f"paper: base constants fixed ({record['base_source']}), then R_N*, R_D* by Huber (delta 1e-3) on log "
        f"loss. {record['n_runs']} runs; {level:.0%} intervals from {record['n_replicates']} cluster-bootstrap "
        f"replicates over {record['n_clusters']} clusters ({record['cluster']}).",
        "Base: " + ", ".join(f"{k} = {num(v, 4)}" for k, v in base.items()) + ".",
    ]
    minima = record.get("local_minima") or []
    if len(minima) > 1:
        paragraphs.append("Local minima from the paper's start grid: " + "; ".join(
            f"R_N* = {num(m['R_N_star'], 3)}, R_D* = {num(m['R_D_star'], 3)} (objective {num(m['objective'], 6)})"
            for m in minima) + ".")
    paragraphs += [f"Warning: {w}" for w in record.get("warnings", [])]
    rows = [[name, num(record["stars"][name], 4), _band(*record["intervals"][name])]
            for name in ("R_N_star", "R_D_star")]
    if record.get("joint"):
        paragraphs.append("Joint 7-parameter fit: " + ", ".join(f"{k} = {num(v, 4)}"
                                                                for k, v in record["joint"].items()) + ".")
    return Section("Data-constrained law (staged fit)", paragraphs, [(["parameter", "estimate", "interval"], rows)])


def section_for(payload: Mapping[str, Any]) -> Section:
    """The section for a file `scalefit fit` writes beside (or instead of) fit.json, by its ``kind``."""
    kind = payload.get("kind")
    if kind == "approach2":
        return approach2_section(payload["result"])
    if kind == "data_constrained_staged":
        return staged_section(payload["result"])
    if kind == "approaches":
        return comparison_section(payload["result"])
    raise ValueError(f"no report section for a record of kind {kind!r}")
