"""Time and peak memory of one fit at 1e2..1e5 rows and of a 1,000-replicate bootstrap at 1e4 rows.

Each measurement runs in its own subprocess (BLAS pinned to one thread before numpy is imported) so peak
memory is that run's alone: the call is timed plainly ``--repeat`` times (best and median printed; peak resident
set ``ru_maxrss`` before and after the first), then run once more under ``tracemalloc`` for the peak of numpy's
buffers (tracemalloc slows allocation, so that run is not timed). The load average is printed per row: this
machine may be shared, and the best of a few runs is the fairest time. The fit is ``scalefit.fit(DataFrame)``:
validation of the table (load) included. Synthetic Chinchilla data: 40 model sizes, token counts spread over two
decades per size, 1% log-normal noise.
Targets (issue 13): one fit on 100,000 rows < 2 s and < 500 MB; 1,000 replicates on 10,000 rows < 15 s.

Usage: python benchmarks/bench_size.py [--sizes 100 1000 10000 100000] [--boot-rows 10000] [--boot-n 1000]
                                      [--repeat 3] [--boot-repeat 1]
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

CHILD = r"""
import os
for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[v] = "1"
import json, resource, sys, time, tracemalloc, warnings
import numpy as np, pandas as pd
import scalefit

rows, what, n_boot, repeat = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(0)
sizes = np.geomspace(1e7, 3e9, 40)
n = sizes[rng.integers(0, sizes.size, rows)]
d = n * np.exp(rng.uniform(np.log(2), np.log(200), rows))
loss = (1.7 + 400 / n ** 0.34 + 410 / d ** 0.28) * np.exp(rng.normal(0, 0.01, rows))
table = pd.DataFrame({"N": n, "D": d, "loss": loss})
warnings.simplefilter("ignore")
scalefit.fit(table.iloc[:200])  # imports and caches, outside the measurement
fit = scalefit.fit(table) if what == "boot" else None
def call():
    if what == "fit":
        result = scalefit.fit(table)
        return bool(result.diagnostics["converged"])
    return fit.bootstrap(n=n_boot, seed=0).failed == 0

rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
seconds = []
for _ in range(repeat):  # timed without tracemalloc (it slows every allocation)
    start = time.perf_counter()
    ok = call()
    seconds.append(time.perf_counter() - start)
    if len(seconds) == 1:
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
call()
_, peak = tracemalloc.get_traced_memory()
print(json.dumps({"seconds": min(seconds), "median": sorted(seconds)[len(seconds) // 2], "traced_mb": peak / 2**20,
                  "rss_growth_mb": (rss1 - rss0) / 1024, "rss_peak_mb": rss1 / 1024, "ok": ok,
                  "load": os.getloadavg()[0]}))
"""


def run(rows: int, what: str, n_boot: int = 0, repeat: int = 1) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, str(rows), what, str(n_boot), str(repeat)],
                          capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10_000, 100_000])
    parser.add_argument("--boot-rows", type=int, default=10_000)
    parser.add_argument("--boot-n", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="timed fits per size (best and median printed)")
    parser.add_argument("--boot-repeat", type=int, default=1, help="timed bootstraps")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    print(f"{'what':<20}{'rows':>8}{'best s':>9}{'median s':>10}{'traced MB':>11}{'RSS growth MB':>15}"
          f"{'RSS peak MB':>13}{'load':>6}  ok")
    jobs = [("one fit", rows, "fit", 0, args.repeat) for rows in args.sizes]
    jobs.append((f"bootstrap n={args.boot_n}", args.boot_rows, "boot", args.boot_n, args.boot_repeat))
    for label, rows, what, n_boot, repeat in jobs:
        r = run(rows, what, n_boot, repeat)
        if "error" in r:
            print(f"{label:<20}{rows:>8}  error: {r['error']}")
            continue
        print(f"{label:<20}{rows:>8}{r['seconds']:>9.3f}{r['median']:>10.3f}{r['traced_mb']:>11.1f}"
              f"{r['rss_growth_mb']:>15.1f}{r['rss_peak_mb']:>13.1f}{r['load']:>6.2f}  {r['ok']}")
    print("targets: one fit on 100,000 rows < 2 s and < 500 MB; 1,000 replicates on 10,000 rows < 15 s")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
