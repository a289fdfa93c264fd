"""Goodness of fit: hand-computed values, the likelihood's definition, and properties of AIC/BIC."""

from __future__ import annotations

import doctest
import math
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

import scalefit
from scalefit import datasets
from scalefit.fitting import goodness
from scalefit.solver.objective import Objective


def fake_fit(residuals, objective, n_params=5, weights=None, sizes=None):
    r = np.asarray(residuals, dtype=float)
    return SimpleNamespace(residuals=r, objective=objective, law=SimpleNamespace(),
                           params={f"p{i}": 1.0 for i in range(n_params)},
                           weights=np.ones_like(r) if weights is None else np.asarray(weights, float),
                           runs=SimpleNamespace(N=np.arange(r.size, dtype=float) if sizes is None else sizes))


def test_least_squares_numbers_match_a_hand_computation():
    r = [0.02, -0.01, 0.03, -0.04, 0.0, 0.01, -0.02, 0.01]  # sum r^2 = 0.0036, n = 8
    g = goodness.goodness_of_fit(fake_fit(r, Objective("ls"), n_params=3))
    assert (g["n"], g["n_params"], g["k"], g["dof"]) == (8, 3, 4, 5)
    assert g["residual_sd"] == pytest.approx(math.sqrt(0.0036 / 5))
    assert g["rmse"] == pytest.approx(math.sqrt(0.0036 / 8))
    assert g["scale"] == pytest.approx(math.sqrt(0.0036 / 8))
    loglik = -8 / 2 * (math.log(2 * math.pi * 0.0036 / 8) + 1)  # Gaussian at the ML sigma
    assert g["loglik"] == pytest.approx(loglik, rel=1e-12)
    assert g["aic"] == pytest.approx(2 * 4 - 2 * loglik)
    assert g["bic"] == pytest.approx(4 * math.log(8) - 2 * loglik)
    assert g["aicc"] == pytest.approx(2 * 4 - 2 * loglik + 2 * 4 * 5 / 3)
    assert g["max_abs_residual"] == pytest.approx(0.04)
    assert g["mean_abs_residual"] == pytest.approx(0.14 / 8)


def test_the_huber_normaliser_integrates_the_density_to_one():
    for delta, s in [(1e-3, 0.003), (0.05, 0.02), (0.01, 0.1), (1.0, 0.01)]:
        rho = Objective("huber", delta).rho
        area, _ = integrate.quad(lambda r, rho=rho, s=s: math.exp(-float(rho(np.array(r))) / s**2), -np.inf,
                                 np.inf, limit=400, points=None)
        assert math.log(area) == pytest.approx(float(goodness.huber_log_normaliser(delta, s)), abs=1e-6)


def test_huber_with_a_huge_delta_is_the_gaussian_likelihood():
    rng = np.random.default_rng(0)
    r = rng.normal(0, 0.02, 40)
    ls = goodness.goodness_of_fit(fake_fit(r, Objective("ls")))
    hub = goodness.goodness_of_fit(fake_fit(r, Objective("huber", 10.0)))
    assert hub["loglik"] == pytest.approx(ls["loglik"], rel=1e-8)
    assert hub["scale"] == pytest.approx(ls["scale"], rel=1e-5)


def test_huber_with_a_tiny_delta_is_nearly_the_laplace_likelihood():
    rng = np.random.default_rng(1)
    r = rng.laplace(0, 0.01, 200)
    delta = 1e-6
    g = goodness.goodness_of_fit(fake_fit(r, Objective("huber", delta)))
    b = np.mean(np.abs(r))  # Laplace ML scale (residuals at the fitted location)
    laplace = -r.size * (math.log(2 * b) + 1)
    assert g["loglik"] == pytest.approx(laplace, abs=1e-3 * abs(laplace))


def test_frequency_weights_equal_repeated_runs():
    r = np.array([0.01, -0.03, 0.02])
    weighted = goodness.goodness_of_fit(fake_fit(r, Objective("huber", 0.01), weights=[2, 1, 3]))
    repeated = goodness.goodness_of_fit(fake_fit(np.repeat(r, [2, 1, 3]), Objective("huber", 0.01)))
    assert weighted["loglik"] == pytest.approx(repeated["loglik"], rel=1e-9)
    assert weighted["bic"] == pytest.approx(repeated["bic"], rel=1e-9)


def test_a_perfect_fit_has_unbounded_likelihood():
    g = goodness.goodness_of_fit(fake_fit(np.zeros(10), Objective("huber", 1e-3)))
    assert g["loglik"] == math.inf and g["aic"] == -math.inf


residual_lists = st.lists(st.floats(-0.3, 0.3, allow_nan=False).filter(lambda x: abs(x) > 1e-6),
                          min_size=8, max_size=40)


@settings(max_examples=40, deadline=None)
@given(r=residual_lists, k1=st.integers(1, 6), k2=st.integers(1, 6), delta=st.sampled_from([None, 1e-3, 0.05]))
def test_aic_and_bic_differences_at_equal_likelihood_are_the_penalty_difference(r, k1, k2, delta):
    objective = Objective("ls") if delta is None else Objective("huber", delta)
    g1 = goodness.goodness_of_fit(fake_fit(r, objective, n_params=k1))
    g2 = goodness.goodness_of_fit(fake_fit(r, objective, n_params=k2))
    assert g1["loglik"] == g2["loglik"]
    assert g1["aic"] - g2["aic"] == pytest.approx(2 * (k1 - k2), abs=1e-9)
    assert g1["bic"] - g2["bic"] == pytest.approx((k1 - k2) * math.log(len(r)), abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(r=residual_lists, delta=st.sampled_from([1e-3, 0.02, 0.2]), factor=st.floats(0.2, 5.0))
def test_the_reported_scale_maximises_the_likelihood(r, delta, factor):
    objective = Objective("huber", delta)
    best, s_hat = goodness.log_likelihood(np.array(r), objective)
    other, _ = goodness.log_likelihood(np.array(r), objective, scale=s_hat * factor)
    assert other <= best + 1e-9 * abs(best)


def test_residuals_by_group_hand_computed():
    fit = fake_fit([0.1, -0.3, 0.2, 0.05], Objective("ls"), sizes=np.array([2e6, 1e6, 1e6, 2e6]))
    table = goodness.residuals_by_group(fit)
    assert table["N"].tolist() == [1e6, 2e6] and table["group"].tolist() == [1e6, 2e6]
    assert table["runs"].tolist() == [2, 2]
    assert table["bias"].tolist() == pytest.approx([-0.05, 0.075])
    assert table["mean_abs"].tolist() == pytest.approx([0.25, 0.075])
    assert table["max_abs"].tolist() == pytest.approx([0.3, 0.1])
    assert table["rms"].tolist() == pytest.approx([math.sqrt(0.13 / 2), math.sqrt(0.0125 / 2)])


def test_goodness_of_a_real_fit_counts_runs_parameters_and_model_sizes():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runs = datasets.load("example_chinchilla")
        fit = scalefit.fit(runs)
    g = goodness.goodness_of_fit(fit)
    assert g["n"] == len(runs) and g["n_params"] == 5 and g["dof"] == len(runs) - 5
    assert g["residual_sd"] == pytest.approx(math.sqrt(np.sum(fit.residuals**2) / g["dof"]))
    assert g["loglik"] > goodness.log_likelihood(fit.residuals, fit.objective, scale=2 * g["scale"])[0]
    table = goodness.residuals_by_group(fit)
    assert table["runs"].sum() == len(runs) and len(table) == runs.n_groups
    assert table["N"].is_monotonic_increasing
    assert (table["max_abs"] >= table["mean_abs"]).all()


def test_residuals_by_group_uses_the_run_groups_when_present():
    fit = fake_fit([0.1, -0.3, 0.2], Objective("ls"), sizes=np.array([1e6, 1.0000001e6, 3e6]))
    fit.runs.groups = np.array(["small", "small", "big"])
    table = goodness.residuals_by_group(fit)
    assert table["group"].tolist() == ["small", "big"] and table["runs"].tolist() == [2, 1]
    assert table["bias"].tolist() == pytest.approx([-0.1, 0.2])


def test_docstring_examples_in_goodness_and_plots_run():
    from scalefit.plots import figures as plots

    for module in (goodness, plots):
        failed, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        assert attempted > 0, module.__name__
        assert failed == 0, module.__name__
