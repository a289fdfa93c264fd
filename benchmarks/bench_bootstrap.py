"""1,000 cluster-bootstrap replicates on the Epoch Chinchilla data (Huber, delta=1e-3) against a per-replicate
scipy L-BFGS-B refit from the full-data optimum, in interleaved rounds of the same run; then the issue-16
small ladder (4 sizes x 5 token multipliers) timed per 1,000 replicates against the Epoch data's.

BLAS is pinned to one thread before numpy is imported; the load average is printed. Every timed call runs
on one thread, so wall-clock and CPU time (``time.process_time``) are both printed, with ratios; when the
load average exceeds the number of cores, wall-clock mostly measures the scheduler: read the CPU-time ratio.
Targets (issue 13): >= 10x faster than the reference with every replicate's objective no worse than the
reference's, no L-BFGS-B rescue on the Epoch data; the ladder no slower per 1,000 replicates than the Epoch
data.

Usage: python benchmarks/bench_bootstrap.py [--mirror DIR] [--n 1000] [--rounds 2] [--ladder-seeds 4]
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.optimize import minimize  # noqa: E402

import scalefit  # noqa: E402
from scalefit import datasets, solver  # noqa: E402
from scalefit.uncertainty.resampling import resample_weights  # noqa: E402

LADDER_SIZES = np.array([190_354_176, 371_262_464, 758_220_288, 1_279_395_840.0])
LADDER_MULT = np.array([0.5, 1, 2, 5, 10])


def ladder_fit(seed: int, objective: str = "hoffmann"):
    n = np.repeat(LADDER_SIZES, LADDER_MULT.size)
    d = 20 * n * np.tile(LADDER_MULT, LADDER_SIZES.size)
    rng = np.random.default_rng(seed)
    loss = (1.4461 + 18.4967 / n**0.1455 + 39.4846 / d**0.1657) * np.exp(rng.normal(0, 0.006, n.size))
    return scalefit.fit(pd.DataFrame({"N": n, "D": d, "loss": loss}), objective=objective)


def clocks() -> np.ndarray:
    """(wall-clock, CPU) seconds now."""
    return np.array([time.perf_counter(), time.process_time()])


def reference(problem, z0, weights) -> tuple[np.ndarray, np.ndarray]:
    """scipy L-BFGS-B (default tolerances) per replicate from the full-data optimum: ((wall, CPU) s, objectives)."""
    start = clocks()
    values = []
    for w in weights:
        def fun(z, w=w):
            v, g = problem.value_and_grad(z, w)
            return float(v), g
        values.append(minimize(fun, z0, jac=True, method="L-BFGS-B", bounds=problem.bounds()).fun)
    return clocks() - start, np.array(values)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mirror", default=None)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--ladder-seeds", type=int, default=4)
    args = parser.parse_args()
    warnings.simplefilter("ignore", scalefit.ScalefitWarning)
    print(f"load average at start: {os.getloadavg()}")
    runs = datasets.load("chinchilla_epoch", mirror=args.mirror, drop_highest_loss=5)
    fit = scalefit.fit(runs, objective="hoffmann")
    fit.bootstrap(n=50, seed=1)  # warm-up
    weights = resample_weights(runs.groups, args.n, "cluster", np.random.default_rng(0))
    problem = solver.Problem.build(fit.law, {"N": runs.N, "D": runs.D}, runs.loss, fit.objective)
    ours, refs, ladders, epoch_rounds = [], [], [], []
    boot = None
    for _ in range(args.rounds):
        start = clocks()
        boot = fit.bootstrap(n=args.n, seed=0, scheme="cluster")
        ours.append(clocks() - start)
        t_ref, ref_values = reference(problem, fit.solution.z, weights)
        refs.append(t_ref)
        epoch_rounds.append(ours[-1])
        for seed in range(args.ladder_seeds):  # interleaved with the Epoch rounds
            lad = ladder_fit(seed)
            start = clocks()
            lad_boot = lad.bootstrap(n=args.n, seed=0)
            ladders.append((clocks() - start, lad_boot.failed, lad_boot.global_checks))
    ours, refs = np.array(ours), np.array(refs)
    (t_ours, c_ours), (t_ref, c_ref) = np.median(ours, axis=0), np.median(refs, axis=0)
    ours_values = np.array([float(problem.value(np.r_[np.log(r[:3]), r[3:]], w))
                            for r, w in zip(boot.replicates, weights, strict=True)]) if boot.failed == 0 else None
    print(f"Epoch data: {args.n} replicates (cluster over {runs.n_groups} model sizes), {boot.failed} failed, "
          f"{boot.global_checks['rescued_by_lbfgsb']} rescued by L-BFGS-B, global check: "
          f"{boot.global_checks['checked']} checked, {len(boot.global_checks['mismatches'])} mismatches")
    print(f"scalefit batched bootstrap      : {t_ours:7.3f} s wall, {c_ours:7.3f} s CPU (medians of {args.rounds}; "
          f"rounds wall {np.round(ours[:, 0], 3)}, CPU {np.round(ours[:, 1], 3)})")
    print(f"L-BFGS-B per replicate (scipy)  : {t_ref:7.3f} s wall, {c_ref:7.3f} s CPU (rounds wall "
          f"{np.round(refs[:, 0], 3)}, CPU {np.round(refs[:, 1], 3)})")
    print(f"speed-up: {t_ref / t_ours:6.1f}x wall-clock, {c_ref / c_ours:6.1f}x CPU time; per round (CPU): "
          f"{np.round(refs[:, 1] / ours[:, 1], 1)}   (target >= 10x)")
    if ours_values is not None:
        gap = (ref_values - ours_values) / ours_values
        worse = int(np.sum(gap < -1e-9))
        print(f"reference objective above scalefit's: median {np.median(gap):.2e}, min {gap.min():.2e}, "
              f"max {gap.max():.2e} (relative); replicates where scalefit is worse by > 1e-9: {worse}")
    lad_t = np.array([t[1] for t, _, _ in ladders])  # CPU time
    failed = [f for _, f, _ in ladders]
    per_1000 = np.median(lad_t) * 1000 / args.n
    print(f"ladder 4x5 ({args.ladder_seeds} noise seeds x {args.rounds} rounds): median {per_1000:.3f}"
          f" s CPU per 1,000 replicates vs Epoch {c_ours * 1000 / args.n:.3f} s: ratio ladder/Epoch "
          f"{np.median(lad_t) / c_ours:.2f} (target <= 1)")
    print(f"ladder failed replicates per run: {failed}; reasons (last): {ladders[-1][2].get('failed_by_reason')}")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
