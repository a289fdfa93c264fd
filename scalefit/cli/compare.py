"""`scalefit compare`: several laws fitted to the same runs."""

from __future__ import annotations

import argparse
import json

from ..core.errors import ScalefitError
from ..laws import DEFAULT_LAW
from .common import load_source, resolve_law


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
