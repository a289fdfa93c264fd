"""Time load_runs on a 1,000,000-row CSV against pandas.read_csv of the same file (the reference).

Usage: python benchmarks/bench_load.py [rows]
Prints both times and the ratio; the target in issue 2 is well under 5 s for 1e6 rows.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from scalefit import load_runs


def main(rows: int = 1_000_000) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"params": rng.uniform(1e7, 1e10, rows), "tokens": rng.uniform(1e9, 1e12, rows),
                          "val_loss": rng.uniform(2, 4, rows), "run": rng.integers(0, 500, rows)})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "runs.csv"
        frame.to_csv(path, index=False)
        best_ref = best_load = np.inf
        for _ in range(3):
            start = time.perf_counter()
            pd.read_csv(path)
            best_ref = min(best_ref, time.perf_counter() - start)
            start = time.perf_counter()
            table = load_runs(path, columns={"group": "run"})
            best_load = min(best_load, time.perf_counter() - start)
    assert len(table) == rows
    print(f"rows: {rows:,}")
    print(f"pandas.read_csv (reference): {best_ref:.2f} s")
    print(f"scalefit.load_runs (read + validate + duplicates + provenance): {best_load:.2f} s")
    print(f"ratio load_runs / read_csv: {best_load / best_ref:.2f}x  (target: load_runs < 5 s)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
