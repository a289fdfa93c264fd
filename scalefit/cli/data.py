"""`scalefit datasets` and `scalefit runs`: the dataset registry and run tables."""

from __future__ import annotations

import argparse

from ..data import registry as datasets
from .common import _option, load_source


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
