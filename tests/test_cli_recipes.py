"""End-to-end: `scalefit fit NAME` applies the registry recipe's fit part; `scalefit approaches` side by side."""

from __future__ import annotations

import argparse
import json
import os

import pytest
from cli_helpers import run_cli

from scalefit.cli.main import build_parser
from scalefit.cli.recipes import STAGED, recipe_fit_options

MIRROR = os.environ.get("SCALEFIT_DATA_MIRROR")


def needs(folder: str):
    return pytest.mark.skipif(not (MIRROR and os.path.isdir(os.path.join(MIRROR, folder))),
                              reason=f"needs SCALEFIT_DATA_MIRROR with {folder}")


def _fit_args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["fit", *argv])


def test_recipe_fit_options_follow_the_registry_unless_overridden(capsys):
    law, approach = recipe_fit_options(_fit_args("porian2024_isoflop"))
    assert (law, approach) == ("chinchilla", 2)
    args = _fit_args("porian2024_isoflop")
    recipe_fit_options(args)
    assert args.approach_options == {"window": 5} and args.objective == "huber"
    assert "--no-recipe" in capsys.readouterr().err
    assert recipe_fit_options(_fit_args("datablations_c4")) == ("data_constrained", STAGED)
    args = _fit_args("chinchilla_epoch")
    assert recipe_fit_options(args) == ("chinchilla", None) and args.objective == "hoffmann"
    own = _fit_args("datablations_c4", "--law", "kaplan")
    assert recipe_fit_options(own) == ("kaplan", None)
    assert "--law kaplan replaces the registry's recommended fit" in capsys.readouterr().err
    off = _fit_args("porian2024_isoflop", "--no-recipe")
    assert recipe_fit_options(off) == ("chinchilla", None) and off.recipe_fit["applied"] == {}
    plain = _fit_args("sweep.csv", "--objective", "ls")
    assert recipe_fit_options(plain) == ("chinchilla", None) and plain.objective == "ls"
    assert plain.recipe_fit is None


@needs("porian2024_isoflop")
def test_fit_porian_runs_approach_2_from_the_recipe(tmp_path):
    out = tmp_path / "porian"
    result = run_cli("fit", "porian2024_isoflop", "--bootstrap", "200", "--out", out)
    assert result.returncode == 0, result.stderr
    assert "applying the registry's recommended fit (approach=2, window=5" in result.stderr
    assert "--no-recipe" in result.stderr and "Traceback" not in result.stderr
    assert "Approach 2 (IsoFLOP parabolas): 12 budgets" in result.stdout
    record = json.loads((out / "approach2.json").read_text())
    a = record["result"]["exponents"]["a"]
    assert 0.491 <= a <= 0.505  # Porian et al. 2024's bracket for their final setting
    assert record["result"]["window"] == 5
    assert record["provenance"]["recipe"]["fit_applied"] == {"approach": 2, "window": 5}
    assert (out / "figures" / "approach2_isoflop.png").stat().st_size > 1000
    md = (out / "report.md").read_text()  # a report, problems first: every budget's flags are named
    # the 5-point windows put every vertex inside its sampled span: nothing to flag on this setting
    assert md.split("\n## ")[1].startswith("Problems found\n\nNo problems found.")
    assert "Approach 2 (IsoFLOP parabolas)" in md and "data:image/png;base64," in (out / "report.html").read_text()
    again = run_cli("fit", "porian2024_isoflop", "--bootstrap", "0", "--out", out)
    assert again.returncode == 2 and "--force" in again.stderr


@needs("datablations_c4")
def test_fit_datablations_runs_the_staged_fit_from_the_recipe(tmp_path):
    out = tmp_path / "dc"
    result = run_cli("fit", "datablations_c4", "--bootstrap", "100", "--out", out)
    assert result.returncode == 0, result.stderr
    assert "applying the registry's recommended fit (law=data_constrained" in result.stderr
    assert "staged fit" in result.stdout and "R_D_star" in result.stdout
    record = json.loads((out / "data_constrained_staged.json").read_text())["result"]
    assert record["n_runs"] == 182 and record["n_replicates"] == 100
    # the paper's optimum (R_D* 15.39, R_N* 5.31; Muennighoff et al. 2023) is one of the local minima listed
    paper = [m for m in record["local_minima"]
             if m["R_D_star"] == pytest.approx(15.39, rel=0.1) and m["R_N_star"] == pytest.approx(5.31, rel=0.1)]
    assert paper, record["local_minima"]
    assert record["objective"] <= paper[0]["objective"]
    lo, hi = record["intervals"]["R_D_star"]
    assert lo < record["stars"]["R_D_star"] < hi
    md = (out / "report.md").read_text()
    assert md.split("\n## ")[1].startswith("Problems found") and "local minima" in md
    assert "D > U" not in md  # repeated data is what this law is for: not a problem here


@needs("chinchilla_epoch")
def test_approaches_on_epoch_data_shows_a2_and_a3_and_says_a1_needs_curves(tmp_path):
    figure = tmp_path / "alloc.png"
    budgets = "6e18,1e19,3e19,6e19,1e20,3e20,6e20,1e21,3e21"  # Hoffmann et al.'s nine IsoFLOP budgets
    result = run_cli("approaches", "chinchilla_epoch", "--budgets", budgets, "--tolerance", "0.1",
                     "--bootstrap", "100", "--compute", "5.76e23", "--figure", figure)
    assert result.returncode == 0, result.stderr
    header = next(line for line in result.stdout.splitlines() if line.startswith("quantity"))
    assert "Approach 2 (IsoFLOP)" in header and "Approach 3 (parametric fit)" in header
    assert "Approach 1 (envelope): not available -- needs training curves" in result.stdout
    assert "Approach 2 (IsoFLOP) diagnostics:" in result.stdout
    assert figure.stat().st_size > 1000
    as_json = run_cli("approaches", "chinchilla_epoch", "--budgets", budgets, "--tolerance", "0.1",
                      "--bootstrap", "50", "--json")
    record = json.loads(as_json.stdout)
    rows = {(r["approach"], r["quantity"]): r for r in record["rows"]}
    a2, a3 = rows[("Approach 2 (IsoFLOP)", "a")], rows[("Approach 3 (parametric fit)", "a")]
    assert a2["estimate"] == pytest.approx(0.51, abs=0.01) and a3["estimate"] == pytest.approx(0.514, abs=0.005)
    assert "Approach 1 (envelope)" in record["unavailable"]


def test_approaches_bad_budget_is_one_line():
    result = run_cli("approaches", "--budgets", "1e20,lots", "--bootstrap", "0")
    assert result.returncode == 2 and "budget 'lots'" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
@needs("datablations_c4")
def test_fit_law_data_constrained_end_to_end(tmp_path):
    """--law data_constrained: the joint 7-parameter fit through the general report, the staged fit beside it."""
    out = tmp_path / "joint"
    result = run_cli("fit", "datablations_c4", "--law", "data_constrained", "--bootstrap", "50", "--no-holdout",
                     "--out", out)
    assert result.returncode == 0, result.stderr
    record = json.loads((out / "fit.json").read_text())
    assert json.dumps(record).count("data_constrained") >= 1
    assert (out / "report.html").exists() and (out / "data_constrained_staged.json").exists()
    assert "the joint 7-parameter fit and the general report" in result.stderr
    assert "staged fit" in result.stdout
