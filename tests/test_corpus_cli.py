"""Hostile inputs and degenerate designs at the fit / command-line level: each case asserts its exact outcome.

Every case ends in a report whose "Problems found" section names the problem, or in one error line with
exit 2 that names what to do; never a traceback. The loader's own corpus (encodings, headers, ...) lives in
tests/test_runs_hostile.py; Ctrl-C at five moments is in tests/test_cli_report.py.

Cases run ``scalefit.cli.main`` in-process (the console script is exercised by test_cli_report.py) with
``--bootstrap 0 --no-holdout`` unless they are about those.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from scalefit.cli.main import main

TRUTH = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
FAST = ("--bootstrap", "0", "--no-holdout")


def law(N, D, E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28):
    return E + A / N**alpha + B / D**beta


def design(sizes, tokens_per_param=(5, 10, 20, 40, 80, 160)):
    rows = np.array([(n, n * t) for n in sizes for t in tokens_per_param], dtype=float)
    return rows[:, 0], rows[:, 1]


def noisy(values, seed=0, sd=0.005):
    return values * np.exp(np.random.default_rng(seed).normal(0.0, sd, len(values)))


SIZES = np.geomspace(3e7, 3e9, 8)


def table(kind: str) -> pd.DataFrame:
    """The runs of one corpus case."""
    N, D = design(SIZES)
    if kind == "one_model_size":
        N, D = design([1e9])
        return pd.DataFrame({"N": N, "D": D, "loss": noisy(law(N, D))})
    if kind == "d_proportional_to_n":
        N = np.geomspace(3e7, 3e9, 20)
        D = 20 * N
        return pd.DataFrame({"N": N, "D": D, "loss": noisy(law(N, D))})
    if kind == "two_model_sizes":
        N, D = design([1e8, 1e9])
        return pd.DataFrame({"N": N, "D": D, "loss": noisy(law(N, D))})
    if kind in ("e_vanishes", "b_vanishes"):
        N, D = design(SIZES, (5, 10, 20, 40, 80))
    if kind == "e_vanishes":
        return pd.DataFrame({"N": N, "D": D, "loss": noisy(law(N, D, E=0.0), sd=0.001)})
    if kind == "b_vanishes":
        return pd.DataFrame({"N": N, "D": D, "loss": noisy(law(N, D, B=0.0), sd=0.001)})
    if kind == "identical_losses":
        return pd.DataFrame({"N": N, "D": D, "loss": np.full(len(N), 2.5)})
    if kind == "one_outlier":
        loss = noisy(law(N, D))
        loss[7] *= 1.5
        return pd.DataFrame({"N": N, "D": D, "loss": loss})
    if kind == "as_many_params_as_rows":
        N, D = N[[0, 10, 20, 30, 40]], D[[0, 10, 20, 30, 40]]
        return pd.DataFrame({"N": N, "D": D, "loss": law(N, D)})
    if kind == "negative_weight":
        return pd.DataFrame({"N": N, "D": D, "loss": noisy(law(N, D)), "weight": np.r_[-1.0, np.ones(len(N) - 1)]})
    return pd.DataFrame({"N": N, "D": D, "loss": noisy(law(N, D))})


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


def error_line(code, err) -> str:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("scalefit: error: "), (code, err)
    return lines[0]


def problems(out_dir) -> str:
    """The "Problems found" section of report.md."""
    md = (out_dir / "report.md").read_text()
    sections = md.split("\n## ")
    assert sections[1].startswith("Summary") and sections[2].startswith("Problems found")  # right after the summary
    return sections[2]


# -- (kind, expected outcome) ---------------------------------------------------------------------------------
ERRORS = {  # one error line, exit 2, naming the problem and what to do
    "one_model_size": ["every run has the same N", "add runs at other values of N"],
    "d_proportional_to_n": ["N and D move together", "tokens per parameter D/N = 20", "vary D at a fixed N"],
    "as_many_params_as_rows": ["5 runs cannot determine the 5 parameters", "add runs"],
    "negative_weight": ["column weight", "must be >= 0", "line 2", "--drop-invalid"],
}
WARNED = {  # a report whose first section names the problem
    "two_model_sizes": ["only 2 distinct values of N", "not determine"],
    "e_vanishes": ["the data do not determine E;", "E barely changes any prediction"],
    "b_vanishes": ["the term with B vanishes", "B -> 0"],
    "identical_losses": ["not determine A, B, alpha, beta", "term with coefficient A is negligible"],
}


@pytest.mark.parametrize("kind", sorted(ERRORS))
def test_degenerate_design_is_one_error_line(kind, tmp_path, capsys):
    csv = tmp_path / f"{kind}.csv"
    table(kind).to_csv(csv, index=False)
    code, _, err = run(capsys, "fit", csv, *FAST, "--out", tmp_path / "o")
    line = error_line(code, err)
    for text in ERRORS[kind]:
        assert text in line, (text, line)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("kind", sorted(WARNED))
def test_degenerate_fit_says_so_first(kind, tmp_path, capsys):
    csv = tmp_path / f"{kind}.csv"
    table(kind).to_csv(csv, index=False)
    code, out, _ = run(capsys, "fit", csv, *FAST, "--out", tmp_path / "o")
    assert code == 0
    section = problems(tmp_path / "o")
    for text in WARNED[kind]:
        assert text in section, (text, section)
    assert out.splitlines()[0].endswith("[NOT identified]") and "NOT IDENTIFIED" in out  # the first line says so
    record = json.loads((tmp_path / "o" / "fit.json").read_text())
    assert record["identifiability"]["identified"] is False
    assert "not identified" in (tmp_path / "o" / "report.md").read_text().split("## Diagnostics")[1]


def test_one_outlier_is_absorbed_by_the_robust_objective(tmp_path, capsys):
    csv = tmp_path / "outlier.csv"
    table("one_outlier").to_csv(csv, index=False)
    code, out, _ = run(capsys, "fit", csv, *FAST, "--out", tmp_path / "o")
    # absorbed (the exponents stay at the truth) and named: the one problem is the outlier, with its line
    assert code == 0 and "Problems found: 1 " in out and "outlier: a run lies far from the law, line 9" in out
    params = json.loads((tmp_path / "o" / "fit.json").read_text())["fit"]["params"]
    assert params["alpha"] == pytest.approx(TRUTH["alpha"], abs=0.03)
    assert params["beta"] == pytest.approx(TRUTH["beta"], abs=0.03)


@pytest.fixture(scope="module")
def good_fit(tmp_path_factory):
    """A clean fit with a small bootstrap, made once: (directory, fit.json)."""
    base = tmp_path_factory.mktemp("corpus")
    csv = base / "good.csv"
    table("good").to_csv(csv, index=False)
    assert main(["fit", str(csv), "--bootstrap", "20", "--no-holdout", "--out", str(base / "o"), "--quiet"]) == 0
    return base / "o", base / "o" / "fit.json"


def test_far_target_is_listed_as_a_problem(tmp_path, capsys):
    csv = tmp_path / "good.csv"
    table("good").to_csv(csv, index=False)
    code, out, _ = run(capsys, "fit", csv, *FAST, "--target", "N=1T,D=20T", "--out", tmp_path / "o")
    assert code == 0 and "Problems found: 1 " in out
    assert "lies 1.39e+04x beyond the largest N, D or compute" in problems(tmp_path / "o")


def test_unreachable_target_loss_is_one_error_line(good_fit, capsys):
    code, _, err = run(capsys, "plan", good_fit[1], "--target-loss", "1.0")
    assert "target loss 1 is not above the fitted irreducible loss E" in error_line(code, err)


def test_plan_without_inference_tokens_says_so(good_fit, capsys):
    code, out, _ = run(capsys, "plan", good_fit[1], "--target-loss", "2.3")
    assert code == 0
    assert out.startswith("no inference tokens given (--inference-tokens): the plan equals the compute-optimal run")
    assert "overtraining" not in out and "flops_saved" not in out  # no rounding noise around zero


def test_existing_report_directory_needs_force(good_fit, capsys):
    code, _, err = run(capsys, "fit", *FAST, "--out", good_fit[0])
    assert "use --force to replace it" in error_line(code, err)


def test_rerender_in_place_needs_force_or_a_new_out(good_fit, tmp_path, capsys):
    before = (good_fit[0] / "report.md").read_text()
    code, _, err = run(capsys, "report", good_fit[1])
    assert "use --force to replace it, or --out DIR" in error_line(code, err)
    assert (good_fit[0] / "report.md").read_text() == before
    code, _out, _ = run(capsys, "report", good_fit[1], "--out", tmp_path / "new")
    assert code == 0 and (tmp_path / "new" / "report.md").exists()


def test_corrupt_fit_json(tmp_path, capsys):
    bad = tmp_path / "fit.json"
    bad.write_text('{"schema": "scalefit.fit/1", "data": ')
    code, _, err = run(capsys, "predict", bad, "--N", "1B", "--D", "20B")
    assert "not a readable fit.json" in error_line(code, err)


def test_fit_json_of_a_future_schema(good_fit, tmp_path, capsys):
    record = json.loads(good_fit[1].read_text())
    record["schema"] = "scalefit.fit/99"
    future = tmp_path / "fit.json"
    future.write_text(json.dumps(record))
    code, _, err = run(capsys, "optimal", future, "--compute", "1e21")
    line = error_line(code, err)
    assert "'scalefit.fit/99'" in line and "not written by this version of scalefit" in line


def test_unknown_dataset_name(tmp_path, capsys):
    code, _, err = run(capsys, "fit", "no_such_dataset", *FAST, "--out", tmp_path / "o")
    assert "no_such_dataset" in error_line(code, err)


def test_report_with_non_finite_numbers_renders(good_fit, tmp_path, capsys):
    """fit.json stores inf/nan as strings: the report prints them as words, never a format error."""
    record = json.loads(good_fit[1].read_text())
    record["fit"]["diagnostics"]["condition_number"] = "inf"
    record["fit"]["diagnostics"]["correlations"]["E"]["A"] = "-inf"
    record["fit"]["diagnostics"]["grad_norm"] = "nan"
    odd = tmp_path / "odd" / "fit.json"
    odd.parent.mkdir()
    odd.write_text(json.dumps(record))
    code, _, err = run(capsys, "report", odd, "--out", tmp_path / "r")
    assert code == 0, err
    md = (tmp_path / "r" / "report.md").read_text()
    assert "condition number inf > 1e+12" in md.split("## Data")[0]
    assert "| not identified |" in md


@pytest.mark.parametrize(("api", "cli"), [
    ("x.csv: columns ['a', 'b'] could each be 'N'; say which with columns={'N': 'a'}",
     "x.csv: columns ['a', 'b'] could each be 'N'; say which with --columns N=a"),
    ("intervals are likely too narrow; use scheme='cluster'", "intervals are likely too narrow; use --scheme cluster"),
    ("Use query='epochs == 1' for plain L(N, D)", "Use --filter 'epochs == 1' for plain L(N, D)"),
    ("2 invalid rows:\n  line 3\npass on_invalid='drop' to drop them with a record in RunTable.dropped",
     "2 invalid rows: line 3 --drop-invalid drops them and records them in the report"),
])
def test_messages_speak_command_line_not_python(api, cli):
    from scalefit.cli.main import one_line

    assert one_line(api) == cli
