"""Leave-one-out influence: exact group refits agree with independent fits, the one-step approximation agrees
with exact refits, a group that carries the answer is named, clean sweeps name nothing, and the report and
fit.json carry it."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit import datasets
from scalefit.report.record import restore
from scalefit.simulation.corrupted import corrupted_sweep
from scalefit.uncertainty.influence import INFLUENCE_THRESHOLD, Influence, influence

TARGET = {"N": 7e10, "D": 1.4e12}
L_TARGET = "L(N=7e+10, D=1.4e+12)"


def _quiet_fit(runs, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scalefit.fit(runs, **kwargs)


@pytest.fixture(scope="module")
def epoch(mirror):
    fit = _quiet_fit(datasets.load("chinchilla_epoch", drop_highest_loss=5), objective="hoffmann")
    return fit, fit.influence(targets=[TARGET], budgets=[1e24])


@pytest.fixture(scope="module")
def example():
    fit = _quiet_fit(datasets.load("example_chinchilla"))
    return fit, fit.influence(targets=[TARGET], budgets=[1e22])


def test_epoch_group_refits_agree_with_independent_fits(epoch):
    """Every leave-one-group-out row equals a fresh, globally solved fit on the runs without that group."""
    fit, inf = epoch
    assert inf.targets == (L_TARGET, "N_opt(C=1e+24)", "L_opt(C=1e+24)")
    assert len(inf.groups) == fit.runs.n_groups == 43
    assert (inf.groups["method"].str.startswith("exact")).all()
    df = fit.runs.df
    groups = fit.runs.groups
    top = inf.top(6, by=L_TARGET)
    for index, row in top.iterrows():
        value = pd.unique(groups.astype(str))[index]
        rest = df.loc[groups.astype(str) != value, ["N", "D", "loss"]].reset_index(drop=True)
        alone = _quiet_fit(scalefit.load_runs(rest), objective="hoffmann")
        expected = float(alone.predict(N=TARGET["N"], D=TARGET["D"], threshold=None))
        assert row[L_TARGET] == pytest.approx(expected, rel=2e-5), row["label"]
    # the listing is ordered by the size of the shift
    shifts = top[f"widths {L_TARGET}"].abs().to_numpy()
    assert np.all(np.diff(shifts) <= 0)
    assert shifts[0] == pytest.approx(inf.groups[f"widths {L_TARGET}"].abs().max())


def test_epoch_one_step_runs_agree_with_exact_refits(epoch):
    fit, inf = epoch
    approx = fit.influence(targets=[TARGET], budgets=[1e24], exact_runs=0)
    assert inf.run_method == "exact" and approx.run_method == "one-step" and approx.group_method == "one-step"
    for q in (L_TARGET, "alpha", "beta"):
        exact, step = inf.runs[f"shift {q}"].to_numpy(), approx.runs[f"shift {q}"].to_numpy()
        assert np.corrcoef(exact, step)[0, 1] > 0.95, q
    top_exact = set(inf.top(10, kind="runs").index)
    top_step = set(approx.top(10, kind="runs").index)
    assert len(top_exact & top_step) >= 7
    g_exact, g_step = inf.groups[f"shift {L_TARGET}"], approx.groups[f"shift {L_TARGET}"]
    assert np.corrcoef(g_exact, g_step)[0, 1] > 0.9


def test_one_step_is_close_to_exact_under_least_squares():
    runs, _ = corrupted_sweep(3)
    fit = _quiet_fit(runs, objective="ls")
    exact = fit.influence(budgets=[1e22])
    step = fit.influence(budgets=[1e22], exact_runs=0)
    for q in ("alpha", "beta", "N_opt(C=1e+22)"):
        a, b = exact.runs[f"shift {q}"].to_numpy(), step.runs[f"shift {q}"].to_numpy()
        assert np.max(np.abs(a - b)) < 0.1 * np.max(np.abs(a)), q


def test_epoch_names_no_unit_and_says_so(epoch):
    _, inf = epoch
    assert inf.exceeding().empty
    assert inf.summary_lines() == []
    assert f"0 unit(s) move a target by more than {INFLUENCE_THRESHOLD:g} widths" in inf.describe()


@pytest.mark.parametrize("seed", range(4))
def test_clean_sweeps_name_nothing(seed):
    runs, _ = corrupted_sweep(seed)
    inf = _quiet_fit(runs).influence(budgets=[1e22], targets=[TARGET])
    assert inf.exceeding().empty, inf.top(3)[["label", "max widths"]]


def test_a_group_that_carries_the_answer_is_named():
    """The largest model size reads 4% high in every run: leaving it out moves the extrapolation by more
    than the threshold, and the summary names that group with its file lines."""
    runs, _ = corrupted_sweep(0)
    df = runs[["N", "D", "loss"]].copy()
    largest = df["N"] == df["N"].max()
    df.loc[largest, "loss"] *= 1.04
    fit = _quiet_fit(scalefit.load_runs(df))
    inf = fit.influence(targets=[TARGET], budgets=[1e22])
    hits = inf.exceeding()
    assert len(hits) >= 1
    first = hits.iloc[0]
    assert first["unit"] == "group" and f"N={df['N'].max():.4g}" in first["label"]
    lines = inf.summary_lines()
    assert lines and lines[0].startswith("leaving out group ") and "interval widths" in lines[0]
    assert "index 35-39" in lines[0]  # a DataFrame's rows are named by their index (a file's by "line N")


def test_unidentified_leave_out_is_marked():
    """Leaving out one of only three token counts per size still identifies; leaving out one of three
    sizes leaves two distinct N: the law is then barely identified, never silently reported."""
    n = np.repeat([1e8, 3e8, 1e9], 4)
    d = n * np.tile([5, 10, 20, 40], 3)
    loss = 1.69 + 406.4 / n ** 0.34 + 410.7 / d ** 0.28
    fit = _quiet_fit(scalefit.load_runs(pd.DataFrame({"N": n, "D": d, "loss": loss})))
    inf = fit.influence(budgets=[1e21])
    assert len(inf.groups) == 3
    assert inf.groups["identified"].dtype == bool
    assert np.isnan(inf.groups.loc[~inf.groups["identified"], "shift alpha"]).all()


def test_round_trip_and_arguments(example):
    _, inf = example
    back = Influence.from_dict(json.loads(json.dumps(scalefit.core.formatting.json_safe(inf.to_dict()))))
    assert back.targets == inf.targets and back.estimate == inf.estimate
    pd.testing.assert_frame_equal(back.groups, inf.groups, check_dtype=False)
    pd.testing.assert_frame_equal(back.runs, inf.runs, check_dtype=False)
    with pytest.raises(ValueError, match="kind must be"):
        inf.table("sizes")
    with pytest.raises(ValueError, match="by must be one of"):
        inf.top(3, by="gamma")


def test_given_bootstrap_sets_the_widths(example):
    fit, _ = example
    boot = fit.bootstrap(n=100, seed=1)
    inf = influence(fit, boot, budgets=[1e22])
    row = boot.interval(lambda p: p["alpha"])
    assert inf.width["alpha"] == pytest.approx(float(row["hi"] - row["lo"]))
    assert inf.n_boot == len(boot.replicates)


def test_report_and_fit_json_carry_influence(example, tmp_path):
    fit, _ = example
    boot = fit.bootstrap(n=50, seed=0)
    out = scalefit.report(fit, tmp_path / "r", bootstrap=boot, targets=[(7e10, 1.4e12)], computes=[1e22],
                          holdout=False, backtest=False, profile=False)
    record = json.loads((out / "fit.json").read_text())
    assert record["influence"]["targets"] == [L_TARGET, "N_opt(C=1e+22)", "L_opt(C=1e+22)"]
    assert len(record["influence"]["groups"]) == fit.runs.n_groups
    md = (out / "report.md").read_text()
    assert "## Which runs drive the extrapolation" in md and "figures/influence.png" in md
    assert "Influence: no single group or run moves" in md
    assert (out / "figures" / "influence.png").stat().st_size > 10_000
    restored = restore(record)
    assert restored.influence is not None and restored.influence.targets[0] == L_TARGET
