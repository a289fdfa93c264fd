"""Figures: each renders from a small fit, has labelled axes with units, and matches a stored baseline.

Baselines live in tests/baseline/ and are compared with matplotlib's own image comparison (RMS tolerance).
Regenerate them after an intended change with ``SCALEFIT_UPDATE_BASELINES=1 pytest tests/test_plots.py``
and look at them before committing.
"""

from __future__ import annotations

import os
import re
import shutil
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.testing.compare import compare_images

import scalefit
from scalefit import datasets
from scalefit.extrapolation.holdout import holdout_check
from scalefit.plots import figures as plots

BASELINE = Path(__file__).parent / "baseline"
TOLERANCE = 2.0  # RMS over 0..255 grey levels; a missing band or axis costs far more than this
UNIT = re.compile(r"\(.+\)")


@pytest.fixture(scope="module")
def results():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = scalefit.fit(datasets.load("example_chinchilla"))
        boot = fit.bootstrap(n=200, seed=0)
        check = holdout_check(fit, n_boot=100, seed=0)
    return fit, boot, check


def figures(results, with_band=True):
    fit, boot, check = results
    b = boot if with_band else None
    return {
        "loss_vs_compute": lambda: plots.loss_vs_compute(fit, b, targets=[(7e9, 1.4e11)]),
        "isoflop": lambda: plots.isoflop(fit, b),
        "allocation": lambda: plots.allocation(fit, b, references={"ref": (3e9, 6e10)}),
        "residuals": lambda: plots.residuals(fit),
        "corner": lambda: plots.corner(boot, max_points=200),
        "holdout": lambda: plots.holdout(check),
    }


def render(make, path: Path) -> None:
    with plt.style.context("default"), plt.rc_context({"font.family": "DejaVu Sans"}):
        fig = make()
        fig.savefig(path, dpi=50, metadata={"Software": None})
        plt.close(fig)


@pytest.mark.parametrize("name", ["loss_vs_compute", "isoflop", "allocation", "residuals", "corner", "holdout"])
def test_figure_has_units_on_every_axis_and_matches_its_baseline(results, name, tmp_path):
    make = figures(results)[name]
    fig = make()
    visible = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
    labelled = [ax for ax in visible if ax.get_xlabel() or ax.get_ylabel()]
    assert labelled, name
    for ax in labelled:
        for label in (ax.get_xlabel(), ax.get_ylabel()):
            if label:
                assert UNIT.search(label), (name, label)
    plt.close(fig)
    actual = tmp_path / f"{name}.png"
    render(make, actual)
    expected = BASELINE / f"{name}.png"
    if os.environ.get("SCALEFIT_UPDATE_BASELINES") or not expected.exists():
        if not os.environ.get("SCALEFIT_UPDATE_BASELINES"):
            pytest.fail(f"no baseline {expected}; create it with SCALEFIT_UPDATE_BASELINES=1")
        shutil.copy(actual, expected)
    assert compare_images(str(expected), str(actual), tol=TOLERANCE) is None


@pytest.mark.parametrize("name", ["loss_vs_compute", "isoflop", "allocation"])
def test_a_missing_band_is_caught_by_the_baseline(results, name, tmp_path):
    actual = tmp_path / f"{name}.png"
    render(figures(results, with_band=False)[name], actual)
    outcome = compare_images(str(BASELINE / f"{name}.png"), str(actual), tol=TOLERANCE)
    assert outcome is not None and "did not match" in outcome


def test_plots_draw_into_a_given_axes_and_return_its_figure(results):
    fit, boot, _ = results
    fig, ax = plt.subplots()
    assert plots.loss_vs_compute(fit, boot, ax=ax) is fig
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert len(ax.collections) >= 2  # runs and the band
    plt.close(fig)


def test_saved_figures_are_byte_identical_across_renders(results, tmp_path):
    fit, boot, _ = results
    paths = []
    for i in range(2):
        fig = plots.allocation(fit, boot)
        paths.append(plots.save(fig, str(tmp_path / f"a{i}")))
        plt.close(fig)
    for first, second in zip(*paths, strict=True):
        assert Path(first).read_bytes() == Path(second).read_bytes()


def test_isoflop_budgets_are_in_the_data_and_include_the_largest(results):
    fit, _, _ = results
    c_runs = 6.0 * fit.runs.N * fit.runs.D
    budgets = plots.compute_budgets(c_runs)
    assert 2 <= len(budgets) <= 4 and np.all(np.diff(budgets) > 0)
    for c in budgets:  # every slice has runs
        assert np.sum((c_runs >= c / 1.25) & (c_runs <= c * 1.25)) >= 3
    top = np.sort(c_runs)[-3]  # the largest budget with >= 3 runs is taken
    assert budgets[-1] >= top / 1.25
    fig = plots.isoflop(fit)
    legend = fig.legends[0] if fig.legends else fig.axes[0].get_legend()
    labels = [t.get_text() for t in legend.get_texts()]
    assert all("(0 runs)" not in label for label in labels) and len(labels) == len(budgets)
    plt.close(fig)


def test_compute_budgets_spread_over_the_range_and_skip_thin_windows():
    c = np.concatenate([np.full(5, 1e18), np.full(5, 1e19), np.full(5, 1e20), np.full(5, 1e21), [1e23]])
    budgets = plots.compute_budgets(c, k=4, min_runs=3)
    assert budgets == pytest.approx([1e18, 1e19, 1e20, 1e21])  # the lone 1e23 run is not a budget


def test_iso_n_curves_stay_near_each_sizes_runs(results):
    fit, boot, _ = results
    fig = plots.loss_vs_compute(fit, boot)
    ax = fig.axes[0]
    c_runs = 6.0 * fit.runs.N * fit.runs.D
    for line in ax.get_lines():
        x = line.get_xdata()
        if line.get_color() == plots.OKABE_ITO["black"] or len(x) < 10:
            continue  # the frontier (and the largest-run marker) may run further
        assert np.min(x) >= c_runs.min() / (plots.CURVE_EXTENSION * 1.01)
        assert np.max(x) <= c_runs.max() * plots.CURVE_EXTENSION * 1.01
    plt.close(fig)


def test_corner_puts_skewed_positive_coefficients_on_log_axes_and_says_what_the_lines_are(results):
    _, boot, _ = results
    fig = plots.corner(boot, max_points=100)
    names = list(boot.names)
    axes = np.array(fig.axes).reshape(len(names), len(names))
    reps = boot.params()
    for i, name in enumerate(names):
        spread = reps[name].max() / reps[name].min()
        assert (axes[-1, i].get_xscale() == "log") == (reps[name].min() > 0 and spread > 3), name
    title = fig._suptitle.get_text()
    assert "black" in title and "estimate" in title and "orange" in title
    estimate_lines = [ln for ln in axes[0, 0].get_lines() if ln.get_linestyle() == "-"]
    assert estimate_lines and all(ln.get_color() == plots.OKABE_ITO["black"] for ln in estimate_lines)
    plt.close(fig)


def test_residual_axis_is_a_unitless_log_ratio(results):
    fit, _, check = results
    for fig in (plots.residuals(fit), plots.holdout(check)):
        labels = [ax.get_ylabel() for ax in fig.axes]
        assert plots.LOG_RATIO_LABEL in labels and not any("nats)" in lab and "log(" in lab for lab in labels)
        plt.close(fig)


def test_holdout_plots_error_against_extrapolation_distance(results):
    _, _, check = results
    fig = plots.holdout(check)
    ax = fig.axes[0]
    assert "distance" in ax.get_xlabel()
    marker = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]
    assert marker and np.allclose(marker[0].get_xdata(), 1.0)  # the edge of the fitted data
    points = ax.collections[-1].get_offsets()
    assert len(points) == len(check.table)
    assert np.allclose(np.sort(points[:, 1]), np.sort(np.log(check.table["predicted"] / check.table["loss"])))
    plt.close(fig)


def test_every_figure_is_registered_with_a_caption_saying_what_to_look_at():
    assert set(plots.FIGURES) == {"loss_vs_compute", "isoflop", "allocation", "residuals", "corner", "holdout"}
    for name, (maker, caption) in plots.FIGURES.items():
        assert callable(maker) and caption == plots.caption(maker), name
        assert "Look" in caption and len(caption) > 80, name


def test_tick_labels_are_readable_at_report_size(results):
    fit, boot, _ = results
    fig = plots.loss_vs_compute(fit, boot)
    fig.canvas.draw()
    ax = fig.axes[0]
    sizes = [t.get_fontsize() for t in ax.get_xticklabels() + ax.get_yticklabels(which="both") if t.get_text()]
    assert sizes and min(sizes) >= plots.MINOR_LABEL_SIZE
    plt.close(fig)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(1e17, 1e23), min_size=1, max_size=60), st.integers(1, 6), st.integers(1, 5))
def test_compute_budgets_are_populated_separated_and_include_the_fullest_top(compute, k, min_runs):
    c = np.asarray(compute)
    budgets = plots.compute_budgets(c, k=k, tolerance=1.25, min_runs=min_runs)
    assert 1 <= len(budgets) <= k and np.all(np.diff(budgets) > 0)
    counts = np.array([np.sum(np.abs(np.log(c / b)) <= np.log(1.25) + 1e-12) for b in budgets])
    assert np.all(counts >= 1)  # a budget is the mean of a window of runs: never an empty slice
    assert np.all(np.diff(np.log(budgets)) >= 2 * np.log(1.25) - 1e-12)  # windows do not overlap


def _overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


@pytest.mark.parametrize("name", ["loss_vs_compute", "isoflop", "residuals", "backtest", "holdout", "compare"])
def test_legend_sits_outside_the_axes_so_it_cannot_cover_a_point(results, name):
    fit, _, _ = results
    if name == "backtest":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            make = lambda: scalefit.backtest(fit, n_boot=0).figure()  # noqa: E731
    elif name == "compare":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = scalefit.compare(fit.runs, laws=[scalefit.laws.DEFAULT_LAW, "kaplan"], n_boot=0)
        make = result.plot
    else:
        make = figures(results)[name]
    with plt.style.context("default"):
        fig = make()
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        legends = [*fig.legends, *(a.get_legend() for a in fig.axes if a.get_legend() is not None)]
        assert legends, name
        for legend in legends:
            for ax in fig.axes:
                assert not _overlap(legend.get_window_extent(renderer), ax.get_window_extent(renderer)), name
        ax = fig.axes[0]
        sizes = [t.get_fontsize() for t in legends[0].get_texts()] + [t.get_fontsize() for t in ax.get_xticklabels()]
        assert min(sizes) >= 8, f"{name}: text at {min(sizes)} pt is unreadable at the report's display size"
        plt.close(fig)


def test_corner_log_axes_carry_few_compact_labels():
    assert plots.compact_number(2000.0) == "2e3"
    assert plots.compact_number(500.0) == "500"
    assert plots.compact_number(3e-5) == "3e-5"
    assert plots.compact_number(0.25) == "0.25"
    fig, ax = plt.subplots()
    ax.set_xscale("log")
    ax.set_xlim(400, 15000)
    plots._few_log_ticks(ax.xaxis)
    ticks = ax.xaxis.get_major_locator()()
    assert 1 <= len([t for t in ticks if 400 <= t <= 15000]) <= 3
    plt.close(fig)


def test_backtest_figure_marks_the_requested_distances_beyond_the_backtest(results):
    from scalefit.plots.backtest import backtest_figure

    fit, _, _ = results
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = scalefit.backtest(fit, fractions=(0.7,), n_boot=0)
    far = 20 * float(bt.table["distance"].max())
    fig = backtest_figure(bt, requested=[far])
    ax = fig.axes[0]
    marks = [line for line in ax.get_lines() if line.get_label() == "requested prediction"]
    assert len(marks) == 1 and marks[0].get_xdata()[0] == pytest.approx(far)
    assert ax.get_xlim()[1] >= far  # the dashed half-width reaches the request, so the reader sees the gap
    assert "requested" in plots.caption(backtest_figure)
    plt.close(fig)
