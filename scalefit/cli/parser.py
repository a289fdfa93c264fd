"""The argument parser of the ``scalefit`` command: every subcommand and option."""

from __future__ import annotations

import argparse
import warnings

from ..core import checks
from ..data import registry as datasets
from ..laws import DEFAULT_LAW, LAWS
from . import argtypes as types
from .common import DEFAULT_OUT, DEFAULT_SOURCE, add_load_options, law_argument

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

#: the option types shared by several subcommands
BUDGET = types.positive("a compute budget", "FLOPs", cap=checks.MAX_COMPUTE)
LOSS = types.positive("a target loss", "nats/token", cap=checks.MAX_LOSS)
DELTA = types.positive("a Huber delta", "log residual")
INFERENCE_TOKENS = types.nonnegative("lifetime inference tokens", "tokens", cap=checks.MAX_SIZE)
MAX_JOBS = 4096


def build_parser() -> argparse.ArgumentParser:
    parser = types.Parser(prog="scalefit", description=__doc__.splitlines()[0], epilog=EXAMPLES,
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
    fit.add_argument("--delta", type=DELTA, help="Huber delta on log residuals (default: automatic)")
    fit.add_argument("--bootstrap", type=types.replicates(), default=1000, metavar="N",
                     help="replicates (0: none; default 1000)")
    fit.add_argument("--scheme", choices=["cluster", "pairs", "residual"],
                     help="resampling scheme (default: cluster when model sizes repeat, else pairs)")
    fit.add_argument("--level", type=types.level(), default=0.95, help="confidence level (default 0.95)")
    fit.add_argument("--interval", choices=["percentile", "bca"], default="percentile",
                     help="bootstrap interval method (default percentile)")
    fit.add_argument("--seed", type=types.seed(), default=0, help="random seed of the bootstrap and the held-out check "
                     "(default 0; same seed, same numbers)")
    fit.add_argument("--jobs", type=types.count("the number of processes", 1, MAX_JOBS), default=1,
                     help="processes for the bootstrap (default 1)")
    fit.add_argument("--target", action="append", default=[], type=types.point("a target"), metavar="N=..,D=..",
                     help="predict the loss here, e.g. N=70B,D=1.4T (repeatable)")
    fit.add_argument("--compute", action="append", default=[], metavar="C", type=BUDGET,
                     help="compute-optimal allocation at C training FLOPs, e.g. 1e24 (repeatable)")
    fit.add_argument("--target-loss", "--plan-loss", dest="target_loss", action=DeprecatedAlias, default=[],
                     type=LOSS, metavar="L", deprecated={"--plan-loss": "--target-loss"}, append=True,
                     help="inference-aware plan reaching this loss in nats/token (repeatable; "
                          "--plan-loss is a deprecated spelling)")
    fit.add_argument("--plan-compute", action="append", default=[], metavar="C", type=BUDGET,
                     help="inference-aware plan for the loss a compute-optimal run of C training FLOPs reaches "
                          "(repeatable)")
    fit.add_argument("--inference-tokens", default="0", type=INFERENCE_TOKENS,
                     help="lifetime inference tokens for the plans, e.g. 1e13 (default 0: no inference)")
    fit.add_argument("--reference", action="append", default=[], type=types.reference(), metavar="NAME:N=..,D=..",
                     help="a reference model for the allocation plot, e.g. Chinchilla:N=70B,D=1.4T")
    fit.add_argument("--no-holdout", action="store_true", help="skip the held-out extrapolation check")
    fit.add_argument("--no-backtest", action="store_true",
                     help="skip the backtest (then predictions have a law band only, no new-run or extrapolation "
                          "interval)")
    fit.add_argument("--no-influence", action="store_true",
                     help="skip the leave-one-out influence of each group and run on the targets")
    fit.add_argument("--compare-law", action="append", default=[], type=law_argument, metavar="LAW",
                     help="also fit LAW (repeatable) and compare it with --law in a 'Which law' section")
    fit.add_argument("--out", default=DEFAULT_OUT, help=f"output directory (default ./{DEFAULT_OUT})")
    fit.add_argument("--force", action="store_true", help="replace an existing, non-empty output directory")
    fit.add_argument("--quiet", action="store_true", help="no summary, no progress bar")
    fit.add_argument("--verbose", action="store_true",
                     help="print the long form (parameter, bootstrap, backtest and held-out tables) instead of one "
                          "screen")

    cmp_ = commands.add_parser("compare", help="fit several laws to the same runs: AIC/BIC and leave-largest-out error")
    cmp_.add_argument("source", nargs="?", default=DEFAULT_SOURCE, metavar="RUNS",
                      help=f"a run table file or a registered dataset name (default: the bundled {DEFAULT_SOURCE})")
    add_load_options(cmp_)
    cmp_.add_argument("--law", action="append", type=law_argument, metavar="LAW",
                      help=f"a law to compare (repeatable; default: {DEFAULT_LAW} and kaplan)")
    cmp_.add_argument("--objective", default="huber", choices=["huber", "hoffmann", "ls"],
                      help="huber (automatic delta, shared by every law), hoffmann (Huber, delta=1e-3) or ls")
    cmp_.add_argument("--delta", type=DELTA, help="Huber delta on log residuals (default: automatic, shared)")
    cmp_.add_argument("--k", type=types.count("the number of largest sizes left out", 1, 100), default=3,
                      help="leave out the k = 1..K largest model sizes (default 3)")
    cmp_.add_argument("--bootstrap", type=types.replicates(), default=200, metavar="N",
                      help="replicates per law for parameter intervals (0: none; default 200)")
    cmp_.add_argument("--seed", type=types.seed(), default=0, help="seed of the bootstraps (default 0)")
    cmp_.add_argument("--figure", help="write the comparison figure here (.png or .svg)")
    cmp_.add_argument("--json", action="store_true", help="print the comparison as JSON")

    app = commands.add_parser("approaches", help="Chinchilla Approaches 1, 2 and 3 side by side: exponents and "
                              "N*(C) with intervals, and a warning when they disagree")
    app.add_argument("source", nargs="?", default=DEFAULT_SOURCE, metavar="RUNS",
                     help=f"a run table file or a registered dataset name (default: the bundled {DEFAULT_SOURCE})")
    add_load_options(app)
    app.add_argument("--budgets", action="append", metavar="C,C,...", type=types.budget_list("an IsoFLOP budget"),
                     help="nominal IsoFLOP budgets in FLOPs for Approach 2, e.g. 6e18,1e19,3e19 (repeatable; "
                          "default: budgets found by clustering the runs' compute)")
    app.add_argument("--window", type=types.count("a parabola window", 3, 10**6), metavar="K",
                     help="Approach 2: fit each parabola to the K points around the lowest measured loss")
    app.add_argument("--tolerance", type=types.positive("a budget tolerance", "decades of compute"), metavar="DECADES",
                     help="Approach 2: runs within this many decades of compute form one budget (default 0.05)")
    app.add_argument("--compute", action="append", metavar="C", type=BUDGET,
                     help="budgets at which N*(C) is compared (repeatable; default: the data's largest compute "
                          "and 100x beyond)")
    app.add_argument("--bootstrap", type=types.replicates(), default=1000, metavar="N",
                     help="replicates (default 1000)")
    app.add_argument("--level", type=types.level(), default=0.95, help="confidence level (default 0.95)")
    app.add_argument("--seed", type=types.seed(), default=0, help="random seed (default 0)")
    app.add_argument("--figure", help="write the allocation figure N*(C) of each approach here (.png or .svg)")
    app.add_argument("--json", action="store_true", help="print the comparison as JSON")

    rep = commands.add_parser("report", help="re-render the report of a fit.json without refitting")
    rep.add_argument("fit_json", metavar="FIT.json", help="a fit.json written by `scalefit fit`")
    rep.add_argument("--out", help="output directory (default: the directory of FIT.json, which needs --force)")
    rep.add_argument("--force", action="store_true",
                     help="replace an existing report (including the one beside FIT.json)")

    pred = commands.add_parser("predict", help="loss at (N, D) from a fit.json, with interval and distance")
    pred.add_argument("fit_json", metavar="FIT.json", help="a fit.json written by `scalefit fit`")
    pred.add_argument("--N", nargs="+", required=True, type=types.size("a model size", "parameters"),
                      help="parameters, e.g. 70B (several allowed)")
    pred.add_argument("--D", nargs="+", required=True, type=types.size("a token count", "tokens"),
                      help="tokens, e.g. 1.4T (one, or one per N)")
    pred.add_argument("--json", action="store_true", help="print JSON instead of a table")

    opt = commands.add_parser("optimal", help="compute-optimal N, D, tokens/param and L* from a fit.json")
    opt.add_argument("fit_json", metavar="FIT.json", help="a fit.json written by `scalefit fit`")
    opt.add_argument("--compute", nargs="+", required=True, type=BUDGET,
                     help="training FLOPs, e.g. 1e24 (several allowed)")
    opt.add_argument("--json", action="store_true", help="print JSON instead of a table")

    plan = commands.add_parser("plan", help="inference-aware plan (Sardana et al. 2023) from a fit.json")
    plan.add_argument("fit_json", metavar="FIT.json", help="a fit.json written by `scalefit fit`")
    goal = plan.add_mutually_exclusive_group(required=True)
    goal.add_argument("--target-loss", type=LOSS, help="loss to reach (nats/token)")
    goal.add_argument("--plan-compute", "--compute", dest="plan_compute", action=DeprecatedAlias,
                      deprecated={"--compute": "--plan-compute"}, metavar="C", type=BUDGET,
                      help="target the loss a compute-optimal run of C training FLOPs reaches (--compute is a "
                           "deprecated spelling)")
    plan.add_argument("--inference-tokens", default="0", type=INFERENCE_TOKENS,
                      help="lifetime inference tokens, e.g. 1e13 (default 0)")
    plan.add_argument("--peak-flops", type=types.positive("a peak throughput", "FLOP/s", cap=checks.MAX_COMPUTE),
                      help="peak FLOP/s of one accelerator, e.g. 989T, for accelerator-hours and cost")
    plan.add_argument("--mfu", type=types.fraction("a model FLOPs utilisation"), default=0.4,
                      help="model FLOPs utilisation (default 0.4)")
    plan.add_argument("--price-per-hour", type=types.nonnegative("a price per accelerator-hour"),
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
