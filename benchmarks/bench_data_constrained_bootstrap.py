"""Speed and agreement of the data-constrained stage-2 bootstrap (1,000 replicates of R_N*, R_D*).

Compares the batched grid search used by scalefit.approaches.fit_data_constrained (one matmul over all
replicates on a 140 x 140 grid in log R*, then shrinking local grids) with a reference that refits each
replicate by scipy L-BFGS-B (analytic gradient, tight tolerances) from the full-data optimum, on the
same replicate weights. Prints seconds, the ratio, and the agreement of the two (median |log ratio|, and
the share of replicates where the grid reaches an objective no worse than L-BFGS-B).

Run:  SCALEFIT_DATA_MIRROR=../shared/datasets python benchmarks/bench_data_constrained_bootstrap.py
"""

from __future__ import annotations

import os

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

import scalefit  # noqa: E402
from scalefit.approaches.data_constrained import HUBER_DELTA, _Stage2  # noqa: E402
from scalefit.laws.data_constrained import PAPER_C4_BASE, repetition_features  # noqa: E402


def main(n_boot: int = 1000, n_ref: int = 200, seed: int = 0) -> None:
    print(f"load average: {os.getloadavg()}")
    runs = scalefit.datasets.load("datablations_c4", query="used_in_default_fit")
    b = PAPER_C4_BASE
    f = repetition_features(runs.N, runs.D, runs.df["U"].to_numpy(float), b)
    problem = _Stage2(b["A"], b["B"], b["E"], b["alpha"], b["beta"], np.log(f["U_N"]), f["R_N"],
                      np.log(f["U_D"]), f["R_D"], np.log(runs.loss), HUBER_DELTA)
    ones = np.ones(len(runs))
    z_full = problem.grid_solve(ones[None, :])[0]
    z_full, _, _ = problem.solve(z_full[None, :], ones)
    _, codes = np.unique(np.round(np.log(runs.N) / 1e-4), return_inverse=True)
    k = codes.max() + 1
    rng = np.random.default_rng(seed)
    weights = np.stack([np.bincount(rng.integers(0, k, k), minlength=k)[codes] for _ in range(n_boot)]).astype(float)

    t0 = time.perf_counter()
    z_grid = problem.grid_solve(weights)
    t_grid = time.perf_counter() - t0

    t0 = time.perf_counter()
    z_ref = np.array([problem.solve(z_full[None, :], w)[0] for w in weights[:n_ref]])
    t_ref = (time.perf_counter() - t0) * n_boot / n_ref

    v_grid = np.array([problem.value_and_grad(z, w)[0] for z, w in zip(z_grid[:n_ref], weights[:n_ref], strict=True)])
    v_ref = np.array([problem.value_and_grad(z, w)[0] for z, w in zip(z_ref, weights[:n_ref], strict=True)])
    print(f"grid search, {n_boot} replicates: {t_grid:.2f} s")
    print(f"L-BFGS-B per replicate (timed on {n_ref}, scaled to {n_boot}): {t_ref:.2f} s  "
          f"(ratio {t_ref / t_grid:.1f}x)")
    print(f"median |ln R* grid - ln R* L-BFGS-B|: {np.median(np.abs(z_grid[:n_ref] - z_ref), axis=0)}")
    print(f"grid objective <= L-BFGS-B objective (+1e-9 rel) in {np.mean(v_grid <= v_ref * (1 + 1e-9)):.0%} of "
          f"replicates; L-BFGS-B lower by > 1e-4 rel in {np.mean(v_ref < v_grid * (1 - 1e-4)):.0%}")


if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        main()
