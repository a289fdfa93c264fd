"""The engine never raises on singular algebra, flags unidentifiable data, and its NNLS is exact."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import nnls

from scalefit import solver
from scalefit.laws import Chinchilla
from scalefit.solver import identify, varpro
from scalefit.solver import objective as obj
from scalefit.solver.linalg import safe_solve


def problem_for(n, d, kind="huber", seed=0):
    rng = np.random.default_rng(seed)
    loss = (1.7 + 400 / n ** 0.34 + 410 / d ** 0.28) * np.exp(rng.normal(0, 0.005, n.size))
    return solver.Problem.build(Chinchilla(), {"N": n, "D": d}, loss,
                                obj.Objective("huber", 1e-3) if kind == "huber" else obj.Objective("ls"))


def test_safe_solve_flags_singular_and_non_finite_systems_instead_of_raising():
    a = np.stack([np.eye(3), np.zeros((3, 3)), np.full((3, 3), np.nan), np.diag([1.0, 2.0, 4.0])])
    b = np.ones((4, 3))
    x, ok = safe_solve(a, b)
    assert ok.tolist() == [True, False, False, True]
    np.testing.assert_allclose(x[3], [1.0, 0.5, 0.25])
    assert np.all(x[1:3] == 0)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(4, 30))
def test_nnls_from_normal_equations_matches_scipy_nnls(seed, rows):
    rng = np.random.default_rng(seed)
    design = rng.lognormal(0, 1, size=(rows, 3))
    target = design @ rng.normal(0.5, 1.0, size=3) + rng.normal(0, 0.3, rows)
    coef, rss = varpro.nnls_from_normal(design.T @ design, design.T @ target, target @ target)
    ref, ref_norm = nnls(design, target)
    assert rss == pytest.approx(ref_norm ** 2, rel=1e-7, abs=1e-9)
    np.testing.assert_allclose(coef, ref, rtol=1e-5, atol=1e-7)


def test_singular_grid_cells_are_infeasible_not_errors():
    gram = np.zeros((2, 3, 3))
    gram[1] = np.ones((3, 3))  # rank one: every support of size > 1 is singular
    coef, rss = varpro.nnls_from_normal(gram, np.ones((2, 3)), np.array([1.0, 1.0]))
    assert np.all(np.isfinite(coef)) and np.all(np.isfinite(rss))
    assert np.all(coef[0] == 0) and rss[1] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("kind", ["huber", "ls"])
def test_one_model_size_returns_cleanly_with_a_flag(kind):
    n = np.full(12, 3e8)
    d = np.geomspace(1e9, 1e11, 12)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        sol = solver.solve(problem_for(n, d, kind))
    assert sol.degenerate == ("only one value of N",)
    assert np.all(np.isfinite(sol.z))


@pytest.mark.parametrize("kind", ["huber", "ls"])
def test_tokens_proportional_to_parameters_returns_cleanly_with_a_flag(kind):
    n = np.geomspace(1e8, 3e9, 10)
    sol = solver.solve(problem_for(n, 20 * n, kind))
    assert sol.degenerate == ("N and D vary together (log-collinear)",)
    assert np.all(np.isfinite(sol.z))


def test_a_well_posed_problem_has_no_flag():
    n = np.repeat(np.geomspace(1e8, 3e9, 5), 4)
    d = np.tile(np.geomspace(1e9, 1e11, 4), 5)
    assert solver.solve(problem_for(n, d)).degenerate == ()


def test_two_model_sizes_cannot_identify_e_and_a_but_three_can():
    law = Chinchilla()
    n = np.repeat([1e8, 3e8, 1e9], 5)
    d = n * np.tile([5.0, 10, 20, 50, 100], 3)
    prob = problem_for(n, d)
    z0 = solver.solve(prob).z
    two = np.where(n < 5e8, 1.0, 0.0)
    one = np.where(n < 2e8, 1.0, 0.0)
    why = identify.reasons(law, prob.features, z0, np.stack([np.ones(n.size), two, one]))
    assert why.tolist() == ["", identify.NOT_IDENTIFIED, "only one value of N"]


def test_refine_stops_at_the_optimum_without_rescue_on_collinear_designs():
    n = np.repeat([1.9e8, 3.7e8, 7.6e8, 1.28e9], 5)
    d = 20 * n * np.tile([0.5, 1, 2, 5, 10], 4)
    prob = problem_for(n, d, "ls", seed=3)
    sol = solver.solve(prob)
    res = solver.refine(prob, sol.z[None, :] * (1 + 1e-3))
    assert res.converged[0] and res.n_iter[0] < 30
    assert res.value[0] == pytest.approx(sol.value, rel=1e-9)
