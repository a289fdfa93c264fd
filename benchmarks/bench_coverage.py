"""Calibration of bootstrap intervals by simulation (issue #4).

Takes a fit as the truth, simulates R datasets on the same design with per-group (correlated) and
within-group noise estimated from its residuals, fits and bootstraps each one, and prints how often nominal
95% intervals cover the truth, with Monte-Carlo standard errors, for the cluster and pairs schemes side by
side (the pairs scheme is the reference: same data, rows treated as independent).

    python benchmarks/bench_coverage.py [--dataset example_chinchilla] [-R 200] [-n 200] [--jobs 2]
"""

from __future__ import annotations

import argparse
import time
import warnings

import scalefit
from scalefit.coverage import check_coverage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="example_chinchilla")
    parser.add_argument("-R", type=int, default=200, help="simulated datasets")
    parser.add_argument("-n", type=int, default=200, help="bootstrap replicates per dataset")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bca", action="store_true", help="also measure BCa intervals")
    parser.add_argument("--schemes", default="cluster,pairs", help="comma-separated bootstrap schemes")
    parser.add_argument("--backtests", action="store_true",
                        help="also check the extrapolation interval (a backtest per dataset: slow)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    info = scalefit.datasets.info(args.dataset)
    runs = scalefit.datasets.load(args.dataset, **info.recommended)
    fit = scalefit.fit(runs, objective="hoffmann" if args.dataset.startswith("chinchilla") else "huber")
    started = time.perf_counter()
    methods = ("percentile", "bca") if args.bca else ("percentile",)
    schemes = tuple(args.schemes.split(","))
    cov = check_coverage(fit, R=args.R, n=args.n, seed=args.seed, methods=methods, n_jobs=args.jobs,
                         schemes=schemes, backtests=args.backtests)
    seconds = time.perf_counter() - started
    print(f"dataset {args.dataset}: {len(runs)} runs, {runs.n_groups} groups; {fit.objective.describe()}")
    print(cov.summary())
    print(f"{seconds:.1f} s for {args.R} datasets x {len(schemes)} schemes x {args.n} replicates on {args.jobs} jobs")


if __name__ == "__main__":
    main()
