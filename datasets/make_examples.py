"""Generate the bundled example sweep(s) with known true parameters.

Run from the repository root:  python datasets/make_examples.py
Writes scalefit/data/example_chinchilla.csv and example_chinchilla_truth.json. The output is a pure
function of the seed below; tests regenerate it and compare byte for byte.

Design (Chinchilla-like IsoFLOP sweep): a ladder of model sizes (log-spaced, 30M..4B parameters) trained
at 10 compute budgets (1e18..3e21 FLOPs, log-spaced), keeping for each budget the sizes whose
tokens-per-parameter lies in [2, 250]. D = C / (6N).

Noise model (log space, what real sweeps show): a per-model-size offset shared by all runs of that size
(architecture / tuning luck; sd GROUP_SD) plus an independent Student-t (df=5) term per run (seed noise,
evaluation noise; scale RUN_SCALE).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20221
TRUTH = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}  # Hoffmann et al. 2022, Approach 3
BUDGETS = np.geomspace(1e18, 3e21, 10)
SIZES = np.geomspace(3e7, 4e9, 36)
TOKENS_PER_PARAM = (2.0, 250.0)
GROUP_SD = 0.004
RUN_SCALE = 0.006
T_DF = 5

OUT = Path(__file__).resolve().parent.parent / "scalefit" / "data"


def chinchilla_loss(n: np.ndarray, d: np.ndarray, p: dict[str, float]) -> np.ndarray:
    return p["E"] + p["A"] / n ** p["alpha"] + p["B"] / d ** p["beta"]


def make_example(seed: int = SEED) -> tuple[pd.DataFrame, dict]:
    rng = np.random.default_rng(seed)
    group_offset = rng.normal(0.0, GROUP_SD, size=len(SIZES))
    rows = []
    for budget in BUDGETS:
        for k, n in enumerate(SIZES):
            d = budget / (6.0 * n)
            if TOKENS_PER_PARAM[0] <= d / n <= TOKENS_PER_PARAM[1]:
                rows.append((k, n, d, budget))
    k, n, d, c = (np.array(col) for col in zip(*rows, strict=True))
    noise = group_offset[k] + RUN_SCALE * rng.standard_t(T_DF, size=len(k))
    loss = chinchilla_loss(n, d, TRUTH) * np.exp(noise)
    frame = pd.DataFrame({
        "N": np.round(n), "D": np.round(d), "C": c, "loss": np.round(loss, 6),
        "group": [f"size-{i:02d}" for i in k],
    })
    truth = {
        "law": "chinchilla", "parameters": TRUTH, "seed": seed,
        "noise": {"model": "log(loss) = log(L_true) + u_group + s * t_df", "group_sd": GROUP_SD,
                  "run_scale": RUN_SCALE, "t_df": T_DF},
        "design": {"budgets_flops": BUDGETS.tolist(), "sizes": SIZES.tolist(),
                   "tokens_per_param_range": list(TOKENS_PER_PARAM)},
        "rows": len(frame),
    }
    return frame, truth


def main() -> None:
    frame, truth = make_example()
    OUT.mkdir(parents=True, exist_ok=True)
    frame.to_csv(OUT / "example_chinchilla.csv", index=False, lineterminator="\n")
    (OUT / "example_chinchilla_truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    print(f"wrote {len(frame)} runs in {frame['group'].nunique()} model sizes to {OUT}")


if __name__ == "__main__":
    main()
