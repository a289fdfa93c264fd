"""Loading at speed without losing track of rows: the ``row`` labels are written only when read, the
duplicate check and the two parsers (pyarrow, pandas' C engine) keep naming the file's own line numbers,
and no row is ever dropped without a record."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scalefit import DataError, load_runs
from scalefit.data import readers
from scalefit.data.runs import Unlabelled


@pytest.fixture(params=["pyarrow", "c"])
def parser(request, monkeypatch):
    """Run a test through each text parser: pyarrow (when installed) and pandas' C engine."""
    if request.param == "pyarrow" and not readers._has_pyarrow():
        pytest.skip("pyarrow is not installed")
    monkeypatch.setattr(readers, "_use_pyarrow", lambda: request.param == "pyarrow")
    return request.param


def write(tmp_path, text: str, name: str = "runs.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def test_row_labels_are_written_on_first_read_of_df(tmp_path, parser):
    text = "N,D,loss\n1e8,2e9,3.1\n\n2e8,4e9,2.9\n4e8,8e9,2.7\n"  # a blank line: rows 2.. sit on lines 2, 4, 5
    table = load_runs(write(tmp_path, text))
    assert table.provenance["encoding"]["parser"] == parser
    assert isinstance(table.__dict__["_df"], Unlabelled)
    np.testing.assert_allclose(table.N, [1e8, 2e8, 4e8])  # properties read the columns, not the labels
    assert len(table) == 3 and table.n_groups == 3 and "3 runs" in table.summary()
    assert isinstance(table.__dict__["_df"], Unlabelled)
    assert list(table.df["row"]) == ["line 2", "line 4", "line 5"]
    assert list(table.df.columns[:4]) == ["row", "N", "D", "loss"]
    assert not isinstance(table.__dict__["_df"], Unlabelled) and table.df is table.df


def test_subset_keeps_labels_unwritten_and_right(tmp_path):
    text = "N,D,loss\n" + "".join(f"{n:g},{20 * n:g},{3 - k / 10}\n" for k, n in enumerate([1e8, 2e8, 4e8, 8e8]))
    table = load_runs(write(tmp_path, text))
    small = table.subset(np.array([True, False, True, False]), reason="test")
    assert isinstance(small.__dict__["_df"], Unlabelled)
    assert list(small.filtered["row"]) == ["line 3", "line 5"] and set(small.filtered["filter"]) == {"test"}
    assert list(small.df["row"]) == ["line 2", "line 4"]
    eager = load_runs(write(tmp_path, text))
    _ = eager.df  # written first, then subset: the same answer
    assert list(eager.subset(np.array([True, False, True, False]), "test").df["row"]) == ["line 2", "line 4"]


def test_unwritten_table_pickles_and_filters_name_their_rows(tmp_path):
    text = "N,D,loss\n1e8,2e9,3.1\n2e8,4e9,2.9\n4e8,8e9,2.7\n8e8,1.6e10,2.6\n"
    table = load_runs(write(tmp_path, text), min_tokens=3e9)
    assert list(table.filtered["row"]) == ["line 2"] and list(table.filtered["filter"]) == ["min_tokens"]
    copy = pickle.loads(pickle.dumps(table))
    assert list(copy.df["row"]) == ["line 3", "line 4", "line 5"]
    by_row = load_runs(write(tmp_path, text), query="row != 'line 4'")  # a query may name rows
    assert list(by_row.df["row"]) == ["line 2", "line 3", "line 5"]


def test_dataframe_index_labels_read_as_the_index_values():
    frame = pd.DataFrame({"N": [1e8, 2e8, 4e8], "D": [2e9, 4e9, 8e9], "loss": [3.1, 2.9, 2.7]},
                         index=pd.Index([10, 20, 30]))
    assert list(load_runs(frame).df["row"]) == ["index 10", "index 20", "index 30"]
    named = frame.set_axis(["a", "b", "c"])
    assert list(load_runs(named).df["row"]) == ["index 'a'", "index 'b'", "index 'c'"]
    bad = named.assign(D=[2e9, -1.0, 8e9])
    with pytest.raises(DataError, match=r"column D: must be > 0: index 'b' \(-1\)"):
        load_runs(bad)


def test_source_columns_named_row_or_filter_are_kept_under_another_name(tmp_path):
    text = "row,filter,N,D,loss\n1,a,1e8,2e9,3.1\n2,b,2e8,4e9,2.9\n3,b,4e8,8e9,2.7\n"
    table = load_runs(write(tmp_path, text), min_tokens=3e9)
    assert list(table.df["row"]) == ["line 3", "line 4"]
    assert list(table.df["row (source)"]) == [2, 3] and list(table.df["filter (source)"]) == ["b", "b"]
    assert list(table.filtered["row"]) == ["line 2"] and list(table.filtered["filter"]) == ["min_tokens"]


def test_every_copy_of_a_duplicated_row_names_the_first(tmp_path, parser):
    rows = ["1e8,2e9,3.1", "2e8,4e9,2.9", "1e8,2e9,3.1", "4e8,8e9,2.7", "2e8,4e9,2.9", "1e8,2e9,3.1"]
    path = write(tmp_path, "N,D,loss\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError) as info:
        load_runs(path)
    assert "duplicated rows: line 4 (duplicates line 2), line 6 (duplicates line 3), line 7 (duplicates line 2)" \
        in str(info.value)
    with pytest.warns(Warning, match="dropped 3 duplicated rows"):
        table = load_runs(path, on_invalid="drop")
    assert list(table.df["row"]) == ["line 2", "line 3", "line 5"]
    assert list(table.dropped["reason"]) == ["duplicates line 2", "duplicates line 3", "duplicates line 2"]


def test_c_parser_trims_spaces_only_where_the_file_has_them(tmp_path, monkeypatch):
    """The C engine skips spaces after delimiters only when the first parse shows they matter: names, text
    cells, or a quoted field that splits without it."""
    monkeypatch.setattr(readers, "_use_pyarrow", lambda: False)
    spaced = load_runs(write(tmp_path, "N, D, loss, arch\n1e8, 2e9, 3.1, dense\n2e8, 4e9, 2.9, dense\n"))
    assert list(spaced.df.columns[1:5]) == ["N", "D", "loss", "C"] and list(spaced.df["arch"]) == ["dense"] * 2
    np.testing.assert_allclose(spaced.D, [2e9, 4e9])
    cells = load_runs(write(tmp_path, "N,D,loss,arch\n1e8,2e9, 3.1, dense\n2e8,4e9,2.9,sparse moe\n"))
    assert list(cells.df["arch"]) == ["dense", "sparse moe"] and cells.loss[0] == 3.1
    quoted = load_runs(write(tmp_path, 'N,D,loss,arch\n1e8,2e9,3.1, "a,b"\n2e8,4e9,2.9,"c"\n'))
    assert list(quoted.df["arch"]) == ["a,b", "c"]
    utf8 = load_runs(write(tmp_path, "N,D,loss,arch\n1e8,2e9,3.1,café\n2e8,4e9,2.9,naïve\n"))
    assert list(utf8.df["arch"]) == ["café", "naïve"] and utf8.provenance["encoding"]["how"] == "valid UTF-8"


def test_c_parser_reparses_columns_whose_chunks_disagree(tmp_path, monkeypatch):
    """pandas' low-memory parse works in chunks; a column read as integers in one chunk and as text in
    another would turn the label "01" into 1, so the loader parses such a file again in one piece."""
    monkeypatch.setattr(readers, "_use_pyarrow", lambda: False)
    n = 270_000  # past pandas' parse chunk of 2**18 rows
    lines = [f"{1 + k % 50}e8,{2e5 + k:.0f},3,01" for k in range(n)]
    lines[-1] = "70M,1.4T,2.0,x"
    table = load_runs(write(tmp_path, "N,D,loss,arch\n" + "\n".join(lines) + "\n"), columns={"group": "arch"})
    assert len(table) == n and table.N[-1] == 7e7 and table.D[-1] == 1.4e12 and table.N[0] == 1e8
    assert table.groups[0] == "01" and table.groups[-1] == "x" and table.n_groups == 2


CELL = st.sampled_from(["ok", "ok", "ok", "ok", "text", "negative", "missing", "blank_line", "duplicate"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(CELL, min_size=1, max_size=25), use_c=st.booleans())
def test_no_row_is_lost_and_every_dropped_row_names_its_line(tmp_path, monkeypatch, kinds, use_c):
    """Every data line ends in the table or in ``dropped`` with its own line number; the error in strict
    mode counts the bad rows and names the first (invalid cells are reported before duplicates)."""
    monkeypatch.setattr(readers, "_use_pyarrow", (lambda: False) if use_c else readers._has_pyarrow)
    lines, expected_kept, expected_bad, duplicates = ["N,D,loss"], [], [], []
    for k, kind in enumerate(kinds):
        number = len(lines) + 1  # the line this row will sit on
        n, d, loss = f"{1e8 * (k + 1):g}", f"{2e9 * (k + 1):g}", f"{3 - k / 100:.2f}"
        if kind == "blank_line":
            lines.append("")
            continue
        if kind == "duplicate" and expected_kept:
            lines.append(lines[expected_kept[0] - 1])
            expected_bad.append(number)
            duplicates.append(number)
            continue
        cell = {"text": "abc", "negative": "-5", "missing": ""}.get(kind)
        if cell is not None:
            d = cell
            expected_bad.append(number)
        else:
            expected_kept.append(number)
        lines.append(f"{n},{d},{loss}")
    path = write(tmp_path, "\n".join(lines) + "\n")
    if not expected_kept:
        with pytest.raises(DataError, match="no runs"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            load_runs(path, on_invalid="drop")
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = load_runs(path, on_invalid="drop")
    assert list(table.df["row"]) == [f"line {k}" for k in expected_kept]
    assert sorted(int(r.split()[1]) for r in table.dropped["row"].unique()) == expected_bad
    assert len(table) + table.dropped["row"].nunique() == len(expected_kept) + len(expected_bad)
    reported = [k for k in expected_bad if k not in duplicates] or duplicates
    if reported:
        with pytest.raises(DataError, match=rf"(?s)runs.csv: {len(reported)} invalid rows? .*line {reported[0]}\b"):
            load_runs(path)
