"""Outlier flags and robust restarts (issue 23): a few corrupted runs are named, never dropped, and do not move
the fit; clean data flag nothing."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest
from cli_helpers import run_cli

import scalefit
from scalefit import datasets
from scalefit.core.errors import OutlierWarning
from scalefit.fitting import fit as fit_module
from scalefit.fitting import outliers
from scalefit.simulation.corrupted import corrupted_sweep

CASES = [(10.0, 1), (10.0, 2), (10.0, 3), (0.1, 1), (0.1, 2), (0.1, 3)]


def quiet_fit(runs, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scalefit.fit(runs, **kwargs)


def quiet_load(path, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # x10 losses trip the load-time perplexity check, as they should
        return scalefit.load_runs(path, **kwargs)


def write(tmp_path, seed, factor=1.0, k=0):
    frame, where = corrupted_sweep(seed, factor, k)
    path = tmp_path / f"sweep_{seed}_{factor:g}_{k}.csv"
    frame.to_csv(path, index=False)
    return path, where


@pytest.fixture(scope="module")
def clean_alpha():
    return {s: quiet_fit(corrupted_sweep(s)[0]).params["alpha"] for s in (0, 1)}


@pytest.mark.parametrize(("factor", "k"), CASES)
def test_every_corrupted_run_is_named_with_its_line_values_and_the_refit(tmp_path, factor, k, clean_alpha):
    path, where = write(tmp_path, 1, factor, k)
    runs = quiet_load(path)
    with pytest.warns(OutlierWarning) as caught:
        result = scalefit.fit(runs)
    lines = [f"line {i + 2}" for i in where]  # the header is line 1
    assert [r["row"] for r in result.diagnostics["outliers"]] == lines
    found = [str(w.message) for w in caught if issubclass(w.category, OutlierWarning)]
    assert len(found) == 1 and found[0] == result.warnings[-1]
    message = found[0]
    assert not [w for w in result.warnings if "edge of the searched grid" in w]  # the grid's start, not the fit
    for i, line in zip(where, lines, strict=True):
        assert f"{line} (N={runs.N[i]:.3g}, D={runs.D[i]:.3g}): loss {runs.loss[i]:.4g}" in message
    moved = re.search(r"alpha ([\d.]+) -> ([\d.]+)", message)
    assert moved and float(moved.group(1)) == pytest.approx(result.params["alpha"], rel=1e-3)
    without = result.diagnostics["outlier_check"]["without_flagged"]
    assert float(moved.group(2)) == pytest.approx(without["alpha"], rel=1e-3)
    assert without["alpha"] == pytest.approx(clean_alpha[1], rel=0.01)  # dropping them gives the clean law
    assert len(result.runs) == 40 and result.diagnostics["n_runs"] == 40  # never dropped
    assert result.params["alpha"] == pytest.approx(clean_alpha[1], rel=0.05)  # and it did not move the fit


def test_the_filter_the_warning_gives_drops_exactly_those_runs_and_is_recorded(tmp_path, clean_alpha):
    path, where = write(tmp_path, 0, 10.0, 2)
    result = quiet_fit(quiet_load(path))
    selector = re.search(r"row filter `([^`]*)`", result.warnings[-1]).group(1)
    assert selector == 'row not in ["line {}", "line {}"]'.format(*(where + 2))
    kept = quiet_load(path, query=selector)
    assert len(kept) == 38
    assert kept.provenance["filters"][-1] == {"filter": "query", "value": selector, "removed": 2}
    assert sorted(kept.filtered["row"]) == sorted(f"line {i + 2}" for i in where)
    again = quiet_fit(kept)
    assert not again.diagnostics["outliers"] and not any(w.startswith("outlier") for w in again.warnings)
    assert again.params["alpha"] == pytest.approx(clean_alpha[0], rel=0.01)


def test_a_corner_run_the_law_bends_to_is_named_by_its_deleted_residual():
    # seed 3, three runs x10, one of them the smallest-D run: the Huber optimum on every run fits it with a
    # term of its own (beta ~ 6.3, leverage 1), so its own residual is ~0; the fit without it is off by ~2.3
    frame, where = corrupted_sweep(3, 10.0, 3)
    result = quiet_fit(frame)
    named = {r["row"]: r for r in result.diagnostics["outliers"]}
    assert set(named) == {f"index {i}" for i in where}
    corner = named["index 0"]
    assert corner["leverage"] > 0.99 and abs(corner["log_residual"]) < 0.01
    assert corner["deleted_residual"] == pytest.approx(-np.log(10), abs=0.1)
    assert "fitted by itself (leverage 1.00)" in result.warnings[-1]
    assert result.diagnostics["outlier_check"]["without_flagged"]["beta"] == pytest.approx(0.28, rel=0.05)


def test_clean_sweeps_flag_nothing_and_are_not_refitted(monkeypatch):
    calls = []
    original = fit_module._quiet_refit
    monkeypatch.setattr(fit_module, "_quiet_refit", lambda *a: calls.append(a) or original(*a))
    for seed in range(10):
        frame, _ = corrupted_sweep(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("error", OutlierWarning)
            result = quiet_fit(frame)
        assert result.diagnostics["outliers"] == [] and not result.warnings
        assert result.diagnostics["robust_restarts"]["rounds"] == 0  # the fit is exactly the one before
    assert not calls


def test_the_example_flags_nothing():
    for objective in ("huber", "hoffmann"):
        result = quiet_fit(datasets.load("example_chinchilla"), objective=objective)
        assert result.diagnostics["outliers"] == [] and not result.warnings


def test_epoch_flags_nothing_with_its_recipe_and_two_of_the_runs_the_recipe_drops_without_it(mirror):
    kept = datasets.load("chinchilla_epoch", mirror=mirror, drop_highest_loss=5)
    assert quiet_fit(kept, objective="hoffmann").diagnostics["outliers"] == []
    assert quiet_fit(kept).diagnostics["outliers"] == []
    everything = datasets.load("chinchilla_epoch", mirror=mirror)
    result = quiet_fit(everything)
    named = [r["row"] for r in result.diagnostics["outliers"]]
    assert named == ["line 2", "line 3"]
    recipe_drops = set(everything.df.sort_values("loss", ascending=False)["row"].head(5))
    assert set(named) <= recipe_drops


def test_the_rule_needs_both_many_robust_sd_and_a_tenth_in_log_loss():
    rng = np.random.default_rng(0)
    tiny = rng.normal(0, 1e-7, 40)
    tiny[3] = 1e-4  # 1000 robust sd, but 0.01% of the loss: rounding, not an outlier
    assert not outliers.flag_outliers(tiny).any
    noisy = rng.normal(0, 0.05, 40)
    noisy[5] = 0.15  # 0.15 in log loss, but about 3 robust sd of these data
    assert not outliers.flag_outliers(noisy).mask[5]
    noisy[5] = 0.5
    assert outliers.flag_outliers(noisy).mask.tolist() == [i == 5 for i in range(40)]


def test_fit_json_keeps_the_outliers(tmp_path):
    path, _ = write(tmp_path, 0, 0.1, 1)
    result = quiet_fit(quiet_load(path))
    record = json.loads(json.dumps(result.to_dict()))
    again = scalefit.Fit.from_dict(record, result.runs)
    assert again.diagnostics["outliers"] == result.diagnostics["outliers"]
    assert again.diagnostics["outlier_check"]["without_flagged"] == result.diagnostics["outlier_check"][
        "without_flagged"]
    assert again.warnings == result.warnings


def test_the_check_runs_once_per_fit_and_never_in_bootstrap_replicates(monkeypatch):
    frame, _ = corrupted_sweep(0, 10.0, 1)
    calls = []
    original = outliers.check_outliers
    monkeypatch.setattr(outliers, "check_outliers", lambda *a, **kw: calls.append(1) or original(*a, **kw))
    result = quiet_fit(frame)
    assert len(calls) == 1  # the refit without the flagged run does not check again
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result.bootstrap(n=20, seed=0)
    assert len(calls) == 1


def test_the_returned_fit_is_the_optimum_on_every_run():
    frame, _ = corrupted_sweep(2, 0.1, 2)
    result = quiet_fit(frame)
    spec = result.spec
    data = {c: frame[c].to_numpy(float) for c in ("N", "D")}
    problem = spec.engine.problem(data, frame["loss"].to_numpy(float), result.objective)
    assert float(problem.value(result.solution.z)) == pytest.approx(result.solution.value, rel=1e-12)
    restarts = result.diagnostics["robust_restarts"]
    assert restarts["delta"] == result.objective.delta < 0.5 * restarts["delta_first_pass"]
    assert "pulled by runs far from the law" in result.delta_source


def test_cli_prints_the_outlier_among_its_problems_and_exits_0(tmp_path):
    path, where = write(tmp_path, 0, 10.0, 1)
    done = run_cli("fit", path, "--bootstrap", "0", "--no-holdout", "--no-backtest", "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    problems = done.stdout[done.stdout.index("Problems found"):]
    assert f"fit: outlier: a run lies far from the law, line {where[0] + 2}; dropping it moves alpha" in problems
    assert "Traceback" not in done.stderr and "RuntimeWarning" not in done.stderr
    record = json.loads((tmp_path / "out" / "fit.json").read_text())
    assert [r["row"] for r in record["fit"]["diagnostics"]["outliers"]] == [f"line {where[0] + 2}"]


def test_flagged_runs_do_not_inflate_the_noise_or_the_backtest():
    """One loss x10 made the run-to-run sd 0.52 (clean: 0.004) and the 70B new-run interval [0.71, 5.33];
    flagged runs stay out of the noise estimate and are never backtest points, so the intervals of the
    corrupted sweep are about those of the clean one."""
    from scalefit.extrapolation.backtest import backtest
    from scalefit.uncertainty.noise import fit_noise, noise_sd

    fits = {}
    for name, factor, k in (("clean", 1.0, 0), ("corrupted", 10.0, 2)):
        runs, where = corrupted_sweep(0, factor=factor, k=k)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits[name] = (scalefit.fit(runs), where)
    clean, corrupted = fits["clean"][0], fits["corrupted"][0]
    where = fits["corrupted"][1]
    assert noise_sd(fit_noise(corrupted)) < 1.5 * noise_sd(fit_noise(clean))
    bt = backtest(corrupted, n_boot=0)
    assert not set(where) & set(bt.table["run"])
    assert any("flags as outliers" in s for s in bt.skipped)
    widths = {}
    for name, fit in (("clean", clean), ("corrupted", corrupted)):
        boot = fit.bootstrap(n=100, seed=0)
        pi = boot.predict_intervals(7e10, 1.4e12, backtest=backtest(fit, n_boot=0))
        widths[name] = (float(pi.newrun_hi[0] - pi.newrun_lo[0]), float(pi.extrap_hi[0] - pi.extrap_lo[0]))
    assert widths["corrupted"][0] < 2 * widths["clean"][0]
    assert widths["corrupted"][1] < 2 * widths["clean"][1]
