"""Identifiability is judged, not assumed; the held-out check says what it held out and gives a verdict."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit import datasets
from scalefit.core.formatting import num, percent
from scalefit.extrapolation.holdout import HoldoutCheck, select_held_out
from scalefit.fitting.identify import identifiability


def quiet_fit(runs, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scalefit.fit(runs, **kwargs)


def test_the_bundled_example_is_identified():
    fit = quiet_fit(datasets.load("example_chinchilla"))
    verdict = identifiability(fit, fit.bootstrap(n=50, seed=0, progress=False))
    assert verdict.identified and fit.status == "identified" and verdict.parameters == ()


def test_colpret_opt_is_not_identified_although_it_converged(mirror):
    fit = quiet_fit(datasets.load("colpret_opt", mirror=mirror, checkpoints="all"))  # every checkpoint
    assert fit.diagnostics["converged"]
    verdict = fit.identification
    assert not verdict.identified and "E" in verdict.parameters
    assert fit.status.startswith("not identified (E")
    assert any("condition number" in r for r in verdict.reasons)
    assert "NOT IDENTIFIED" in fit.summary() and "[not identified" in fit.summary().splitlines()[0]


def test_an_interval_spanning_orders_of_magnitude_is_caught(mirror):
    """datablations, single-epoch runs: A's bootstrap interval spans three orders of magnitude."""
    fit = quiet_fit(datasets.load("datablations_c4", mirror=mirror, query="epochs == 1"))
    assert identifiability(fit).identified  # the point fit alone looks fine...
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        boot = fit.bootstrap(n=100, seed=0, progress=False)
    verdict = identifiability(fit, boot)  # ...its bootstrap does not
    assert not verdict.identified and "A" in verdict.parameters
    assert any("span orders of magnitude" in r and "A in [" in r for r in verdict.reasons)


@pytest.mark.parametrize(("value", "text"), [
    (1.5, "1.5"), ("inf", "inf"), ("-inf", "-inf"), (float("nan"), "n/a"), (None, "n/a"), ("n/a", "n/a"),
    (np.float64(2.0), "2"), ("oops", "oops")])
def test_numbers_never_break_the_formatter(value, text):
    assert num(value) == text


def test_non_finite_numbers_can_read_as_words():
    assert num(float("inf"), 3, "f", nonfinite="not identified") == "not identified"
    assert num("-inf", 3, "f", nonfinite="not identified") == "not identified"
    assert num(0.25, 3, "f", nonfinite="not identified") == "0.250"
    assert percent(0.0123) == "1.23%" and percent("nan") == "n/a"


def test_held_out_selection_takes_whole_model_sizes_by_compute_and_is_capped():
    N = np.repeat([1e8, 2e8, 4e8, 8e8], [10, 10, 10, 70])  # the largest size is 70% of the runs
    D = np.tile(np.geomspace(1e9, 1e10, 10), 10)
    held, sizes = select_held_out(N, 6 * N * D, fraction=0.1)
    assert sizes == (8e8,) and held.sum() == 70  # one size is always held out, even past the cap
    N = np.repeat(np.geomspace(1e8, 1e9, 10), 10)
    D = np.tile(np.geomspace(1e9, 1e10, 10), 10)
    held, sizes = select_held_out(N, 6 * N * D, fraction=0.25, max_fraction=0.25)
    assert len(sizes) == 2 and held.sum() == 20  # whole sizes; a third would pass 25%
    assert set(N[held]) == set(sizes) and min(sizes) > max(N[~held])


def _check(inside: int, total: int) -> HoldoutCheck:
    table = pd.DataFrame({"N": np.full(total, 1e9), "C": np.full(total, 1e20), "inside": np.zeros(total, bool),
                          "inside_pi": np.zeros(total, bool), "ex_lo": np.ones(total), "ex_hi": np.ones(total),
                          "inside_ex": (np.arange(total) < inside).astype(float), "log_error": np.zeros(total),
                          "distance": np.ones(total)})
    return HoldoutCheck(fit=None, bootstrap=None, table=table, train_rows=np.ones(100, bool), level=0.95,
                        held_sizes=(1e9,))


def test_held_out_verdict_is_a_binomial_test():
    fails = _check(5, 63)
    assert fails.verdict == "FAILS" and fails.p_value < 1e-30
    assert fails.verdict_line().startswith("FAILS: 5 of 63 held-out runs inside the 95% extrapolation interval")
    assert _check(60, 63).verdict == "PASSES"
    assert _check(2, 3).verdict == "TOO FEW TO JUDGE"
    assert _check(5, 63).held_out_text().startswith("the 1 model size whose runs reach the largest training compute")


def test_held_out_verdict_judges_the_extrapolation_interval_only():
    check = _check(60, 63)  # no run inside the law band or the new-run interval: information, not a failure
    assert check.verdict == "PASSES" and "FAIL" not in check.summary()
    assert "0 of 63 inside the new-run interval" in check.summary()
    old = HoldoutCheck(fit=None, bootstrap=None, table=check.table.drop(columns=["ex_lo", "ex_hi", "inside_ex"]),
                       train_rows=np.ones(100, bool), level=0.95, held_sizes=(1e9,))
    assert old.verdict == "NOT JUDGED" and "FAIL" not in old.verdict_line()


def test_held_out_sizes_print_distinctly():
    from scalefit.extrapolation.holdout import distinct

    assert distinct([6.795615e9, 9.293216e9, 6.795607e9]) == ["6.79562e+09", "9.29322e+09", "6.79561e+09"]
    assert distinct([6.8e9, 6.8e9, 9.29e9]) == ["6.8e+09", "6.8e+09", "9.29e+09"]  # equal values may print alike
    assert distinct([1.5e9, 3.48e9]) == ["1.5e+09", "3.48e+09"]


def test_held_out_sub_fit_warnings_are_collected_not_printed():
    runs = datasets.load("example_chinchilla")
    sizes = np.unique(runs.N)
    small = runs.subset(np.isin(runs.N, sizes[::5]), reason="eight model sizes")  # the sub-fit keeps 7
    fit = quiet_fit(small)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check = scalefit.holdout_check(fit, n_boot=20, seed=0)
    assert [str(w.message) for w in caught] == []
    assert any("groups: cluster-bootstrap intervals are unreliable" in w for w in check.warnings)
    assert check.to_dict()["warnings"] == list(check.warnings)
