"""The resampling engine: draw bootstrap replicates and refit them in batches through the solver.

Every replicate is one row of a batched problem: resampling is an integer multiplicity weight per run
(cluster, pairs) or a new vector of log losses (residual), so B replicates are a (B, n) matrix and one
batched Levenberg-Marquardt solve (:func:`solver.refine`), warm-started at the full-data optimum.

1. Identification first (:mod:`solver.identify`): a replicate whose resampled rows cannot identify the law
   (one model size, log D collinear with log N, too few sizes for the exponents) is not fitted; it is
   counted as failed *with its reason*. Why not redraw: a redraw is rejection sampling, which gives the
   same distribution as excluding, but hides how often it happens; counting keeps the seed -> replicate
   mapping and lets the report say how many of the n draws could not say anything.
2. Batched Levenberg-Marquardt from the full-data optimum; per-row Newton-decrement convergence test.
3. Rows that still stall get L-BFGS-B and a stationarity test (counted as ``rescued_by_lbfgsb``).
4. Global check on *every* replicate, batched: a coarse variable-projection grid (exact NNLS per cell and
   replicate from sufficient statistics, one matrix product for all replicates); where a replicate's best
   cell lies outside the neighbourhood of its own optimum, that cell is polished and kept if lower.
5. A fitted replicate in which a term of the law vanishes (present in the full-data fit) is excluded with
   that reason: its exponent is undefined.

Works on :class:`solver.Problem` only (no Fit), so simulation studies can run it on synthetic data.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import solver
from ..core.parallel import map_items
from ..solver import identify, lm, varpro
from ..solver import objective as obj

CHUNK = 500  # replicates per batched solve; fixed so results do not depend on n_jobs. 500 rather than 250: the
# Epoch bootstrap ~8% faster (fewer Levenberg-Marquardt iterations of fixed cost), still two tasks per 1,000
CHUNK_ELEMENTS = 2_000_000  # replicates x rows per batched solve at most: the refit holds ~18 (B, n) float arrays
# (~140 bytes per element, measured), so a batch stays near 300 MB however many rows the table has
JACKKNIFE_MAX = 250  # leave-one-out units at most: more units (pairs scheme on a large table) are dealt into this
# many interleaved blocks and left out a block at a time (a grouped jackknife for the BCa acceleration)
GLOBAL_CHECKS = 16  # residual scheme: replicates re-solved by the full global method (others: all, batched)
REPLICATE_RTOL = 1e-10  # Newton decrement / objective at which a replicate has converged: on the Epoch data its
# parameters then sit within 1e-5 (exponents) of the 1e-13 optimum, ~1e-3 of a bootstrap standard error, for
# 17% fewer iterations
CHECK_POINTS = 10  # coarse grid per nonlinear parameter for the batched global check


def resample_weights(groups: np.ndarray, n: int, scheme: str, rng: np.random.Generator) -> np.ndarray:
    """Multiplicity weights (n_replicates, n_runs) for the pairs or cluster scheme (ones for residual)."""
    counts, codes = resample_counts(groups, n, scheme, rng)
    return counts[:, codes]


def resample_counts(groups: np.ndarray, n: int, scheme: str, rng: np.random.Generator
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The same draws as :func:`resample_weights`, kept per group: counts (n_replicates, G) and codes (n_runs,)
    with multiplicity[b, i] = counts[b, codes[i]]. G is the number of groups (cluster), of runs (pairs) or 1
    (residual), so the cluster scheme's memory does not grow with rows x replicates."""
    rows = len(groups)
    if scheme == "residual":
        return np.ones((n, 1)), np.zeros(rows, dtype=np.intp)
    if scheme == "pairs":
        draws = rng.integers(0, rows, size=(n, rows))
        return _counts(draws, rows), np.arange(rows)
    _, codes = np.unique(groups, return_inverse=True)
    codes = np.asarray(codes).ravel()
    n_groups = codes.max() + 1
    draws = rng.integers(0, n_groups, size=(n, n_groups))
    return _counts(draws, n_groups), codes


@dataclass(frozen=True)
class ReplicateWeights:
    """Row weights of B replicates, stored per group and expanded only for the replicates asked for.

    ``counts`` (B, G) multiplicities per group, ``codes`` (n,) each row's group, ``row_weights`` (n,) the
    problem's own weights. A (B, n) matrix of 1,000 replicates x 1e5 rows is 800 MB; its (B, G) form is not.
    """

    counts: np.ndarray
    codes: np.ndarray
    row_weights: np.ndarray

    def __len__(self) -> int:
        return len(self.counts)

    def multiplicities(self, idx) -> np.ndarray:
        """Multiplicities (len(idx), n) (or (n,) for one integer index)."""
        return self.counts[idx][..., self.codes]

    def full(self, idx) -> np.ndarray:
        """Multiplicities times the problem's row weights, (len(idx), n)."""
        return self.multiplicities(idx) * self.row_weights

    def per_group(self, idx) -> np.ndarray:
        """Full weights of each group's first row, (len(idx), G): the compact columns of :meth:`full`."""
        first = np.unique(self.codes, return_index=True)[1]
        return self.counts[idx] * self.row_weights[first]

    def blocks(self, idx: np.ndarray, size: int):
        """(part of idx, full weights of that part) in blocks of ``size`` replicates."""
        for start in range(0, len(idx), size):
            part = idx[start:start + size]
            yield part, self.full(part)


def _counts(draws: np.ndarray, size: int) -> np.ndarray:
    offsets = draws + size * np.arange(draws.shape[0])[:, None]
    return np.bincount(offsets.ravel(), minlength=size * draws.shape[0]).reshape(draws.shape[0], size).astype(float)


def resample_log_losses(problem: solver.Problem, z0: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Residual scheme: fitted log loss + resampled log residuals, (n, rows).

    Residuals are centred and inflated by sqrt(rows / (rows - P)) for the degrees of freedom the fit used.
    Assumes exchangeable errors: with runs that share a model size, prefer the cluster scheme.
    """
    log_pred, _ = obj.log_predict(problem.law, z0, problem.features)
    resid = problem.log_loss - log_pred
    rows, n_par = resid.size, z0.size
    resid = (resid - resid.mean()) * np.sqrt(rows / max(rows - n_par, 1))
    return log_pred + resid[rng.integers(0, rows, size=(n, rows))]


def jackknife_weights(groups: np.ndarray, scheme: str, max_units: int = JACKKNIFE_MAX) -> np.ndarray:
    """Leave-one-out multiplicities (J, rows): one group out for the cluster scheme, one row out otherwise.

    With more than ``max_units`` units, unit i goes to block i mod max_units and a block is left out at a
    time (J = max_units): a grouped jackknife, enough for the BCa acceleration, and J x rows stays small
    (a row-by-row jackknife of 1e5 rows would be a 1e5 x 1e5 matrix and 1e5 refits).
    """
    if scheme == "cluster":
        units = np.asarray(np.unique(groups, return_inverse=True)[1]).ravel()
    else:
        units = np.arange(len(groups))
    n_units = int(units.max()) + 1 if units.size else 0
    if n_units > max_units:
        units, n_units = units % max_units, max_units
    return (units[None, :] != np.arange(n_units)[:, None]).astype(float)


def chunk_size(n_rows: int) -> int:
    """Replicates per batched solve: CHUNK, fewer for tables so long that CHUNK x rows would pass
    CHUNK_ELEMENTS (memory stays bounded; the size depends on the data only, never on n_jobs)."""
    return int(max(1, min(CHUNK, CHUNK_ELEMENTS // max(n_rows, 1))))


def to_public(problem: solver.Problem, z: np.ndarray) -> np.ndarray:
    """Internal (log c, theta) rows -> public parameter rows (c, theta)."""
    k = problem.n_linear
    return np.concatenate([np.exp(z[:, :k]), z[:, k:]], axis=1)


@dataclass(frozen=True)
class Replicates:
    """What :func:`run_replicates` returns: internal z (B, P), usable (B,), checks, jackknife z (J, P).

    ``reasons`` (B,) says why each unusable replicate was excluded ("" where usable).
    """

    z: np.ndarray
    ok: np.ndarray
    checks: dict[str, Any]
    jackknife: np.ndarray | None
    reasons: np.ndarray | None = None


def run_replicates(problem: solver.Problem, z0: np.ndarray, groups: np.ndarray, n: int, scheme: str,
                   rng: np.random.Generator, n_jobs: int = 1, progress: bool = False, verify: int = GLOBAL_CHECKS,
                   jackknife: bool = True) -> Replicates:
    """The whole bootstrap on one problem, fitted at z0: draw, identify, refit in batches, rescue, check.

    ``verify`` = 0 skips the global check. Works on the solver's problem directly (no Fit), so simulation
    studies can call it on synthetic data.
    """
    counts, codes = resample_counts(groups, n, scheme, rng)
    log_loss = resample_log_losses(problem, z0, n, rng) if scheme == "residual" else None
    if log_loss is None:  # identical draws are identical problems: fit each distinct one once
        keep, inverse = _distinct_rows(counts)
        counts, inverse = counts[keep], np.asarray(inverse).ravel()
    else:
        inverse = np.arange(n)
    weights = ReplicateWeights(counts, codes, problem.weights)  # expanded to (B, n) one block at a time
    m, size = len(weights), chunk_size(len(codes))
    why = np.concatenate([identify.reasons(problem.law, problem.features, z0, w)
                          for _, w in weights.blocks(np.arange(m), size)]) if m else np.zeros(0, dtype=str)
    rows = np.flatnonzero(why == "")
    z = np.tile(z0, (m, 1))
    ok = np.zeros(m, dtype=bool)
    values = np.full(m, np.nan)
    chunks = [rows[i:i + size] for i in range(0, rows.size, size)]
    # each job carries its replicates' per-group counts; the worker expands them to row weights
    jobs = [(problem, z0, counts[c], codes, None if log_loss is None else log_loss[c], None) for c in chunks]
    jack_m = _jackknife_rows(problem, z0, groups, scheme) if jackknife else None
    riding = False
    if jack_m is not None:
        jack_w = jack_m * problem.weights
        jack_y = None if log_loss is None else np.tile(problem.log_loss, (len(jack_w), 1))
        # refit with the last chunk while that batch stays small (the slowest row of either sets the
        # iterations once); on long tables in blocks of their own, so no batch passes CHUNK_ELEMENTS
        riding = bool(jobs) and (len(jobs[-1][2]) + len(jack_w)) * len(codes) <= CHUNK_ELEMENTS
        if riding:
            jobs[-1] = (*jobs[-1][:5], (jack_w, jack_y))
        else:
            for i in range(0, len(jack_w), size):
                part = slice(i, i + size)
                jobs.append((problem, z0, counts[:0], codes, None if jack_y is None else jack_y[:0],
                             (jack_w[part], None if jack_y is None else jack_y[part])))
    results = map_items(_refine_chunk, jobs, n_jobs, progress, desc="bootstrap")
    fields = ("z", "value", "grad", "converged", "n_iter")
    jack_res = None
    if jack_m is not None and riding:
        last = results[-1]
        cut = len(last.z) - len(jack_m)
        jack_res = lm.BatchResult(*(np.array(getattr(last, f)[cut:]) for f in fields))
        results[-1] = lm.BatchResult(*(getattr(last, f)[:cut] for f in fields))
    elif jack_m is not None:
        parts = results[len(chunks):]
        jack_res = lm.BatchResult(*(np.concatenate([np.asarray(getattr(r, f)) for r in parts]) for f in fields))
    results = results[:len(chunks)]
    for c, res in zip(chunks, results, strict=True):
        z[c], ok[c], values[c] = res.z, res.converged, res.value
    rescued = _rescue_stalled(problem, z, ok, weights, log_loss, rows)
    if verify and log_loss is None:
        checks = _global_check(problem, z, ok, weights, values)
    elif verify:
        checks = _verify_sample(problem, z, ok, weights, log_loss, rng, verify)
    else:
        checks = {"checked": 0, "mismatches": []}
    present = _present_terms(problem, z0)
    vanished = np.zeros(m, dtype=bool)
    for part, w in weights.blocks(np.flatnonzero(ok), size):
        vanished[part] = identify.vanishing_terms(problem.law, problem.features, z[part], w, present)
    why[(why == "") & vanished] = identify.TERM_VANISHES
    why[(why == "") & ~ok] = identify.NOT_CONVERGED
    ok &= why == ""
    z, ok, why = z[inverse], ok[inverse], why[inverse]
    checks["checked"] = int(np.sum(np.isin(inverse, np.flatnonzero(ok)))) if verify and log_loss is None \
        else checks["checked"]
    checks["mismatches"] = [int(i) for i in np.flatnonzero(np.isin(inverse, checks["mismatches"]))]
    checks["rescued_by_lbfgsb"] = int(rescued[inverse].sum())
    checks["distinct_resamples"] = int(m)
    checks["failed_by_reason"] = dict(Counter(str(r) for r in why if r))
    jack = None if jack_res is None else _jackknife(problem, jack_m, jack_res, present)
    return Replicates(z=z, ok=ok, checks=checks, jackknife=jack, reasons=why)


def _distinct_rows(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(counts, axis=0, return_index=True, return_inverse=True)[1:]`` for a (B, G) matrix.

    Multiplicities below 256 are compared as byte strings (same order as the numbers, several times
    faster than sorting float rows); anything else goes through np.unique.
    """
    if counts.size and counts.min() >= 0 and counts.max() < 256 and np.all(counts == np.round(counts)):
        packed = np.ascontiguousarray(counts.astype(np.uint8)).view(np.dtype((np.void, counts.shape[1])))[:, 0]
        _, keep, inverse = np.unique(packed, return_index=True, return_inverse=True)
    else:
        _, keep, inverse = np.unique(counts, axis=0, return_index=True, return_inverse=True)
    return keep, np.asarray(inverse).ravel()


def _present_terms(problem: solver.Problem, z0: np.ndarray) -> np.ndarray:
    """(K,) terms that carry a nonlinear parameter and are not negligible in the full-data fit: only those
    may 'vanish' in a replicate (a vanishing E is an estimate, E = 0; a vanishing A leaves alpha undefined)."""
    k = problem.n_linear
    present = ~identify.vanishing_terms(problem.law, problem.features, np.tile(z0, (k, 1)),
                                        np.tile(problem.weights, (k, 1)), np.eye(k, dtype=bool))
    basis_jac = problem.law.log_basis_jacobian(z0[k:], problem.features)  # (K, n, p)
    return present & np.any(basis_jac != 0, axis=(-1, -2))


def _jackknife_rows(problem, z0, groups, scheme) -> np.ndarray | None:
    """Leave-one-out multiplicities (J, rows) whose rows identify the law; None when fewer than two."""
    jm = jackknife_weights(groups, scheme)
    usable = identify.reasons(problem.law, problem.features, z0, jm * problem.weights) == ""
    return jm[usable] if usable.sum() >= 2 else None


def _jackknife(problem, jm, res, present):
    """Jackknife z (J', P) from the refits ``res`` of the leave-one-out rows ``jm``: stalled rows rescued,
    rows where a present term vanishes dropped; None when fewer than two remain."""
    jw = jm * problem.weights
    jz, jok = res.z.copy(), res.converged.copy()
    _rescue_stalled(problem, jz, jok, ReplicateWeights(jm, np.arange(jm.shape[1]), problem.weights), None,
                    np.arange(len(jm)))
    jok[jok] &= ~identify.vanishing_terms(problem.law, problem.features, jz[jok], jw[jok], present)
    return jz[jok] if jok.sum() > 1 else None


def _rescue_stalled(problem, z, ok, weights: ReplicateWeights, log_loss, rows) -> np.ndarray:
    """L-BFGS-B and a stationarity test for fitted rows that did not converge; updates z, ok in place.

    Returns the mask (B,) of rows the rescue made usable."""
    rescued = np.zeros(len(z), dtype=bool)
    for i in rows[~ok[rows]]:
        z[i], _, ok[i] = solver.rescue(_sub_problem(problem, weights, log_loss, i), z[i])
        rescued[i] = ok[i]
    return rescued


def _sub_problem(problem, weights: ReplicateWeights, log_loss, i) -> solver.Problem:
    return problem.reweighted(weights.multiplicities(i), None if log_loss is None else log_loss[i])


def _refine_chunk(problem: solver.Problem, z0: np.ndarray, counts: np.ndarray, codes: np.ndarray,
                  log_loss: np.ndarray | None, extra: tuple | None) -> solver.BatchResult:
    """Batched refit from the warm start z0 of replicates given by per-group counts (B, G) and the rows'
    group codes (n,), plus ``extra`` = (full row weights (J, n), log losses or None) fitted in the same batch."""
    weights = counts[:, codes] * problem.weights
    if extra is not None:
        weights = np.vstack([weights, extra[0]])
        log_loss = None if log_loss is None else np.vstack([log_loss, extra[1]])
    return lm.refine(problem, np.tile(z0, (len(weights), 1)), weights, log_loss=log_loss,
                     same_optimum_rtol=solver.SAME_OPTIMUM_RTOL, rtol=REPLICATE_RTOL)


def _global_check(problem, z, ok, weights: ReplicateWeights, values, points: int = CHECK_POINTS) -> dict[str, Any]:
    """Coarse VarPro grid for every converged replicate at once; polish best cells far from the optimum.

    The grid spans the law's search range widened to hold every replicate's exponents. A replicate whose
    best cell (exact NNLS of the relative least-squares criterion) is more than one cell away from its own
    optimum is polished from that cell; a lower objective there replaces the replicate (a mismatch).
    """
    law, k = problem.law, problem.n_linear
    rows = np.flatnonzero(ok)
    if rows.size == 0:
        return {"checked": 0, "mismatches": [], "method": "batched coarse grid"}
    theta_rep = z[rows, k:]
    limits = np.array(law.nonlinear_limits, dtype=float)
    base = np.array(law.grid_range, dtype=float)
    lo = np.clip(np.minimum(base[:, 0], theta_rep.min(axis=0) / 1.25), limits[:, 0], limits[:, 1])
    hi = np.clip(np.maximum(base[:, 1], theta_rep.max(axis=0) * 1.25), limits[:, 0], limits[:, 1])
    axes, theta = varpro.theta_grid(tuple(zip(lo, hi, strict=True)), points)
    shape = tuple(len(a) for a in axes)
    log_axes = [np.log(a) for a in axes]
    compact = weights.per_group(rows)  # (rows, G): the weight columns that differ (group = identical columns)
    products = varpro.group_products(problem, theta, weights.codes)  # one pass over the rows
    group_sums = np.bincount(weights.codes, weights=weights.row_weights, minlength=weights.counts.shape[1])
    cand_rows, cand_z = [], []
    for start in range(0, rows.size, CHUNK):  # (CHUNK, G) statistics per block: G groups, not rows
        chunk = rows[start:start + CHUNK]
        gram, rhs = varpro.statistics_from_products(compact[start:start + CHUNK], products)
        best, coef, _ = varpro.best_cells(gram, rhs, weights.counts[chunk] @ group_sums)
        best_idx = np.stack(np.unravel_index(best, shape), axis=1)
        own_idx = np.stack([np.argmin(np.abs(np.log(np.maximum(z[chunk, k + j], 1e-300))[:, None] - la[None, :]),
                                      axis=1) for j, la in enumerate(log_axes)], axis=1)
        far = np.max(np.abs(best_idx - own_idx), axis=1) > 1
        if far.any():
            cand_rows.append(chunk[far])
            cand_z.append(varpro.coefficients_to_z(coef[far], theta[best[far]], solver.LOG_COEF_BOUNDS))
    mismatches = []
    polished = 0
    if cand_rows:
        idx = np.concatenate(cand_rows)
        polished = int(idx.size)
        res = solver.refine(problem, np.concatenate(cand_z), weights.full(idx))
        lower = np.isfinite(res.value) & (res.value < values[idx] * (1 - 1e-7)) & res.converged
        for i, zi, vi in zip(idx[lower], res.z[lower], res.value[lower], strict=True):
            z[i], values[i] = zi, vi
            mismatches.append(int(i))
    return {"checked": int(rows.size), "mismatches": mismatches, "far_cells_polished": polished,
            "method": f"batched coarse variable-projection grid ({'x'.join(map(str, shape))} cells) on every "
                      "replicate"}


def _verify_sample(problem, z, ok, weights, log_loss, rng, count) -> dict[str, Any]:
    """Residual scheme: re-solve a few replicates with the global method; a lower objective replaces them."""
    candidates = np.flatnonzero(ok)
    picked = rng.choice(candidates, size=min(count, candidates.size), replace=False)
    mismatches = []
    for i in picked:
        sub = _sub_problem(problem, weights, log_loss, i)
        glob = solver.solve(sub)
        if glob.value < float(sub.value(z[i])) * (1 - 1e-7):
            z[i] = glob.z
            mismatches.append(int(i))
    return {"checked": int(picked.size), "mismatches": mismatches, "method": "global re-solve of a sample"}
