"""Data-constrained law (Muennighoff et al. 2023): the law, its staged fit, and the paper's C4 numbers."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scalefit
from scalefit.approaches import fit_data_constrained
from scalefit.data.runs import load_runs
from scalefit.laws import DataConstrained, get_law
from scalefit.laws.data_constrained import (
    PAPER_C4_BASE,
    PAPER_C4_STARS,
    d_log_effective_d_rstar,
    log_effective,
    optimal_parameters_for_unique_tokens,
    predict_loss,
)

MIRROR = os.environ.get("SCALEFIT_DATA_MIRROR")
needs_mirror = pytest.mark.skipif(
    not (MIRROR and os.path.isdir(os.path.join(MIRROR, "datablations_c4"))),
    reason="needs SCALEFIT_DATA_MIRROR with datablations_c4")


def test_registered():
    assert isinstance(get_law("data_constrained"), DataConstrained)


def test_no_repetition_is_chinchilla():
    n, d = np.array([1e8, 1e9]), np.array([2e9, 3e10])
    params = {**PAPER_C4_BASE, **PAPER_C4_STARS}
    n_opt_u = optimal_parameters_for_unique_tokens(d, PAPER_C4_BASE)
    assert np.all(n <= n_opt_u)  # small models on fresh data: N' = N, D' = D
    expected = PAPER_C4_BASE["E"] + PAPER_C4_BASE["A"] / n ** 0.3526596 + PAPER_C4_BASE["B"] / d ** 0.3526596
    assert np.allclose(predict_loss(params, n, d, d, PAPER_C4_BASE), expected, rtol=1e-12)


def test_repetition_saturates_at_one_plus_rstar():
    # D' -> U (1 + R_D*) as the number of epochs grows without bound
    u, r_star = 1e9, 15.0
    big = log_effective(np.log(u), np.array([1e6]), r_star)
    assert np.exp(big[0]) == pytest.approx(u * (1 + r_star), rel=1e-6)


@settings(max_examples=50, deadline=None)
@given(st.floats(0.0, 200.0), st.floats(0.05, 500.0))
def test_rstar_derivative_matches_finite_difference(r, r_star):
    h = 1e-6 * r_star
    fd = (log_effective(0.0, r, r_star + h) - log_effective(0.0, r, r_star - h)) / (2 * h)
    assert d_log_effective_d_rstar(r, r_star) == pytest.approx(fd, rel=1e-5, abs=1e-10)


def _synthetic(seed: int = 0, noise: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for n in np.geomspace(5e7, 3e9, 7):
        for u in (1e8, 1e9, 1e10):
            for epochs in (1, 2, 4, 8, 16, 40):
                rows.append({"N": n, "U": u, "D": u * epochs})
    frame = pd.DataFrame(rows)
    truth = {**PAPER_C4_BASE, "R_N_star": 5.0, "R_D_star": 15.0}
    loss = predict_loss(truth, frame.N, frame.D, frame.U, PAPER_C4_BASE)
    frame["loss"] = loss * np.exp(noise * rng.standard_normal(len(frame)))
    return frame


def test_recovers_known_rstars_from_noise_free_data():
    runs = load_runs(_synthetic())
    res = fit_data_constrained(runs, joint=False, n_boot=50, seed=1)
    assert res.stars["R_N_star"] == pytest.approx(5.0, rel=1e-3)
    assert res.stars["R_D_star"] == pytest.approx(15.0, rel=1e-3)
    frame = res.to_frame()
    assert set(frame["fit"]) == {"base (fixed)", "staged"}
    assert res.to_dict()["stars"]["R_D_star"] == pytest.approx(15.0, rel=1e-3)


def test_joint_fit_recovers_all_seven_parameters():
    runs = load_runs(_synthetic(noise=0.0))
    res = fit_data_constrained(runs, joint=True, n_boot=0)
    assert res.joint["R_D_star"] == pytest.approx(15.0, rel=0.02)
    assert res.joint["alpha"] == pytest.approx(0.3526596, rel=0.01)


def test_allocation_prefers_more_epochs_with_less_unique_data():
    runs = load_runs(_synthetic(noise=0.002))
    res = fit_data_constrained(runs, joint=False, n_boot=100, seed=0)
    alloc = res.allocate(1e21, [1e9, 1e11]).to_frame()
    assert alloc.epochs[0] > alloc.epochs[1]
    assert alloc.L_opt[0] > alloc.L_opt[1] >= alloc.L_unlimited[1] - 1e-6
    assert np.all(alloc.N_opt_lo <= alloc.N_opt) and np.all(alloc.N_opt <= alloc.N_opt_hi)


def test_needs_unique_tokens():
    runs = load_runs(pd.DataFrame({"N": [1e8] * 9, "D": np.geomspace(1e9, 1e10, 9), "loss": np.linspace(3, 2.5, 9)}))
    with pytest.raises(scalefit.DataError, match="unique tokens"):
        fit_data_constrained(runs)


@needs_mirror
def test_paper_c4_fit_reproduces_their_local_optimum_and_finds_a_lower_one():
    """Muennighoff et al. report R_D* = 15.39, R_N* = 5.31 (notebook objective 0.0158259).

    Their objective and data are reproduced exactly: the optimum reached from their start (20/3, 20/3) is
    within 1% of their numbers with the same objective value to 1e-6. But that optimum is a *local* one:
    the objective has a ridge along which R_N* and R_D* trade off, and the global optimum (R_N* ~ 1.7,
    R_D* ~ 95) is 0.13% lower. The cluster bootstrap over the 20 model sizes shows both are poorly
    determined (intervals span an order of magnitude or more).
    """
    runs = scalefit.datasets.load("datablations_c4", query="used_in_default_fit")
    assert len(runs) == 182
    with pytest.warns(scalefit.ScalefitWarning):
        local = fit_data_constrained(runs, joint=False, start=(20 / 3, 20 / 3), n_boot=200, seed=0)
    assert local.stars["R_D_star"] == pytest.approx(15.39, rel=0.1)
    assert local.stars["R_N_star"] == pytest.approx(5.31, rel=0.1)
    assert local.stars["R_D_star"] == pytest.approx(15.387756, rel=0.01)
    assert local.stars["R_N_star"] == pytest.approx(5.309743, rel=0.01)
    assert local.objective == pytest.approx(0.015825936570763588, rel=1e-6)
    lo, hi = local.intervals["R_D_star"]
    assert lo < 15.39 < hi and hi / lo > 3
    with pytest.warns(scalefit.ScalefitWarning, match="local minima"):
        best = fit_data_constrained(runs, joint=False, n_boot=200, seed=0)
    assert best.objective < local.objective * (1 - 1e-3)
    assert best.stars["R_D_star"] > 40 and best.stars["R_N_star"] < 3
    assert len(best.local_minima) >= 2


def test_value_of_epochs_and_json_safety():
    import json

    runs = load_runs(_synthetic(noise=0.002))
    res = fit_data_constrained(runs, joint=True, n_boot=100, seed=0)
    v = res.value_of_epochs([1, 4, 16, 100])
    assert v.value[0] == pytest.approx(1.0)
    assert np.all(np.diff(v.value) < 0)  # each further epoch is worth less
    assert np.all(v.value_lo <= v.value + 1e-12) and np.all(v.value <= v.value_hi + 1e-12)
    json.dumps(res.to_dict())
    json.dumps(res.allocate(1e21, 1e9).to_dict())
    assert "R_D_star" in res.summary() and "joint fit" in res.summary()


def test_backtest_predicts_with_the_laws_own_inputs():
    """The backtest of a law of (N, D, U) passes U to every cut-off fit's prediction (it passed only N and
    D, and `scalefit fit datablations_c4 --law data_constrained` stopped with an internal error)."""
    import warnings

    import scalefit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = scalefit.fit(load_runs(_synthetic(noise=0.002)), law="data_constrained")
        bt = scalefit.backtest(fit, fractions=(0.7,), n_boot=0)
    assert bt.n_points > 0
    truth = {**PAPER_C4_BASE, "R_N_star": 5.0, "R_D_star": 15.0}
    t = bt.table
    runs = fit.runs
    u = runs.df["U"].to_numpy(float)[t["run"].to_numpy()]
    expected = predict_loss(truth, t["N"].to_numpy(), t["D"].to_numpy(), u, PAPER_C4_BASE)
    assert np.all(np.abs(np.log(t["predicted"] / expected)) < 0.05)  # U matters: ignoring it errs by far more
