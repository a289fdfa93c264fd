"""Derivative passes for laws whose log basis is affine in theta, on each row's non-zero-weight runs only.

For laws such as Chinchilla's (g_E = 0, g_A = -alpha log N, g_B = -beta log D) the log basis is
g_k(theta) = g0_k + sum_j J_kj theta_j with a constant Jacobian J (K, n, p), so every quantity of a
Levenberg-Marquardt iteration follows from a few (B, m) arrays gathered once:

* rows: a bootstrap replicate gives zero weight to ~37% of the runs (a cluster draw misses about 1/e of
  the groups); each problem row keeps only its runs with non-zero weight, packed to the left and padded
  with weight 0 to the widest row, so the passes cost (B x m) with m the number of weighted runs;
* terms that do not vary over runs (E) are one number per problem row, not a (B, m) array;
* no log-sum-exp over runs: each row is shifted by its largest log coefficient, and a row whose total
  under- or overflows is sent back to the caller (:meth:`AffineRows.derivatives` returns its mask) to be
  evaluated by the stable general pass.

Shapes: B problem rows, n runs, m <= n packed runs, K linear coefficients, p nonlinear parameters, P = K + p.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import objective as obj

BLOCK = 64  # problem rows per pass: a block's scratch arrays (~6 x 64 x m doubles) stay in a core's cache
AFFINE_RTOL = 1e-12  # log basis vs its affine model at a second point: agreement that makes the law log-affine


@dataclass(frozen=True)
class AffineRows:
    """Packed per-row data for B problem rows: ``table`` (B, F, m) holds, for each row's weighted runs
    (packed to the left, padded with weight 0), the fields weights, log losses, then the constant log
    basis g0_k of each term in ``offset_terms`` and the Jacobian column J_kj of each (k, j) in ``slopes``.
    ``width`` (B,) is each row's number of weighted runs.
    """

    n_linear: int
    table: np.ndarray
    width: np.ndarray
    offset_terms: tuple[int, ...]
    slopes: tuple[tuple[int, int], ...]
    #: for each nonlinear parameter j, the terms k whose log basis depends on it
    terms_of: tuple[tuple[int, ...], ...]
    scratch: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def build(cls, law, features, theta: np.ndarray, basis_jac: np.ndarray, log_loss: np.ndarray,
              weights: np.ndarray) -> AffineRows | None:
        """Pack the rows of B problems; None when the law's log basis is not affine in theta.

        ``theta`` (p,) is where the affine model is anchored; ``basis_jac`` (K, n, p) the constant Jacobian;
        ``log_loss`` (n,) or (B, n) and ``weights`` (B, n) are per-row observed log losses and weights.
        """
        k = len(law.linear_names)
        offset = law.log_basis(theta, features) - np.einsum("knp,p->kn", basis_jac, theta)
        other = theta * 1.37 + 0.011
        model = offset + np.einsum("knp,p->kn", basis_jac, other)
        actual = law.log_basis(other, features)
        if not np.allclose(actual, model, rtol=AFFINE_RTOL, atol=AFFINE_RTOL * max(1.0, np.abs(actual).max())):
            return None
        weights = np.asarray(weights, dtype=float)
        batch = weights.shape[0]
        used = weights != 0
        width = used.sum(axis=1)
        m = max(int(width.max(initial=0)), 1)
        offset_terms = tuple(j for j in range(k) if np.any(offset[j]))
        slopes = tuple((j, q) for j in range(k) for q in range(basis_jac.shape[-1]) if np.any(basis_jac[j, :, q]))
        fields = [weights, log_loss, *(offset[j] for j in offset_terms), *(basis_jac[j, :, q] for j, q in slopes)]
        n = used.shape[1]
        row, run = np.nonzero(used)  # each row's weighted runs, in their original order
        slot = np.arange(row.size) - np.repeat(np.cumsum(width) - width, width)
        index = np.full((batch, m), n)  # run n: padding (weight 0, every other field 0)
        index[row, slot] = run
        table = np.empty((batch, len(fields), m))
        for f, values in enumerate(fields):
            values = np.asarray(values, dtype=float)
            if values.ndim == 1:
                np.take(np.append(values, 0.0), index, out=table[:, f], mode="clip")
            else:
                table[:, f] = np.take_along_axis(np.broadcast_to(values, (batch, n)), np.minimum(index, n - 1), axis=1)
                np.putmask(table[:, f], index == n, 0.0)
        terms_of = tuple(tuple(j for j, q in slopes if q == qq) for qq in range(basis_jac.shape[-1]))
        return cls(k, table, width, offset_terms, slopes, terms_of)

    def derivatives(self, objective: obj.Objective, z: np.ndarray, rows: np.ndarray):
        """Objective (b,), gradient (b, P), Gauss-Newton matrix (b, P, P) at z (b, P) for problem rows
        ``rows`` (b,), and a mask (b,) of rows whose prediction under- or overflowed (values not usable).

        Same quantities as :func:`lm.derivatives` (the Huber curvature of :meth:`Objective.parts`) in few
        whole-array passes, in place, over blocks of BLOCK rows in buffers kept between calls: fresh
        arrays of this size come from the operating system on every call and cost more to touch than the
        arithmetic on them, and a block's buffers stay in the core's cache.
        """
        batch, n_par = z.shape
        value, grad = np.empty(batch), np.empty((batch, n_par))
        hess, bad = np.empty((batch, n_par, n_par)), np.empty(batch, dtype=bool)
        with np.errstate(all="ignore"):  # rows that under- or overflow are flagged in ``bad``, not warned about
            for start in range(0, batch, BLOCK):
                part = slice(start, start + BLOCK)
                value[part], grad[part], hess[part], bad[part] = self._block(objective, z[part], rows[part])
        return value, grad, hess, bad

    def _buffer(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """A C-contiguous scratch array of ``shape`` reused across calls (contents undefined)."""
        size = math.prod(shape)
        buf = self.scratch.get(name)
        if buf is None or buf.size < size:
            buf = self.scratch[name] = np.empty(max(size, 1))
        return buf[:size].reshape(shape)

    def _block(self, objective: obj.Objective, z: np.ndarray, rows: np.ndarray):
        k = self.n_linear
        batch, n_par = z.shape
        m = max(int(self.width[rows].max(initial=0)), 1)
        data = np.take(self.table, rows, axis=0, out=self._buffer("data", (batch, *self.table.shape[1:])),
                       mode="clip")  # rows are valid; "raise" would copy through a temporary
        data = data[:, :, :m]
        field_of = {("offset", j): 2 + i for i, j in enumerate(self.offset_terms)}
        field_of.update({("slope", j, q): 2 + len(self.offset_terms) + i for i, (j, q) in enumerate(self.slopes)})
        logc, theta = z[:, :k], z[:, k:]
        shift = logc.max(axis=1, keepdims=True)
        terms: list[np.ndarray] = []  # (b, m) for terms that vary over runs, (b, 1) for the others
        for j in range(k):
            base = logc[:, j:j + 1] - shift  # (b, 1)
            arg = None
            if j in self.offset_terms:
                arg = self._buffer(f"term{j}", (batch, m))
                arg[...] = data[:, field_of["offset", j]]
            for term, q in self.slopes:
                if term != j:
                    continue
                if arg is None:
                    arg = np.multiply(data[:, field_of["slope", j, q]], theta[:, q:q + 1],
                                      out=self._buffer(f"term{j}", (batch, m)))
                else:
                    arg += data[:, field_of["slope", j, q]] * theta[:, q:q + 1]
            if arg is None:
                terms.append(np.exp(base))
            else:
                arg += base
                terms.append(np.exp(arg, out=arg))
        total = self._buffer("total", (batch, m))
        total[...] = terms[0]
        for t in terms[1:]:
            total += t
        r = np.log(total, out=self._buffer("r", (batch, m)))
        r -= data[:, 1]
        r += shift
        inv = np.divide(1.0, total, out=total)
        jac = self._buffer("jac", (batch, n_par, m))
        for j in range(k):
            np.multiply(terms[j], inv, out=jac[:, j])
        for q, pairs in enumerate(self.terms_of):
            if not pairs:
                jac[:, k + q] = 0.0
            for i, j in enumerate(pairs):
                if i == 0:
                    np.multiply(jac[:, j], data[:, field_of["slope", j, q]], out=jac[:, k + q])
                else:
                    jac[:, k + q] += jac[:, j] * data[:, field_of["slope", j, q]]
        value, wpsi, wc = _weighted_parts(objective, r, data[:, 0], self._buffer("psi", (batch, m)),
                                          self._buffer("wpsi", (batch, m)))
        bad = ~np.isfinite(value)  # a non-finite log prediction on a weighted run makes the objective so
        grad = (jac @ wpsi[:, :, None])[:, :, 0]
        jw = self._buffer("jw", (batch, n_par, m))
        np.multiply(jac, wc[:, None, :], out=jw)
        hess = jw @ np.swapaxes(jac, 1, 2)
        return value, grad, hess, bad


def _weighted_parts(objective: obj.Objective, r: np.ndarray, w: np.ndarray, psi: np.ndarray, wpsi: np.ndarray):
    """sum w rho(r) (b,), w psi(r) (b, m) and w x the solver curvature (b, m); overwrites r and w.

    ``psi`` and ``wpsi`` (b, m) are scratch arrays the results are written into.

    The same values as :meth:`Objective.parts` with fewer passes: rho = psi (r - psi/2) for both
    objectives, and the Huber curvature 1 inside the quadratic zone, c delta/|r| outside
    (c = SOLVER_MAJORISER_FRACTION) from one division and one masked fill.
    """
    if objective.kind == "ls":
        np.multiply(w, r, out=wpsi)
        value = 0.5 * np.einsum("bm,bm->b", wpsi, r)
        return value, wpsi, w
    delta = objective.delta
    np.clip(r, -delta, delta, out=psi)
    np.multiply(w, psi, out=wpsi)
    half = np.multiply(psi, 0.5, out=psi)
    value = np.einsum("bm,bm->b", wpsi, np.subtract(r, half, out=half))
    cd = obj.SOLVER_MAJORISER_FRACTION * delta
    at_edge = cd / delta
    curvature = np.abs(r, out=r)
    np.maximum(curvature, delta, out=curvature)
    np.divide(cd, curvature, out=curvature)
    np.putmask(curvature, curvature >= at_edge, 1.0)
    w *= curvature
    return value, wpsi, w
