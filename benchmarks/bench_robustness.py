"""Breakdown of the default fit under corrupted runs: 1, 2, 3 runs of a synthetic sweep at x10 or /10 loss.

Synthetic sweeps (:func:`scalefit.simulation.corrupted.corrupted_sweep`: 8 sizes x 5 token counts, 0.4% noise,
Hoffmann et al.'s law with alpha = 0.34), one per seed; in each, k runs chosen by the seed are multiplied by
the factor. Each corrupted sweep is fitted with the default objective (Huber on log residuals, automatic
delta) and compared with the fit of the same seed's clean sweep. Per case: the median and largest relative
shift of alpha, beta and E over the seeds, in how many seeds both exponents stayed within 5% of the clean
fit, in how many every corrupted run was named in the fit's
outlier warning, runs named that were not corrupted, and the verdict: in every seed, either both exponents
within 5% of the clean fit or every corrupted run named.

``--before`` also measures the fit without the robust restarts of :mod:`scalefit.fitting.robust` (the default
before them: automatic delta from the first pass only, one global solve) for comparison.

    python benchmarks/bench_robustness.py [--seeds 20] [--before]
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy is imported

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

import scalefit  # noqa: E402
from scalefit.fitting import fit as fit_module  # noqa: E402
from scalefit.simulation.corrupted import corrupted_sweep  # noqa: E402

CASES = ((10.0, 1), (10.0, 2), (10.0, 3), (0.1, 1), (0.1, 2), (0.1, 3))
LIMIT = 0.05  # relative shift of an exponent that counts as "moved"


def fit_quietly(frame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scalefit.fit(frame)


def named_positions(result) -> set[int]:
    """0-based positions of the runs named by the outlier warning (DataFrame labels are "index i")."""
    return {int(r["row"].removeprefix("index ")) for r in result.diagnostics.get("outliers", [])}


def measure(seeds: int) -> list[dict]:
    rows = []
    clean = {s: fit_quietly(corrupted_sweep(s)[0]) for s in range(seeds)}
    false_clean = sum(len(named_positions(f)) for f in clean.values())
    for factor, k in CASES:
        shifts, all_named, extra, ok, held = {"alpha": [], "beta": [], "E": []}, 0, 0, 0, 0
        for s in range(seeds):
            frame, where = corrupted_sweep(s, factor, k)
            result = fit_quietly(frame)
            moved = {p: abs(result.params[p] / clean[s].params[p] - 1) for p in shifts}
            for p, v in moved.items():
                shifts[p].append(v)
            named = named_positions(result)
            every = set(where.tolist()) <= named
            all_named += every
            extra += len(named - set(where.tolist()))
            within = moved["alpha"] <= LIMIT and moved["beta"] <= LIMIT
            held += within
            ok += every or within
        rows.append({"case": f"{'x10' if factor > 1 else '/10'}", "k": k, "shifts": shifts, "named": all_named,
                     "extra": extra, "ok": ok, "held": held, "seeds": seeds, "false_clean": false_clean})
    return rows


def print_table(rows: list[dict], title: str) -> None:
    print(f"\n{title}")
    print(f"{'loss':>5}{'k':>3} | {'alpha shift med/max':>20} | {'beta shift med/max':>19} | {'E shift med/max':>17} "
          f"| {'within 5%':>9} | {'all named':>9} | {'others named':>12} | {'within 5% or all named':>22}")
    for r in rows:
        cells = [f"{100 * np.median(r['shifts'][p]):5.1f}% / {100 * np.max(r['shifts'][p]):6.1f}%"
                 for p in ("alpha", "beta", "E")]
        verdict = f"{r['ok']}/{r['seeds']} " + ("PASS" if r["ok"] == r["seeds"] else "FAIL")
        print(f"{r['case']:>5}{r['k']:>3} | {cells[0]:>20} | {cells[1]:>19} | {cells[2]:>17} | "
              f"{r['held']:>4}/{r['seeds']:<4} | {r['named']:>4}/{r['seeds']:<4} | {r['extra']:>12} | {verdict:>22}")
    print(f"clean sweeps: {rows[0]['false_clean']} runs named over {rows[0]['seeds']} seeds")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--before", action="store_true", help="also measure without the robust restarts")
    args = parser.parse_args()
    print("load average at start: {:.2f} {:.2f} {:.2f} (BLAS pinned to 1 thread)".format(*os.getloadavg()))
    started = time.perf_counter()
    print_table(measure(args.seeds), f"default fit (this version), {args.seeds} seeds; shifts relative to the clean "
                                     "fit of the same seed")
    if args.before:
        restarts = fit_module.robust_restarts
        fit_module.robust_restarts = lambda spec, engine, data, loss, w, current, method: (current, {})
        try:
            print_table(measure(args.seeds), "without the robust restarts (the default before them)")
        finally:
            fit_module.robust_restarts = restarts
    print(f"\n{time.perf_counter() - started:.0f} s; load average at end: "
          "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
