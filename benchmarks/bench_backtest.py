"""Do the three intervals hold what they claim? Leave-largest-out on the shared datasets, and a misspecified law.

1. For each public dataset: hold out the runs with the largest compute (whole groups), run fit ->
   bootstrap -> backtest -> intervals on the rest, and count the held-out runs inside the law band, the
   new-run interval and the extrapolation interval (nominal 95%), with their median half-width. The
   extrapolation interval must reach at least nominal - 2 binomial SE.
2. Simulation: sweeps drawn from a law the Chinchilla form cannot express (a bending compute frontier,
   :func:`scalefit.simulation.coverage.curved_chinchilla`), fitted by Chinchilla and extrapolated 10x in compute;
   coverage of the true curve with Monte-Carlo standard errors. Then the same with curvature 0 (the truth
   *is* Chinchilla): how wide the extrapolation interval is when nothing is wrong.

    SCALEFIT_DATA_MIRROR=/path/to/datasets python benchmarks/bench_backtest.py [-R 200] [--jobs 2] [--skip-sim]
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy is imported, in this process and in joblib workers

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from functools import partial  # noqa: E402

import scalefit  # noqa: E402
from scalefit import datasets  # noqa: E402
from scalefit.extrapolation.backtest import leave_largest_out  # noqa: E402
from scalefit.simulation.coverage import check_misspecified, curved_chinchilla  # noqa: E402

CASES = (("chinchilla_epoch", {"drop_highest_loss": 5}),
         ("datablations_c4", {"query": "epochs == 1"}),
         ("colpret_opt", {"min_fraction_of_run": 0.1}),  # checkpoints past 10% of each run (the recipe)
         ("porian2024_isoflop", {"query": datasets.PORIAN_FINAL_SETTING}))  # Chinchilla on the IsoFLOP points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-R", type=int, default=200, help="simulated datasets")
    parser.add_argument("-n", type=int, default=100, help="bootstrap replicates")
    parser.add_argument("--fraction", type=float, default=0.1, help="share of runs (by compute) held out")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--skip-sim", action="store_true")
    parser.add_argument("--skip-data", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    if not args.skip_data:
        print(f"{'dataset':<18}{'interval':<24}{'inside':>7}{'of':>4}{'coverage':>10}{'floor':>7}{'+/-':>8}  verdict")
        for name, kwargs in CASES:
            started = time.perf_counter()
            try:
                fit = scalefit.fit(datasets.load(name, **kwargs))
                check = leave_largest_out(fit, fraction=args.fraction, n_boot=args.n, seed=0)
            except scalefit.ScalefitError as exc:
                print(f"{name:<18}not checked: {exc}")
                continue
            for row in check.coverage().itertuples():
                ok = "ok" if row.clears_floor else "BELOW FLOOR"
                print(f"{name:<18}{row.interval:<24}{row.inside:>7}{row.n:>4}{row.coverage:>10.3f}{row.floor:>7.3f}"
                      f"{row.median_halfwidth:>8.2%}  {ok}")
            print(f"{'':<18}{check.intervals.calibration.describe()} ({time.perf_counter() - started:.0f} s)")
    if not args.skip_sim:
        for label, curvature in (("misspecified (curvature 1e-3)", 1e-3), ("well specified (curvature 0)", 0.0)):
            started = time.perf_counter()
            result = check_misspecified(truth=partial(curved_chinchilla, curvature=curvature), R=args.R,
                                        n_boot=args.n, seed=0, n_jobs=args.jobs)
            print(label)
            print(result.summary())
            print(f"{time.perf_counter() - started:.0f} s for {args.R} datasets on {args.jobs} jobs; "
                  f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
