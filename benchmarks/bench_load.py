"""Time load_runs on a 1,000,000-row CSV against pandas.read_csv of the same file (the reference).

Usage: python benchmarks/bench_load.py [rows] [rounds]

BLAS is pinned to one thread before numpy is imported; the load average is printed before and after;
rounds are interleaved (reference, load_runs, reference, ...) so a busy machine slows both alike. The
target (issue 13) is load_runs within 2x of ``pandas.read_csv`` alone (default C engine, as a user would
call it). ``read_csv(engine="pyarrow")`` is printed as a second reference. load_runs parses with the pyarrow
engine when pyarrow is installed (it is an extra: ``scalefit[parquet]``; a plain ``pip install scalefit`` has
no pyarrow) and the machine has ``readers.PYARROW_MIN_CORES`` cores, with pandas' C engine otherwise; both paths
are timed (each forced in turn), and each ratio is printed per round so the spread on a busy machine is visible.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from scalefit import load_runs  # noqa: E402
from scalefit.data import readers  # noqa: E402


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover
        return "n/a"


def main(rows: int = 1_000_000, rounds: int = 5) -> None:
    rng = np.random.default_rng(0)
    sizes = np.geomspace(1e7, 1e10, 60)  # a sweep: 60 model sizes, many token counts each
    frame = pd.DataFrame({"params": rng.choice(sizes, rows), "tokens": rng.uniform(1e9, 1e12, rows),
                          "val_loss": rng.uniform(2, 4, rows)})
    print(f"rows: {rows:,}; rounds: {rounds} (interleaved); load average before: {load_average()}")
    has_pyarrow = readers._has_pyarrow()
    choice = "pyarrow" if readers._use_pyarrow() else "c"
    print(f"load_runs picks the {choice} parser here ({readers._usable_cores()} cores, pyarrow "
          f"{'installed' if has_pyarrow else 'not installed'})")
    parsers = ["pyarrow", "c"] if has_pyarrow else ["c"]
    times: dict[str, list[float]] = {"read_csv": [], "read_csv_pyarrow": [], **{p: [] for p in parsers}}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "runs.csv"
        frame.to_csv(path, index=False)
        for _ in range(rounds):
            start = time.perf_counter()
            pd.read_csv(path)
            times["read_csv"].append(time.perf_counter() - start)
            for parser in parsers:
                readers._use_pyarrow = lambda parser=parser: parser == "pyarrow"
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    table = load_runs(path)
                times[parser].append(time.perf_counter() - start)
                assert table.provenance["encoding"]["parser"] == parser
                assert len(table) == rows and table.n_groups == 60
            if has_pyarrow:
                start = time.perf_counter()
                pd.read_csv(path, engine="pyarrow")
                times["read_csv_pyarrow"].append(time.perf_counter() - start)
    best = {k: min(v) for k, v in times.items() if v}
    median = {k: float(np.median(v)) for k, v in times.items() if v}
    for key, label in (("read_csv", "pandas.read_csv (reference, C engine)"),
                       ("read_csv_pyarrow", "pandas.read_csv(engine='pyarrow')"),
                       ("pyarrow", "scalefit.load_runs, pyarrow parser"),
                       ("c", "scalefit.load_runs, C parser (also: no pyarrow installed)")):
        if key in best:
            print(f"{label:<62} best {best[key]:.3f} s   median {median[key]:.3f} s")
    for key in parsers:
        per_round = np.array(times[key]) / np.array(times["read_csv"])
        print(f"ratio load_runs ({key} parser{', the choice here' if key == choice else ''}) / read_csv: best/best "
              f"{best[key] / best['read_csv']:.2f}x, median/median {median[key] / median['read_csv']:.2f}x, per round "
              f"{per_round.min():.2f}..{per_round.max():.2f}x  (target: <= 2x)")
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000, int(sys.argv[2]) if len(sys.argv) > 2 else 5)
