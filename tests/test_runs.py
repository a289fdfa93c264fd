"""Formats, aliases, derived columns, filters and provenance of load_runs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from scalefit import DataError, load_runs

FRAME = pd.DataFrame({
    "params": [1e8, 1e8, 4e8, 4e8, 1.6e9],
    "train_tokens": [2e9, 8e9, 8e9, 3.2e10, 3.2e10],
    "val_loss": [3.2, 3.0, 2.8, 2.6, 2.4],
    "model": ["s", "s", "m", "m", "l"],
})


def _write_all_formats(tmp_path):
    paths = {}
    FRAME.to_csv(paths.setdefault("csv", tmp_path / "r.csv"), index=False)
    FRAME.to_csv(paths.setdefault("tsv", tmp_path / "r.tsv"), index=False, sep="\t")
    FRAME.to_json(paths.setdefault("json-records", tmp_path / "r.json"), orient="records")
    (tmp_path / "c.json").write_text(json.dumps(FRAME.to_dict(orient="list")))
    paths["json-columns"] = tmp_path / "c.json"
    FRAME.to_json(paths.setdefault("jsonl", tmp_path / "r.jsonl"), orient="records", lines=True)
    FRAME.to_parquet(paths.setdefault("parquet", tmp_path / "r.parquet"))
    return paths


def test_every_format_gives_the_same_table(tmp_path):
    expected = load_runs(FRAME, columns={"group": "model"}).df[["N", "D", "loss", "C", "group"]]
    for fmt, path in _write_all_formats(tmp_path).items():
        table = load_runs(path, columns={"group": "model"})
        pd.testing.assert_frame_equal(table.df[["N", "D", "loss", "C", "group"]], expected, obj=fmt)
        assert table.provenance["source"] == str(path)


def test_aliases_and_derived_compute():
    table = load_runs(FRAME)
    # a `model` label column is the group (what shares noise), recorded with why
    assert table.provenance["columns"] == {"N": "params", "D": "train_tokens", "loss": "val_loss",
                                           "group": "model"}
    assert table.provenance["group"]["how"] == "model label column 'model'"
    np.testing.assert_allclose(table.C, 6 * FRAME["params"] * FRAME["train_tokens"], rtol=0)
    assert table.provenance["derived"]["C"] == "6 N D"
    assert list(table.df.columns[:5]) == ["row", "N", "D", "loss", "C"]
    assert "note" in load_runs(FRAME.rename(columns={"model": "note"})).df  # other columns are kept


def test_groups_default_to_model_size_with_tolerance():
    frame = pd.DataFrame({"N": [1e8, 1e8 * (1 + 1e-6), 2e8], "D": [1e9, 2e9, 1e9], "loss": [3, 2.9, 2.8]})
    table = load_runs(frame)
    assert table.n_groups == 2
    assert table.groups[0] == table.groups[1] != table.groups[2]
    assert table.provenance["group"]["how"].startswith("model size")


def test_tokens_derived_from_compute():
    frame = pd.DataFrame({"model_size": [1e8, 2e8], "flops": [1.2e18, 4.8e18], "loss": [3.0, 2.8]})
    table = load_runs(frame)
    np.testing.assert_allclose(table.D, [2e9, 4e9])
    assert "C / (6 N)" in table.provenance["derived"]["D"]


def test_filters_are_recorded_with_the_rows_they_removed():
    table = load_runs(FRAME, min_tokens=5e9, max_loss=3.0, drop_highest_loss=1, query="params < 1e9")
    assert list(table.df["row"]) == ["index 2", "index 3"]
    log = table.provenance["filters"]
    assert [(s["filter"], s["removed"]) for s in log] == [
        ("min_tokens", 1), ("max_loss", 0), ("drop_highest_loss", 1), ("query", 1)]
    assert sorted(table.filtered["row"]) == ["index 0", "index 1", "index 4"]
    assert set(table.filtered["filter"]) == {"min_tokens", "drop_highest_loss", "query"}


def test_min_fraction_of_run_drops_early_checkpoints():
    frame = pd.DataFrame({"N": [1e8] * 4 + [2e8] * 2, "D": [1e9, 2e9, 5e9, 1e10, 1e9, 2e9],
                          "loss": [3.5, 3.2, 3.0, 2.9, 3.3, 3.0], "run": ["a"] * 4 + ["b"] * 2})
    table = load_runs(frame, min_fraction_of_run=0.5)
    assert list(table.D) == [5e9, 1e10, 1e9, 2e9]


def test_bad_query_is_a_data_error():
    with pytest.raises(DataError, match="query 'nonexistent > 1' failed"):
        load_runs(FRAME, query="nonexistent > 1")


def test_filters_that_leave_nothing():
    with pytest.raises(DataError, match="no runs left"):
        load_runs(FRAME, max_loss=1.0)


def test_summary_names_ranges_and_derivations():
    text = load_runs(FRAME, drop_highest_loss=1).summary()
    assert "4 runs in" in text and "100M .." in text and "C derived: 6 N D" in text
    assert "filter drop_highest_loss=1: removed 1 rows" in text


def test_n_convention_is_recorded_never_guessed():
    assert load_runs(FRAME).provenance["n_convention"] == "unknown"
    assert load_runs(FRAME, n_convention="non-embedding").provenance["n_convention"] == "non-embedding"


def test_weights_must_be_non_negative():
    frame = FRAME.assign(weight=[1, 1, -1, 1, 1])
    with pytest.raises(DataError, match=r"column weight: must be >= 0: index 2"):
        load_runs(frame)
    np.testing.assert_array_equal(load_runs(FRAME.assign(weight=1.0)).weights, np.ones(5))
