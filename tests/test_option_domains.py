"""Every numeric option and API argument is checked at the boundary: a value outside its domain ends in one
line naming the option, the value and the allowed range (exit status 2), never a traceback, an internal error or
a numpy RuntimeWarning.

The table below lists every numeric option of every subcommand with the values it refuses; a test checks the
table against the parser itself, so an option added without a domain check (or without a row here) fails.
"""

from __future__ import annotations

import argparse
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scalefit
from scalefit.cli import argtypes
from scalefit.cli.main import main
from scalefit.cli.parser import build_parser
from scalefit.core import checks
from scalefit.core.errors import ArgumentError, ScalefitError
from scalefit.laws.allocation import Hardware
from tests.cli_helpers import run_cli

BAD = ("0", "-1", "nan", "inf", "1e400", "abc")  # "huge": 1e400 overflows to inf; counts also get "1e9"
POSITIVE = BAD
NONNEGATIVE = tuple(v for v in BAD if v != "0")
CAPPED = (*BAD, "1e300")  # finite but far past any run: the laws' arithmetic would overflow
SIZE = (*CAPPED, "0.5")  # parameters and tokens: at least 1
NONNEGATIVE_CAPPED = (*NONNEGATIVE, "1e300")
LEVEL = (*BAD, "1", "1.5")
FRACTION = (*BAD, "1.5")
REPLICATES = ("-1", "nan", "inf", "1e400", "abc", "1", "2.5", "1e8")  # 0 means "no bootstrap"
SEED = ("-1", "nan", "inf", "1e400", "abc", "1.5", "1e30")
COUNT = (*BAD, "2.5", "1e9")
POINT = ("N=0,D=1T", "N=-1,D=1T", "N=nan,D=1T", "N=70B,D=inf", "N=1e400,D=1T", "N=abc,D=1T", "N=70B,D=0", "N=70B",
         "N=1e300,D=1T")
REFERENCE = ("C:N=0,D=1T", "C:N=-1,D=1T", "C:N=nan,D=1T", "C:N=70B,D=inf", "C:N=1e400,D=1T", "C:N=abc,D=1T",
             "N=70B,D=1T")
BUDGETS = ("1e20,0", "1e20,-1", "nan", "inf", "1e400", "abc", "1e20,lots", "1e300")
#: a compound value -> the part of it the message must quote (a plain value is quoted whole)
SHOWN = {**{v: v.split(":")[-1].split(",")[0] for v in POINT + REFERENCE}, "N=70B,D=inf": "D=inf",
         "N=70B,D=0": "D=0", "C:N=70B,D=inf": "D=inf", "N=70B": "'N=70B'", "N=70B,D=1T": "'N=70B,D=1T'",
         "1e20,0": "0", "1e20,-1": "-1", "1e20,lots": "'lots'", "abc": "'abc'", "N=abc,D=1T": "N='abc'",
         "C:N=abc,D=1T": "N='abc'", "": "''", ";;": "';;'", '"': "'\"'"}

LOAD = {"--min-fraction-of-run": FRACTION, "--min-tokens": NONNEGATIVE, "--max-loss": POSITIVE,
        "--drop-highest-loss": (*NONNEGATIVE, "2.5", "1e9"), "--sep": ("abc", "", ";;", '"')}
#: subcommand -> {option: refused values}
TABLE: dict[str, dict[str, tuple[str, ...]]] = {
    "runs": dict(LOAD),
    "fit": {**LOAD, "--delta": POSITIVE, "--bootstrap": REPLICATES, "--level": LEVEL, "--seed": SEED,
            "--jobs": COUNT, "--target": POINT, "--compute": CAPPED, "--target-loss": CAPPED,
            "--plan-loss": CAPPED, "--plan-compute": CAPPED, "--inference-tokens": NONNEGATIVE_CAPPED,
            "--reference": REFERENCE},
    "compare": {**LOAD, "--delta": POSITIVE, "--k": COUNT, "--bootstrap": REPLICATES, "--seed": SEED},
    "approaches": {**LOAD, "--budgets": BUDGETS, "--window": (*COUNT, "2"), "--tolerance": POSITIVE,
                   "--compute": CAPPED, "--bootstrap": REPLICATES, "--level": LEVEL, "--seed": SEED},
    "predict": {"--N": SIZE, "--D": SIZE},
    "optimal": {"--compute": CAPPED},
    "plan": {"--target-loss": CAPPED, "--plan-compute": CAPPED, "--compute": CAPPED,
             "--inference-tokens": NONNEGATIVE_CAPPED, "--peak-flops": CAPPED, "--mfu": FRACTION,
             "--price-per-hour": NONNEGATIVE},
    "datasets": {}, "report": {},
}
#: what precedes the option on the command line (positionals; other options are not needed: the bad value
#: is refused as soon as argparse reads it)
PREFIX = {"runs": ["runs", "runs.csv"], "fit": ["fit"], "compare": ["compare"], "approaches": ["approaches"],
          "predict": ["predict", "fit.json"], "optimal": ["optimal", "fit.json"], "plan": ["plan", "fit.json"]}
CASES = [(command, option, value) for command, options in TABLE.items() for option, values in options.items()
         for value in values]


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_the_table_covers_every_typed_option_of_every_subcommand():
    """Every option with a type (a value to convert) is in the table, and every option in the table exists:
    a new numeric option without a row here (or still on a bare float/int) fails."""
    commands = _subparsers(build_parser())
    assert set(commands) == set(TABLE)
    for name, sub in commands.items():
        typed = {opt for a in sub._actions if a.type is not None and a.option_strings
                 and a.type.__name__ != "law_argument" for opt in a.option_strings}
        assert typed == set(TABLE[name]), (name, typed ^ set(TABLE[name]))
        for action in sub._actions:
            assert action.type not in (float, int), (name, action.option_strings)


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    """main(argv) in this process: (exit status, stdout, stderr); RuntimeWarnings become errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command, option, value", CASES, ids=[f"{c} {o} {v}" for c, o, v in CASES])
def test_bad_value_is_one_line_exit_2(command, option, value, capsys):
    code, out, err = _run([*PREFIX[command], option, value], capsys)
    assert out == ""
    assert code == 2, (code, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith("scalefit: error: argument ") and "is not allowed" in line, line
    canonical = {"--plan-loss": "--target-loss", "--compute": "--plan-compute"}.get(option, option)
    assert option in line or canonical in line, line
    assert f" {SHOWN.get(value, value)} is not allowed" in line, line  # the value as typed
    assert f"`scalefit {command} --help`" in line
    for bad in ("Traceback", "RuntimeWarning", "internal error", "invalid value encountered"):
        assert bad not in err


def test_messages_name_the_allowed_range(capsys):
    expected = {
        ("fit", "--compute", "0"): "argument --compute: 0 is not allowed: a compute budget must be > 0 and at most "
                                   "1e+40 (FLOPs)",
        ("fit", "--delta", "-1"): "argument --delta: -1 is not allowed: a Huber delta must be > 0 and finite",
        ("predict", "--N", "0.5"): "argument --N: 0.5 is not allowed: a model size must be >= 1 and at most 1e+25 "
                                   "(parameters)",
        ("fit", "--bootstrap", "-5"): "argument --bootstrap: -5 is not allowed: the number of bootstrap replicates "
                                      "must be an integer, at least 2 and at most 10000000 (or 0 for none)",
        ("fit", "--level", "1"): "argument --level: 1 is not allowed: a confidence level must be in (0, 1)",
        ("fit", "--seed", "1.5"): "argument --seed: 1.5 is not allowed: a seed must be an integer in [0, 2**63 - 1]",
        ("plan", "--mfu", "1.5"): "argument --mfu: 1.5 is not allowed: a model FLOPs utilisation must be in (0, 1]",
        ("fit", "--target", "N=70B,D=-1"): "argument --target: D=-1 is not allowed: the token count D must be >= 1 "
                                           "and at most 1e+25 (tokens)",
        ("approaches", "--budgets", "1e20,lots"): "argument --budgets: budget 'lots' is not allowed: an IsoFLOP "
                                                  "budget must be a number > 0 and at most 1e+40 (FLOPs)",
        ("fit", "--compute", "1e400"): "argument --compute: 1e400 is not allowed",
    }
    for (command, option, value), text in expected.items():
        _, _, err = _run([*PREFIX[command], option, value], capsys)
        assert text in err, err


def test_valid_values_still_parse():
    parser = build_parser()
    fit = parser.parse_args(["fit", "--compute", "1e24", "--compute", "5.76e23", "--bootstrap", "2", "--seed", "0",
                             "--level", "0.5", "--target", "N=70B,D=1.4T", "--reference", "Chinchilla:N=70B,D=1.4T",
                             "--jobs", "2", "--inference-tokens", "0", "--plan-compute", "1e24", "--target-loss",
                             "2.1", "--delta", "1e-3", "--min-tokens", "0", "--drop-highest-loss", "0"])
    assert fit.compute == [1e24, 5.76e23] and fit.bootstrap == 2 and fit.seed == 0 and fit.level == 0.5
    assert fit.target == [(7e10, 1.4e12)] and fit.reference == [("Chinchilla", (7e10, 1.4e12))]
    assert fit.jobs == 2 and fit.inference_tokens == 0.0 and fit.plan_compute == [1e24] and fit.target_loss == [2.1]
    assert fit.delta == 1e-3 and fit.min_tokens == 0.0 and fit.drop_highest_loss == 0
    defaults = parser.parse_args(["fit"])
    assert defaults.bootstrap == 1000 and defaults.inference_tokens == 0.0 and defaults.level == 0.95
    assert parser.parse_args(["fit", "--bootstrap", "0"]).bootstrap == 0
    assert parser.parse_args(["fit", "--bootstrap", "1e3"]).bootstrap == 1000
    app = parser.parse_args(["approaches", "--budgets", "6e18,1e19", "--budgets", "3e19", "--window", "5",
                             "--tolerance", "0.1", "--compute", "70B"])
    assert app.budgets == [[6e18, 1e19], [3e19]] and app.window == 5 and app.compute == [7e10]
    pred = parser.parse_args(["predict", "f.json", "--N", "70B", "1B", "--D", "1.4T"])
    assert pred.N == [7e10, 1e9] and pred.D == [1.4e12]
    assert parser.parse_args(["runs", "x.csv", "--sep", "\\t"]).sep == "\t"
    assert parser.parse_args(["runs", "x.csv", "--sep", "semicolon"]).sep == ";"
    plan = parser.parse_args(["plan", "f.json", "--target-loss", "2", "--peak-flops", "989T", "--mfu", "1",
                              "--price-per-hour", "0"])
    assert plan.peak_flops == 989e12 and plan.mfu == 1.0 and plan.price_per_hour == 0.0


def test_cli_end_to_end_bad_and_good_values(tmp_path):
    """The installed command: --compute 0 and --bootstrap -5 (both wrong before) are one line, exit 2; a
    valid --compute fits and reports the allocation. (--bootstrap 2 parses, see above, but a 2- or 3-replicate
    bootstrap end to end trips the IsoFLOP figure's error bar when the percentile interval of N_opt excludes
    the point estimate: plots/fit_figures.py, left to its owner.)"""
    for args in (["--compute", "0"], ["--compute", "-1"], ["--bootstrap", "-5"]):
        done = run_cli("fit", *args, "--out", tmp_path / "never")
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "RuntimeWarning" not in done.stderr and "internal error" not in done.stderr
        assert not (tmp_path / "never").exists()
    good = run_cli("fit", "--compute", "1e24", "--bootstrap", "20", "--no-holdout", "--no-backtest", "--quiet",
                   "--out", tmp_path / "ok")
    assert good.returncode == 0, good.stderr
    assert "RuntimeWarning" not in good.stderr and "invalid value" not in good.stderr
    assert (tmp_path / "ok" / "fit.json").is_file()


# -- the API boundary -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_fit():
    return scalefit.fit(scalefit.datasets.load("example_chinchilla"))


@pytest.fixture(scope="module")
def small_boot(small_fit):
    return small_fit.bootstrap(n=20, seed=0, progress=False)


def _refused(call, *fragments: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ArgumentError) as caught:
            call()
    text = str(caught.value)
    for fragment in fragments:
        assert fragment in text, text
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, ScalefitError)
    return text


def test_fit_arguments(small_fit):
    runs = small_fit.runs
    _refused(lambda: scalefit.fit(runs, delta=-1.0), "delta: -1 is not allowed", "> 0 and finite")
    _refused(lambda: scalefit.fit(runs, delta=float("nan")), "delta: nan")
    _refused(lambda: scalefit.fit(runs, n_starts=0), "n_starts: 0")
    _refused(lambda: scalefit.FitSpec.make(grid_points=2.5), "grid_points: 2.5")


def test_predict_and_allocation_arguments(small_fit):
    _refused(lambda: small_fit.predict(N=-1, D=1.4e11), "N: -1 is not allowed", "model size", "parameters")
    _refused(lambda: small_fit.predict(N=[1e9, np.nan], D=1.4e11), "N: nan (in [1e+09, nan])")
    _refused(lambda: small_fit.predict(7e9, 0), "D: 0 is not allowed", "tokens")
    _refused(lambda: small_fit.optimal(0), "compute: 0 is not allowed", "compute budget", "FLOPs")
    _refused(lambda: small_fit.optimal(np.array([1e20, -1.0])), "compute: -1")
    _refused(lambda: small_fit.n_opt(float("inf")), "compute: inf")
    _refused(lambda: small_fit.optimal(1e300), "compute: 1e+300 is not allowed", "at most 1e+150")
    _refused(lambda: small_fit.predict(N=1e76, D=1e12), "N: 1e+76 is not allowed", "at most 1e+75")
    _refused(lambda: small_fit.frontier([1e20, 0]), "compute: 0")
    _refused(lambda: small_fit.compute_for_loss(-2.0), "target_loss: -2", "nats/token")
    _refused(lambda: small_fit.plan(target_loss=2.3, inference_tokens=-1), "inference_tokens: -1")
    _refused(lambda: small_fit.plan(compute=0), "compute: 0")
    _refused(lambda: small_fit.regimes(band=0.5), "band: 0.5")
    assert small_fit.optimal(np.array([1e20, 1e22]))["N_opt"].shape == (2,)  # arrays still work
    assert float(small_fit.predict(N=7e9, D=1.4e11)) == pytest.approx(2.182, abs=1e-3)


def test_bootstrap_arguments(small_fit, small_boot):
    _refused(lambda: small_fit.bootstrap(n=-5), "n: -5 is not allowed", "at least 2")
    _refused(lambda: small_fit.bootstrap(n=True), "n: True")
    _refused(lambda: small_fit.bootstrap(n=10**9), "at most 10000000")
    _refused(lambda: small_fit.bootstrap(n=10, seed=1.5), "seed: 1.5", "integer")
    _refused(lambda: small_fit.bootstrap(n=10, seed=-1), "seed: -1")
    _refused(lambda: small_fit.bootstrap(n=10, seed=[1, 2]), "seed: [1, 2]")
    _refused(lambda: small_fit.bootstrap(n=10, level=0), "level: 0", "in (0, 1)")
    _refused(lambda: small_fit.bootstrap(n=10, n_jobs=0), "n_jobs: 0")
    _refused(lambda: small_boot.optimal(0), "compute: 0")
    _refused(lambda: small_boot.frontier([-1]), "compute: -1")
    _refused(lambda: small_boot.compute_for_loss(np.nan), "target_loss: nan")
    _refused(lambda: small_boot.predict(N=-1, D=1e11), "N: -1")
    _refused(lambda: small_boot.predict_intervals(7e9, -1), "D: -1")
    _refused(lambda: small_boot.interval(lambda p: p["E"], level=1.5), "level: 1.5")
    assert small_fit.bootstrap(n=2.0, seed=np.int64(3), progress=False).n_requested == 2


def test_other_public_arguments(small_fit):
    _refused(lambda: Hardware(peak_flops=0), "peak_flops: 0")
    _refused(lambda: Hardware(peak_flops=1e15, mfu=1.5), "mfu: 1.5", "in (0, 1]")
    _refused(lambda: Hardware(peak_flops=1e15, price_per_hour=-2), "price_per_hour: -2")
    frame = pd.DataFrame({"N": [1e8, 1e8, 2e8], "D": [2e9, 4e9, 2e9], "loss": [3.1, 3.0, 2.9]})
    _refused(lambda: scalefit.load_runs(frame, max_loss=0), "max_loss: 0")
    _refused(lambda: scalefit.load_runs(frame, min_fraction_of_run=1.5, checkpoints="all"), "min_fraction_of_run")
    _refused(lambda: scalefit.load_runs(frame, drop_highest_loss=-1), "drop_highest_loss: -1")
    _refused(lambda: scalefit.load_runs(frame, sep=";;"), "sep: ';;' is not allowed", "one character")
    _refused(lambda: scalefit.compare(small_fit.runs, n_boot=-1), "n_boot: -1")
    _refused(lambda: scalefit.compare(small_fit.runs, n_boot=0, k_max=0), "k_max: 0")
    _refused(lambda: scalefit.backtest(small_fit, fractions=(0.7, 1.5), n_boot=0), "fractions: 1.5 (in [0.7, 1.5])")
    _refused(lambda: scalefit.backtest(small_fit, n_boot=1), "n_boot: 1")
    _refused(lambda: scalefit.holdout_check(small_fit, fraction=0), "fraction: 0")
    _refused(lambda: scalefit.leave_largest_out(small_fit, n_boot=-3), "n_boot: -3")
    _refused(lambda: scalefit.check_coverage(small_fit, R=0), "R: 0")
    _refused(lambda: scalefit.isoflop_approach(small_fit.runs, tolerance=0, n_boot=0), "tolerance: 0")


# -- the validators themselves (property tests) ---------------------------------------------------------------

floats = st.floats(allow_nan=True, allow_infinity=True)


@settings(max_examples=200, deadline=None)
@given(floats)
def test_positive_finite_accepts_exactly_positive_finite_numbers(x):
    ok = math.isfinite(x) and x > 0
    try:
        assert checks.positive_finite(x, "compute", "a compute budget", "FLOPs") == x
        assert ok
    except ArgumentError as exc:
        assert not ok and str(exc).startswith("compute: ") and "> 0 and finite (FLOPs)" in str(exc)


@settings(max_examples=200, deadline=None)
@given(floats)
def test_level_accepts_exactly_the_open_unit_interval(x):
    try:
        assert checks.level(x) == x
        assert 0 < x < 1
    except ArgumentError:
        assert not 0 < x < 1


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.integers(-10**20, 10**20), floats, st.booleans(), st.text(max_size=3)))
def test_count_accepts_exactly_integers_in_range(v):
    integral = (not isinstance(v, (bool, str)) and isinstance(v, (int, float)) and math.isfinite(v)
                and float(v).is_integer())
    ok = integral and 3 <= v <= 1000
    try:
        assert checks.count(v, "window", 3, 1000) == int(v)
        assert ok
    except ArgumentError as exc:
        assert not ok and "an integer in [3, 1000]" in str(exc)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, checks.MAX_SEED))
def test_seed_accepts_every_integer_seed(s):
    assert checks.seed(s) == s and checks.seed(np.uint64(s)) == s


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=1e-300, max_value=1e300))
def test_option_type_round_trips_positive_numbers(x):
    assert argtypes.positive("a compute budget", "FLOPs")(repr(x)) == x


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True).filter(lambda x: not (math.isfinite(x) and x > 0)))
def test_option_type_refuses_the_rest_in_one_message(x):
    with pytest.raises(argparse.ArgumentTypeError, match=r"is not allowed: a compute budget must be > 0 and finite"):
        argtypes.positive("a compute budget", "FLOPs")(repr(x))
