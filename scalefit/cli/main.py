"""The ``scalefit`` command: a thin shell over the Python API.

Exit codes: 0 success, 2 bad usage or bad data (one-line message, no traceback), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path

from ..core.errors import ScalefitError
from ..core.formatting import num
from ..data import registry as datasets
from ..data.runs import RunTable, load_runs
from ..data.units import UnitError, parse_quantity
from ..laws import DEFAULT_LAW, LAWS
from ..report.record import optimal_row, plan_row, prediction_row, read_record, restore
from .recipes import (
    STAGED,
    recipe_fit_options,
    record_recipe,
    run_approach2,
    run_approaches,
    run_staged_data_constrained,
)

DEFAULT_SOURCE = "example_chinchilla"
DEFAULT_OUT = "scalefit-report"

EXAMPLES = """examples:
  scalefit fit                                   # the bundled example sweep -> ./scalefit-report/
  scalefit fit sweep.csv --columns N=params,D=tokens,loss=val_loss --target N=70B,D=1.4T --out report/
  scalefit fit chinchilla_epoch --drop-highest-loss 5 --objective hoffmann --compute 5.76e23
  scalefit compare chinchilla_epoch --drop-highest-loss 5 --law chinchilla --law kaplan --objective hoffmann
  scalefit approaches chinchilla_epoch --budgets 6e18,1e19,3e19,6e19,1e20,3e20,6e20,1e21,3e21 --figure alloc.png
  scalefit report report/fit.json                # re-render without refitting
  scalefit predict report/fit.json --N 70B --D 1.4T
  scalefit optimal report/fit.json --compute 1e24
  scalefit plan report/fit.json --target-loss 2.0 --inference-tokens 1e13 --peak-flops 989T --price-per-hour 2
  scalefit datasets list
  scalefit datasets fetch chinchilla_epoch --mirror ../shared/datasets
  scalefit runs example_chinchilla
  scalefit runs sweep.csv --columns N=params,D=tokens,loss=val_loss --drop-highest-loss 5
"""


def parse_columns(text: str | None) -> dict[str, str] | None:
    """``"N=params,D=tokens"`` -> ``{"N": "params", "D": "tokens"}``."""
    if not text:
        return None
    mapping = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ScalefitError(f"--columns entry {item!r} is not CANONICAL=column")
        mapping[key.strip()] = value.strip()
    return mapping


def load_source(source: str, args: argparse.Namespace) -> RunTable:
    """A registered dataset name or a file path, loaded with the command line's options.

    For a registered dataset the registry's recommended load recipe (filters, query, checkpoints) is
    applied unless the user gives filters of their own; a note on stderr says which, and the recipe is
    recorded in the table's provenance (``provenance["recipe"]``).
    """
    columns = parse_columns(getattr(args, "columns", None)) or {}
    group = getattr(args, "group", None)
    if group:
        if columns.get("group", group) != group:
            raise ScalefitError(f"--group {group} and --columns group={columns['group']} disagree; give one")
        columns["group"] = group
    kwargs = dict(
        columns=columns or None,
        on_invalid="drop" if getattr(args, "drop_invalid", False) else "raise",
        sep=_unescape(getattr(args, "sep", None)),
        encoding=getattr(args, "encoding", None),
        n_convention=getattr(args, "n_convention", None),
        checkpoints=getattr(args, "checkpoints", None),
        min_fraction_of_run=getattr(args, "min_fraction_of_run", None),
        min_tokens=getattr(args, "min_tokens", None),
        max_loss=getattr(args, "max_loss", None),
        drop_highest_loss=getattr(args, "drop_highest_loss", None),
        query=getattr(args, "filter", None),
        hint_style="cli",
    )
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    if source in datasets.REGISTRY and not Path(source).exists():
        entry = datasets.info(source)
        recipe = entry.recipe.load
        own = [k for k in ("checkpoints", "min_fraction_of_run", "min_tokens", "max_loss", "drop_highest_loss",
                           "query") if k in kwargs]
        if recipe and not own and not getattr(args, "no_recipe", False):
            shown = ", ".join(f"{_option(k)} {v!r}" if not isinstance(v, str) else f"{_option(k)} \"{v}\""
                              for k, v in recipe.items())
            print(f"scalefit: note: {source}: applying the registry's recommended load recipe ({shown}): "
                  f"{entry.recipe.why}. Give any filter option to use your own instead.", file=sys.stderr)
            kwargs = {**kwargs, **recipe}
            applied = "recommended"
        elif recipe and not own:
            print(f"scalefit: note: {source}: --no-recipe: the registry's recommended load recipe is not applied",
                  file=sys.stderr)
            applied = "disabled (--no-recipe)"
        elif recipe:
            print(f"scalefit: note: {source}: your filters replace the registry's recommended recipe "
                  f"({', '.join(f'{_option(k)}' for k in recipe)})", file=sys.stderr)
            applied = "user filters"
        else:
            applied = "none needed"
        table = datasets.load(source, mirror=getattr(args, "mirror", None), **kwargs)
        table.provenance["recipe"] = {**entry.recipe.to_dict(), "kind": list(entry.kind), "applied": applied}
        return table
    return load_runs(source, **kwargs)


def _option(key: str) -> str:
    """The command-line spelling of a load_runs keyword."""
    return {"query": "--filter"}.get(key, "--" + key.replace("_", "-"))


def _unescape(sep: str | None) -> str | None:
    """``--sep '\\t'`` (as typed in a shell) means a tab."""
    if sep is None:
        return None
    return {"\\t": "\t", "tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}.get(sep, sep)


def add_load_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by every command that loads a run table (`runs`, `fit`)."""
    load = parser.add_argument_group("loading the run table")
    load.add_argument("--columns", metavar="CANONICAL=COL,...",
                      help="explicit column map, e.g. N=params,D=tokens,loss=val_loss (canonical names: N, D, "
                           "loss, C, U, group, curve, step, weight)")
    load.add_argument("--group", metavar="COLUMN",
                      help="column whose rows share noise: the bootstrap resamples whole groups (default: the "
                           "model size, or a model/model_name label column)")
    load.add_argument("--sep", metavar="CHAR", help="delimiter of a text table, e.g. ';' or '\\t' (default: "
                      "comma; tab for .tsv)")
    load.add_argument("--encoding", metavar="NAME",
                      help="text encoding, e.g. utf-8, cp1252, latin-1, utf-16 (default: detected from a "
                           "byte-order mark, else UTF-8, else cp1252 with a warning)")
    load.add_argument("--n-convention", choices=["total", "non-embedding", "unknown"],
                      help="what N counts: all parameters or non-embedding ones (recorded in the report; "
                           "default unknown)")
    load.add_argument("--checkpoints", choices=["final", "all"],
                      help="for training curves (run ids or a step column): keep the final checkpoint of each "
                           "curve (default) or all of them")
    load.add_argument("--min-fraction-of-run", type=float, metavar="F",
                      help="for training curves: keep checkpoints with D >= F x the final D of their curve")
    load.add_argument("--min-tokens", type=float, help="keep runs with D >= this many tokens")
    load.add_argument("--max-loss", type=float, help="keep runs with loss <= this")
    load.add_argument("--drop-highest-loss", type=int, metavar="K", help="drop the K highest-loss runs")
    load.add_argument("--filter", metavar="QUERY", help="pandas query over the columns, e.g. 'epochs == 1'")
    load.add_argument("--drop-invalid", action="store_true",
                      help="drop invalid rows (recorded) instead of stopping with an error")
    load.add_argument("--mirror", help=f"local mirror of public datasets (default ${datasets.MIRROR_ENV})")


def law_argument(text: str) -> str:
    """A registered law name or an import path ``module:attribute`` (checked when the law is built)."""
    if text in LAWS or ":" in text:
        return text
    raise argparse.ArgumentTypeError(f"unknown law {text!r}; choose from {', '.join(LAWS)} or give module:attribute")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scalefit", description=__doc__.splitlines()[0], epilog=EXAMPLES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"scalefit {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    ds = commands.add_parser("datasets", help="list or fetch registered datasets")
    ds_commands = ds.add_subparsers(dest="action", required=True)
    ds_commands.add_parser("list", help="registered datasets with citation and licence")
    fetch = ds_commands.add_parser("fetch", help="fetch a dataset into the cache (or find it in the mirror)")
    fetch.add_argument("name", help="a registered dataset name (see `scalefit datasets list`)")
    fetch.add_argument("--mirror", help=f"local mirror of public datasets (default ${datasets.MIRROR_ENV})")
    fetch.add_argument("--cache-dir", help="where downloaded files are kept (default: the user cache directory)")

    runs = commands.add_parser("runs", help="load and validate a run table; print its summary")
    runs.add_argument("source", help="a file (csv, tsv, json, jsonl, parquet) or a registered dataset name")
    add_load_options(runs)

    fit = commands.add_parser("fit", help="fit a law, bootstrap it, write report.html/report.md/fit.json/figures",
                              epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    fit.add_argument("source", nargs="?", default=DEFAULT_SOURCE, metavar="RUNS",
                     help=f"a run table file or a registered dataset name (default: the bundled {DEFAULT_SOURCE})")
    add_load_options(fit)
    fit.add_argument("--law", default=None, type=law_argument, metavar="LAW",
                     help=f"one of {', '.join(LAWS)}, or an import path module:attribute (default: a registered "
                          f"dataset's recommended fit, else {DEFAULT_LAW})")
    fit.add_argument("--objective", default=None, choices=["huber", "hoffmann", "ls"],
                     help="huber (automatic delta), hoffmann (Huber, delta=1e-3) or ls (default: a registered "
                          "dataset's recommended fit, else huber)")
    fit.add_argument("--no-recipe", action="store_true",
                     help="ignore a registered dataset's recommended fit (law, approach, objective)")
    fit.add_argument("--delta", type=float, help="Huber delta on log residuals (default: automatic)")
    fit.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="replicates (0: none; default 1000)")
    fit.add_argument("--scheme", choices=["cluster", "pairs", "residual"],
                     help="resampling scheme (default: cluster when model sizes repeat, else pairs)")
    fit.add_argument("--level", type=float, default=0.95, help="confidence level (default 0.95)")
    fit.add_argument("--interval", choices=["percentile", "bca"], default="percentile",
                     help="bootstrap interval method (default percentile)")
    fit.add_argument("--seed", type=int, default=0, help="random seed of the bootstrap and the held-out check "
                     "(default 0; same seed, same numbers)")
    fit.add_argument("--jobs", type=int, default=1, help="processes for the bootstrap (default 1)")
    fit.add_argument("--target", action="append", default=[], metavar="N=..,D=..",
                     help="predict the loss here, e.g. N=70B,D=1.4T (repeatable)")
    fit.add_argument("--compute", action="append", default=[], metavar="C",
                     help="compute-optimal allocation at C training FLOPs, e.g. 1e24 (repeatable)")
    fit.add_argument("--target-loss", "--plan-loss", dest="target_loss", action=DeprecatedAlias, default=[],
                     type=float, metavar="L", deprecated={"--plan-loss": "--target-loss"}, append=True,
                     help="inference-aware plan reaching this loss in nats/token (repeatable; "
                          "--plan-loss is a deprecated spelling)")
    fit.add_argument("--plan-compute", action="append", default=[], metavar="C",
                     help="inference-aware plan for the loss a compute-optimal run of C training FLOPs reaches "
                          "(repeatable)")
    fit.add_argument("--inference-tokens", default="0",
                     help="lifetime inference tokens for the plans, e.g. 1e13 (default 0: no inference)")
    fit.add_argument("--reference", action="append", default=[], metavar="NAME:N=..,D=..",
                     help="a reference model for the allocation plot, e.g. Chinchilla:N=70B,D=1.4T")
    fit.add_argument("--no-holdout", action="store_true", help="skip the held-out extrapolation check")
    fit.add_argument("--no-backtest", action="store_true",
                     help="skip the backtest (then predictions have a law band only, no new-run or extrapolation "
                          "interval)")
    fit.add_argument("--compare-law", action="append", default=[], type=law_argument, metavar="LAW",
                     help="also fit LAW (repeatable) and compare it with --law in a 'Which law' section")
    fit.add_argument("--out", default=DEFAULT_OUT, help=f"output directory (default ./{DEFAULT_OUT})")
    fit.add_argument("--force", action="store_true", help="replace an existing, non-empty output directory")
    fit.add_argument("--quiet", action="store_true", help="no summary, no progress bar")

    cmp_ = commands.add_parser("compare", help="fit several laws to the same runs: AIC/BIC and leave-largest-out error")
    cmp_.add_argument("source", nargs="?", default=DEFAULT_SOURCE, metavar="RUNS",
                      help=f"a run table file or a registered dataset name (default: the bundled {DEFAULT_SOURCE})")
    add_load_options(cmp_)
    cmp_.add_argument("--law", action="append", type=law_argument, metavar="LAW",
                      help=f"a law to compare (repeatable; default: {DEFAULT_LAW} and kaplan)")
    cmp_.add_argument("--objective", default="huber", choices=["huber", "hoffmann", "ls"],
                      help="huber (automatic delta, shared by every law), hoffmann (Huber, delta=1e-3) or ls")
    cmp_.add_argument("--delta", type=float, help="Huber delta on log residuals (default: automatic, shared)")
    cmp_.add_argument("--k", type=int, default=3, help="leave out the k = 1..K largest model sizes (default 3)")
    cmp_.add_argument("--bootstrap", type=int, default=200, metavar="N",
                      help="replicates per law for parameter intervals (0: none; default 200)")
    cmp_.add_argument("--seed", type=int, default=0, help="seed of the bootstraps (default 0)")
    cmp_.add_argument("--figure", help="write the comparison figure here (.png or .svg)")
    cmp_.add_argument("--json", action="store_true", help="print the comparison as JSON")

    app = commands.add_parser("approaches", help="Chinchilla Approaches 1, 2 and 3 side by side: exponents and "
                              "N*(C) with intervals, and a warning when they disagree")
    app.add_argument("source", nargs="?", default=DEFAULT_SOURCE, metavar="RUNS",
                     help=f"a run table file or a registered dataset name (default: the bundled {DEFAULT_SOURCE})")
    add_load_options(app)
    app.add_argument("--budgets", action="append", metavar="C,C,...",
                     help="nominal IsoFLOP budgets in FLOPs for Approach 2, e.g. 6e18,1e19,3e19 (repeatable; "
                          "default: budgets found by clustering the runs' compute)")
    app.add_argument("--window", type=int, metavar="K",
                     help="Approach 2: fit each parabola to the K points around the lowest measured loss")
    app.add_argument("--tolerance", type=float, metavar="DECADES",
                     help="Approach 2: runs within this many decades of compute form one budget (default 0.05)")
    app.add_argument("--compute", action="append", metavar="C",
                     help="budgets at which N*(C) is compared (repeatable; default: the data's largest compute "
                          "and 100x beyond)")
    app.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="replicates (default 1000)")
    app.add_argument("--level", type=float, default=0.95, help="confidence level (default 0.95)")
    app.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    app.add_argument("--figure", help="write the allocation figure N*(C) of each approach here (.png or .svg)")
    app.add_argument("--json", action="store_true", help="print the comparison as JSON")

    rep = commands.add_parser("report", help="re-render the report of a fit.json without refitting")
    rep.add_argument("fit_json", metavar="FIT.json", help="a fit.json written by `scalefit fit`")
    rep.add_argument("--out", help="output directory (default: the directory of FIT.json, which needs --force)")
    rep.add_argument("--force", action="store_true",
                     help="replace an existing report (including the one beside FIT.json)")

    pred = commands.add_parser("predict", help="loss at (N, D) from a fit.json, with interval and distance")
    pred.add_argument("fit_json", metavar="FIT.json", help="a fit.json written by `scalefit fit`")
    pred.add_argument("--N", nargs="+", required=True, help="parameters, e.g. 70B (several allowed)")
    pred.add_argument("--D", nargs="+", required=True, help="tokens, e.g. 1.4T (one, or one per N)")
    pred.add_argument("--json", action="store_true", help="print JSON instead of a table")

    opt = commands.add_parser("optimal", help="compute-optimal N, D, tokens/param and L* from a fit.json")
    opt.add_argument("fit_json", metavar="FIT.json", help="a fit.json written by `scalefit fit`")
    opt.add_argument("--compute", nargs="+", required=True, help="training FLOPs, e.g. 1e24 (several allowed)")
    opt.add_argument("--json", action="store_true", help="print JSON instead of a table")

    plan = commands.add_parser("plan", help="inference-aware plan (Sardana et al. 2023) from a fit.json")
    plan.add_argument("fit_json", metavar="FIT.json", help="a fit.json written by `scalefit fit`")
    goal = plan.add_mutually_exclusive_group(required=True)
    goal.add_argument("--target-loss", type=float, help="loss to reach (nats/token)")
    goal.add_argument("--plan-compute", "--compute", dest="plan_compute", action=DeprecatedAlias,
                      deprecated={"--compute": "--plan-compute"}, metavar="C",
                      help="target the loss a compute-optimal run of C training FLOPs reaches (--compute is a "
                           "deprecated spelling)")
    plan.add_argument("--inference-tokens", default="0", help="lifetime inference tokens, e.g. 1e13 (default 0)")
    plan.add_argument("--peak-flops", help="peak FLOP/s of one accelerator, e.g. 989T, for accelerator-hours and cost")
    plan.add_argument("--mfu", type=float, default=0.4, help="model FLOPs utilisation (default 0.4)")
    plan.add_argument("--price-per-hour", type=float,
                      help="price of one accelerator-hour, in any currency; cost is printed in the same currency")
    plan.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


class DeprecatedAlias(argparse.Action):
    """An option with a deprecated second spelling: works, and warns once that the first is the name now."""

    def __init__(self, option_strings, dest, deprecated=None, append=False, **kwargs):
        self.deprecated = dict(deprecated or {})
        self.append = append
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        if option_string in self.deprecated:
            warnings.warn(f"{option_string} is deprecated; use {self.deprecated[option_string]}",
                          FutureWarning, stacklevel=2)
        if self.append:
            items = list(getattr(namespace, self.dest, None) or [])
            items.append(values)
            setattr(namespace, self.dest, items)
        else:
            setattr(namespace, self.dest, values)


def _version() -> str:
    from .. import __version__

    return __version__


def cmd_datasets(args: argparse.Namespace) -> int:
    """`datasets list`: every registered dataset with its kind, recipe, citation and licence;
    `datasets fetch NAME`: its files from the mirror, the cache or the network."""
    if args.action == "list":
        for name in datasets.names():
            entry = datasets.info(name)
            where = "bundled" if entry.bundled else ("url" if entry.table.url else "mirror only")
            print(f"{name:<22} {entry.table.rows:>6} rows  [{where}]  {entry.title}")
            print(f"{'':<22} kind: {', '.join(entry.kind)}")
            recipe = entry.recipe
            if recipe.load or recipe.fit:
                load = " ".join(f"{_option(k)} \"{v}\"" if isinstance(v, str) else f"{_option(k)} {v}"
                                for k, v in recipe.load.items()) or "(none)"
                fit = ", ".join(f"{k}={v}" for k, v in recipe.fit.items()) or "(default)"
                print(f"{'':<22} recipe: load {load}; fit {fit}")
                if recipe.why:
                    print(f"{'':<22}   why: {recipe.why}")
            print(f"{'':<22} cite: {entry.citation}")
            print(f"{'':<22} licence: {entry.licence}")
        return 0
    entry = datasets.info(args.name)
    for item in entry.files:
        path = datasets.fetch(args.name, item.name, mirror=args.mirror, cache_dir=args.cache_dir)
        print(f"{args.name}/{item.name}: {path}")
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    """`runs SOURCE`: load and validate a run table and print its summary (groups, curves, checks)."""
    table = load_source(args.source, args)
    print(table.summary())
    return 0


def quantity(text: str, what: str) -> float:
    try:
        return parse_quantity(text)
    except (UnitError, ValueError) as exc:
        raise ScalefitError(f"{what}: {exc}") from None


def parse_point(text: str, what: str) -> tuple[float, float]:
    """``"N=70B,D=1.4T"`` -> (7e10, 1.4e12)."""
    parts = dict(item.partition("=")[::2] for item in text.split(","))
    if set(parts) != {"N", "D"}:
        raise ScalefitError(f"{what} {text!r} must look like N=70B,D=1.4T")
    return quantity(parts["N"], f"{what} N"), quantity(parts["D"], f"{what} D")


def cmd_fit(args: argparse.Namespace) -> int:
    from ..fitting.fit import fit as fit_law
    from ..report.render import check_output_dir, report

    out = Path(args.out)
    check_output_dir(out, args.force)  # before any work: never fit for minutes and then refuse to write
    targets = [parse_point(t, "--target") for t in args.target]
    computes = [quantity(c, "--compute") for c in args.compute]
    tokens = quantity(args.inference_tokens, "--inference-tokens")
    plans = [{"target_loss": loss, "compute": None, "inference_tokens": tokens} for loss in args.target_loss]
    plans += [{"target_loss": None, "compute": quantity(c, "--plan-compute"), "inference_tokens": tokens}
              for c in args.plan_compute]
    references = {}
    for ref in args.reference:
        name, sep, point = ref.partition(":")
        if not sep:
            raise ScalefitError(f"--reference {ref!r} must look like NAME:N=70B,D=1.4T")
        references[name] = parse_point(point, "--reference")
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
                     compare_laws=[resolve_law(text) for text in args.compare_law])
    if not args.quiet:
        print_results(read_record(written / "fit.json"))
        print(f"report: {written / 'report.html'} (also report.md, fit.json, figures/)")
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
    if args.bootstrap < 0:
        raise ScalefitError(f"--bootstrap must be 0 or more, not {args.bootstrap}")
    table = load_source(args.source, args)
    return run_approaches(args, table)


def resolve_law(text: str):
    """The Law for a --law value; one clear error line when an import path does not resolve."""
    from ..laws import get_law

    try:
        return get_law(text)
    except ValueError as exc:
        raise ScalefitError(f"--law: {exc}") from None


def cmd_compare(args: argparse.Namespace) -> int:
    from ..approaches.compare_laws import compare

    laws = [resolve_law(text) for text in (args.law or [DEFAULT_LAW, "kaplan"])]
    if args.delta is not None and args.objective != "huber":
        raise ScalefitError("--delta applies to --objective huber only")
    if args.k < 1:
        raise ScalefitError(f"--k must be at least 1, not {args.k}")
    table = load_source(args.source, args)
    result = compare(table, laws=laws, objective=args.objective, delta=args.delta, k_max=args.k,
                     n_boot=args.bootstrap, seed=args.seed)
    if args.figure:
        import matplotlib

        matplotlib.use("Agg")
        fig = result.plot()
        try:
            fig.savefig(args.figure, dpi=110)
        except (OSError, ValueError) as exc:
            raise ScalefitError(f"--figure {args.figure}: {exc}") from None
    if args.json:
        print(json.dumps(result.to_dict(), indent=1))
    else:
        print(result.summary())
    return 0


def print_results(record: dict) -> None:
    """What a fit found, on the terminal: problems first, then the fit, its bootstrap, every answer computed
    (predictions with their three intervals, optima, plans), the backtest, the held-out verdict and the model
    comparison, and at the end the same summary the report opens with."""
    from ..report.record import restore
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
        print("\n" + results.backtest.summary())
    if results.holdout is not None:
        print("\n" + results.holdout.summary())
    elif record.get("holdout_skipped"):
        print(f"\nheld-out check skipped: {record['holdout_skipped']}")
    if results.comparison is not None:
        print("\n" + results.comparison.summary())
    print("\nSUMMARY")
    for line in summary_lines(results, record):
        print(line.replace("**", "") if line.startswith("**") else f"  {line}")


def cmd_report(args: argparse.Namespace) -> int:
    from ..report.render import rerender

    written = rerender(args.fit_json, args.out, force=args.force)
    print(f"report: {written / 'report.html'}")
    return 0


def _load(path: str):

    return restore(read_record(path))


def _print(rows: list[dict], as_json: bool) -> None:
    if as_json:
        from ..core.formatting import json_safe

        print(json.dumps(json_safe(rows), indent=1))
        return
    if not rows:
        return
    keys = list(rows[0])
    print("  ".join(f"{k:>14}" for k in keys))
    for row in rows:
        print("  ".join(f"{num(row.get(k)):>14}" for k in keys))


def _interval(lo, hi) -> str:
    return f"[{num(lo, 4)}, {num(hi, 4)}]" if lo is not None and hi is not None else "n/a"


def print_intervals(rows: list[dict], what: str = "loss") -> None:
    """Rows with the three intervals as a table whose columns name them plainly (``what``: "loss" for
    predictions, "L_opt" for compute-optimal rows, whose interval keys carry the prefix)."""
    pre = "" if what == "loss" else f"{what}_"
    first = ["N", "D"] if what == "loss" else ["C", "N_opt", "D_opt"]
    header = [*first, what, "law band", "new-run interval", "extrapolation interval", "backtest pts", "distance"]
    widths = [10] * len(first) + [10, 22, 22, 24, 13, 12]
    print("".join(f"{h:>{w}}" for h, w in zip(header, widths, strict=True)))
    for r in rows:
        lo, hi = (r.get("lo"), r.get("hi")) if what == "loss" else (r.get(f"{what}_lo"), r.get(f"{what}_hi"))
        cells = [num(r[k], 4) for k in first] + [num(r[what], 5), _interval(lo, hi),
                                                 _interval(r.get(f"{pre}newrun_lo"), r.get(f"{pre}newrun_hi")),
                                                 _interval(r.get(f"{pre}extrap_lo"), r.get(f"{pre}extrap_hi")),
                                                 str(r.get("n_backtest", "n/a")),
                                                 f"{num(r['distance'], 3)}x"
                                                 + ("" if r.get("supported", True) else " NS")]
        print("".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True)))
    if any(not r.get("supported", True) for r in rows):
        print("  NS: not supported by the backtest (beyond 3x its largest tested distance)")


def cmd_predict(args: argparse.Namespace) -> int:
    results = _load(args.fit_json)
    ns = [quantity(v, "--N") for v in args.N]
    ds = [quantity(v, "--D") for v in args.D]
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
    rows = [optimal_row(results.fit, results.bootstrap, quantity(v, "--compute")) for v in args.compute]
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
            hardware = Hardware(peak_flops=quantity(args.peak_flops, "--peak-flops"), mfu=args.mfu,
                                price_per_hour=args.price_per_hour)
        except ValueError as exc:
            raise ScalefitError(f"--peak-flops/--mfu: {exc}") from None
    compute = None if args.plan_compute is None else quantity(args.plan_compute, "--plan-compute")
    record = plan_row(results.fit, results.bootstrap, args.target_loss, compute,
                      quantity(args.inference_tokens, "--inference-tokens"), hardware)
    if args.json:
        _print([record], True)
        return 0
    _print_plan(record)
    return 0


#: API phrasings -> the command line's (a message names the option a shell user would type)
CLI_SPELLINGS = (
    (re.compile(r"pass on_invalid='drop' to drop them with a record in RunTable\.dropped"),
     "--drop-invalid drops them and records them in the report"),
    (re.compile(r"columns=\{'(\w+)': '([^']*)'\}"), r"--columns \1=\2"),
    (re.compile(r"scheme='(\w+)'"), r"--scheme \1"),
    (re.compile(r"query='([^']*)'"), r"--filter '\1'"),
    (re.compile(r"on_invalid='drop'"), "--drop-invalid"),
    (re.compile(r"drop_highest_loss=(\d+)"), r"--drop-highest-loss \1"),
)


def one_line(message: str) -> str:
    """An API message (possibly listing several rows) as one line, with the command line's option names."""
    text = " ".join(part.strip() for part in message.splitlines() if part.strip())
    for pattern, replacement in CLI_SPELLINGS:
        text = pattern.sub(replacement, text)
    return text


_COLLECTED: list[str] = []  # warnings shown during this command, in order (fit passes them to its report)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    text = one_line(str(message))
    if category is not FutureWarning:
        _COLLECTED.append(text)
    print(f"scalefit: warning: {text}", file=sys.stderr if file is None else file)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (0 ok, 1 internal error, 2 usage/data error, 130 Ctrl-C)."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) not in (
            signal.SIG_IGN, None):
        # the console script's early handler exits at once; from here on, Ctrl-C unwinds (and cleans up)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            _COLLECTED.clear()
            parser = build_parser()
            args = parser.parse_args(argv)
            handler = {"datasets": cmd_datasets, "runs": cmd_runs, "fit": cmd_fit, "compare": cmd_compare,
                       "approaches": cmd_approaches, "report": cmd_report,
                       "predict": cmd_predict, "optimal": cmd_optimal, "plan": cmd_plan}[args.command]
            return handler(args)
    except ScalefitError as exc:
        print(f"scalefit: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("scalefit: interrupted; nothing was written", file=sys.stderr)
        return 130
    except Exception as exc:  # last resort: one line, never a traceback unless asked for
        if os.environ.get("SCALEFIT_DEBUG"):
            raise
        print(f"scalefit: error: internal error: {type(exc).__name__}: {one_line(str(exc))} (please report "
              "it; rerun with SCALEFIT_DEBUG=1 to see the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
