"""Can a (re)weighted dataset identify the law at all? Checks done before fitting, batched over replicates.

A cluster bootstrap of a 4-size ladder draws a single model size in ~1.6% of replicates; one model size, or
one token count per size (log D a linear function of log N), or too few distinct sizes for the exponents
leave a direction of parameter space the data cannot see. Such a replicate has no estimate to give, so it is
not fitted and is reported with its reason (see :func:`reasons`), instead of crashing the linear algebra or
wandering along a flat valley until an iteration limit.

Two tests, both linear in the weights (one matrix product for all replicates):

* the inputs: a feature of the form log(input) with a single value among the weighted rows, or two such
  features that are collinear;
* the Jacobian of the log predictions at a reference point z0: its weighted Gram matrix, scaled to unit
  diagonal, has an eigenvalue below RANK_RTOL (a direction no resampled row constrains).
"""

from __future__ import annotations

import numpy as np

from . import objective as obj

RANK_RTOL = 1e-11  # smallest eigenvalue of the unit-diagonal Gram matrix below which a direction is unseen
COLLINEAR_RTOL = 1e-9  # 1 - |correlation| of two log inputs below which they are collinear
NEGLIGIBLE_SHARE = 1e-4  # as in fit.py: a term below this share of every prediction is absent

NOT_IDENTIFIED = "parameters not identified by the resampled rows (rank-deficient design)"
TERM_VANISHES = "a term of the law vanishes (its exponent is then undefined)"
NOT_CONVERGED = "did not converge"


def input_features(law, features) -> dict[str, np.ndarray]:
    """{input name: feature} for features that are log(input) or the input itself (e.g. logN -> N)."""
    out = {}
    for key, value in features.items():
        name = key[3:] if key.startswith("log") and key[3:] in law.inputs else key
        if name in law.inputs and np.ndim(value) == 1:
            out[name] = np.asarray(value, dtype=float)
    return out


def _weighted_moments(weights: np.ndarray, columns: np.ndarray):
    """Weighted mean (B, q) and covariance (B, q, q) of the columns (n, q) for every weight row (B, n)."""
    total = np.maximum(weights.sum(axis=1), 1e-300)
    centre = columns.mean(axis=0)
    x = columns - centre
    mean = (weights @ x) / total[:, None]
    second = (weights @ (x[:, :, None] * x[:, None, :]).reshape(len(x), -1)) / total[:, None]
    q = columns.shape[1]
    cov = second.reshape(-1, q, q) - mean[:, :, None] * mean[:, None, :]
    return mean + centre, cov


def design_reasons(law, features, weights: np.ndarray) -> np.ndarray:
    """Reason (str, "" if none) per weight row (B, n) why the weighted inputs cannot identify the law."""
    weights = np.atleast_2d(weights)
    out = np.full(weights.shape[0], "", dtype=object)
    inputs = input_features(law, features)
    if not inputs:
        return out
    names = list(inputs)
    columns = np.stack([inputs[k] for k in names], axis=1)
    _, cov = _weighted_moments(weights, columns)
    spread = np.maximum(np.ptp(columns, axis=0), 1e-300)
    var = np.einsum("bqq->bq", cov)
    constant = var <= (1e-9 * spread) ** 2
    for j, name in enumerate(names):
        out[(out == "") & constant[:, j]] = f"only one value of {name}"
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            with np.errstate(all="ignore"):
                corr = cov[:, i, j] / np.sqrt(var[:, i] * var[:, j])
            collinear = ~constant[:, i] & ~constant[:, j] & (1 - np.abs(corr) <= COLLINEAR_RTOL)
            out[(out == "") & collinear] = f"{names[i]} and {names[j]} vary together (log-collinear)"
    return out


def jacobian_rank_deficient(law, features, z0: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(B,) True where the weighted Gram matrix of d log Lhat / d z at z0 has an unseen direction."""
    weights = np.atleast_2d(weights)
    k = len(law.linear_names)
    z0 = _revive_dead_terms(law, features, z0)
    _, share = obj.log_predict(law, z0, features)
    jac = obj.residual_jacobian(share, law.log_basis_jacobian(z0[k:], features))  # (n, P)
    p = jac.shape[1]
    gram = (weights @ (jac[:, :, None] * jac[:, None, :]).reshape(len(jac), -1)).reshape(-1, p, p)
    diag = np.einsum("bpp->bp", gram)
    live = diag > 1e-30 * np.max(diag, axis=1, keepdims=True)
    scale = np.sqrt(np.where(live, diag, 1.0))
    corr = gram / (scale[:, :, None] * scale[:, None, :])
    idx = np.arange(p)
    corr[:, idx, idx] = np.where(live, corr[:, idx, idx], 1.0)
    finite = np.isfinite(corr).all(axis=(1, 2))
    eig = np.full(len(gram), -np.inf)
    if finite.any():
        eig[finite] = np.linalg.eigvalsh(corr[finite])[:, 0]
    return eig < RANK_RTOL


REVIVED_SHARE = 0.01


def _revive_dead_terms(law, features, z0: np.ndarray) -> np.ndarray:
    """z0 with every negligible term raised to ~1% of the median prediction.

    At a point where a coefficient sits at its floor (E = 0, say) that term's Jacobian column is zero and the
    rank test would only judge the reduced law; replicates move off the boundary, so the full law is tested.
    """
    k = len(law.linear_names)
    log_pred, share = obj.log_predict(law, z0, features)
    dead = np.flatnonzero(share.max(axis=-1) < NEGLIGIBLE_SHARE)
    if dead.size == 0:
        return z0
    z = np.array(z0, dtype=float, copy=True)
    basis = law.log_basis(z0[k:], features)  # (K, n)
    for j in dead:
        z[j] = np.log(REVIVED_SHARE) + float(np.median(log_pred - basis[j]))
    return z


def reasons(law, features, z0: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Why each weight row (B, n) cannot identify the law ("" where it can): inputs first, then Jacobian."""
    out = design_reasons(law, features, weights)
    rank = jacobian_rank_deficient(law, features, z0, weights)
    out[(out == "") & rank] = NOT_IDENTIFIED
    return out


def vanishing_terms(law, features, z: np.ndarray, weights: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
    """(B,) True where some term's share of the prediction is below NEGLIGIBLE_SHARE on every weighted row.

    ``keep`` (K,) or (B, K) marks terms to test (e.g. those present in the full-data fit); default all.
    A term's share on any one weighted row is a lower bound of its largest share, so each problem row is
    first tested on one run per term (the weighted run where that term weighs most at the rows' median
    parameters); only rows that this does not clear are tested on every run. The answer is the same.
    """
    k = len(law.linear_names)
    keep = np.broadcast_to(True if keep is None else np.asarray(keep, dtype=bool), (z.shape[0], k))
    seen = weights > 0
    if z.shape[0] == 0 or not keep.any():
        return np.zeros(z.shape[0], dtype=bool)
    _, share_ref = obj.log_predict(law, np.median(z, axis=0), features)  # (K, n)
    probe = np.empty((z.shape[0], k), dtype=np.intp)
    for j in range(k):  # the first weighted run in order of decreasing share
        order = np.argsort(-share_ref[j], kind="stable")
        probe[:, j] = order[np.argmax(seen[:, order], axis=1)]
    runs, pos = np.unique(probe, return_inverse=True)
    _, share = obj.log_predict(law, z, {key: v[runs] for key, v in features.items()})  # (B, K, runs)
    at_probe = np.take_along_axis(share, pos.reshape(probe.shape)[:, :, None], axis=2)[:, :, 0]
    unclear = np.flatnonzero(np.any(~(at_probe >= NEGLIGIBLE_SHARE) & keep, axis=1))
    out = np.zeros(z.shape[0], dtype=bool)
    if unclear.size:
        out[unclear] = _vanishing_on_every_run(law, features, z[unclear], weights[unclear], keep[unclear])
    return out


def _vanishing_on_every_run(law, features, z: np.ndarray, weights: np.ndarray, keep: np.ndarray) -> np.ndarray:
    k = len(law.linear_names)
    top = np.zeros((z.shape[0], k))
    n = weights.shape[-1]
    step = max(1, (1 << 18) // max(z.shape[0] * k, 1))
    for start in range(0, n, step):
        rows = slice(start, min(start + step, n))
        _, share = obj.log_predict(law, z, {key: v[rows] for key, v in features.items()})
        seen = weights[:, None, rows] > 0
        top = np.maximum(top, np.max(np.where(seen, share, 0.0), axis=-1))
    return np.any((top < NEGLIGIBLE_SHARE) & keep, axis=1)
