"""Golden numbers: Besiroglu et al. 2024 ("replicate exactly") on Epoch's Chinchilla reconstruction."""

from __future__ import annotations

import numpy as np
import pytest

import scalefit
from scalefit import datasets, solver
from scalefit.laws import Chinchilla
from scalefit.solver import objective as obj

PUBLISHED = {"E": 1.8172, "A": 477.84, "B": 2143.9, "alpha": 0.34731, "beta": 0.36718}
# careful multi-start optimum of the same objective (B = 2143.4), below the published point's value
OPTIMUM_VALUE = 0.0010182740178006


@pytest.fixture(scope="module")
def epoch_runs(mirror):
    return datasets.load("chinchilla_epoch", mirror=mirror, drop_highest_loss=5)


@pytest.fixture(scope="module")
def hoffmann_fit(epoch_runs):
    return scalefit.fit(epoch_runs, objective="hoffmann")


def test_uses_the_240_runs(epoch_runs):
    assert len(epoch_runs) == 240


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_parameters_match_published_within_5e4(hoffmann_fit, name):
    assert hoffmann_fit.params[name] == pytest.approx(PUBLISHED[name], rel=5e-4)


def test_objective_reaches_the_multistart_optimum(hoffmann_fit, epoch_runs):
    value = hoffmann_fit.solution.value
    assert value == pytest.approx(OPTIMUM_VALUE, rel=1e-9)
    problem = solver.Problem.build(Chinchilla(), {"N": epoch_runs.N, "D": epoch_runs.D}, epoch_runs.loss,
                                   obj.Objective("huber", 1e-3))
    published = np.array([np.log(PUBLISHED[k]) for k in ("E", "A", "B")] + [PUBLISHED["alpha"], PUBLISHED["beta"]])
    assert value < float(problem.value(published))  # at or below the published point, never above


def test_diagnostics_report_a_trustworthy_fit(hoffmann_fit):
    d = hoffmann_fit.diagnostics
    assert d["converged"] and d["starts_at_optimum"] == d["starts"] == 4
    assert not hoffmann_fit.warnings and not d["at_bounds"] and not d["negligible_terms"]
    assert d["grad_norm"] < 1e-7


def test_compute_optimal_at_chinchilla_budget(hoffmann_fit):
    opt = hoffmann_fit.optimal(5.76e23)
    assert float(opt["N_opt"]) == pytest.approx(7.32e10, rel=5e-3)
    assert float(opt["D_opt"]) == pytest.approx(1.31e12, rel=5e-3)
    assert float(opt["tokens_per_param"]) == pytest.approx(17.9, rel=5e-3)
    assert 6 * opt["N_opt"] * opt["D_opt"] == pytest.approx(5.76e23, rel=1e-12)


def test_same_fit_twice_is_bit_identical(epoch_runs, hoffmann_fit):
    again = scalefit.fit(epoch_runs, objective="hoffmann")
    assert again.params == hoffmann_fit.params


@pytest.mark.slow
def test_hoffmann_grid_reference_reaches_the_same_objective(epoch_runs, hoffmann_fit):
    reference = scalefit.fit(epoch_runs, objective="hoffmann", method="hoffmann-grid")
    assert reference.diagnostics["converged"]
    assert reference.solution.starts == 4500
    assert hoffmann_fit.solution.value <= reference.solution.value * (1 + 1e-8)
    assert reference.solution.value <= hoffmann_fit.solution.value * (1 + 1e-8)
