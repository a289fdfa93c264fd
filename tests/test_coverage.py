"""Calibration by simulation: noise model recovery, determinism, and the R >= 200 coverage study."""

from __future__ import annotations

import numpy as np
import pytest

import scalefit
from scalefit import datasets
from scalefit.simulation.coverage import check_coverage, simulate_log_losses
from scalefit.uncertainty.noise import estimate_noise


@pytest.fixture(scope="module")
def example_fit():
    return scalefit.fit(datasets.load("example_chinchilla"))


def test_noise_model_recovers_between_and_within_group_sd():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(400), rng.integers(2, 9, size=400))
    sims = simulate_log_losses(np.zeros(groups.size), groups, {"sd_between": 0.02, "sd_within": 0.01}, 1, rng)
    noise = estimate_noise(sims[0], groups)
    assert noise["sd_between"] == pytest.approx(0.02, rel=0.1)
    assert noise["sd_within"] == pytest.approx(0.01, rel=0.05)


def test_noise_without_repeated_groups_is_all_within():
    r = np.random.default_rng(1).normal(0, 0.03, 500)
    noise = estimate_noise(r, np.arange(500))
    assert noise["sd_between"] == 0.0 and noise["sd_within"] == pytest.approx(0.03, rel=0.1)


def test_coverage_is_deterministic_and_independent_of_jobs(example_fit):
    one = check_coverage(example_fit, R=4, n=30, seed=3, n_jobs=1)
    two = check_coverage(example_fit, R=4, n=30, seed=3, n_jobs=2)
    for key in one.hits:
        np.testing.assert_array_equal(one.widths[key], two.widths[key])
    assert one.truth["alpha"] == example_fit.params["alpha"]
    table = one.table()
    assert set(table["scheme"]) == {"cluster", "pairs"}
    np.testing.assert_allclose(table["mcse"], np.sqrt(0.95 * 0.05 / 4))


@pytest.mark.slow
def test_cluster_intervals_are_calibrated_and_pairs_under_cover(example_fit):
    """Issue #4: R = 200 datasets with per-group correlated noise; nominal 95%."""
    cov = check_coverage(example_fit, R=200, n=200, seed=0, n_jobs=2)
    assert cov.failed_datasets == 0
    assert cov.noise["sd_between"] > 0.5 * cov.noise["sd_within"]  # the noise really is correlated
    table = cov.table().set_index(["scheme", "quantity"])
    for quantity in ("alpha", "beta", "a", "L_opt(10x C_max)"):
        assert table.loc[("cluster", quantity), "calibrated"], (quantity, table.loc[("cluster", quantity)])
    pairs_low = [q for q in ("alpha", "a", "L_opt(10x C_max)") if table.loc[("pairs", q), "under_covers"]]
    assert len(pairs_low) >= 2, table.loc["pairs"]
    for quantity in ("alpha", "a"):  # on the same data, pairs intervals are narrower than cluster ones
        assert table.loc[("pairs", quantity), "median_width"] < table.loc[("cluster", quantity), "median_width"]
