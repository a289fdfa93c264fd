"""Figures of the approaches: they render from small results, carry units, and draw one band per approach."""

from __future__ import annotations

import re
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest
from matplotlib.collections import PolyCollection
from test_approaches import curves_frame, isoflop_sweep
from test_data_constrained import _synthetic

from scalefit.approaches import compare_approaches, envelope_approach, fit_data_constrained
from scalefit.data.runs import load_runs
from scalefit.plots import approaches as pa

UNIT = re.compile(r"\(.+\)")


@pytest.fixture(scope="module")
def comparison():
    runs = load_runs(isoflop_sweep(width=1.0, noise=0.002))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return compare_approaches(runs, [1e22], n_boot=100, seed=0)


def _units(fig):
    ax = fig.axes[0]
    assert UNIT.search(ax.get_xlabel()) and UNIT.search(ax.get_ylabel())


def test_allocation_figure_has_a_band_per_approach(comparison):
    fig = pa.approaches_allocation(comparison)
    _units(fig)
    bands = [c for c in fig.axes[0].collections if isinstance(c, PolyCollection)]
    assert len(bands) == len(comparison.results) == 2
    assert "Approach 1" in fig.axes[0].get_title()  # named as not available
    plt.close(fig)


def test_isoflop_figure_draws_one_parabola_per_budget(comparison):
    res = comparison.results["Approach 2 (IsoFLOP)"]
    fig = pa.isoflop_parabolas(res)
    _units(fig)
    parabolas = [ln for ln in fig.axes[0].lines if len(ln.get_xdata()) == 60]
    assert len(parabolas) == len(res.budgets)
    plt.close(fig)


def test_envelope_and_epochs_figures():
    env = envelope_approach(load_runs(curves_frame(), checkpoints="all"), n_boot=50)
    fig = pa.training_envelope(env)
    _units(fig)
    assert len(fig.axes[0].lines) == env.n_curves + 1
    plt.close(fig)
    dc = fit_data_constrained(load_runs(_synthetic(noise=0.002)), joint=False, n_boot=50)
    fig = pa.epochs_worth_it(dc, [1e9, 1e10], compute=[1e20, 1e21, 1e22])
    _units(fig)
    assert len([c for c in fig.axes[0].collections if isinstance(c, PolyCollection)]) == 2
    plt.close(fig)


def test_approaches_do_not_import_matplotlib():
    # the approaches compute results only; figures live in scalefit.plots.approaches
    from pathlib import Path

    import scalefit.approaches

    folder = Path(scalefit.approaches.__file__).parent
    for path in folder.glob("*.py"):
        assert "matplotlib" not in path.read_text(), path.name
