"""The ``scalefit`` command: a thin shell over the Python API.

Exit codes: 0 success, 2 bad usage or bad data (one-line message, no traceback), 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import datasets
from .errors import ScalefitError
from .runs import RunTable, load_runs

EXAMPLES = """examples:
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
    """A registered dataset name or a file path, loaded with the command line's column map and filters."""
    kwargs = dict(
        columns=parse_columns(getattr(args, "columns", None)),
        on_invalid="drop" if getattr(args, "drop_invalid", False) else "raise",
        min_tokens=getattr(args, "min_tokens", None),
        max_loss=getattr(args, "max_loss", None),
        drop_highest_loss=getattr(args, "drop_highest_loss", None),
        query=getattr(args, "filter", None),
    )
    if source in datasets.REGISTRY:
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        return datasets.load(source, mirror=getattr(args, "mirror", None), **kwargs)
    return load_runs(source, **kwargs)


def add_load_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--columns", help="explicit column map, e.g. N=params,D=tokens,loss=val_loss")
    parser.add_argument("--min-tokens", type=float, help="keep runs with D >= this many tokens")
    parser.add_argument("--max-loss", type=float, help="keep runs with loss <= this")
    parser.add_argument("--drop-highest-loss", type=int, metavar="K", help="drop the K highest-loss runs")
    parser.add_argument("--filter", metavar="QUERY", help="pandas query over the columns, e.g. 'epochs == 1'")
    parser.add_argument("--drop-invalid", action="store_true",
                        help="drop invalid rows (recorded) instead of stopping with an error")
    parser.add_argument("--mirror", help=f"local mirror of public datasets (default ${datasets.MIRROR_ENV})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scalefit", description=__doc__.splitlines()[0], epilog=EXAMPLES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"scalefit {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    ds = commands.add_parser("datasets", help="list or fetch registered datasets")
    ds_commands = ds.add_subparsers(dest="action", required=True)
    ds_commands.add_parser("list", help="registered datasets with citation and licence")
    fetch = ds_commands.add_parser("fetch", help="fetch a dataset into the cache (or find it in the mirror)")
    fetch.add_argument("name")
    fetch.add_argument("--mirror")
    fetch.add_argument("--cache-dir")

    runs = commands.add_parser("runs", help="load and validate a run table; print its summary")
    runs.add_argument("source", help="a file (csv, tsv, json, jsonl, parquet) or a registered dataset name")
    add_load_options(runs)
    return parser


def _version() -> str:
    from . import __version__

    return __version__


def cmd_datasets(args: argparse.Namespace) -> int:
    if args.action == "list":
        for name in datasets.names():
            entry = datasets.info(name)
            where = "bundled" if entry.bundled else ("url" if entry.table.url else "mirror only")
            print(f"{name:<22} {entry.table.rows:>6} rows  [{where}]  {entry.title}")
            print(f"{'':<22} cite: {entry.citation}")
            print(f"{'':<22} licence: {entry.licence}")
        return 0
    entry = datasets.info(args.name)
    for item in entry.files:
        path = datasets.fetch(args.name, item.name, mirror=args.mirror, cache_dir=args.cache_dir)
        print(f"{args.name}/{item.name}: {path}")
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    table = load_source(args.source, args)
    print(table.summary())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = {"datasets": cmd_datasets, "runs": cmd_runs}[args.command]
    try:
        return handler(args)
    except ScalefitError as exc:
        print(f"scalefit: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("scalefit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
