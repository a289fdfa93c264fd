"""Exact recovery: on noise-free data from random true parameters the fit returns the truth."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scalefit
from scalefit.core.errors import ScalefitWarning

N_GRID = np.geomspace(1e7, 3e10, 9)
D_GRID = np.geomspace(3e8, 1e12, 9)


def noise_free_runs(truth):
    n, d = (a.ravel() for a in np.meshgrid(N_GRID, D_GRID))
    loss = truth["E"] + truth["A"] / n ** truth["alpha"] + truth["B"] / d ** truth["beta"]
    return scalefit.load_runs(__import__("pandas").DataFrame({"N": n, "D": d, "loss": loss}))


@st.composite
def truths(draw):
    alpha = draw(st.floats(0.1, 0.9))
    beta = draw(st.floats(0.1, 0.9))
    e = draw(st.floats(0.3, 4.0))
    # size of each term at the smallest model / dataset, relative to E: keeps every term identifiable
    a_term = draw(st.floats(0.1, 5.0)) * e
    b_term = draw(st.floats(0.1, 5.0)) * e
    return {"E": e, "A": a_term * N_GRID[0] ** alpha, "B": b_term * D_GRID[0] ** beta,
            "alpha": alpha, "beta": beta}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(truths(), st.sampled_from(["ls", "hoffmann", "huber"]))
def test_noise_free_data_give_the_truth(truth, objective):
    runs = noise_free_runs(truth)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScalefitWarning)  # a clean problem must fit without warnings
        result = scalefit.fit(runs, objective=objective)
    for name, value in truth.items():
        assert result.params[name] == pytest.approx(value, rel=1e-6), (name, result.params, truth)
    assert result.diagnostics["converged"]


def test_recovers_exponents_beyond_the_initial_grid():
    truth = {"E": 1.5, "A": 2.0 * N_GRID[0] ** 2.5, "B": 1.0 * D_GRID[0] ** 0.3, "alpha": 2.5, "beta": 0.3}
    result = scalefit.fit(noise_free_runs(truth), objective="ls")
    assert result.params["alpha"] == pytest.approx(2.5, rel=1e-6)
    assert result.diagnostics["grid_range"][0][1] > 1.5  # the grid was widened, not clipped
    assert not result.warnings
