"""The three intervals' arithmetic: mixture quantiles, the growth fit, the conformal multiplier and its fallback."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from scalefit.uncertainty.calibration import (
    FALLBACK_INFLATION,
    Calibration,
    calibrate,
    min_points,
    reach,
    trend_rejects,
)
from scalefit.uncertainty.prediction import PredictionIntervals, mixture_quantile, newrun_interval, three_intervals


def test_min_points_is_where_the_conformal_quantile_exists():
    assert min_points(0.95) == 19
    assert min_points(0.9) == 9
    assert min_points(0.5) == 1


def test_mixture_quantile_of_one_centre_is_the_normal_quantile():
    q = mixture_quantile(np.array([[0.3, -1.0]]), 0.2, 0.975)
    np.testing.assert_allclose(q, np.array([0.3, -1.0]) + 0.2 * norm.ppf(0.975), rtol=0, atol=1e-12)


def test_mixture_quantile_without_noise_is_the_empirical_quantile():
    centres = np.random.default_rng(0).normal(size=(200, 3))
    np.testing.assert_allclose(mixture_quantile(centres, 0.0, 0.1), np.quantile(centres, 0.1, axis=0))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-2, 2), min_size=2, max_size=30), st.floats(0.01, 1.0), st.floats(0.02, 0.98))
def test_mixture_quantile_solves_the_mixture_cdf(centres, sd, prob):
    c = np.array(centres)[:, None]
    q = mixture_quantile(c, sd, prob)
    assert np.mean(norm.cdf((q - c) / sd)) == pytest.approx(prob, abs=1e-9)


def test_newrun_interval_contains_the_band():
    reps = np.random.default_rng(1).normal(1.0, 0.01, size=(300, 4))
    lo, hi = newrun_interval(reps, 0.02, 0.95)
    band_lo, band_hi = np.exp(np.quantile(reps, [0.025, 0.975], axis=0))
    assert np.all(lo < band_lo) and np.all(hi > band_hi)


def _synthetic(n, c, sd, rng):
    d = np.exp(rng.uniform(0, np.log(100), n))
    scale = np.hypot(sd, c * reach(d))
    return rng.normal(0, scale), d


def test_calibration_recovers_growth_and_covers_new_errors_at_nominal():
    rng = np.random.default_rng(2)
    e, d = _synthetic(4000, 0.01, 0.005, rng)
    cal = calibrate(e, d, 0.005, 0.9)
    assert cal.rule == "conformal" and cal.n_points == 4000
    assert cal.power == 1.0 and cal.c == pytest.approx(0.01, rel=0.1)
    assert cal.q == pytest.approx(norm.ppf(0.95), rel=0.08)
    e_new, d_new = _synthetic(4000, 0.01, 0.005, rng)
    inside = np.abs(e_new) <= cal.halfwidth(d_new, 0.005)
    assert inside.mean() == pytest.approx(0.9, abs=0.02)


def test_too_few_points_fall_back_to_the_stated_conservative_rule():
    rng = np.random.default_rng(3)
    e, d = _synthetic(8, 0.01, 0.005, rng)
    cal = calibrate(e, d, 0.005, 0.95)
    assert cal.rule.startswith("fallback") and "19 needed" in cal.rule
    assert cal.q == pytest.approx(FALLBACK_INFLATION * max(cal.largest_z, norm.ppf(0.975)))
    assert "8 backtest points" in cal.describe()


def test_no_points_means_no_extrapolation_interval():
    cal = calibrate([], [], 0.01, 0.95)
    assert not cal.available and np.isnan(cal.halfwidth(10.0, 0.01))
    pi = three_intervals("loss", [1e9], [2e10], [2.0], [1.99], [2.01], np.log([[2.0], [2.01]]), [10.0], 0.95,
                         {"sd_between": 0.0, "sd_within": 0.01}, cal)
    assert np.isnan(pi.extrap_lo).all() and any("not available" in n for n in pi.notes)


def test_intervals_nest_and_round_trip_through_json():
    rng = np.random.default_rng(4)
    e, d = _synthetic(200, 0.01, 0.005, rng)
    cal = calibrate(e, d, 0.005, 0.95)
    reps = np.log(2.0) + rng.normal(0, 0.003, size=(200, 3))
    est = np.full(3, 2.0)
    band_lo, band_hi = np.exp(np.quantile(reps, [0.025, 0.975], axis=0))
    distance = np.array([0.5, 5.0, 1e4])
    pi = three_intervals("loss", [1e8, 1e9, 1e12], [1e9, 1e10, 1e13], est, band_lo, band_hi, reps, distance, 0.95,
                         {"sd_between": 0.003, "sd_within": 0.004}, cal)
    assert np.all(pi.extrap_lo <= pi.newrun_lo) and np.all(pi.newrun_lo < pi.band_lo)
    assert np.all(pi.extrap_hi >= pi.newrun_hi) and np.all(pi.newrun_hi > pi.band_hi)
    assert np.all(np.diff(pi.extrap_hi - pi.extrap_lo) > 0)  # wider with distance
    assert list(pi.supported) == [True, True, False]  # 1e4x is beyond 3x the largest backtested distance
    back = PredictionIntervals.from_dict(json.loads(json.dumps(pi.to_dict())))
    for key in PredictionIntervals.COLUMNS:
        np.testing.assert_allclose(np.asarray(back[key], float), np.asarray(pi[key], float))
    assert back.calibration == pi.calibration
    assert Calibration.from_dict(json.loads(json.dumps(cal.to_dict()))) == cal
    assert "NOT SUPPORTED" in pi.summary()


def _span_growth(n, rng, k=2e-6, sd=0.002):
    """Backtest-like points whose model error grows steeply with the fitted span: k ln d (ln d + ln span)^3."""
    d = np.exp(rng.uniform(0, np.log(200), n))
    span = np.exp(rng.uniform(6, 10, n))
    scale = np.hypot(sd, k * reach(d, span, 1.0, 3.0))
    return rng.normal(0, scale), d, span, sd


def test_envelope_covers_a_target_fitted_on_a_wider_span_than_any_backtest():
    """The full fit spans more than any backtest; errors that grow with the span must still be covered there.
    The best-fitting shape alone need not be conservative; the envelope of unrejected shapes is."""
    rng = np.random.default_rng(5)
    e, d, span, sd = _span_growth(300, rng)
    cal = calibrate(e, d, sd, 0.95, spans=span)
    assert cal.rule == "conformal" and 1 <= len(cal.envelope) < cal.n_shapes
    target_d, target_span = 10.0, np.exp(12.0)
    truth_scale = np.hypot(sd, 2e-6 * reach(target_d, target_span, 1.0, 3.0))
    half = float(cal.halfwidth(target_d, sd, target_span))
    assert half >= norm.ppf(0.975) * truth_scale  # covers at least the nominal share of new errors there
    for a, b, c, q in cal.envelope:  # every shape of the envelope is no wider than the envelope
        assert q * np.hypot(sd, c * reach(target_d, target_span, a, b)) <= half + 1e-15
    assert all(b > 0 for _, b, _, _ in cal.envelope)  # no growth with span is rejected: its errors trend with it


def test_trend_rejects_a_shape_whose_normalised_errors_still_grow():
    rng = np.random.default_rng(6)
    cov = rng.uniform(0, 5, 200)
    flat = np.abs(rng.normal(size=200))
    rising = flat * (1 + cov)
    rejects = trend_rejects(np.stack([flat, rising]), cov)
    assert list(rejects) == [False, True]
    assert not trend_rejects(np.stack([rising]), np.full(200, 3.0)).any()  # a constant covariate tests nothing
    assert not trend_rejects(rising[None, :5], cov[:5]).any()  # too few points to reject anything


def test_a_calibration_record_of_the_first_version_reads_as_one_shape():
    old = {"c": 0.01, "q": 2.0, "level": 0.95, "power": 0.5, "rule": "conformal", "n_points": 40, "n_runs": 20,
           "n_cutoffs": 5, "max_distance": 30.0, "largest_z": 3.0}
    cal = Calibration.from_dict(old)
    assert cal.span_power == 0.5 and cal.envelope == ()
    np.testing.assert_allclose(cal.halfwidth(10.0, 0.01, 100.0),
                               2.0 * np.hypot(0.01, 0.01 * reach(10.0, 100.0) ** 0.5), rtol=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(5, 60))
def test_the_envelope_widens_with_distance_and_holds_every_kept_shape(seed, n):
    rng = np.random.default_rng(seed)
    e, d, span, sd = _span_growth(n, rng)
    cal = calibrate(e, d, sd, 0.9, spans=span)
    grid = np.geomspace(1.0, 1e3, 30)
    half = cal.halfwidth(grid, sd, 1e5)
    assert np.all(np.diff(half) >= -1e-15) and np.all(half > 0)
    best = cal.q * cal.scale(grid, sd, 1e5)
    assert np.all(half >= best - 1e-15)
