"""Report sections for Approach 2, the approaches comparison and the staged data-constrained fit (from records)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from scalefit.approaches import isoflop_approach
from scalefit.report.approaches import comparison_section, section_for


def _isoflop_sweep() -> pd.DataFrame:
    p = {"E": 1.7, "A": 400.0, "B": 410.0, "alpha": 0.34, "beta": 0.28}
    rows = []
    for c in np.geomspace(1e18, 1e21, 6):
        n_opt = 1.1 * (c / 6) ** (p["beta"] / (p["alpha"] + p["beta"]))
        for n in n_opt * np.geomspace(0.4, 2.5, 7):
            d = c / (6 * n)
            rows.append({"N": n, "D": d, "C": c, "loss": p["E"] + p["A"] / n ** p["alpha"] + p["B"] / d ** p["beta"]})
    return pd.DataFrame(rows)


def test_approach2_section_from_its_json_record():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = isoflop_approach(_isoflop_sweep(), n_boot=50, seed=0)
    payload = json.loads(json.dumps({"kind": "approach2", "result": result.to_dict()}))
    section = section_for(payload)
    assert section.title == "Approach 2 (IsoFLOP parabolas)"
    header, rows = section.tables[0]
    assert len(rows) == 6 and header[0] == "C (FLOPs)"
    assert f"a = {result.exponents['a']:.4g}" in " ".join(section.paragraphs)
    with pytest.raises(ValueError, match="kind 'fit'"):
        section_for({"kind": "fit"})


def test_comparison_section_lists_unavailable_and_disagreements():
    record = {"level": 0.95, "computes": [1e21], "unavailable": {"Approach 1 (envelope)": "needs training curves"},
              "disagreements": ["Approach 2 and Approach 3 disagree on a"],
              "rows": [{"approach": "Approach 2 (IsoFLOP)", "quantity": "a", "estimate": 0.45, "lo": 0.44, "hi": 0.46},
                       {"approach": "Approach 3 (parametric fit)", "quantity": "a", "estimate": 0.5, "lo": 0.49,
                        "hi": 0.51}]}
    section = comparison_section(record)
    header, rows = section.tables[0]
    assert header == ["quantity", "Approach 2 (IsoFLOP)", "Approach 3 (parametric fit)"]
    assert rows[0][1].startswith("0.45 [0.44")
    text = " ".join(section.paragraphs)
    assert "Approach 1 (envelope): not available: needs training curves" in text and "Warning: Approach 2" in text
