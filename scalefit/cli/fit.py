"""`scalefit fit` and `scalefit approaches`: fit, bootstrap, backtest, write the report, print the results."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core.errors import ScalefitError
from ..data.runs import RunTable
from ..report.record import read_record, restore
from .common import _COLLECTED, _print, load_source, print_intervals, resolve_law
from .recipes import (
    STAGED,
    recipe_fit_options,
    record_recipe,
    run_approach2,
    run_approaches,
    run_staged_data_constrained,
)
from .results import _print_plan


def cmd_fit(args: argparse.Namespace) -> int:
    from ..fitting.fit import fit as fit_law
    from ..report.render import check_output_dir, report

    out = Path(args.out)
    check_output_dir(out, args.force)  # before any work: never fit for minutes and then refuse to write
    # every numeric option was parsed and checked by its argparse type (scalefit.cli.argtypes)
    targets, computes, tokens = list(args.target), list(args.compute), args.inference_tokens
    plans = [{"target_loss": loss, "compute": None, "inference_tokens": tokens} for loss in args.target_loss]
    plans += [{"target_loss": None, "compute": c, "inference_tokens": tokens} for c in args.plan_compute]
    references = dict(args.reference)
    law, approach = recipe_fit_options(args)
    if args.delta is not None and args.objective != "huber":
        raise ScalefitError("--delta applies to --objective huber only")
    table = load_source(args.source, args)
    record_recipe(table, args)
    if approach is not None:
        return run_recipe_approach(args, table, approach, out)
    result = fit_law(table, law=resolve_law(law), objective=args.objective, delta=args.delta)
    boot = None
    if args.bootstrap:
        boot = result.bootstrap(n=args.bootstrap, scheme=args.scheme, level=args.level, seed=args.seed,
                                n_jobs=args.jobs, progress=False if args.quiet else None, method=args.interval)
    collected = [text for text in _COLLECTED if text not in result.warnings
                 and (boot is None or text not in boot.warnings)]
    written = report(result, out, bootstrap=boot, targets=targets, computes=computes, plans=plans,
                     references=references, holdout=not args.no_holdout, seed=args.seed, force=args.force,
                     command=["scalefit", *sys.argv[1:]] if sys.argv[0].endswith("scalefit") else None,
                     collected_warnings=collected, backtest=not args.no_backtest,
                     influence=not args.no_influence,
                     compare_laws=[resolve_law(text) for text in args.compare_law])
    if not args.quiet:
        record = read_record(written / "fit.json")
        if args.verbose:
            print_results(record)
            print(f"report: {written / 'report.html'} (also report.md, fit.json, figures/)")
        else:
            from .short import short_lines

            print("\n".join(short_lines(record, str(written / "report.html"))))
    if "U" in result.law.inputs:  # a law of repeated data: also the paper's staged fit
        run_staged_data_constrained(args, table, written)
    return 0


def run_recipe_approach(args: argparse.Namespace, table: RunTable, approach: int | str, out: Path) -> int:
    """`fit` on a dataset whose recipe asks for a Chinchilla approach or the staged data-constrained fit."""
    if approach == STAGED:
        return run_staged_data_constrained(args, table, out, alone=True)
    if approach != 2:
        raise ScalefitError(f"the registry recipe asks for Approach {approach}; `scalefit fit` runs Approach 2 "
                            "only (use `scalefit approaches` for all three)")
    return run_approach2(args, table, out)


def cmd_approaches(args: argparse.Namespace) -> int:
    """`approaches RUNS`: Approaches 1, 2 and 3 side by side."""
    table = load_source(args.source, args)
    return run_approaches(args, table)


def print_results(record: dict) -> None:
    """What a fit found, on the terminal: problems first, then the fit, its bootstrap, every answer computed
    (predictions with their three intervals, optima, plans), the backtest, the held-out verdict and the model
    comparison, and at the end the same summary the report opens with."""
    from ..report.render import problems, summary_lines

    results = restore(record)
    found = problems(results, record)
    if found:
        print(f"PROBLEMS FOUND ({len(found)}); read these before any number below:")
        for i, (topic, text) in enumerate(found, start=1):
            print(f"  {i}. {topic}: {text}")
    else:
        print("No problems found.")
    print()
    print(results.fit.summary())
    if results.bootstrap is not None:
        print(results.bootstrap.summary())
    answers = record["answers"]
    if answers["predictions"]:
        print("\npredictions (loss in nats/token; distance = largest ratio to the data's N, D or compute; the "
              "extrapolation interval rests on the backtest points counted beside it):")
        if "newrun_lo" in answers["predictions"][0]:
            print_intervals(answers["predictions"])
        else:
            _print([{k: r[k] for k in ("N", "D", "loss", "lo", "hi", "distance", "regime") if k in r}
                    for r in answers["predictions"]], False)
    if answers["optimal"]:
        print("\ncompute-optimal allocation (C in training FLOPs; _lo/_hi: law band):")
        _print([{k: r[k] for k in ("C", "N_opt", "N_opt_lo", "N_opt_hi", "D_opt", "tokens_per_param", "L_opt",
                                   "L_opt_lo", "L_opt_hi", "distance") if k in r} for r in answers["optimal"]], False)
        if "L_opt_newrun_lo" in answers["optimal"][0]:
            print("loss L* of a new compute-optimal run, with the three intervals:")
            print_intervals(answers["optimal"], "L_opt")
    if answers["plans"]:
        print("\ninference-aware plans:")
        for p in answers["plans"]:
            _print_plan(p)
    if results.backtest is not None:
        empty = [r.interval for r in results.backtest.coverage().itertuples() if int(r.n) == 0]
        print("\n" + "\n".join(line for line in results.backtest.summary().splitlines()  # no row without points
                                if not any(line.startswith(f"  {name} ") for name in empty)))
    if results.holdout is not None:
        print("\n" + results.holdout.summary())
    elif record.get("holdout_skipped"):
        print(f"\nheld-out check skipped: {record['holdout_skipped']}")
    if results.comparison is not None:
        print("\n" + results.comparison.summary())
    print("\nSUMMARY")
    for line in summary_lines(results, record):
        print(line.replace("**", "") if line.startswith("**") else f"  {line}")
