"""What every subcommand shares: loading a run table from the options, quantities with units, laws by
name, printing rows and intervals, and the warnings collected during a command."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from ..core.errors import ScalefitError
from ..core.formatting import num
from ..data import registry as datasets
from ..data.runs import RunTable, load_runs
from ..laws import LAWS
from ..report.record import read_record, restore
from . import argtypes as types

DEFAULT_SOURCE = "example_chinchilla"


DEFAULT_OUT = "scalefit-report"


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
        sep=getattr(args, "sep", None),  # "\\t", "tab", ... already read as the character (argtypes.delimiter)
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


def add_load_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by every command that loads a run table (`runs`, `fit`)."""
    load = parser.add_argument_group("loading the run table")
    load.add_argument("--columns", metavar="CANONICAL=COL,...",
                      help="explicit column map, e.g. N=params,D=tokens,loss=val_loss (canonical names: N, D, "
                           "loss, C, U, group, curve, step, weight)")
    load.add_argument("--group", metavar="COLUMN",
                      help="column whose rows share noise: the bootstrap resamples whole groups (default: the "
                           "model size, or a model/model_name label column)")
    load.add_argument("--sep", metavar="CHAR", type=types.delimiter(),
                      help="delimiter of a text table, e.g. ';' or '\\t' (default: comma; tab for .tsv)")
    load.add_argument("--encoding", metavar="NAME",
                      help="text encoding, e.g. utf-8, cp1252, latin-1, utf-16 (default: detected from a "
                           "byte-order mark, else UTF-8, else cp1252 with a warning)")
    load.add_argument("--n-convention", choices=["total", "non-embedding", "unknown"],
                      help="what N counts: all parameters or non-embedding ones (recorded in the report; "
                           "default unknown)")
    load.add_argument("--checkpoints", choices=["final", "all"],
                      help="for training curves (run ids or a step column): keep the final checkpoint of each "
                           "curve (default) or all of them")
    load.add_argument("--min-fraction-of-run", type=types.fraction("a fraction of the final D"), metavar="F",
                      help="for training curves: keep checkpoints with D >= F x the final D of their curve")
    load.add_argument("--min-tokens", type=types.nonnegative("a token count", "tokens"),
                      help="keep runs with D >= this many tokens")
    load.add_argument("--max-loss", type=types.positive("a loss", "nats/token"), help="keep runs with loss <= this")
    load.add_argument("--drop-highest-loss", type=types.count("the number of runs dropped", 0, 10**6), metavar="K",
                      help="drop the K highest-loss runs")
    load.add_argument("--filter", metavar="QUERY", help="pandas query over the columns, e.g. 'epochs == 1'")
    load.add_argument("--drop-invalid", action="store_true",
                      help="drop invalid rows (recorded) instead of stopping with an error")
    load.add_argument("--mirror", help=f"local mirror of public datasets (default ${datasets.MIRROR_ENV})")


def law_argument(text: str) -> str:
    """A registered law name or an import path ``module:attribute`` (checked when the law is built)."""
    if text in LAWS or ":" in text:
        return text
    raise argparse.ArgumentTypeError(f"unknown law {text!r}; choose from {', '.join(LAWS)} or give module:attribute")


def resolve_law(text: str):
    """The Law for a --law value; one clear error line when an import path does not resolve."""
    from ..laws import get_law

    try:
        return get_law(text)
    except ValueError as exc:
        raise ScalefitError(f"--law: {exc}") from None


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
