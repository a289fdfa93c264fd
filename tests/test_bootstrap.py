"""Bootstrap: published standard errors on the Epoch data, determinism across jobs, intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit import datasets
from scalefit.uncertainty.bootstrap import load_replicates
from scalefit.uncertainty.resampling import resample_weights

PUBLISHED_SE = {"E": 0.026, "alpha": 0.0154, "beta": 0.0206, "a": 0.020}  # Besiroglu et al. 2024
# Besiroglu et al. 2024 report estimate (SE); their 95% intervals estimate +/- 1.96 SE have these midpoints
PUBLISHED_MIDPOINTS = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658, "a": 0.5126}


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
    for name, midpoint in PUBLISHED_MIDPOINTS.items():
        assert intervals[name]["lo"] < midpoint < intervals[name]["hi"], (name, intervals[name])
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


def test_vectorised_predictions_and_allocations_match_a_loop_over_replicates(small_fit):
    from scalefit.laws.chinchilla import compute_optimal

    boot = small_fit.bootstrap(n=120, seed=4)
    n, d = np.array([[1e9], [7e10]]), np.array([2e10, 1.4e12])
    band = boot.predict(n, d)
    loop = boot.apply(lambda p: p["E"] + p["A"] / np.broadcast_to(n, (2, 2)) ** p["alpha"]
                      + p["B"] / np.broadcast_to(d, (2, 2)) ** p["beta"])
    lo, hi = boot.percentile(loop)
    np.testing.assert_allclose(band["lo"], lo, rtol=1e-12)
    np.testing.assert_allclose(band["hi"], hi, rtol=1e-12)
    assert band["estimate"].shape == (2, 2)
    compute = np.array([1e21, 1e23])
    opt = boot.optimal(compute)
    loop = boot.apply(lambda p: compute_optimal(p, compute)["N_opt"])
    np.testing.assert_allclose(opt["N_opt"]["hi"], boot.percentile(loop)[1], rtol=1e-12)


def test_bca_intervals_come_from_jackknife_refits(small_fit):
    boot = small_fit.bootstrap(n=400, seed=5, method="bca")
    assert boot.jackknife.shape == (small_fit.runs.n_groups, 5)  # one refit per left-out group
    bca, pct = boot.intervals(), boot.intervals("percentile")
    assert any(bca[k]["lo"] != pct[k]["lo"] for k in bca)
    for name, row in bca.items():
        assert row["lo"] <= row["estimate"] <= row["hi"], name


def test_residual_scheme_keeps_the_design_and_warns_about_shared_groups(small_fit):
    with pytest.warns(scalefit.ScalefitWarning, match="treats them as independent"):
        boot = small_fit.bootstrap(n=200, seed=6, scheme="residual")
    assert boot.scheme == "residual" and boot.failed == 0
    cluster = small_fit.bootstrap(n=200, seed=6)
    res, clu = boot.intervals(), cluster.intervals()
    assert res["alpha"]["lo"] < small_fit.params["alpha"] < res["alpha"]["hi"]
    assert res["alpha"]["se"] < clu["alpha"]["se"]  # ignoring the shared group errors narrows intervals


def test_bootstrap_record_is_json_safe_and_complete(small_fit):
    import json

    boot = small_fit.bootstrap(n=60, seed=0)
    record = json.loads(json.dumps(boot.to_dict()))
    assert record["n_used"] == 60 and record["scheme"] == "cluster"
    assert np.array_equal(np.array(record["replicates"]), boot.replicates)  # floats survive exactly
    assert set(record["intervals"]) == {"E", "A", "B", "alpha", "beta", "a", "b", "G"}


def test_bad_arguments_are_rejected(small_fit):
    with pytest.raises(ValueError, match="scheme"):
        small_fit.bootstrap(n=10, scheme="wild")
    with pytest.raises(ValueError, match="level"):
        small_fit.bootstrap(n=10, level=1.5)
    with pytest.raises(ValueError, match="at least 2"):
        small_fit.bootstrap(n=1)


SPAWN_SCRIPT = """
import multiprocessing, sys
import numpy as np
from joblib import parallel_config
import scalefit

if __name__ == "__main__":
    multiprocessing.set_start_method("spawn", force=True)
    fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    serial = fit.bootstrap(n=500, seed=11, n_jobs=1)
    with parallel_config(backend="multiprocessing"):
        spawned = fit.bootstrap(n=500, seed=11, n_jobs=2)
    loky = fit.bootstrap(n=500, seed=11, n_jobs=2)
    assert multiprocessing.get_start_method() == "spawn"
    assert np.array_equal(serial.replicates, spawned.replicates)
    assert np.array_equal(serial.replicates, loky.replicates)
    print("identical", len(spawned.replicates))
"""


def test_two_jobs_work_under_the_spawn_start_method(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "spawn_check.py"
    script.write_text(SPAWN_SCRIPT)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=240,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "identical 500" in done.stdout


def test_epoch_bootstrap_needs_no_rescue_and_checks_every_replicate(epoch_fit):
    boot = epoch_fit.bootstrap(n=200, seed=3)
    checks = boot.global_checks
    assert boot.failed == 0 and checks["rescued_by_lbfgsb"] == 0
    assert checks["checked"] == 200 and checks["mismatches"] == []
    assert checks["failed_by_reason"] == {}


def test_global_check_replaces_a_replicate_stuck_in_a_worse_basin(small_fit):
    from scalefit import solver
    from scalefit.uncertainty.resampling import ReplicateWeights, _global_check

    runs = small_fit.runs
    problem = solver.Problem.build(small_fit.law, {"N": runs.N, "D": runs.D}, runs.loss, small_fit.objective)
    good = small_fit.solution.z
    bad = good.copy()
    bad[3:] = [1.4, 0.03]  # exponents far from the optimum's cell
    z = np.stack([good, bad])
    weights = ReplicateWeights(np.ones((2, len(runs))), np.arange(len(runs)), problem.weights)
    values = np.array([problem.value(zi) for zi in z])
    checks = _global_check(problem, z, np.array([True, True]), weights, values)
    assert checks["checked"] == 2 and checks["mismatches"] == [1]
    assert values[1] == pytest.approx(values[0], rel=1e-7)
    np.testing.assert_allclose(z[1], good, rtol=1e-4)


def test_summary_shows_the_reports_multiplicative_spread_not_a_plain_se(small_fit):
    from scalefit.core.formatting import spread

    boot = small_fit.bootstrap(n=60, seed=1)
    text = boot.summary()
    header = next(line for line in text.splitlines() if line.strip().startswith("quantity"))
    assert "spread" in header.split() and "se" not in header.split()
    row_a = next(line for line in text.splitlines() if line.strip().startswith("A "))
    assert spread(boot.params()["A"]) in row_a and "×/÷" in row_a  # A > 0: a factor, not +/- sd
    # the same function, so the same words, as the report's parameter table
    assert spread([1.0, 2.0, 4.0]) == "×/÷ 2" and spread([-1.0, 0.0, 1.0]) == "± 1"


def test_memory_is_bounded_on_long_tables_without_changing_the_answer(small_fit, monkeypatch):
    """Batches hold at most CHUNK_ELEMENTS replicate x row weights, the jackknife leaves out at most
    JACKKNIFE_MAX blocks; forcing tiny batches (as on a 1e5-row table) gives the same replicates to
    optimiser precision and a jackknife of the same shape."""
    from scalefit import solver
    from scalefit.uncertainty import resampling

    assert resampling.chunk_size(240) == resampling.CHUNK and resampling.chunk_size(100_000) == 20
    jm = resampling.jackknife_weights(np.arange(1000), "pairs")
    assert jm.shape == (resampling.JACKKNIFE_MAX, 1000) and np.all((1 - jm).sum(axis=1) == 4)
    assert np.array_equal(resampling.jackknife_weights(np.arange(10), "pairs"), 1 - np.eye(10))

    runs = small_fit.runs
    problem = solver.Problem.build(small_fit.law, {"N": runs.N, "D": runs.D}, runs.loss, small_fit.objective)
    z0 = small_fit.solution.z

    def replicate():
        return resampling.run_replicates(problem, z0, runs.groups, 120, "cluster", np.random.default_rng(7))

    wide = replicate()
    monkeypatch.setattr(resampling, "CHUNK_ELEMENTS", 8 * len(runs))  # batches of 8, jackknife on its own
    narrow = replicate()
    assert np.array_equal(wide.ok, narrow.ok) and wide.ok.sum() > 100
    np.testing.assert_allclose(narrow.z[narrow.ok], wide.z[wide.ok], rtol=1e-6)
    assert narrow.jackknife.shape == wide.jackknife.shape
    np.testing.assert_allclose(narrow.jackknife, wide.jackknife, rtol=1e-6)
