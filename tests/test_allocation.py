"""Allocation identities (hypothesis), inference-aware plans, regimes, extrapolation distance, golden numbers."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import scalefit
from scalefit import datasets
from scalefit.laws import allocation as al
from scalefit.laws.chinchilla import compute_optimal

laws = st.fixed_dictionaries({
    "E": st.floats(0.5, 3.0), "A": st.floats(10.0, 5e3), "B": st.floats(10.0, 5e4),
    "alpha": st.floats(0.1, 0.8), "beta": st.floats(0.1, 0.8)})
computes = st.floats(1e17, 1e27)


def plausible(p, c):
    """Restrict generated laws to allocations a real sweep could have: 1e6 <= N_opt, D_opt <= 1e16."""
    opt = compute_optimal(p, c)
    assume(1e6 <= opt["N_opt"] <= 1e16 and 1e6 <= opt["D_opt"] <= 1e16)
    assume(opt["L_opt"] - p["E"] > 1e-6 * p["E"])  # the target is resolvable above E in double precision
    return opt


def loss(p, n, d):
    return p["E"] + p["A"] / n ** p["alpha"] + p["B"] / d ** p["beta"]


@settings(max_examples=200, deadline=None)
@given(p=laws, c=computes)
def test_optimum_spends_exactly_the_budget(p, c):
    opt = plausible(p, c)
    assert 6 * opt["N_opt"] * opt["D_opt"] == pytest.approx(c, rel=1e-9)
    assert opt["L_opt"] == pytest.approx(loss(p, opt["N_opt"], opt["D_opt"]), rel=1e-12)


@settings(max_examples=150, deadline=None)
@given(p=laws, c=computes)
def test_frontier_loss_is_the_minimum_along_its_isoflop_curve(p, c):
    opt = plausible(p, c)
    # brute force: a fine grid of N over 4 decades around the optimum, D = C / 6N
    n = opt["N_opt"] * np.logspace(-2, 2, 40001)
    along = loss(p, n, c / (6 * n))
    assert opt["L_opt"] <= along.min() * (1 + 1e-12)
    best = n[np.argmin(along)]
    assert best == pytest.approx(opt["N_opt"], rel=1e-3)  # grid spacing is 2.3e-4 in log10


@settings(max_examples=150, deadline=None)
@given(p=laws, c=computes)
def test_compute_for_loss_inverts_the_frontier(p, c):
    target = plausible(p, c)["L_opt"]
    assert al.compute_for_loss(p, target) == pytest.approx(c, rel=1e-9)
    assert np.isnan(al.compute_for_loss(p, p["E"] * 0.99))


@settings(max_examples=100, deadline=None)
@given(p=laws, c=st.floats(1e19, 1e25), log_tokens=st.floats(9, 15))
def test_inference_aware_plan(p, c, log_tokens):
    target = float(plausible(p, c)["L_opt"])
    zero = al.plan(p, target, 0.0)
    assert zero.N == pytest.approx(zero.compute_optimal_N, rel=1e-9)  # reduces to the Chinchilla optimum
    assert zero.D == pytest.approx(zero.compute_optimal_D, rel=1e-9)
    assert zero.training_flops == pytest.approx(c, rel=1e-9)
    assert loss(p, zero.N, zero.D) == pytest.approx(target, rel=1e-12)
    some = al.plan(p, target, 10.0 ** log_tokens)
    more = al.plan(p, target, 10.0 ** (log_tokens + 1))
    assert more.N < some.N < zero.N  # more inference -> smaller model ...
    assert more.overtraining > some.overtraining > 1.0  # ... trained on more tokens per parameter
    assert loss(p, some.N, some.D) == pytest.approx(target, rel=1e-12)
    assert some.flops_saved >= -1e-12 * some.total_flops  # never worse than Chinchilla-optimal + serving
    # the plan really is the minimum of total FLOPs along the iso-loss curve (brute force)
    n = some.N * np.logspace(-0.5, 0.5, 2001)
    margin = target - p["E"] - p["A"] / n ** p["alpha"]
    n, margin = n[margin > 0], margin[margin > 0]
    total = 6 * n * (p["B"] / margin) ** (1 / p["beta"]) + 2 * n * 10.0 ** log_tokens
    assert some.total_flops <= total.min() * (1 + 1e-9)


def test_plan_rejects_unreachable_targets_and_converts_cost():
    p = {"E": 1.8, "A": 480.0, "B": 2100.0, "alpha": 0.35, "beta": 0.37}
    with pytest.raises(scalefit.FitError, match="irreducible"):
        al.plan(p, 1.7)
    hw = al.Hardware(peak_flops=1e15, mfu=0.5, price_per_hour=2.0)
    plan = al.plan(p, 2.1, 1e12, hardware=hw)
    assert plan.hours["training"] == pytest.approx(plan.training_flops / 5e14 / 3600)
    assert plan.cost["total"] == pytest.approx(2.0 * plan.hours["total"])
    with pytest.raises(ValueError, match="mfu"):
        al.Hardware(peak_flops=1e15, mfu=1.5)


def test_regimes_are_relative_to_the_fitted_optimum():
    p = {"E": 1.8, "A": 480.0, "B": 2100.0, "alpha": 0.35, "beta": 0.37}
    c = 1e22
    opt = compute_optimal(p, c)
    n = opt["N_opt"] * np.array([4.0, 1.0, 0.25])  # bigger model -> fewer tokens per parameter
    table = al.regime(p, n, c / (6 * n))
    assert list(table["regime"]) == ["under-trained", "near compute-optimal", "over-trained"]
    np.testing.assert_allclose(table["ratio_to_optimal"], [1 / 16, 1, 16], rtol=1e-9)
    assert set(table["rule_of_thumb_regime"]) <= {"under-trained", "near compute-optimal", "over-trained"}


def test_extrapolation_distance_and_warning():
    maxima = {"N": 1e10, "D": 1e11, "C": 6e21}
    dist = al.extrapolation_distance(maxima, [1e9, 7e10], [1e10, 1.4e12])
    np.testing.assert_allclose(dist["N_ratio"], [0.1, 7.0])
    np.testing.assert_allclose(dist["C_ratio"], [0.01, 98.0])
    np.testing.assert_allclose(dist["distance"], [0.1, 98.0])
    with pytest.warns(scalefit.ExtrapolationWarning, match="98"):
        al.warn_if_far(dist["distance"], 10.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        al.warn_if_far(dist["distance"], 100.0)
        al.warn_if_far(dist["distance"], None)


@pytest.fixture(scope="module")
def example_boot():
    fit = scalefit.fit(datasets.load("example_chinchilla"))
    return fit, fit.bootstrap(n=300, seed=0)


def test_bands_contain_the_estimate_widen_with_distance_and_match_percentiles(example_boot):
    fit, boot = example_boot
    n = np.geomspace(1e8, 1e12, 9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scalefit.ExtrapolationWarning)
        band = boot.predict(n, 20 * n)
    assert np.all((band["lo"] <= band["estimate"]) & (band["estimate"] <= band["hi"]))
    width = band["hi"] - band["lo"]
    far = band["distance"] > 1
    assert np.all(np.diff(width[far]) > 0)  # beyond the data, wider with every step out
    loop = boot.apply(lambda p: loss(p, n, 20 * n))
    np.testing.assert_allclose(band["lo"], np.quantile(loop, 0.025, axis=0), rtol=1e-12)
    np.testing.assert_allclose(band["hi"], np.quantile(loop, 0.975, axis=0), rtol=1e-12)
    with pytest.warns(scalefit.ExtrapolationWarning):
        fit.predict(1e12, 2e13)


def test_bootstrap_frontier_inverse_and_plan(example_boot):
    fit, boot = example_boot
    front = boot.frontier([1e20, 1e22])
    assert isinstance(front, pd.DataFrame) and len(front) == 2
    assert np.all(front["N_opt_lo"] <= front["N_opt"]) and np.all(front["N_opt"] <= front["N_opt_hi"])
    target = float(fit.optimal(1e22)["L_opt"])
    inv = boot.compute_for_loss(target)
    assert inv["C"]["estimate"] == pytest.approx(1e22, rel=1e-9)
    assert inv["C"]["lo"] < 1e22 < inv["C"]["hi"]
    result = boot.plan(target_loss=target, inference_tokens=1e13)
    assert result["plan"].N < fit.optimal(1e22)["N_opt"]
    row = result["intervals"]["overtraining"]
    assert row["lo"] <= row["estimate"] <= row["hi"] and row["estimate"] > 1
    budget = fit.plan(compute=1e22, inference_tokens=0.0)
    assert budget.N == pytest.approx(fit.optimal(1e22)["N_opt"], rel=1e-9)
    regimes = fit.regimes()
    assert len(regimes) == len(fit.runs) and {"group", "regime"} <= set(regimes.columns)


def test_epoch_hoffmann_fit_gives_the_published_allocation(mirror):
    """Issue #5: at 5.76e23 FLOPs, N_opt = 7.32e10 and D_opt = 1.31e12 to 3 significant figures."""
    runs = datasets.load("chinchilla_epoch", mirror=mirror, drop_highest_loss=5)
    fit = scalefit.fit(runs, objective="hoffmann")
    opt = fit.optimal(5.76e23)
    assert float(f"{float(opt['N_opt']):.3g}") == 7.32e10
    assert float(f"{float(opt['D_opt']):.3g}") == 1.31e12
    assert 17.5 < float(opt["tokens_per_param"]) < 18.5
    boot = fit.bootstrap(n=1000, seed=0)
    band = boot.optimal(5.76e23)
    assert band["N_opt"]["lo"] < 7.2e10 < band["N_opt"]["hi"]
    assert band["D_opt"]["lo"] < 1.33e12 < band["D_opt"]["hi"]
