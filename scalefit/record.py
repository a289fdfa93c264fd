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

from . import allocation, conventions
from .bootstrap import Bootstrap
from .errors import ExtrapolationWarning, ScalefitError
from .fit import Fit, _json_safe
from .holdout import HoldoutCheck
from .identify import identifiability
from .runs import RunTable

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
        "answers": answers(results),
        "identifiability": identifiability(fit, boot).to_dict(),
    }
    return _json_safe(record)


def answers(results: Results) -> dict[str, Any]:
    """Predictions, allocations and plans for the requests, with intervals when there is a bootstrap."""
    fit, boot, req = results.fit, results.bootstrap, results.requests
    out: dict[str, Any] = {"predictions": [], "optimal": [], "plans": []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)  # distances are reported in the table instead
        out["predictions"] = [prediction_row(fit, boot, n, d) for n, d in req.targets]
        if fit.has_allocation:
            out["optimal"] = [optimal_row(fit, boot, c) for c in req.computes]
            hardware = allocation.Hardware(**req.hardware) if req.hardware else None
            for spec in req.plans:
                row = plan_row(fit, boot, spec.get("target_loss"), spec.get("compute"),
                               float(spec.get("inference_tokens") or 0.0), hardware)
                out["plans"].append({"request": spec, **row})
    return out


def prediction_row(fit: Fit, boot: Bootstrap | None, n: float, d: float,
                   threshold: float | None = allocation.EXTRAPOLATION_THRESHOLD) -> dict[str, Any]:
    """Loss at (N, D), its interval (with a bootstrap), extrapolation distances and regime: one table row."""
    c = float(conventions.training_compute(n, d, fit.law.flops_per_token_param))
    row = {"N": n, "D": d, "C": c, "loss": float(fit.predict(n, d, threshold=threshold)),
           **{k: float(v) for k, v in fit.extrapolation(n, d).items()}, "regime": fit_regime(fit, n, d)}
    if boot is not None:
        band = boot.predict(n, d, threshold=None)
        row.update(lo=float(band["lo"]), hi=float(band["hi"]), se=float(band["se"]))
    return row


def optimal_row(fit: Fit, boot: Bootstrap | None, c: float) -> dict[str, Any]:
    """Compute-optimal allocation at C, distance to the largest run, and ``<key>_lo/_hi`` with a bootstrap."""
    row = {"C": c, **{k: float(v) for k, v in fit.optimal(c).items()}, "distance": float(c / fit.data_maxima["C"])}
    if boot is not None:
        for key, band in boot.optimal(c).items():
            row[f"{key}_lo"], row[f"{key}_hi"] = float(band["lo"]), float(band["hi"])
    return row


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
                             warnings=tuple(h.get("warnings", [])))
    meta = {k: record[k] for k in META_KEYS if k in record}
    return Results(fit=fit, bootstrap=boot, holdout=check, requests=Requests.from_dict(record["requests"]),
                   meta=meta)


def new_meta(command: list[str] | None = None, collected_warnings: list[str] | tuple[str, ...] = (),
             holdout_skipped: str | None = None) -> dict[str, Any]:
    from . import __version__

    return {"scalefit_version": __version__, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": command, "collected_warnings": list(collected_warnings), "holdout_skipped": holdout_skipped}
