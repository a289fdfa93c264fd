"""Data-constrained law: time of the staged fit with a 1,000-replicate bootstrap, and of the joint fit's bootstrap.

Prints, with BLAS pinned to one thread and the load average:
1. staged fit (base fixed, R_N*, R_D*) + 1000 cluster-bootstrap replicates on the datablations C4 runs (182) and
   on every ColPret datablations checkpoint (9,261 rows), against a reference measured in the same run: the
   same replicates solved one by one without merging identical resamples (extrapolated from 50 replicates);
2. the joint 7-parameter fit through scalefit.fit and its bootstrap (100 replicates) on the 182 C4 runs.

Needs SCALEFIT_DATA_MIRROR. Run: python benchmarks/bench_data_constrained.py
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

import scalefit  # noqa: E402
from scalefit.approaches import fit_data_constrained  # noqa: E402
from scalefit.approaches.data_constrained import HUBER_DELTA, _Stage2  # noqa: E402
from scalefit.laws.data_constrained import PAPER_C4_BASE, repetition_features  # noqa: E402


def one_by_one(runs, n_boot: int, seed: int = 0) -> float:
    """Reference: every replicate's exhaustive grid solved on its own (no merging of identical resamples)."""
    df = runs.df
    n, d, u, loss = (df[c].to_numpy(float) for c in ("N", "D", "U", "loss"))
    f = repetition_features(n, d, u, PAPER_C4_BASE)
    b = PAPER_C4_BASE
    problem = _Stage2(b["A"], b["B"], b["E"], b["alpha"], b["beta"], np.log(f["U_N"]), f["R_N"], np.log(f["U_D"]),
                      f["R_D"], np.log(loss), HUBER_DELTA)
    _, codes = np.unique(np.round(np.log(n) / 1e-4), return_inverse=True)
    k = codes.max() + 1
    rng = np.random.default_rng(seed)
    weights = np.stack([np.bincount(p, minlength=k)[codes] for p in rng.integers(0, k, (n_boot, k))]).astype(float)
    started = time.perf_counter()
    for w in weights:
        problem.grid_solve(w[None, :])
    return time.perf_counter() - started


def main() -> None:
    warnings.simplefilter("ignore")
    print(f"load average: {os.getloadavg()}")
    c4 = scalefit.datasets.load("datablations_c4", query="used_in_default_fit")
    curves = scalefit.datasets.load("colpret_datablations", checkpoints="all")
    for name, runs in (("datablations_c4 (182 runs)", c4), ("colpret_datablations all checkpoints", curves)):
        started = time.perf_counter()
        res = fit_data_constrained(runs, joint=False, n_boot=1000, seed=0)
        new = time.perf_counter() - started
        ref = one_by_one(runs, 50) * 1000 / 50
        print(f"{name}: {len(runs)} rows, staged fit + 1000 replicates {new:.1f} s; reference (one by one, "
              f"bootstrap only, extrapolated from 50) {ref:.1f} s; ratio {ref / new:.1f}x; "
              f"R_N*={res.stars['R_N_star']:.3g} R_D*={res.stars['R_D_star']:.3g}")
    started = time.perf_counter()
    joint = scalefit.fit(c4, law="data_constrained", objective="hoffmann")
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    boot = joint.bootstrap(n=100, seed=0, progress=False)
    print(f"joint 7-parameter fit on 182 runs: fit {fit_s:.1f} s, 100-replicate bootstrap "
          f"{time.perf_counter() - started:.1f} s ({boot.failed} failed)")
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
