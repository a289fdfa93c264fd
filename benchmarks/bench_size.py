"""Time and peak memory of one fit at 1e2..1e5 rows and of a 1,000-replicate bootstrap at 1e4 rows.

Each measurement runs in its own subprocess (BLAS pinned to one thread before numpy is imported) so peak
memory is that run's alone: the call is timed once plainly (peak resident set ``ru_maxrss`` before and after),
then repeated under ``tracemalloc`` for the peak of numpy's buffers (tracemalloc slows allocation, so that
run is not timed). The fit is ``scalefit.fit(DataFrame)``: validation of the table (load) included. Synthetic Chinchilla
data: 40 model sizes, token counts spread over two decades per size, 1% log-normal noise.
Targets (issue 13): one fit on 100,000 rows < 2 s and < 500 MB; 1,000 replicates on 10,000 rows < 15 s.

Usage: python benchmarks/bench_size.py [--sizes 100 1000 10000 100000] [--boot-rows 10000] [--boot-n 1000]
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

rows, what, n_boot = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
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
start = time.perf_counter()
ok = call()  # timed without tracemalloc (it slows every allocation)
seconds = time.perf_counter() - start
rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
call()
_, peak = tracemalloc.get_traced_memory()
print(json.dumps({"seconds": seconds, "traced_mb": peak / 2**20, "rss_growth_mb": (rss1 - rss0) / 1024,
                  "rss_peak_mb": rss1 / 1024, "ok": ok}))
"""


def run(rows: int, what: str, n_boot: int = 0) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, str(rows), what, str(n_boot)], capture_output=True,
                          text=True, timeout=3600)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10_000, 100_000])
    parser.add_argument("--boot-rows", type=int, default=10_000)
    parser.add_argument("--boot-n", type=int, default=1000)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    print(f"{'what':<26}{'rows':>9}{'seconds':>10}{'traced MB':>11}{'RSS growth MB':>15}{'RSS peak MB':>13}  ok")
    for rows in args.sizes:
        r = run(rows, "fit")
        if "error" in r:
            print(f"{'one fit':<26}{rows:>9}  error: {r['error']}")
            continue
        print(f"{'one fit':<26}{rows:>9}{r['seconds']:>10.3f}{r['traced_mb']:>11.1f}{r['rss_growth_mb']:>15.1f}"
              f"{r['rss_peak_mb']:>13.1f}  {r['ok']}")
    r = run(args.boot_rows, "boot", args.boot_n)
    label = f"bootstrap n={args.boot_n}"
    if "error" in r:
        print(f"{label:<26}{args.boot_rows:>9}  error: {r['error']}")
    else:
        print(f"{label:<26}{args.boot_rows:>9}{r['seconds']:>10.3f}{r['traced_mb']:>11.1f}"
              f"{r['rss_growth_mb']:>15.1f}{r['rss_peak_mb']:>13.1f}  {r['ok']}")
    print("targets: one fit on 100,000 rows < 2 s and < 500 MB; 1,000 replicates on 10,000 rows < 15 s")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
