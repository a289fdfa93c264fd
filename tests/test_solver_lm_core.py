"""The two Levenberg-Marquardt loops share their step solve and acceptance test (solver/lm_core.py) but keep
their own damping and stopping rules. Pinned here: which rule each loop uses, that the two damped systems
are the same system up to scaling, and that both loops reach the same optimum on the Epoch data."""

from __future__ import annotations

import numpy as np
import pytest

from scalefit import datasets, solver
from scalefit.laws import Chinchilla
from scalefit.solver import general, lm, lm_core
from scalefit.solver import objective as obj


@pytest.fixture(scope="module")
def epoch_problems(mirror):
    runs = datasets.load("chinchilla_epoch", mirror=mirror, drop_highest_loss=5)
    data, objective = {"N": runs.N, "D": runs.D}, obj.Objective("huber", 1e-3)
    return (solver.Problem.build(Chinchilla(), data, runs.loss, objective),
            general.GeneralProblem.build(Chinchilla(), data, runs.loss, objective))


def test_each_loop_keeps_its_damping_rule():
    assert lm.DAMPING == lm_core.NIELSEN
    assert general.DAMPING == lm_core.MARQUARDT
    assert lm.DAMPING != general.DAMPING


def test_marquardt_system_is_the_unit_diagonal_system_rescaled():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 4, 4))
    hess = a @ np.swapaxes(a, 1, 2) + 0.1 * np.eye(4)
    grad = rng.normal(size=(3, 4))
    lam = np.array([1e-4, 1e-1, 10.0])
    diag = np.einsum("bpp->bp", hess)
    step_m, ok_m = lm_core.damped_solve(hess, grad, lam, diag)
    scale = np.sqrt(diag)
    step_u, ok_u = lm_core.damped_solve(hess / (scale[:, :, None] * scale[:, None, :]), grad / scale, lam)
    assert ok_m.all() and ok_u.all()
    np.testing.assert_allclose(step_m, step_u / scale, rtol=1e-10)


def test_singular_system_gives_no_step_and_no_error():
    step, ok = lm_core.damped_solve(np.zeros((1, 2, 2)), np.ones((1, 2)), np.array([0.0]))
    assert not ok[0] and np.all(step == 0.0)
    assert not lm_core.accept(np.array([1.0]), np.array([0.5]), ok)[0]


def test_both_loops_reach_the_same_epoch_optimum(epoch_problems):
    separable, general_problem = epoch_problems
    best = solver.solve(separable)
    z0 = best.z + np.array([0.05, -0.1, 0.1, 0.01, -0.01])  # same parametrisation: log E, log A, log B, alpha, beta
    assert general_problem.internal_names == ("log E", "log A", "log B", "alpha", "beta")
    a = solver.refine(separable, z0[None, :])
    b = general.refine(general_problem, z0[None, :])
    assert a.converged[0] and b.converged[0]
    assert a.value[0] == pytest.approx(best.value, rel=1e-9)
    assert b.value[0] == pytest.approx(best.value, rel=1e-9)
    np.testing.assert_allclose(a.z[0], b.z[0], rtol=0, atol=1e-5)
    # different rules, different paths: the separable loop needs fewer iterations here
    assert a.n_iter[0] < b.n_iter[0]
