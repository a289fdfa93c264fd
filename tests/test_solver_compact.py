"""The bootstrap's fast paths give the answers of the general code they replace.

* ``compact.AffineRows.derivatives`` (each replicate's weighted runs only) against ``lm.derivatives``;
* ``varpro.best_cells`` (supports enumerated only where a cell can win) against NNLS on every cell;
* ``identify.vanishing_terms`` (probe runs first) against the pass over every run;
* ``resampling._distinct_rows`` against ``np.unique(axis=0)``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalefit.laws.chinchilla import Chinchilla
from scalefit.solver import identify, lm, varpro
from scalefit.solver import objective as obj
from scalefit.solver.compact import AffineRows
from scalefit.uncertainty.resampling import _distinct_rows

LAW = Chinchilla()
OBJECTIVES = [obj.Objective("huber", 1e-3), obj.Objective("ls")]


def _problem(seed: int, rows: int, batch: int):
    rng = np.random.default_rng(seed)
    n = np.exp(rng.uniform(np.log(1e7), np.log(1e10), rows))
    d = 20 * n * np.exp(rng.uniform(-1.5, 1.5, rows))
    features = LAW.features({"N": n, "D": d})
    z_true = np.array([np.log(1.7), np.log(400.0), np.log(410.0), 0.34, 0.28])
    log_loss = np.log(LAW.loss(dict(zip(LAW.param_names, np.r_[np.exp(z_true[:3]), z_true[3:]], strict=True)),
                               {"N": n, "D": d})) + rng.normal(0, 0.01, rows)
    weights = rng.integers(0, 3, (batch, rows)).astype(float)  # multiplicities, many zeros
    z = z_true + rng.normal(0, 0.05, (batch, 5))
    return features, log_loss, weights, z


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(3, 60), st.integers(1, 150), st.sampled_from(OBJECTIVES))
def test_packed_derivatives_match_the_general_pass(seed, rows, batch, objective):
    features, log_loss, weights, z = _problem(seed, rows, batch)
    bjac = lm.constant_basis_jacobian(LAW, z[0, 3:], features)
    packed = AffineRows.build(LAW, features, z[0, 3:], bjac, log_loss, weights)
    assert packed is not None
    picked = np.arange(batch)[::2]  # a subset of the rows, as the active set of an iteration
    value, grad, hess, bad = packed.derivatives(objective, z[picked], picked)
    ref = lm.derivatives(LAW, objective, z[picked], features, np.broadcast_to(log_loss, weights.shape)[picked],
                         weights[picked], bjac)
    assert not bad.any()
    np.testing.assert_allclose(value, ref[0], rtol=1e-11, atol=1e-300)
    scale = np.abs(ref[1]).max() + 1e-300
    np.testing.assert_allclose(grad, ref[1], rtol=1e-9, atol=1e-11 * scale)
    np.testing.assert_allclose(hess, ref[2], rtol=1e-9, atol=1e-11 * np.abs(ref[2]).max())


def test_packed_derivatives_flag_an_underflowing_prediction():
    features, log_loss, weights, z = _problem(0, 20, 3)
    z[1] = [-1000.0, 0.0, 0.0, 60.0, 60.0]  # every term underflows without log-sum-exp
    bjac = lm.constant_basis_jacobian(LAW, z[0, 3:], features)
    packed = AffineRows.build(LAW, features, z[0, 3:], bjac, log_loss, weights)
    _, _, _, bad = packed.derivatives(OBJECTIVES[0], z, np.arange(3))
    assert bad.tolist() == [False, True, False]
    value = lm.derivatives(LAW, OBJECTIVES[0], z[1:2], features, log_loss[None], weights[1:2], bjac)[0]
    assert np.isfinite(value).all()  # the stable pass refine falls back on for such rows


class _BentLaw(Chinchilla):
    """Log basis not affine in theta although its Jacobian happens to agree at two points."""

    def log_basis(self, theta, features):
        return super().log_basis(np.asarray(theta) ** 2, features)


def test_packing_refuses_a_law_whose_log_basis_is_not_affine():
    features, log_loss, weights, z = _problem(1, 10, 2)
    bjac = LAW.log_basis_jacobian(z[0, 3:], features)
    assert AffineRows.build(_BentLaw(), features, z[0, 3:], bjac, log_loss, weights) is None


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_refine_with_packed_rows_reaches_the_general_passes_optimum(objective, monkeypatch):
    features, log_loss, weights, z = _problem(3, 40, 30)
    weights[weights.sum(axis=1) == 0, 0] = 1.0

    class P:  # the least a Problem offers refine
        law, n_linear = LAW, 3

    P.objective, P.features, P.log_loss, P.weights = objective, features, log_loss, np.ones(40)
    P.bounds = staticmethod(lambda: [(-50.0, 200.0)] * 3 + list(LAW.nonlinear_limits))
    start = np.tile(z.mean(axis=0), (30, 1))
    fast = lm.refine(P, start, weights, rtol=1e-12)
    monkeypatch.setattr(lm.AffineRows, "build", classmethod(lambda cls, *a: None))
    general = lm.refine(P, start, weights, rtol=1e-12)
    assert fast.converged.all() and general.converged.all()
    np.testing.assert_allclose(fast.value, general.value, rtol=1e-9)
    np.testing.assert_allclose(fast.z[:, 3:], general.z[:, 3:], atol=1e-4)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 40), st.integers(2, 30))
def test_best_cells_match_nnls_on_every_cell(seed, batch, cells):
    rng = np.random.default_rng(seed)
    design = np.exp(rng.normal(0, 1, (batch, cells, 3, 12)))
    design[..., 0, :] = 1.0  # a constant term, as E, so many cells want a negative coefficient
    weights = rng.integers(0, 3, (batch, 1, 1, 12)).astype(float)
    gram = (design * weights) @ np.swapaxes(design, -1, -2)
    target = np.exp(rng.normal(0, 0.5, 12))
    rhs = (design * weights * target).sum(axis=-1)
    total = (weights[:, 0, 0] * target**2).sum(axis=-1)
    coef, rss = varpro.nnls_from_normal(gram, rhs, total[:, None])
    rss = np.where(np.isfinite(rss), rss, np.inf)
    best, c_best, rss_best = varpro.best_cells(gram, rhs, total)
    pick = np.arange(batch)
    np.testing.assert_allclose(rss_best, rss[pick, best], rtol=1e-12, atol=1e-12 * total.max())
    np.testing.assert_allclose(rss_best, rss.min(axis=1), rtol=1e-9, atol=1e-12 * total.max())
    np.testing.assert_allclose(c_best, coef[pick, best], rtol=1e-9, atol=1e-9 * np.abs(coef).max())


@pytest.mark.parametrize("dead", [None, 0, 1, 2])
def test_vanishing_terms_match_the_pass_over_every_run(dead):
    features, _, weights, z = _problem(5, 50, 200)
    if dead is not None:
        z[::3, dead] = np.linspace(-60, -5, len(z[::3]))  # fading terms, some below the threshold
    keep = np.array([True, True, False])
    fast = identify.vanishing_terms(LAW, features, z, weights, keep)
    full = identify._vanishing_on_every_run(LAW, features, z, weights, np.broadcast_to(keep, (len(z), 3)))
    assert np.array_equal(fast, full)
    if dead in (0, 1):
        assert fast.any()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 300), st.integers(1, 50), st.integers(1, 300))
def test_distinct_rows_match_numpy_unique(seed, rows, cols, top):
    counts = np.random.default_rng(seed).integers(0, top, (rows, cols)).astype(float)
    keep, inverse = _distinct_rows(counts)
    _, keep_np, inverse_np = np.unique(counts, axis=0, return_index=True, return_inverse=True)
    assert np.array_equal(keep, keep_np)
    assert np.array_equal(inverse, np.asarray(inverse_np).ravel())
