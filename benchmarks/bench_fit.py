"""One Chinchilla fit by the default path vs Hoffmann et al.'s 4,500-start L-BFGS-B grid, in the same run.

Data: Epoch AI's reconstruction of the Chinchilla runs (240 after dropping the 5 highest losses), Huber
delta = 1e-3 summed (Besiroglu et al. 2024). Two references:
  * the grid as usually run: scipy L-BFGS-B with its default tolerances from every start;
  * the grid with scalefit's tight tolerances (ftol=0, gtol=1e-12), i.e. the strongest version of it.
Prints each time, each objective value and the ratios. Target (issue 3): >= 1,000x at an equal or
better objective.

Usage: python benchmarks/bench_fit.py [--mirror DIR] [--starts K]   (K < 4500 times a random subset and
scales the time; the full grid is the default)
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # before numpy is imported
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from scipy.optimize import minimize  # noqa: E402

import scalefit  # noqa: E402
from scalefit import datasets, solver  # noqa: E402
from scalefit.laws import Chinchilla  # noqa: E402
from scalefit.solver import objective as obj  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mirror", default=None)
    parser.add_argument("--starts", type=int, default=4500)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()} (BLAS pinned to 1 thread)")
    runs = datasets.load("chinchilla_epoch", mirror=args.mirror, drop_highest_loss=5)
    problem = solver.Problem.build(Chinchilla(), {"N": runs.N, "D": runs.D}, runs.loss,
                                   obj.Objective("huber", 1e-3))

    scalefit.fit(runs, objective="hoffmann")  # warm-up (imports, caches)
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        ours = scalefit.fit(runs, objective="hoffmann")
        times.append(time.perf_counter() - start)
    t_ours = float(np.median(times))

    starts = solver.hoffmann_grid_starts(problem.law)
    scale = 1.0
    if args.starts < len(starts):
        starts = starts[np.random.default_rng(0).choice(len(starts), args.starts, replace=False)]
        scale = 4500 / args.starts

    def fun(z):
        v, g = problem.value_and_grad(z)
        return float(v), g

    start = time.perf_counter()
    default_best = min(minimize(fun, z0, jac=True, method="L-BFGS-B").fun for z0 in starts)
    t_default = (time.perf_counter() - start) * scale

    start = time.perf_counter()
    tight = solver.solve_hoffmann_grid(problem, starts)
    t_tight = (time.perf_counter() - start) * scale

    best = min(ours.solution.value, default_best, tight.value)
    print(f"data: {len(runs)} runs; objective: Huber(delta=1e-3) on log loss, summed")
    print(f"scalefit default path : {t_ours * 1e3:8.1f} ms  objective {ours.solution.value:.13g}")
    print(f"4,500-start grid, scipy default tolerances: {t_default:8.2f} s   objective {default_best:.13g}")
    print(f"4,500-start grid, tight tolerances        : {t_tight:8.2f} s   objective {tight.value:.13g}")
    if scale != 1.0:
        print(f"(grid times scaled from {len(starts)} random starts)")
    print(f"speed-up vs default-tolerance grid: {t_default / t_ours:8.0f}x   (target >= 1000x)")
    print(f"speed-up vs tight-tolerance grid  : {t_tight / t_ours:8.0f}x")
    print(f"objective gap to the best found (relative): scalefit {(ours.solution.value - best) / best:.2e}, "
          f"default grid {(default_best - best) / best:.2e}, tight grid {(tight.value - best) / best:.2e}")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
