"""A fit the data cannot support is reported as such, never returned as a confident answer."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit import ScalefitWarning

N = np.repeat(np.geomspace(1e7, 3e10, 8), 6)
D = np.tile(np.geomspace(3e8, 1e12, 6), 8)


def runs_from(loss):
    return scalefit.load_runs(pd.DataFrame({"N": N, "D": D, "loss": loss}))


def test_absent_data_term_is_flagged():
    loss = 1.7 + 400.0 / N ** 0.34  # B = 0
    with pytest.warns(ScalefitWarning, match=r"coefficient B is negligible"):
        result = scalefit.fit(runs_from(loss), objective="ls")
    assert "B" in result.diagnostics["negligible_terms"]
    assert any("B -> 0" in w for w in result.warnings)


def test_zero_irreducible_loss_is_flagged():
    loss = 400.0 / N ** 0.34 + 410.0 / D ** 0.28  # E = 0
    with pytest.warns(ScalefitWarning, match=r"irreducible loss E is negligible"):
        result = scalefit.fit(runs_from(loss), objective="ls")
    assert "E" in result.diagnostics["negligible_terms"]


def test_exponent_at_its_hard_limit_is_flagged():
    loss = 1.7 + 1e-30 * N ** 0.0 + 410.0 / D ** 0.28 + 0.5 * (N / 1e7) ** -12.0
    with pytest.warns(ScalefitWarning, match=r"alpha is at its hard limit"):
        scalefit.fit(runs_from(loss), objective="ls")


def test_too_few_runs_is_an_error():
    with pytest.raises(scalefit.FitError, match=r"cannot determine the 5 parameters|the same N|move together"):
        scalefit.fit(pd.DataFrame({"N": N[:5], "D": D[:5], "loss": np.linspace(3, 2, 5)}))


def test_outputs_are_json_safe_and_complete():
    loss = 1.7 + 400.0 / N ** 0.34 + 410.0 / D ** 0.28
    result = scalefit.fit(runs_from(loss * np.exp(np.random.default_rng(0).normal(0, 0.01, N.size))))
    record = json.loads(json.dumps(result.to_dict()))
    assert set(record["params"]) == {"E", "A", "B", "alpha", "beta"}
    assert record["objective"]["delta_source"].startswith("automatic")
    assert record["diagnostics"]["correlations"]["alpha"]["alpha"] == pytest.approx(1.0)
    text = result.summary()
    for name in ("E", "A", "B", "alpha", "beta", "converged: True", "starts reaching the optimum"):
        assert name in text
    params = result.to_lmfit()
    assert params["alpha"].value == result.params["alpha"] and params["alpha"].min == 1e-4


def test_profile_intervals_bracket_the_estimate():
    rng = np.random.default_rng(1)
    loss = (1.7 + 400.0 / N ** 0.34 + 410.0 / D ** 0.28) * np.exp(rng.normal(0, 0.01, N.size))
    result = scalefit.fit(runs_from(loss), objective="ls")
    intervals = result.profile_intervals(sigmas=(1.0,))
    for name in ("alpha", "beta"):
        (_, lo), (_, mid), (_, hi) = intervals[name]
        assert lo < result.params[name] < hi and mid == pytest.approx(result.params[name], rel=1e-4)
