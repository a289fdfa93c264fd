"""Bootstrap: published standard errors on the Epoch data, determinism across jobs, intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit import datasets
from scalefit.bootstrap import load_replicates, resample_weights

PUBLISHED_SE = {"E": 0.026, "alpha": 0.0154, "beta": 0.0206, "a": 0.020}  # Besiroglu et al. 2024


@pytest.fixture(scope="module")
def epoch_fit(mirror):
    runs = datasets.load("chinchilla_epoch", mirror=mirror, drop_highest_loss=5)
    return scalefit.fit(runs, objective="hoffmann")


@pytest.fixture(scope="module")
def small_fit():
    runs = datasets.load("example_chinchilla")
    return scalefit.fit(runs)


@pytest.mark.slow
def test_pairs_bootstrap_matches_published_standard_errors(epoch_fit):
    boot = epoch_fit.bootstrap(n=4000, scheme="pairs", seed=0)
    assert boot.failed == 0 and len(boot.replicates) == 4000
    intervals = boot.intervals()
    for name, published in PUBLISHED_SE.items():
        assert intervals[name]["se"] == pytest.approx(published, rel=0.25), name
    opt = boot.optimal(5.76e23)
    assert opt["N_opt"]["lo"] < 7.2e10 < opt["N_opt"]["hi"]  # Besiroglu et al.'s main-fit values
    assert opt["D_opt"]["lo"] < 1.33e12 < opt["D_opt"]["hi"]


def test_same_seed_gives_identical_replicates_on_one_and_two_jobs(small_fit):
    one = small_fit.bootstrap(n=300, seed=7, n_jobs=1)
    two = small_fit.bootstrap(n=300, seed=7, n_jobs=2)
    again = small_fit.bootstrap(n=300, seed=7, n_jobs=1)
    np.testing.assert_array_equal(one.replicates, two.replicates)
    np.testing.assert_array_equal(one.replicates, again.replicates)
    other = small_fit.bootstrap(n=300, seed=8)
    assert not np.array_equal(one.replicates, other.replicates)


def test_cluster_is_default_when_groups_repeat_and_resamples_whole_groups(small_fit):
    boot = small_fit.bootstrap(n=50, seed=0)
    assert boot.scheme == "cluster"
    groups = small_fit.runs.groups
    weights = resample_weights(groups, 20, "cluster", np.random.default_rng(0))
    for row in weights:  # every run of a group carries the same multiplicity
        per_group = pd.Series(row).groupby(groups).nunique()
        assert (per_group == 1).all()
    assert np.all(weights.sum(axis=1) > 0)
    pairs = resample_weights(groups, 20, "pairs", np.random.default_rng(0))
    np.testing.assert_array_equal(pairs.sum(axis=1), len(groups))


def test_intervals_contain_estimates_and_widen_with_extrapolation(small_fit, tmp_path):
    boot = small_fit.bootstrap(n=400, seed=1)
    for name, row in boot.intervals().items():
        assert row["lo"] <= row["estimate"] <= row["hi"], name
        assert row["se"] > 0
    near = boot.predict(1e9, 2e10)
    far = boot.predict(1e12, 2e13)
    assert near["lo"] < near["estimate"] < near["hi"]
    assert (far["hi"] - far["lo"]) > (near["hi"] - near["lo"])
    path = tmp_path / "reps.npz"
    boot.save(path)
    loaded = load_replicates(path)
    np.testing.assert_array_equal(loaded["replicates"], boot.replicates)
    assert loaded["names"] == boot.names and loaded["scheme"] == "cluster"


def test_truth_is_inside_the_interval_on_the_bundled_example(small_fit):
    truth = datasets.example_truth()["parameters"]
    intervals = small_fit.bootstrap(n=400, seed=2).intervals()
    for name in ("alpha", "beta", "E"):
        assert intervals[name]["lo"] < truth[name] < intervals[name]["hi"], (name, intervals[name])


def test_few_groups_warns():
    rng = np.random.default_rng(0)
    n = np.repeat([1e8, 3e8, 1e9, 3e9], 8)
    d = np.tile(np.geomspace(1e9, 1e11, 8), 4)
    loss = (1.7 + 400 / n ** 0.34 + 410 / d ** 0.28) * np.exp(rng.normal(0, 0.005, n.size))
    result = scalefit.fit(pd.DataFrame({"N": n, "D": d, "loss": loss}))
    with pytest.warns(scalefit.ScalefitWarning, match="only 4 groups"):
        result.bootstrap(n=50, seed=0)
