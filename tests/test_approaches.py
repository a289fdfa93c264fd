"""Chinchilla Approaches 1 and 2 and their comparison with Approach 3."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scalefit
from scalefit.approaches import (
    ApproachDisagreementWarning,
    IsoFLOPBiasWarning,
    bin_budgets,
    compare_approaches,
    envelope_approach,
    has_curves,
    isoflop_approach,
)
from scalefit.approaches.isoflop import fit_parabolas, power_law, vertex
from scalefit.data.runs import load_runs

MIRROR = os.environ.get("SCALEFIT_DATA_MIRROR")


def needs(name):
    return pytest.mark.skipif(not (MIRROR and os.path.isdir(os.path.join(MIRROR, name))),
                              reason=f"needs SCALEFIT_DATA_MIRROR with {name}")


TRUTH = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}


def law(n, d, p=TRUTH):
    return p["E"] + p["A"] / n ** p["alpha"] + p["B"] / d ** p["beta"]


def isoflop_sweep(width=1.0, offset=0.0, noise=0.0, seed=0, p=TRUTH, points=9):
    """IsoFLOP points at 5 budgets, ln N spanning +-width (natural log) around the true optimum + offset."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in np.geomspace(1e18, 1e21, 5):
        n_opt = scalefit.laws.chinchilla.compute_optimal(p, c)["N_opt"]
        for x in np.linspace(-width, width, points) + offset:
            n = n_opt * np.exp(x)
            d = c / (6 * n)
            rows.append({"N": n, "D": d, "C": c, "loss": law(n, d, p) * np.exp(noise * rng.standard_normal())})
    return pd.DataFrame(rows)


def test_bin_budgets_groups_close_compute():
    labels = bin_budgets(np.array([1e18, 1.01e18, 1e19, 0.99e19, 1e20]))
    assert labels.tolist() == [0, 0, 1, 1, 2]


def test_parabola_vertex_exact():
    x = np.linspace(-2, 2, 7)
    y = 3.0 + 0.5 * (x - 0.7) ** 2
    xs, ys = vertex(fit_parabolas(x, y, np.ones((1, 7))))
    assert xs[0] == pytest.approx(0.7, abs=1e-10) and ys[0] == pytest.approx(3.0, abs=1e-10)


def test_narrow_centred_grid_recovers_exponent():
    res = isoflop_approach(load_runs(isoflop_sweep(width=0.5)), n_boot=0, reference=TRUTH)
    assert res.exponents["a"] == pytest.approx(0.28 / 0.62, abs=2e-3)
    assert abs(res.simulated["a_sim"] - res.simulated["a_true"]) < 2e-3


def test_off_centre_wide_grid_is_flagged_and_biased():
    # Open-Athena's point: an off-centre, wide grid biases the vertex even without noise (alpha != beta)
    frame = isoflop_sweep(width=2.5, offset=1.5)
    with pytest.warns(IsoFLOPBiasWarning):
        res = isoflop_approach(load_runs(frame), n_boot=0, reference=TRUTH)
    assert all("off-centre" in f or "wide" in f for f in res.budgets["flags"])
    assert np.all(np.abs(res.budgets.sim_bias_logN) > 0.03)
    centred = isoflop_approach(load_runs(isoflop_sweep(width=2.5)), n_boot=0, reference=TRUTH, warn=False)
    assert np.all(np.abs(res.budgets.sim_bias_logN) > np.abs(centred.budgets.sim_bias_logN))


def test_bootstrap_intervals_cover_truth_and_are_seeded():
    runs = load_runs(isoflop_sweep(width=1.0, noise=0.003, seed=3))
    one = isoflop_approach(runs, n_boot=300, seed=5, warn=False)
    two = isoflop_approach(runs, n_boot=300, seed=5, warn=False)
    assert one.intervals == two.intervals
    lo, hi = one.intervals["a"]
    assert lo < 0.28 / 0.62 < hi
    d = one.to_dict()
    assert d["exponents"]["a"] == one.exponents["a"] and len(d["budgets"]) == 5
    assert "a =" in one.summary()


def test_no_minimum_flag_counts_only_resamples_that_could_have_one():
    """A 5-point window: ~10% of resamples draw fewer than 3 distinct points (no parabola, no evidence);
    they are counted apart and do not raise the flag (they did before: every budget was flagged). At the
    largest budget the IsoFLOP curve is flat against the noise: resamples with 3+ distinct points whose
    parabola opens downwards are evidence, and flag it (together with "narrow")."""
    runs = load_runs(isoflop_sweep(width=1.0, noise=0.003, seed=1, points=5))
    res = isoflop_approach(runs, n_boot=400, seed=0, warn=False)  # measured: 0,0,0,0,77 without a minimum
    b = res.budgets
    assert np.all((b.replicates_too_few_points > 0.05 * 400) & (b.replicates_too_few_points < 0.16 * 400))
    flagged = b["flags"].str.contains("no minimum").to_numpy()
    assert flagged.tolist() == [False, False, False, False, True]
    k = int(b["flags"].iloc[-1].split("no minimum in ")[1].split(" ")[0])
    assert k == b.replicates_without_minimum.iloc[-1] - b.replicates_too_few_points.iloc[-1] > 0.05 * 400
    assert "narrow" in b["flags"].iloc[-1]


def test_small_budget_uses_shared_curvature():
    frame = isoflop_sweep(width=1.0)
    small = frame[frame.C == frame.C.max()].iloc[3:6]
    frame = pd.concat([frame[frame.C != frame.C.max()], small])
    with pytest.warns(scalefit.ScalefitWarning, match="3 points"):
        res = isoflop_approach(load_runs(frame), n_boot=0)
    assert res.budgets.method.tolist()[-1] == "shared"


def curves_frame(p=TRUTH):
    rows = []
    for n in np.geomspace(1e7, 1e10, 7):
        for d in np.geomspace(1e8, 1e12, 40):
            rows.append({"N": n, "D": d, "loss": law(n, d, p), "group": f"run{n:.0e}", "step": d / 1e6})
    return pd.DataFrame(rows)


def test_envelope_recovers_exponent_roughly():
    runs = load_runs(curves_frame(), checkpoints="all")
    assert has_curves(runs)
    res = envelope_approach(runs, points=200, n_boot=100, seed=0)
    # 7 sizes a factor ~3.2 apart: the step function of winners gives a within a few hundredths
    assert res.exponents["a"] == pytest.approx(0.28 / 0.62, abs=0.05)
    assert res.exponents["a"] + res.exponents["b"] == pytest.approx(1.0, abs=1e-9)
    assert len(res.to_frame()) > 0 and res.to_dict()["approach"] == 1


def test_final_losses_are_not_curves():
    runs = load_runs(isoflop_sweep())
    assert not has_curves(runs)
    with pytest.raises(scalefit.FitError, match="training curves"):
        envelope_approach(runs)


def test_comparison_warns_on_disagreement():
    runs = load_runs(isoflop_sweep(width=1.0, noise=0.002))
    fake = isoflop_approach(load_runs(isoflop_sweep(width=1.0, noise=0.002, p={**TRUTH, "beta": 0.5})),
                            n_boot=200, warn=False)
    with pytest.warns(ApproachDisagreementWarning):
        cmp = compare_approaches(runs, [1e22], n_boot=100, approach2=fake)
    assert "Approach 1 (envelope)" in cmp.unavailable
    assert cmp.disagreements and "a" in cmp.summary()
    assert set(cmp.to_frame().approach) == {"Approach 2 (IsoFLOP)", "Approach 3 (parametric fit)"}


PORIAN_FINAL = ("dataset == 'rw' and hparams == 'tuned' and warmup == 'short' and decay == 'const' "
                "and param_count == 'standard' and loss_type == 'val'")


@needs("porian2024_isoflop")
def test_porian_final_setting():
    """Porian et al. 2024 report a in [0.491, 0.505] for their final RefinedWeb setting (tuned, const LR).

    A parabola through *all* points of each budget gives a = 0.514: their grids span 0.8-2.1 decades of N
    with the minimum off centre (offset -0.3..-0.5 of the half-span at 1e16-2e18 FLOPs), where a parabola is
    a poor Taylor model and the vertex is pulled low at small budgets (e.g. 1.94e7 vs 2.61e7 from Porian's
    own Akima-interpolated minimum at 5e16). Fitting the parabola to the 5 points around the measured
    minimum (window=5) gives a = 0.501, inside their bracket; Porian's method (Akima interpolation of log
    loss, then the minimum) gives 0.497 on the same points.
    """
    runs = scalefit.datasets.load("porian2024_isoflop", query=PORIAN_FINAL)
    assert len(runs) == 121
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = isoflop_approach(runs, n_boot=500, seed=0)
        local = isoflop_approach(runs, n_boot=500, seed=0, window=5)
    assert len(full.budgets) == 12
    assert full.exponents["a"] == pytest.approx(0.5137, abs=2e-3)
    assert 0.491 <= local.exponents["a"] <= 0.505
    assert local.exponents["a"] == pytest.approx(0.5009, abs=2e-3)
    lo, hi = local.intervals["a"]
    assert lo < 0.498 < hi
    assert (full.budgets["flags"].str.contains("wide")).sum() >= 5


@needs("chinchilla_epoch")
def test_epoch_approaches_2_and_3():
    runs = scalefit.datasets.load("chinchilla_epoch", drop_highest_loss=5)
    budgets = [6e18, 1e19, 3e19, 6e19, 1e20, 3e20, 6e20, 1e21, 3e21]  # Hoffmann et al.'s nine IsoFLOP budgets
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cmp = compare_approaches(runs, [1e21, 5.76e23], n_boot=200, seed=0,
                                 isoflop_kwargs={"budgets": budgets, "tolerance": 0.1})
    assert "Approach 1 (envelope)" in cmp.unavailable
    t = cmp.to_frame().set_index(["approach", "quantity"])
    a2, a3 = t.loc[("Approach 2 (IsoFLOP)", "a")], t.loc[("Approach 3 (parametric fit)", "a")]
    assert a2.estimate == pytest.approx(0.510, abs=0.01)
    assert a3.estimate == pytest.approx(0.514, abs=0.005)
    assert a2.lo < a3.estimate < a2.hi  # they agree within intervals
    assert not cmp.disagreements


@settings(max_examples=40, deadline=None)
@given(st.floats(-3, 3), st.floats(0.01, 5), st.floats(1, 5), st.integers(3, 12))
def test_vertex_of_any_upward_parabola(x0, curvature, level, n):
    x = np.linspace(-4, 4, n)
    y = level + curvature * (x - x0) ** 2
    xs, ys = vertex(fit_parabolas(x, y, np.ones((1, n))))
    assert xs[0] == pytest.approx(x0, abs=1e-6) and ys[0] == pytest.approx(level, abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(st.floats(0.1, 1.0), st.floats(-10, 10), st.integers(2, 10))
def test_power_law_recovers_exact_exponent(slope, icpt, m):
    log_c = np.linspace(40, 50, m)
    fit = power_law(log_c, icpt + slope * log_c)
    assert fit[0] == pytest.approx(slope, abs=1e-8) and fit[1] == pytest.approx(icpt, abs=1e-6)


@needs("colpret_choshen2024")
def test_opt_trajectories_envelope():
    """Approach 1 on the six OPT training curves (Xia et al. 2023): the envelope is won by 125M, 1.3B,
    6.7B, 13B and 30B in turn; a = 0.546 with a wide interval (six curves, one schedule per size)."""
    res = envelope_approach(scalefit.datasets.load("colpret_opt", checkpoints="all"), n_boot=300, seed=0)
    assert res.n_curves == 6
    assert res.exponents["a"] == pytest.approx(0.546, abs=0.01)
    lo, hi = res.intervals["a"]
    assert lo < 0.3 and hi > 0.8


def test_results_are_json_safe_and_frozen():
    import dataclasses
    import json

    runs = load_runs(isoflop_sweep(width=1.0, noise=0.002))
    iso = isoflop_approach(runs, n_boot=50, reference=TRUTH, warn=False)
    env = envelope_approach(load_runs(curves_frame(), checkpoints="all"), n_boot=50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cmp = compare_approaches(runs, [1e22], n_boot=50, approach2=iso)
    for res in (iso, env, cmp):
        json.dumps(res.to_dict())
        assert isinstance(res.to_frame(), pd.DataFrame) and res.summary()
        with pytest.raises(dataclasses.FrozenInstanceError):
            res.level = 0.5
