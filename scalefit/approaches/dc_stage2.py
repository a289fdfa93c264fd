"""Stage 2 of the data-constrained fit: R_N*, R_D* with the base constants fixed, under the paper's objective.

The objective is the sum of Huber losses (delta = 1e-3) of log residuals; :class:`_Stage2` holds its
precomputed pieces, evaluates it with its gradient, searches an exhaustive grid over log R* for many
bootstrap weight vectors at once, and polishes with L-BFGS-B. :func:`_local_minima` lists the distinct
optima reached from the paper's start grid R* in {20/3, 40/3, 20}.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from ..laws.data_constrained import d_log_effective_d_rstar, log_effective

HUBER_DELTA = 1e-3
PAPER_STARTS = (20.0 / 3.0, 40.0 / 3.0, 20.0)
STAR_NAMES = ("R_N_star", "R_D_star")
LOG_STAR_BOUNDS = (np.log(1e-3), np.log(1e5))
GRID_LOG_RANGE = LOG_STAR_BOUNDS  # R* from 0.001 to 100,000 repetitions: the search box of every replicate
GRID_POINTS = 160
GRID_CHUNK_BYTES = 2.0e8  # memory budget of one chunk of the exhaustive grid (its temporaries included)


def _huber(r: np.ndarray, delta: float) -> tuple[np.ndarray, np.ndarray]:
    psi = np.clip(r, -delta, delta)
    return _huber_rho(r, delta), psi


def _huber_rho(r: np.ndarray, delta: float) -> np.ndarray:
    """Huber loss of r: with m = min(|r|, delta), rho = m (|r| - m / 2) (0.5 r^2 inside, linear outside)."""
    a = np.abs(r)
    m = np.minimum(a, delta)
    a -= 0.5 * m
    a *= m
    return a


@dataclass(frozen=True)
class _Stage2:
    """Precomputed pieces of the stage-2 objective (base fixed): arrays of shape (n,)."""

    a_coef: float
    b_coef: float
    e_coef: float
    alpha: float
    beta: float
    log_un: np.ndarray
    r_n: np.ndarray
    log_ud: np.ndarray
    r_d: np.ndarray
    log_loss: np.ndarray
    delta: float

    def value_and_grad(self, z: np.ndarray, weights: np.ndarray) -> tuple[float, np.ndarray]:
        rn_star, rd_star = np.exp(z)
        term_n = self.a_coef * np.exp(-self.alpha * log_effective(self.log_un, self.r_n, rn_star))
        term_d = self.b_coef * np.exp(-self.beta * log_effective(self.log_ud, self.r_d, rd_star))
        pred = self.e_coef + term_n + term_d
        r = np.log(pred) - self.log_loss
        rho, psi = _huber(r, self.delta)
        dr_n = -self.alpha * term_n * d_log_effective_d_rstar(self.r_n, rn_star) * rn_star / pred
        dr_d = -self.beta * term_d * d_log_effective_d_rstar(self.r_d, rd_star) * rd_star / pred
        wpsi = weights * psi
        return float(np.sum(weights * rho)), np.array([np.sum(wpsi * dr_n), np.sum(wpsi * dr_d)])

    def grid_rho(self, log_rn: np.ndarray, log_rd: np.ndarray) -> np.ndarray:
        """Huber loss of every row at every cell of the grid log_rn x log_rd: shape (len(rn) * len(rd), n)."""
        term_n = self.a_coef * np.exp(-self.alpha * log_effective(self.log_un, self.r_n, np.exp(log_rn)[:, None]))
        term_d = self.b_coef * np.exp(-self.beta * log_effective(self.log_ud, self.r_d, np.exp(log_rd)[:, None]))
        r = np.log(self.e_coef + term_n[:, None, :] + term_d[None, :, :])
        r -= self.log_loss
        rho = _huber_rho(r, self.delta)
        return rho.reshape(-1, rho.shape[-1])

    def grid_solve(self, weights: np.ndarray, z0: np.ndarray | None = None, points: int = GRID_POINTS,
                   refine: int = 3) -> np.ndarray:
        """2-D search in log R* for many weight vectors at once: weights (B, n) -> z (B, 2).

        Without ``z0``: an exhaustive grid over GRID_LOG_RANGE^2 (one matmul for all replicates), then
        ``refine`` rounds of a local 11 x 11 grid (a fifth of the step each round) around each replicate's
        best cell. With ``z0`` (2,): a local descent from z0 by the same shrinking grids (starting at a step of
        0.1 in log R* and repeated while the best cell is on the edge), which stays in z0's basin.
        """
        offsets = np.linspace(-1, 1, 11)
        if z0 is None:
            axis = np.linspace(*GRID_LOG_RANGE, points)
            # rows of the R_N* axis in chunks, so memory stays ~GRID_CHUNK_BYTES however many runs there are
            rows = max(1, int(GRID_CHUNK_BYTES // (8 * 4 * points * max(len(self.log_loss), 1))))
            # (cells, n) @ (n, B): OpenBLAS is ~10x faster in this order than weights @ rho.T for few B
            values = np.concatenate([self.grid_rho(axis[i:i + rows], axis) @ weights.T
                                     for i in range(0, points, rows)], axis=0).T  # (B, points^2)
            best = np.argmin(values, axis=1)
            z = np.stack([axis[best // points], axis[best % points]], axis=1)
            step = axis[1] - axis[0]
        else:
            z = np.tile(np.asarray(z0, float), (len(weights), 1))
            step = 0.5
            for b in range(len(z)):  # walk downhill on a coarse local grid until the best cell is interior
                for _ in range(40):
                    rn_axis, rd_axis = z[b, 0] + step * offsets, z[b, 1] + step * offsets
                    k = int(np.argmin(self.grid_rho(rn_axis, rd_axis) @ weights[b]))
                    z[b] = np.clip((rn_axis[k // 11], rd_axis[k % 11]), *GRID_LOG_RANGE)
                    if 0 < k // 11 < 10 and 0 < k % 11 < 10:
                        break
        for _ in range(refine):
            for b in range(len(z)):
                rn_axis, rd_axis = z[b, 0] + step * offsets, z[b, 1] + step * offsets
                v = self.grid_rho(rn_axis, rd_axis) @ weights[b]
                k = int(np.argmin(v))
                z[b] = (rn_axis[k // 11], rd_axis[k % 11])
            step /= 5.0
        return z

    def solve(self, starts: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, float, bool]:
        best = (None, np.inf, False)
        for z0 in starts:
            res = minimize(self.value_and_grad, z0, args=(weights,), jac=True, method="L-BFGS-B",
                           bounds=[LOG_STAR_BOUNDS] * 2,
                           options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 2000})
            if res.fun < best[1]:
                best = (res.x, float(res.fun), bool(res.success))
        return best


def _local_minima(problem: _Stage2, weights: np.ndarray) -> pd.DataFrame:
    """Distinct optima reached by L-BFGS-B from each start of the paper's grid, best first."""
    rows = []
    for rn in PAPER_STARTS:
        for rd in PAPER_STARTS:
            z, value, _ = problem.solve(np.log([[rn, rd]]), weights)
            if z is not None:
                rows.append({"start_R_N_star": rn, "start_R_D_star": rd, "R_N_star": float(np.exp(z[0])),
                             "R_D_star": float(np.exp(z[1])), "objective": value})
    frame = pd.DataFrame(rows).sort_values("objective", kind="stable")
    keep, seen = [], []
    for i, row in frame.iterrows():
        point = np.log([row.R_N_star, row.R_D_star])
        if all(np.max(np.abs(point - p)) > 0.01 for p in seen):
            seen.append(point)
            keep.append(i)
    return frame.loc[keep].reset_index(drop=True)
