"""Model comparison and the alternative laws on real data (golden ones skip without the dataset mirror)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import scalefit
from scalefit import datasets
from scalefit.approaches.compare_laws import compare, information_criteria
from scalefit.laws import Chinchilla, CustomLaw
from tests.cli_helpers import run_cli
from tests.custom_laws import chinchilla_form

REPO = Path(__file__).resolve().parent.parent


def chinchilla_by_hand() -> CustomLaw:
    return CustomLaw(chinchilla_form, inputs=("N", "D"), params={
        "E": (0, None), "A": (0, None), "B": (0, None), "alpha": (1e-4, 10.0), "beta": (1e-4, 10.0)},
        linear=("E", "A", "B"))


@pytest.fixture(scope="module")
def epoch_runs(mirror):
    return datasets.load("chinchilla_epoch", mirror=mirror, drop_highest_loss=5)


def test_information_criteria_definition():
    ic = information_criteria(0.5, 10, 3)
    assert ic["aic"] == pytest.approx(6 + 10 * np.log(0.1))
    assert ic["bic"] == pytest.approx(3 * np.log(10) + 10 * np.log(0.1))


def test_epoch_no_e_and_tied_fits(epoch_runs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        no_e = scalefit.fit(epoch_runs, law="chinchilla_no_e", objective="hoffmann")
        tied = scalefit.fit(epoch_runs, law="chinchilla_tied", objective="hoffmann")
    assert no_e.params["E"] == 0.0 and no_e.diagnostics["converged"]
    # without E the D term absorbs the irreducible loss with a tiny exponent; the objective more than doubles
    assert no_e.solution.value == pytest.approx(0.00231156, rel=1e-4)
    assert 0.3 < no_e.params["alpha"] < 0.45 and 0.03 < no_e.params["beta"] < 0.1 and no_e.params["B"] < 50
    assert tied.params["alpha"] == tied.params["beta"] and tied.diagnostics["converged"]
    assert tied.params["alpha"] == pytest.approx(0.357, abs=0.02)  # between the free fit's 0.347 and 0.367
    assert tied.solution.value == pytest.approx(0.0010182740178006, rel=0.01)
    assert tied.solution.value >= 0.0010182740178006 * (1 - 1e-9)  # never below the unconstrained optimum


def test_custom_chinchilla_reproduces_the_builtin_fit_through_the_general_path(epoch_runs, tmp_path):
    builtin = scalefit.fit(epoch_runs, objective="hoffmann")
    custom = scalefit.fit(epoch_runs, law=chinchilla_by_hand(), objective="hoffmann")
    assert custom.spec.engine.kind == "general"
    for name in builtin.law.param_names:
        assert custom.params[name] == pytest.approx(builtin.params[name], rel=1e-6), name
    out = tmp_path / "report"
    scalefit.report(custom, out, holdout=False)
    record = json.loads((out / "fit.json").read_text())
    assert record["fit"]["law"]["args"]["function"] == "tests.custom_laws:chinchilla_form"
    again = run_cli("report", out / "fit.json", "--out", tmp_path / "again", env={"PYTHONPATH": str(REPO)})
    assert again.returncode == 0, again.stderr
    assert "chinchilla_form" in (tmp_path / "again" / "report.md").read_text()
    lost = run_cli("report", out / "fit.json", "--out", tmp_path / "lost")  # the function cannot be imported
    assert lost.returncode == 2 and "Traceback" not in lost.stderr and "tests.custom_laws" in lost.stderr


def test_compare_on_epoch(epoch_runs):
    result = compare(epoch_runs, laws=["chinchilla", "kaplan"], objective="hoffmann", k_max=3)
    table = result.table.set_index("law")
    assert table.loc["chinchilla", "objective"] == pytest.approx(0.0010182740178006, rel=1e-9)
    assert table.loc["chinchilla", "aic"] < table.loc["kaplan", "aic"]
    assert np.all(np.isfinite(table[["llo_1", "llo_2", "llo_3"]].to_numpy()))
    assert "LLO k=3" in result.summary()


def test_compare_on_datablations_single_epoch(mirror):
    runs = datasets.load("datablations_c4", mirror=mirror, query="epochs == 1")
    result = compare(runs, laws=["chinchilla", "kaplan"], k_max=2)
    assert set(result.table["law"]) == {"chinchilla", "kaplan"}
    assert np.all(np.isfinite(result.table[["aic", "llo_1", "llo_2"]].to_numpy()))


def test_compare_cli_on_the_bundled_example(tmp_path):
    done = run_cli("compare", "--law", "chinchilla", "--law", "kaplan", "--k", "2", "--figure",
                   tmp_path / "compare.png")
    assert done.returncode == 0, done.stderr
    assert "kaplan" in done.stdout and "LLO k=2" in done.stdout
    assert (tmp_path / "compare.png").stat().st_size > 1000
    bad = run_cli("compare", "--law", "nope")
    assert bad.returncode == 2 and "unknown law" in bad.stderr


def test_builtin_law_record_round_trip():
    law = Chinchilla(tied={"beta": "alpha"})
    assert scalefit.laws.law_from_dict(law.to_dict()) == law


def test_one_spec_everywhere_holdout_keeps_the_delta_rule_and_records_round_trip():
    runs = datasets.load("example_chinchilla")
    fitted = scalefit.fit(runs)  # automatic delta
    assert fitted.spec.delta is None and fitted.delta_source.startswith("automatic")
    check = scalefit.holdout_check(fitted, n_boot=20, seed=1)
    assert check.fit.delta_source.startswith("automatic")  # re-estimated on the small runs, not "given"
    assert check.fit.spec == fitted.spec
    again = scalefit.Fit.from_dict(json.loads(json.dumps(fitted.to_dict())), runs)
    assert again.spec == fitted.spec and again.law == fitted.law


def test_general_path_bootstrap_gives_intervals():
    runs = datasets.load("example_chinchilla")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kaplan = scalefit.fit(runs, law="kaplan")
        boot = kaplan.bootstrap(n=16, seed=0, progress=False)
    assert boot.failed == 0 and boot.replicates.shape == (16, 4)
    iv = boot.intervals()
    for name in ("alpha_N", "alpha_D"):
        assert iv[name]["lo"] < kaplan.params[name] < iv[name]["hi"]
    opt = boot.optimal(1e22)["N_opt"]
    assert opt["lo"] < float(kaplan.optimal(1e22)["N_opt"]) < opt["hi"]


def test_coverage_runs_through_the_spec_for_any_law():
    runs = datasets.load("example_chinchilla")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kaplan = scalefit.fit(runs, law="kaplan")
        cov = scalefit.check_coverage(kaplan, R=2, n=8, seed=0, schemes=("cluster",))
    assert set(cov.quantities) >= {"N_c", "alpha_N", "gamma", "L_opt(10x C_max)"}
    assert cov.truth["alpha_N"] == pytest.approx(kaplan.params["alpha_N"])
    assert cov.failed_datasets == 0 and cov.hits[("cluster", "percentile")].shape == (2, len(cov.quantities))


def test_cli_fits_other_laws_and_import_paths(tmp_path):
    done = run_cli("fit", "--law", "kaplan", "--bootstrap", "20", "--no-holdout", "--compute", "1e22",
                   "--out", tmp_path / "k", "--quiet")
    assert done.returncode == 0, done.stderr
    md = (tmp_path / "k" / "report.md").read_text()
    assert "(N_c/N)^(alpha_N/alpha_D)" in md and "alpha_N" in md
    bare = run_cli("fit", "--law", "tests.custom_laws:chinchilla_form", "--bootstrap", "0", "--no-holdout",
                   "--out", tmp_path / "c", env={"PYTHONPATH": str(REPO)})
    assert bare.returncode == 2 and "needs finite bounds" in bare.stderr and "Traceback" not in bare.stderr
    missing = run_cli("fit", "--law", "nowhere:thing", "--out", tmp_path / "m")
    assert missing.returncode == 2 and "cannot import" in missing.stderr
