"""Subcommands reading a fit.json: `report` (re-render), `predict`, `optimal`, `plan`."""

from __future__ import annotations

import argparse

from ..core.errors import ScalefitError
from ..core.formatting import num
from ..report.record import optimal_row, plan_row, prediction_row
from .common import _load, _print, print_intervals


def cmd_report(args: argparse.Namespace) -> int:
    from ..report.render import rerender

    written = rerender(args.fit_json, args.out, force=args.force)
    print(f"report: {written / 'report.html'}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    results = _load(args.fit_json)
    ns, ds = list(args.N), list(args.D)  # parsed and checked by their argparse types
    if len(ds) not in (1, len(ns)):
        raise ScalefitError(f"give one --D or one per --N ({len(ns)}), not {len(ds)}")
    ds = ds * len(ns) if len(ds) == 1 else ds
    rows = [prediction_row(results.fit, results.bootstrap, n, d, backtest=results.backtest)
            for n, d in zip(ns, ds, strict=True)]
    if not args.json and rows and "newrun_lo" in rows[0]:
        print_intervals(rows)
    else:
        _print(rows, args.json)
    return 0


def cmd_optimal(args: argparse.Namespace) -> int:
    from ..laws.allocation import EXTRAPOLATION_THRESHOLD, warn_if_far

    results = _load(args.fit_json)
    rows = [optimal_row(results.fit, results.bootstrap, v) for v in args.compute]
    for row in rows:  # the allocation's N, D and compute against the data's, as predict does
        far = results.fit.extrapolation(row["N_opt"], row["D_opt"])["distance"]
        warn_if_far(far, EXTRAPOLATION_THRESHOLD, what=f"the compute-optimal allocation at {row['C']:.3g} FLOPs")
    _print(rows, args.json)
    return 0


PLAN_KEYS = ("target_loss", "inference_tokens", "N", "D", "tokens_per_param", "training_flops",
             "inference_flops", "total_flops", "compute_optimal_N", "compute_optimal_D", "compute_optimal_total_flops",
             "overtraining", "flops_saved", "flops_saved_fraction")


def _print_plan(record: dict) -> None:
    tokens = record.get("inference_tokens") or 0.0
    keys = PLAN_KEYS if tokens else ("target_loss", "N", "D", "tokens_per_param", "training_flops")
    if not tokens:
        print("no inference tokens given (--inference-tokens): the plan equals the compute-optimal run "
              "reaching the target loss")
    for key in keys:
        band = record.get("intervals", {}).get(key)
        extra = f"   [{num(band['lo'], 4)}, {num(band['hi'], 4)}]" if band else ""
        print(f"{key:<24}{num(record.get(key)):>14}{extra}")
    if record.get("unreachable"):
        print(f"{'unreachable replicates':<24}{record['unreachable']:>14}   (their E is above the target loss)")
    if record.get("hours"):
        print(f"{'accelerator-hours':<24}" + ", ".join(f"{k} {num(v, 4)}" for k, v in record["hours"].items()
                                                       if v is not None))
    if record.get("cost") and record["cost"].get("total") is not None:
        print(f"{'cost':<24}" + ", ".join(f"{k} {num(v, 4)}" for k, v in record["cost"].items() if v is not None)
              + "   (in the currency of --price-per-hour)")


def cmd_plan(args: argparse.Namespace) -> int:
    from ..laws.allocation import Hardware

    results = _load(args.fit_json)
    hardware = None
    if args.price_per_hour is not None and not args.peak_flops:
        raise ScalefitError("--price-per-hour needs --peak-flops (the FLOP/s of one accelerator) to turn FLOPs "
                            "into accelerator-hours")
    if args.peak_flops:
        try:
            hardware = Hardware(peak_flops=args.peak_flops, mfu=args.mfu,
                                price_per_hour=args.price_per_hour)
        except ValueError as exc:
            raise ScalefitError(f"--peak-flops/--mfu: {exc}") from None
    compute = args.plan_compute
    record = plan_row(results.fit, results.bootstrap, args.target_loss, compute,
                      args.inference_tokens, hardware)
    if args.json:
        _print([record], True)
        return 0
    _print_plan(record)
    return 0
