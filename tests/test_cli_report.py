"""End-to-end: `scalefit fit` / `report` / `predict` / `optimal` / `plan` through the installed console script.

Numbers in fit.json are checked against the Python API; the HTML report is opened in headless Chromium;
re-rendering is byte-identical apart from the "Rendered" line; hostile invocations give one-line errors.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli, scalefit_command

import scalefit
from scalefit import datasets
from scalefit.report.record import read_record, restore
from scalefit.report.render import FIGURES, RENDERED_PREFIX

ALL_FIGURES = (*FIGURES, "backtest", "influence")  # the backtest and influence figures sit in their own sections


@pytest.fixture(scope="module")
def example_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("rep") / "out"
    done = run_cli("fit", "--bootstrap", "300", "--target", "N=7B,D=140B", "--compute", "1e22",
                   "--target-loss", "2.0", "--inference-tokens", "1e13", "--out", out, "--quiet")
    assert done.returncode == 0, done.stderr
    return out


def test_fit_with_no_runs_uses_the_bundled_example_and_matches_the_api(example_report):
    record = json.loads((example_report / "fit.json").read_text())
    assert record["schema"] == "scalefit.fit/1"
    assert record["data"]["rows"] == 153
    api = scalefit.fit(datasets.load("example_chinchilla"))
    for name, value in api.params.items():
        assert record["fit"]["params"][name] == value  # bit for bit: same data, same deterministic method
    boot = api.bootstrap(n=300, seed=0)
    np.testing.assert_array_equal(np.array(record["bootstrap"]["replicates"]), boot.replicates)
    pred = record["answers"]["predictions"][0]
    assert pred["loss"] == float(api.predict(7e9, 1.4e11))
    band = boot.predict(7e9, 1.4e11)
    assert (pred["lo"], pred["hi"]) == (float(band["lo"]), float(band["hi"]))
    opt = record["answers"]["optimal"][0]
    assert opt["N_opt"] == float(api.optimal(1e22)["N_opt"])
    plan = record["answers"]["plans"][0]
    assert plan["N"] == api.plan(target_loss=2.0, inference_tokens=1e13).N
    assert sorted(p.name for p in (example_report / "figures").iterdir()) == sorted(
        f"{n}.{ext}" for n in ALL_FIGURES for ext in ("png", "svg"))


def test_report_follows_the_checklist(example_report):
    md = (example_report / "report.md").read_text()
    assert md.split("\n## ")[1].startswith("Summary")  # the first section, then the problems
    assert md.split("\n## ")[2].startswith("Problems found")
    for heading in ("Summary", "Goodness of fit", "Backtest",
                    "Problems found", "Data and filters", "Functional form", "Objective and optimizer", "Parameters",
                    "Derived quantities", "Diagnostics and warnings", "Extrapolation", "Inference-aware plans",
                    "Held-out check", "Figures"):
        assert f"## {heading}" in md, heading
    assert "delta=" in md and "cluster-bootstrap replicates" in md
    html = (example_report / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(ALL_FIGURES)
    assert "http://" not in html and "https://" not in html  # self-contained: nothing fetched


def _strip_rendered(data: bytes) -> bytes:
    return re.sub(re.escape(RENDERED_PREFIX).encode() + rb"[0-9T:+\-]+", b"", data)


def test_report_rerenders_byte_for_byte(example_report, tmp_path):
    again = tmp_path / "again"
    done = run_cli("report", example_report / "fit.json", "--out", again)
    assert done.returncode == 0, done.stderr
    files = sorted(p.relative_to(example_report) for p in example_report.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for rel in files:
        a, b = (example_report / rel).read_bytes(), (again / rel).read_bytes()
        assert _strip_rendered(a) == _strip_rendered(b), rel
    # re-rendering in place replaces a report: refused without --force (nothing touched), done with it
    inplace = tmp_path / "inplace"
    shutil.copytree(example_report, inplace)
    before = (inplace / "report.md").read_bytes()
    msg = one_line_error(run_cli("report", inplace / "fit.json"))
    assert "--force" in msg and "--out" in msg and (inplace / "report.md").read_bytes() == before
    assert run_cli("report", inplace / "fit.json", "--force").returncode == 0


def test_restore_gives_back_the_same_objects(example_report):
    results = restore(read_record(example_report / "fit.json"))
    api = scalefit.fit(datasets.load("example_chinchilla"))
    assert results.fit.params == api.params
    assert results.bootstrap.intervals() == api.bootstrap(n=300, seed=0).intervals()
    assert results.holdout is not None and len(results.holdout.table) > 0


def test_predict_optimal_and_plan_commands(example_report):
    fit_json = example_report / "fit.json"
    done = run_cli("predict", fit_json, "--N", "7B", "1B", "--D", "140B", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    api = scalefit.fit(datasets.load("example_chinchilla"))
    assert rows[0]["loss"] == float(api.predict(7e9, 1.4e11)) and rows[1]["N"] == 1e9
    assert rows[0]["lo"] < rows[0]["loss"] < rows[0]["hi"] and "distance" in rows[0]
    done = run_cli("optimal", fit_json, "--compute", "1e22", "--json")
    assert json.loads(done.stdout)[0]["N_opt"] == float(api.optimal(1e22)["N_opt"])
    done = run_cli("plan", fit_json, "--target-loss", "2.0", "--inference-tokens", "1e13", "--peak-flops", "1e15",
                   "--price-per-hour", "2")
    assert done.returncode == 0, done.stderr
    assert "overtraining" in done.stdout and "cost" in done.stdout
    far = run_cli("predict", fit_json, "--N", "1T", "--D", "20T")
    assert far.returncode == 0 and "scalefit: warning: prediction extrapolates" in far.stderr


def test_epoch_data_end_to_end(mirror, tmp_path):
    out = tmp_path / "epoch"
    done = run_cli("fit", "chinchilla_epoch", "--mirror", mirror, "--drop-highest-loss", "5", "--objective",
                   "hoffmann", "--bootstrap", "200", "--compute", "5.76e23", "--out", out, "--quiet")
    assert done.returncode == 0, done.stderr
    record = json.loads((out / "fit.json").read_text())
    api = scalefit.fit(datasets.load("chinchilla_epoch", mirror=mirror, drop_highest_loss=5), objective="hoffmann")
    assert record["fit"]["params"] == api.params
    assert record["fit"]["params"]["alpha"] == pytest.approx(0.3478, abs=5e-4)
    assert float(f"{record['answers']['optimal'][0]['N_opt']:.3g}") == 7.32e10
    assert record["data"]["provenance"]["filters"][0]["filter"] == "drop_highest_loss"
    assert len(record["data"]["source_sha256"]) == 64


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def load_in_browser(path: Path) -> tuple[str, str]:
    browser = chromium()
    if browser is None:
        pytest.skip("no headless Chromium: `apt-get install chromium` (CI installs it in .ci/run)")
    done = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
                           "--v=0", "--virtual-time-budget=5000", "--dump-dom", path.resolve().as_uri()],
                          capture_output=True, text=True, timeout=120, check=False)
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return done.stdout, "\n".join(console)


def test_html_report_loads_in_a_real_browser_with_every_figure(example_report):
    dom, console = load_in_browser(example_report / "report.html")
    assert console == ""
    assert f'data-figures-loaded="{len(ALL_FIGURES)}"' in dom
    assert dom.count("<figure") == len(ALL_FIGURES)


def test_the_browser_check_can_fail(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text('<html><body><img src="missing.png"><script>undefinedFn();</script></body></html>')
    _dom, console = load_in_browser(bad)
    assert "Uncaught ReferenceError" in console


# -- hostile invocations ---------------------------------------------------------------------------------------
def one_line_error(done, code=2) -> str:
    assert done.returncode == code, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("scalefit: error:"), done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


def test_missing_file(tmp_path):
    msg = one_line_error(run_cli("fit", tmp_path / "nope.csv", "--out", tmp_path / "o"))
    assert "nope.csv" in msg


def test_unknown_column_and_bad_unit(tmp_path):
    csv = tmp_path / "runs.csv"
    csv.write_text("params,tokens,val_loss\n70M,1.4B,3.1\n160M,3B,2.9\n")
    msg = one_line_error(run_cli("fit", csv, "--columns", "N=parameters,D=tokens,loss=val_loss", "--out",
                                 tmp_path / "o"))
    assert "parameters" in msg
    csv.write_text("params,tokens,loss\n70M,1.4B,3.1\n160Q,3B,2.9\n")
    msg = one_line_error(run_cli("fit", csv, "--out", tmp_path / "o"))
    assert "160Q" in msg and "runs.csv" in msg and "params" in msg
    assert not (tmp_path / "o").exists()


def test_existing_directory_is_not_clobbered_and_unwritable_is_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    msg = one_line_error(run_cli("fit", "--bootstrap", "0", "--out", out))
    assert "--force" in msg and (out / "keep.txt").read_text() == "mine"
    afile = tmp_path / "afile"
    afile.write_text("")
    assert "does not exist" in one_line_error(run_cli("fit", "--bootstrap", "0", "--out", afile / "o"))
    # a location nobody may write, root included: the error comes after fitting, and nothing is left behind
    msg = one_line_error(run_cli("fit", "--bootstrap", "0", "--no-holdout", "--out", "/proc/scalefit-test"))
    assert "cannot write the report" in msg
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if not os.access(locked, os.W_OK):  # as an ordinary user, refused before any work
            assert "permission denied" in one_line_error(run_cli("fit", "--bootstrap", "0", "--out", locked / "o"))
    finally:
        locked.chmod(0o700)


def test_bad_target_and_bad_fit_json(tmp_path):
    one_line_error(run_cli("fit", "--target", "N=7B", "--out", tmp_path / "o"))
    junk = tmp_path / "fit.json"
    junk.write_text('{"schema": "other/9"}')
    assert "schema" in one_line_error(run_cli("predict", junk, "--N", "1B", "--D", "20B"))
    usage = run_cli("fit", "--bootstrap", "many")
    assert usage.returncode == 2 and "usage:" in usage.stderr


def _importing(proc: subprocess.Popen, timeout: float = 60.0) -> None:
    """Wait until the child maps numpy's extension: the console script's entry module has run (it installs the
    Ctrl-C handler before importing anything heavy) and the heavy imports are under way."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if b"_multiarray_umath" in Path(f"/proc/{proc.pid}/maps").read_bytes():
                return
        except OSError:
            time.sleep(1.0)  # no /proc: a plain delay
            return
        time.sleep(0.001)


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.3, 1.0, 6.0])
def test_ctrl_c_at_any_moment_leaves_nothing_behind(tmp_path, delay):
    """Ctrl-C while imports are still running (delay 0 after the child starts importing numpy), while loading,
    fitting or bootstrapping: exit 130, the one line, no traceback, nothing written.

    Not tested, because no Python code can handle it: a signal before the interpreter has run the console
    script's entry module (process start and Python's own ``site`` import; see scalefit/_entry.py).
    """
    out = tmp_path / "out"
    proc = subprocess.Popen([*scalefit_command(), "fit", "--bootstrap", "200000", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    _importing(proc)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, (proc.returncode, stderr)
    assert stderr.strip().splitlines()[-1] == "scalefit: interrupted; nothing was written", stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_import_scalefit_is_light_and_lazy():
    code = ("import sys, scalefit; assert 'matplotlib' not in sys.modules and 'pandas' not in sys.modules, "
            "sorted(m for m in sys.modules if m.startswith(('matplotlib', 'pandas')))[:3]; "
            "assert callable(scalefit.fit) and callable(scalefit.report) and scalefit.Fit.__name__ == 'Fit'; "
            "from scalefit.report.render import render_record; "
            "assert callable(scalefit.fit) and callable(scalefit.report); "
            "missing = [n for n in scalefit.__all__ if not hasattr(scalefit, n)]; assert not missing, missing; "
            "print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def _actions(parser, path="scalefit"):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _actions(sub, f"{path} {name}")
        elif not isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            yield path, action


def test_every_option_has_help_text():
    from scalefit.cli.main import build_parser

    actions = list(_actions(build_parser()))
    assert len(actions) > 40
    missing = [f"{path} {'/'.join(a.option_strings) or a.dest}" for path, a in actions if not a.help]
    assert not missing, missing


def test_reprs_are_short_summaries(example_report):
    results = restore(read_record(example_report / "fit.json"))
    text = repr(results.fit)
    assert text.startswith("<Fit chinchilla:") and "153 runs" in text and "identified" in text and len(text) < 300
    text = repr(results.bootstrap)
    assert text.startswith("<Bootstrap cluster: 300 of 300") and len(text) < 200


def test_fit_prints_the_answers_it_computed(tmp_path):
    done = run_cli("fit", "--bootstrap", "0", "--no-holdout", "--target", "N=7B,D=140B", "--compute", "1e22",
                   "--target-loss", "2.2", "--verbose", "--out", tmp_path / "o")
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "o" / "fit.json").read_text())
    assert done.stdout.startswith("No problems found.")
    assert f"{record['answers']['predictions'][0]['loss']:.6g}" in done.stdout
    assert f"{record['answers']['optimal'][0]['N_opt']:.6g}" in done.stdout
    assert "no inference tokens given" in done.stdout and f"{record['answers']['plans'][0]['N']:.6g}" in done.stdout


def test_deprecated_spellings_still_work(example_report):
    fit_json = example_report / "fit.json"
    new = run_cli("plan", fit_json, "--plan-compute", "1e22", "--inference-tokens", "1e13")
    old = run_cli("plan", fit_json, "--compute", "1e22", "--inference-tokens", "1e13")
    assert new.returncode == old.returncode == 0 and new.stdout == old.stdout
    assert "--compute is deprecated; use --plan-compute" in old.stderr and new.stderr == ""


def test_plan_hours_and_cost_say_what_they_are(example_report):
    done = run_cli("plan", example_report / "fit.json", "--target-loss", "2.0", "--inference-tokens", "1e13",
                   "--peak-flops", "989T", "--price-per-hour", "2")
    assert done.returncode == 0, done.stderr
    assert "accelerator-hours" in done.stdout and "currency of --price-per-hour" in done.stdout
    assert "--peak-flops" in one_line_error(run_cli("plan", example_report / "fit.json", "--target-loss", "2.0",
                                                    "--price-per-hour", "2"))


def test_optimal_warns_on_extrapolation_like_predict(example_report):
    far = run_cli("optimal", example_report / "fit.json", "--compute", "1e26")
    assert far.returncode == 0 and "scalefit: warning: the compute-optimal allocation" in far.stderr
    near = run_cli("optimal", example_report / "fit.json", "--compute", "1e21")
    assert near.returncode == 0 and near.stderr == ""


def test_help_has_examples_and_every_command():
    done = run_cli("fit", "--help")
    assert done.returncode == 0 and "examples:" in done.stdout and "--bootstrap" in done.stdout
    top = run_cli("--help").stdout
    for command in ("fit", "report", "predict", "optimal", "plan", "runs", "datasets"):
        assert command in top


# -- the three intervals, the backtest, the summary, goodness of fit (issues 14, 15) -----------------------------
def _section(md: str, title: str) -> str:
    return next(s for s in md.split("\n## ") if s.startswith(title))


def test_report_opens_with_a_summary_of_the_answer_and_the_three_intervals(example_report):
    record = read_record(example_report / "fit.json")
    results = restore(record)
    pred = record["answers"]["predictions"][0]
    assert pred["newrun_lo"] <= pred["lo"] <= pred["loss"] <= pred["hi"] <= pred["newrun_hi"]  # nested
    assert pred["extrap_lo"] <= pred["newrun_lo"] and pred["newrun_hi"] <= pred["extrap_hi"]
    assert pred["n_backtest"] == results.backtest.n_points > 0
    iv = results.bootstrap.predict_intervals(7e9, 1.4e11, backtest=results.backtest)
    assert pred["extrap_hi"] == pytest.approx(float(iv.extrap_hi[0]), rel=1e-12)
    opt = record["answers"]["optimal"][0]
    assert opt["L_opt_newrun_lo"] < opt["L_opt"] < opt["L_opt_newrun_hi"] <= opt["L_opt_extrap_hi"]
    md = (example_report / "report.md").read_text()
    summary = _section(md, "Summary")
    for text in ("law band", "new-run interval", "extrapolation interval", f"{pred['n_backtest']} backtest points",
                 "Identifiability:", "Backtest:", "Extrapolation distance:", "What to do next"):
        assert text in summary, text
    assert f"{pred['extrap_lo']:.5g}" in summary and f"{opt['N_opt']:.4g}" in summary
    table = _section(md, "Extrapolation")
    assert "| new-run interval | extrapolation interval | backtest points |" in table


def test_backtest_section_has_the_coverage_table_and_figure(example_report):
    record = read_record(example_report / "fit.json")
    section = _section((example_report / "report.md").read_text(), "Backtest")
    cov = {row["interval"]: row for row in record["backtest"]["coverage"]}
    extrap = cov["extrapolation interval"]
    assert f"| extrapolation interval | {extrap['inside']} | {extrap['n']} |" in section
    assert "binomial" in section and "figures/backtest.png" in section


def test_parameter_table_shows_a_multiplicative_spread_and_profile_intervals(example_report):
    record = read_record(example_report / "fit.json")
    section = _section((example_report / "report.md").read_text(), "Parameters")
    header = section.split("\n| parameter")[1].split("\n")[0]
    assert "| se |" not in header and "spread" in header
    reps = np.array(record["bootstrap"]["replicates"])
    a = reps[:, record["bootstrap"]["names"].index("A")]
    factor = float(np.exp(np.std(np.log(a), ddof=1)))
    assert f"×/÷ {factor:.3g}" in section.split("\n| A |")[1].split("\n")[0]
    if "skipped" in record["profile"]:  # too slow on this machine: the report must say so
        assert f"Profile-likelihood intervals skipped: {record['profile']['skipped']}" in section
    else:
        assert "profile 95%" in header
        prof = record["profile"]["intervals"]["alpha"]
        assert prof[0][1] < record["fit"]["params"]["alpha"] < prof[-1][1]


def test_profile_intervals_are_skipped_with_a_reason_when_slow():
    from scalefit.report.render import profile_intervals

    fit = scalefit.fit(datasets.load("example_chinchilla"))
    slow = profile_intervals(fit, seconds=1e-3)
    assert "more than 0.001 CPU seconds" in slow["skipped"]


def test_goodness_of_fit_block_and_residuals_per_model_size(example_report):
    from scalefit.fitting.goodness import goodness_of_fit

    record = read_record(example_report / "fit.json")
    g = goodness_of_fit(restore(record).fit)
    assert record["goodness"]["aic"] == pytest.approx(g["aic"], rel=1e-12)
    section = _section((example_report / "report.md").read_text(), "Goodness of fit")
    assert f"| AIC | {g['aic']:.6g} |" in section and f"| degrees of freedom | {g['dof']} |" in section
    assert section.count("| size-") == record["data"]["groups"]


def test_far_flag_is_the_same_threshold_everywhere(example_report):
    from scalefit.report.render import FAR, far

    assert far(FAR * 1.01).endswith("(far)") and not far(FAR * 0.99).endswith("(far)")
    md = (example_report / "report.md").read_text()
    assert "past 10x" in md and "more than 10x" in md and FAR == 10


def test_record_round_trips_the_new_results(example_report, tmp_path):
    from scalefit.report.record import build_record

    record = read_record(example_report / "fit.json")
    results = restore(record)
    again = json.loads(json.dumps(build_record(results)))
    for key in ("backtest", "profile", "goodness", "answers", "comparison"):
        assert again[key] == record[key], key
    pd_testing = pytest.importorskip("pandas.testing")
    pd_testing.assert_frame_equal(restore(again).backtest.table, results.backtest.table)


def test_predict_prints_the_three_intervals(example_report):
    done = run_cli("predict", example_report / "fit.json", "--N", "7B", "--D", "140B")
    assert done.returncode == 0, done.stderr
    header = done.stdout.splitlines()[0]
    for name in ("law band", "new-run interval", "extrapolation interval", "backtest pts"):
        assert name in header
    rows = json.loads(run_cli("predict", example_report / "fit.json", "--N", "7B", "--D", "140B", "--json").stdout)
    assert rows[0]["extrap_lo"] < rows[0]["newrun_lo"] < rows[0]["lo"]


def test_fit_with_compare_law_and_no_backtest(tmp_path):
    out = tmp_path / "cmp"
    done = run_cli("fit", "--bootstrap", "20", "--no-holdout", "--no-backtest", "--compare-law", "kaplan",
                   "--target", "N=7B,D=140B", "--verbose", "--out", out)
    assert done.returncode == 0, done.stderr
    record = read_record(out / "fit.json")
    assert record["backtest"] is None and "newrun_lo" not in record["answers"]["predictions"][0]
    laws = [row["law"] for row in record["comparison"]["table"]]
    assert laws == ["chinchilla", "kaplan"]
    md = (out / "report.md").read_text()
    which = _section(md, "Which law")
    assert "| kaplan |" in which and "figures/compare.png" in which
    assert "Not run" in _section(md, "Backtest")
    assert "SUMMARY" in done.stdout and "model comparison" in done.stdout
    assert done.stdout.index("PROBLEMS FOUND" if "PROBLEMS FOUND" in done.stdout else "No problems found") \
        < done.stdout.index("SUMMARY")
    again = tmp_path / "again"
    assert run_cli("report", out / "fit.json", "--out", again).returncode == 0
    assert _strip_rendered((again / "report.md").read_bytes()) == _strip_rendered((out / "report.md").read_bytes())


def test_fit_json_of_3bad72f_still_restores_and_rerenders(tmp_path):
    """A fit.json written by 3bad72f (old-format "holdout" record: no extrapolation interval) loads, restores and
    re-renders to HTML and Markdown, through the API and through `scalefit report`."""
    import gzip

    from scalefit.core.formatting import num
    from scalefit.report.render import rerender

    fixture = Path(__file__).parent / "fixtures" / "fit_3bad72f_example.json.gz"
    path = tmp_path / "old" / "fit.json"
    path.parent.mkdir()
    path.write_bytes(gzip.decompress(fixture.read_bytes()))
    record = read_record(path)
    results = restore(record)
    assert results.holdout is not None and results.holdout.verdict == "NOT JUDGED"
    out = rerender(path, tmp_path / "again")
    md = (out / "report.md").read_text()
    page = (out / "report.html").read_text()
    loss = num(record["answers"]["predictions"][0]["loss"], 5)
    n_opt = num(record["answers"]["optimal"][0]["N_opt"], 4)
    for text in (md, page):
        assert loss in text and n_opt in text and "Held-out check" in text
        assert "held-out check FAILS" not in text
    done = run_cli("report", str(path), "--out", str(tmp_path / "cli"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "cli" / "report.html").is_file() and loss in (tmp_path / "cli" / "report.md").read_text()


def _assert_one_screen(stdout: str, out: Path) -> None:
    lines = stdout.splitlines()
    assert len(lines) <= 30, stdout
    assert not re.search(r"\bnan\b", stdout, re.IGNORECASE), stdout
    assert str(out / "report.html") in stdout
    if "consistent with nominal" in stdout:  # the backtest's extrapolation interval holds: no verdict says FAIL
        assert "FAIL" not in stdout and "compare other laws" not in stdout, stdout
    for head in ("The answer", "How far to trust it:", "What to do next:", "Problems found"):
        assert head in stdout


def test_fit_prints_one_screen_on_the_bundled_example(tmp_path):
    out = tmp_path / "example"
    done = run_cli("fit", "--bootstrap", "100", "--target", "N=70B,D=1.4T", "--compute", "1e24", "--target-loss",
                   "2.0", "--out", str(out))
    assert done.returncode == 0, done.stderr
    _assert_one_screen(done.stdout, out)
    assert "new-run" in done.stdout and "extrapolation" in done.stdout and "law band" in done.stdout
    verbose = run_cli("fit", "--bootstrap", "20", "--no-holdout", "--verbose", "--out", str(tmp_path / "long"))
    assert verbose.returncode == 0, verbose.stderr
    assert "parameter" in verbose.stdout and "estimate" in verbose.stdout and "SUMMARY" in verbose.stdout
    assert not re.search(r"\bnan\b", verbose.stdout), verbose.stdout  # no backtest row without points


def test_fit_prints_one_screen_on_chinchilla_epoch(tmp_path, mirror):
    out = tmp_path / "epoch"
    done = run_cli("fit", "chinchilla_epoch", "--bootstrap", "100", "--target", "N=70B,D=1.4T", "--compute", "1e24",
                   "--target-loss", "2.0", "--out", str(out), env={"SCALEFIT_DATA_MIRROR": str(mirror)})
    assert done.returncode == 0, done.stderr
    _assert_one_screen(done.stdout, out)
    assert "held-out check: FAILS" not in done.stdout
