"""Kaplan against Chinchilla (and the no-E and alpha = beta variants) by leave-largest-out error, on every
mirrored dataset that suits them. Prints one table per dataset; needs SCALEFIT_DATA_MIRROR for the public ones.

Run: SCALEFIT_DATA_MIRROR=/path/to/datasets python benchmarks/compare_laws.py
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import time

from scalefit import datasets
from scalefit.approaches.compare_laws import compare

LAWS = ["chinchilla", "kaplan", "chinchilla_no_e", "chinchilla_tied"]
CASES = [
    ("Epoch Chinchilla reconstruction (240 runs, Hoffmann objective)",
     lambda: datasets.load("chinchilla_epoch", drop_highest_loss=5), "hoffmann"),
    ("datablations C4, single-epoch runs (epochs == 1)", lambda: datasets.load("datablations_c4", query="epochs == 1"),
     "huber"),
    ("bundled example", lambda: datasets.load("example_chinchilla"), "huber"),
]

if __name__ == "__main__":
    print(f"load average: {os.getloadavg()}")
    for title, load, objective in CASES:
        started = time.perf_counter()
        result = compare(load(), laws=LAWS, objective=objective, k_max=3)
        print(f"\n== {title} ({time.perf_counter() - started:.1f} s)")
        print(result.summary())
