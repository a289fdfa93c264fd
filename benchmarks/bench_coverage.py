"""Calibration of bootstrap intervals by simulation (issue #4).

Takes a fit as the truth, simulates R datasets on the same design with per-group (correlated) and
within-group noise estimated from its residuals, fits and bootstraps each one, and prints how often nominal
95% intervals cover the truth, with Monte-Carlo standard errors, for the cluster and pairs schemes side by
side (the pairs scheme is the reference: same data, rows treated as independent).

BLAS is pinned to one thread in this process and in the joblib workers, and the load average is printed
before and after. Speed is reported as a ratio against a reference measured in the same run: one global fit
plus one n-replicate bootstrap per scheme on the real data, i.e. the work of one simulated dataset done
directly with ``fit.bootstrap``; the ratio (study time x jobs) / (R x reference) compares the study's cost
per dataset with that (below 1: the study verifies fewer replicates by global refits than
``fit.bootstrap`` does and skips the jackknife unless BCa is asked for).

    python benchmarks/bench_coverage.py [--dataset example_chinchilla] [-R 200] [-n 200] [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

os.environ.update({"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})  # before numpy

import scalefit
from scalefit.simulation.coverage import check_coverage

SCHEMES = ("cluster", "pairs")


def load_average() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def reference_seconds(runs, objective: str, n: int, seed: int) -> float:
    """One global fit and one n-replicate bootstrap per scheme, the work of one simulated dataset."""
    started = time.perf_counter()
    fit = scalefit.fit(runs, objective=objective)
    for scheme in SCHEMES:
        fit.bootstrap(n=n, seed=seed, scheme=scheme, progress=False)
    return time.perf_counter() - started


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
    print(f"load average before: {load_average()}  (cores: {os.cpu_count()}; BLAS pinned to 1 thread)")
    info = scalefit.datasets.info(args.dataset)
    runs = scalefit.datasets.load(args.dataset, **info.recommended)
    objective = "hoffmann" if args.dataset.startswith("chinchilla") else "huber"
    fit = scalefit.fit(runs, objective=objective)
    reference_seconds(runs, objective, min(args.n, 20), args.seed)  # warm-up (imports, caches)
    reference = reference_seconds(runs, objective, args.n, args.seed)
    started = time.perf_counter()
    methods = ("percentile", "bca") if args.bca else ("percentile",)
    schemes = tuple(args.schemes.split(","))
    cov = check_coverage(fit, R=args.R, n=args.n, seed=args.seed, schemes=schemes, methods=methods,
                         n_jobs=args.jobs, backtests=args.backtests)
    seconds = time.perf_counter() - started
    print(f"dataset {args.dataset}: {len(runs)} runs, {runs.n_groups} groups; {fit.objective.describe()}")
    print(cov.summary())
    print(f"{seconds:.1f} s for {args.R} datasets x {len(schemes)} schemes x {args.n} replicates on {args.jobs} jobs")
    print(f"reference, one fit + {len(SCHEMES)} bootstraps of {args.n} on the real data: {reference:.2f} s; "
          f"study time per dataset x jobs / reference: {seconds * args.jobs / (args.R * reference):.2f} "
          f"(1.0 = same cost as doing it by hand with fit.bootstrap)")
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
