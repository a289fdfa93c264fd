"""fit.json: a versioned, machine-readable record from which every reported number can be recomputed.

:func:`build_record` turns results into a JSON-safe dict: the input table itself (with checksums and
provenance), the law, objective and optimizer settings and state, parameters at full precision, bootstrap
settings and the replicate matrix, the held-out check, and the requested predictions, allocations and
plans with their intervals. :func:`restore` rebuilds Fit, Bootstrap and HoldoutCheck objects from it
without refitting, which is how ``scalefit report fit.json`` re-renders a report byte for byte.

Floats are written with Python's shortest round-trip repr, so every number survives exactly.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core import conventions
from ..core.errors import ExtrapolationWarning, ScalefitError
from ..core.formatting import json_safe
from ..data.runs import RunTable
from ..extrapolation.holdout import HoldoutCheck
from ..fitting.fit import Fit
from ..fitting.goodness import goodness_of_fit
from ..fitting.identify import identifiability
from ..laws import allocation
from ..uncertainty.bootstrap import Bootstrap

SCHEMA = "scalefit.fit/1"
#: run-level facts kept beside the results: version, time, command line, warnings collected while loading and
#: fitting (the command line passes them on), and why the held-out check was skipped when it was
META_KEYS = ("scalefit_version", "created", "command", "collected_warnings", "holdout_skipped")
TABLE_COLUMNS = ("N", "D", "C", "loss", "group", "weight", "U", "step")


@dataclass(frozen=True)
class Requests:
    """What the user asked the report to answer: targets (N, D), computes C, plans, hardware."""

    targets: tuple[tuple[float, float], ...] = ()
    computes: tuple[float, ...] = ()
    plans: tuple[dict[str, float | None], ...] = ()
    hardware: dict[str, float | None] | None = None
    references: dict[str, tuple[float, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"targets": [list(t) for t in self.targets], "computes": list(self.computes),
                "plans": [dict(p) for p in self.plans], "hardware": self.hardware,
                "references": {k: list(v) for k, v in self.references.items()}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Requests:
        return cls(targets=tuple((float(n), float(dd)) for n, dd in d.get("targets", [])),
                   computes=tuple(float(c) for c in d.get("computes", [])),
                   plans=tuple(dict(p) for p in d.get("plans", [])), hardware=d.get("hardware"),
                   references={k: (float(v[0]), float(v[1])) for k, v in d.get("references", {}).items()})


@dataclass(frozen=True)
class Results:
    """Everything a report shows, as objects: the fit, its bootstrap, the held-out check, the requests."""

    fit: Fit
    bootstrap: Bootstrap | None
    holdout: HoldoutCheck | None
    requests: Requests
    meta: dict[str, Any]
    #: backtest of the fit (:class:`scalefit.backtest.Backtest`), the basis of the extrapolation interval
    backtest: Any = None
    #: model comparison of the fitted law against others (:class:`scalefit.compare.Comparison`)
    comparison: Any = None
    #: profile-likelihood intervals: {"sigmas", "intervals": {name: [[prob, value], ...]}, "seconds"} or
    #: {"skipped": reason}; None when not attempted
    profile: dict[str, Any] | None = None
    #: leave-one-out influence on the targets (:class:`scalefit.uncertainty.influence.Influence`)
    influence: Any = None


def table_sha256(runs: RunTable) -> str:
    """Checksum of the canonical table as fitted (columns in a fixed order, floats at full precision)."""
    cols = [c for c in TABLE_COLUMNS if c in runs.df]
    text = runs.df[cols].to_csv(index=False, float_format="%.17g")
    return hashlib.sha256(text.encode()).hexdigest()


def file_sha256(path: str | Path) -> str | None:
    p = Path(path)
    if not p.is_file():
        return None
    digest = hashlib.sha256()
    with p.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_record(results: Results) -> dict[str, Any]:
    """The fit.json content for ``results`` (JSON-safe)."""
    fit, boot, check, req = results.fit, results.bootstrap, results.holdout, results.requests
    runs = fit.runs
    cols = [c for c in TABLE_COLUMNS if c in runs.df]
    record = {
        "schema": SCHEMA,
        **results.meta,
        "data": {"source": runs.provenance["source"], "source_sha256": file_sha256(runs.provenance["source"]),
                 "table_sha256": table_sha256(runs), "rows": len(runs), "groups": runs.n_groups,
                 "provenance": runs.provenance, "rows_dropped_invalid": len(runs.dropped),
                 "rows_filtered": len(runs.filtered),
                 "table": {c: runs.df[c].tolist() for c in cols}},
        "fit": fit.to_dict(),
        "bootstrap": None if boot is None else boot.to_dict(),
        "holdout": None if check is None else {**check.to_dict(), "train_rows": check.train_rows.tolist(),
                                               "fit": check.fit.to_dict()},
        "requests": req.to_dict(),
        "backtest": None if results.backtest is None else results.backtest.to_dict(),
        "comparison": None if results.comparison is None else results.comparison.to_dict(),
        "profile": results.profile,
        "influence": None if results.influence is None else results.influence.to_dict(),
        "goodness": goodness_of_fit(fit),
        "answers": answers(results),
        "identifiability": identifiability(fit, boot).to_dict(),
    }
    return json_safe(record)


def answers(results: Results) -> dict[str, Any]:
    """Predictions, allocations and plans for the requests, with intervals when there is a bootstrap."""
    fit, boot, req, bt = results.fit, results.bootstrap, results.requests, results.backtest
    out: dict[str, Any] = {"predictions": [], "optimal": [], "plans": []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)  # distances are reported in the table instead
        out["predictions"] = [prediction_row(fit, boot, n, d, backtest=bt) for n, d in req.targets]
        if fit.has_allocation:
            out["optimal"] = [optimal_row(fit, boot, c, backtest=bt) for c in req.computes]
            hardware = allocation.Hardware(**req.hardware) if req.hardware else None
            for spec in req.plans:
                row = plan_row(fit, boot, spec.get("target_loss"), spec.get("compute"),
                               float(spec.get("inference_tokens") or 0.0), hardware)
                out["plans"].append({"request": spec, **row})
    return out


def prediction_row(fit: Fit, boot: Bootstrap | None, n: float, d: float,
                   threshold: float | None = allocation.EXTRAPOLATION_THRESHOLD, backtest=None) -> dict[str, Any]:
    """Loss at (N, D), its interval (with a bootstrap), extrapolation distances and regime: one table row.

    With a bootstrap, ``lo``/``hi`` are the law band; with a ``backtest`` too, the row adds the new-run
    interval (``newrun_lo/hi``), the extrapolation interval (``extrap_lo/hi``), ``n_backtest`` (the backtest
    points the extrapolation interval rests on) and ``supported`` (the target within the backtest's reach).
    """
    c = float(conventions.training_compute(n, d, fit.law.flops_per_token_param))
    row = {"N": n, "D": d, "C": c, "loss": float(fit.predict(n, d, threshold=threshold)),
           **{k: float(v) for k, v in fit.extrapolation(n, d).items()}, "regime": fit_regime(fit, n, d)}
    if boot is not None:
        band = boot.predict(n, d, threshold=None)
        row.update(lo=float(band["lo"]), hi=float(band["hi"]), se=float(band["se"]))
        if backtest is not None:
            row.update(_three(boot.predict_intervals(n, d, backtest=backtest)))
    return row


def _three(iv) -> dict[str, Any]:
    """The new-run and extrapolation columns of a one-point :class:`PredictionIntervals`."""
    return {"newrun_lo": float(iv.newrun_lo[0]), "newrun_hi": float(iv.newrun_hi[0]),
            "extrap_lo": float(iv.extrap_lo[0]), "extrap_hi": float(iv.extrap_hi[0]),
            "n_backtest": int(iv.n_backtest), "supported": bool(iv.supported[0])}


def optimal_row(fit: Fit, boot: Bootstrap | None, c: float, backtest=None) -> dict[str, Any]:
    """Compute-optimal allocation at C, distance to the largest run, and ``<key>_lo/_hi`` with a bootstrap.

    With a ``backtest`` too, the loss L* a new compute-optimal run reaches gets the new-run and extrapolation
    intervals as ``L_opt_newrun_lo/hi``, ``L_opt_extrap_lo/hi``, with ``n_backtest`` and ``supported``.
    """
    row = {"C": c, **{k: float(v) for k, v in fit.optimal(c).items()}, "distance": float(c / fit.data_maxima["C"])}
    if boot is not None:
        for key, band in boot.optimal(c).items():
            row[f"{key}_lo"], row[f"{key}_hi"] = float(band["lo"]), float(band["hi"])
        if backtest is not None:
            try:
                three = _three(optimal_loss_intervals(boot, c, backtest))
            except (ScalefitError, KeyError, ValueError, TypeError):  # an optimum the replicates cannot reach
                return row
            row.update({f"L_opt_{k}" if k.startswith(("newrun", "extrap")) else k: v for k, v in three.items()})
    return row


def optimal_loss_intervals(boot: Bootstrap, c: float, backtest):
    """The three intervals of the loss L* a new compute-optimal run at C reaches, for any law with an
    allocation (its own ``compute_optimal``): the law band and new-run interval from every replicate's own
    optimum, the extrapolation interval at the distance of the point estimate's (N_opt, D_opt)."""
    from ..uncertainty.noise import fit_noise
    from ..uncertainty.prediction import compute_span, three_intervals

    fit, law = boot.fit, boot.fit.law
    cc = np.atleast_1d(float(c))
    est = law.compute_optimal(fit.params, cc)
    reps = law.compute_optimal({k: boot.replicates[:, j, None] for j, k in enumerate(boot.names)}, cc)["L_opt"]
    reps = np.asarray(reps, dtype=float).reshape(len(boot.replicates), -1)
    band = boot.optimal(cc)["L_opt"]
    distance = fit.extrapolation(est["N_opt"], est["D_opt"])["distance"]
    return three_intervals("L_opt", est["N_opt"], est["D_opt"], est["L_opt"], band["lo"], band["hi"], np.log(reps),
                           distance, boot.level, fit_noise(fit), backtest.calibration_at(boot.level), compute=cc,
                           span=compute_span(fit))


def plan_row(fit: Fit, boot: Bootstrap | None, target_loss: float | None, compute: float | None,
             inference_tokens: float, hardware: allocation.Hardware | None) -> dict[str, Any]:
    """An inference-aware plan as a dict, with ``intervals`` and ``unreachable`` when there is a bootstrap."""
    kwargs = {"target_loss": target_loss, "compute": compute, "inference_tokens": inference_tokens,
              "hardware": hardware}
    if boot is None:
        return fit.plan(**kwargs).to_dict()
    result = boot.plan(**kwargs)
    return {**result["plan"].to_dict(), "intervals": result["intervals"], "unreachable": result["unreachable"]}


def fit_regime(fit: Fit, n: float, d: float) -> str:
    if not fit.has_allocation:
        return "n/a"
    return str(allocation.regime(fit.params, n, d)["regime"].iloc[0])


def write_record(record: dict[str, Any], path: str | Path) -> None:
    Path(path).write_text(json.dumps(record, indent=1, allow_nan=False) + "\n", encoding="utf-8")


def read_record(path: str | Path) -> dict[str, Any]:
    """Load and check a fit.json; ScalefitError when it is not one this version can read."""
    p = Path(path)
    try:
        record = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScalefitError(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScalefitError(f"{p}: not a readable fit.json ({exc})") from None
    if not isinstance(record, dict) or record.get("schema") != SCHEMA:
        found = record.get("schema") if isinstance(record, dict) else type(record).__name__
        raise ScalefitError(f"{p}: schema {found!r} is not {SCHEMA!r}; this file was not written by this "
                            "version of scalefit")
    return record


def restore(record: dict[str, Any]) -> Results:
    """Fit, Bootstrap and HoldoutCheck rebuilt from a record, exactly as they were (no refitting)."""
    data = record["data"]
    df = pd.DataFrame(data["table"])
    runs = RunTable(df, data["provenance"])
    fit = Fit.from_dict(record["fit"], runs)
    boot = None
    if record.get("bootstrap"):
        b = record["bootstrap"]
        jack = None if b.get("jackknife") is None else np.asarray(b["jackknife"], dtype=float)
        boot = Bootstrap(fit=fit, replicates=np.asarray(b["replicates"], dtype=float).reshape(-1, len(b["names"])),
                         scheme=b["scheme"], level=float(b["level"]), seed=b["seed"], n_requested=int(b["n_requested"]),
                         failed=int(b["failed"]), global_checks=b["global_checks"], jackknife=jack,
                         method=b["method"], warnings=tuple(b["warnings"]))
    check = None
    if record.get("holdout"):
        h = record["holdout"]
        mask = np.asarray(h["train_rows"], dtype=bool)
        small = Fit.from_dict(h["fit"], RunTable(df.loc[mask].reset_index(drop=True), data["provenance"]))
        check = HoldoutCheck(fit=small, bootstrap=None, table=pd.DataFrame(h["rows"]), train_rows=mask,
                             level=float(h["level"]), held_sizes=tuple(float(v) for v in h.get("held_sizes", [])),
                             warnings=tuple(h.get("warnings", [])), n_backtest=int(h.get("n_backtest", 0)))
    meta = {k: record[k] for k in META_KEYS if k in record}
    bt = None
    if record.get("backtest"):
        from ..extrapolation.backtest import Backtest

        bt = Backtest.from_dict(record["backtest"])
    comparison = None if not record.get("comparison") else comparison_from_dict(record["comparison"])
    infl = None
    if record.get("influence"):
        from ..uncertainty.influence import Influence

        infl = Influence.from_dict(record["influence"])
    return Results(fit=fit, bootstrap=boot, holdout=check, requests=Requests.from_dict(record["requests"]),
                   meta=meta, backtest=bt, comparison=comparison, profile=record.get("profile"), influence=infl)


def comparison_from_dict(d: dict[str, Any]):
    """A :class:`scalefit.compare.Comparison` from its ``to_dict`` (tables, objective, warnings; the fitted
    laws' parameters stay in the table's ``params`` column, the Fit objects are not rebuilt)."""
    from ..approaches.compare_laws import Comparison

    return Comparison(table=pd.DataFrame(d["table"]), extrapolation=pd.DataFrame(d["extrapolation"]), fits={},
                      objective=d["objective"], k_max=int(d["k_max"]), warnings=dict(d.get("warnings", {})))


def new_meta(command: list[str] | None = None, collected_warnings: list[str] | tuple[str, ...] = (),
             holdout_skipped: str | None = None) -> dict[str, Any]:
    from .. import __version__

    return {"scalefit_version": __version__, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": command, "collected_warnings": list(collected_warnings), "holdout_skipped": holdout_skipped}
