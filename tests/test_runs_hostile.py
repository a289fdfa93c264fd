"""Hostile inputs: every kind of bad file gets its own error naming file, row and column; lenient mode
drops exactly the bad rows and keeps them, with the reason, in RunTable.dropped."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit import DataError, ScalefitWarning, load_runs
from scalefit.data.readers import DelimiterWarning

GOOD = "N,D,loss\n1e8,2e9,3.1\n2e8,4e9,2.9\n4e8,8e9,2.7\n"


def write(tmp_path, text, name="runs.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_empty_file(tmp_path):
    path = write(tmp_path, "")
    with pytest.raises(DataError, match=rf"{path.name}: the file is empty"):
        load_runs(path)


def test_header_only(tmp_path):
    with pytest.raises(DataError, match="header but no runs"):
        load_runs(write(tmp_path, "N,D,loss\n"))


def test_semicolon_file_is_sniffed_and_noted(tmp_path):
    path = write(tmp_path, GOOD.replace(",", ";"))
    with pytest.warns(DelimiterWarning, match=r"semicolon-separated \(';'\)") as caught:
        table = load_runs(path)
    assert len(table) == 3 and table.provenance["encoding"]["delimiter"] == ";"
    assert table.provenance["encoding"]["delimiter_how"] == "sniffed"
    expected = load_runs(write(tmp_path, GOOD))
    np.testing.assert_array_equal(table.N, expected.N)
    np.testing.assert_array_equal(table.loss, expected.loss)
    assert len(caught) == 1


@pytest.mark.parametrize("delimiter, name", [("\t", "tab"), ("|", "pipe")])
def test_tab_and_pipe_files_with_csv_suffix(tmp_path, delimiter, name):
    with pytest.warns(DelimiterWarning, match=re.escape(f"{name}-separated ({delimiter!r})")):
        table = load_runs(write(tmp_path, GOOD.replace(",", delimiter)))
    np.testing.assert_array_equal(table.D, load_runs(write(tmp_path, GOOD)).D)


def test_explicit_sep_wins_and_gives_no_note(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = load_runs(write(tmp_path, GOOD.replace(",", ";")), sep=";")
        assert len(table) == 3 and "delimiter_how" not in table.provenance["encoding"]
        plain = load_runs(write(tmp_path, GOOD))  # a comma file needs no note either
        assert plain.provenance["encoding"]["delimiter"] == ","
    # an explicit sep is used as given, even where a sniff would have chosen another
    with pytest.raises(DataError, match="no column for"):
        load_runs(write(tmp_path, GOOD.replace(",", ";")), sep="|")


def test_ambiguous_or_one_column_header_is_an_error(tmp_path):
    with pytest.raises(DataError, match=r"line 1: the header 'N;D\|loss' is one column.*semicolon or pipe.*sep=';'"):
        load_runs(write(tmp_path, "N;D|loss\n1e8;2e9|3.1\n"))
    with pytest.raises(DataError, match=r"looks semicolon-separated.*do not split.*sep=';'"):
        load_runs(write(tmp_path, "N;D;loss\n1e8;2e9\n2e8;4e9;2.9\n"))
    with pytest.raises(DataError, match=r"no column for .*the table has \['loss'\]"):
        load_runs(write(tmp_path, "loss\n3.1\n2.9\n"))


def test_text_in_numeric_column_names_line_column_value(tmp_path):
    text = GOOD + "8e8,abc,2.5\n"
    with pytest.raises(DataError) as info:
        load_runs(write(tmp_path, text))
    message = str(info.value)
    assert "runs.csv" in message and "line 5" in message and "column D" in message and "'abc'" in message


def test_negative_and_zero_values(tmp_path):
    text = "params,tokens,loss\n1e8,2e9,3.1\n-2e8,4e9,2.9\n4e8,0,2.7\n4e8,8e9,-1\n"
    with pytest.raises(DataError) as info:
        load_runs(write(tmp_path, text))
    message = str(info.value)
    assert "3 invalid rows" in message
    assert "column N (column 'params'): must be > 0: line 3 (-2e+08)" in message
    assert "column D (column 'tokens'): must be > 0: line 4 (0)" in message
    assert "column loss: must be > 0: line 5 (-1)" in message


def test_nan_and_inf(tmp_path):
    text = GOOD + "8e8,1.6e10,nan\n1.6e9,inf,2.4\n3.2e9,,2.3\n"
    with pytest.raises(DataError) as info:
        load_runs(write(tmp_path, text))
    message = str(info.value)
    assert "column loss: is missing or NaN: line 5" in message
    assert "column D: is infinite: line 6" in message
    assert "column D: is missing or NaN: line 7" in message


def test_duplicated_rows(tmp_path):
    text = GOOD + "2e8,4e9,2.9\n"
    with pytest.raises(DataError, match=r"duplicated rows: line 5 \(duplicates line 3\)"):
        load_runs(write(tmp_path, text))


def test_duplicates_are_detected_after_unit_parsing(tmp_path):
    text = GOOD + "200M,4B,2.9\n"
    with pytest.raises(DataError, match=r"line 5 \(duplicates line 3\)"):
        load_runs(write(tmp_path, text))


def test_unit_typo(tmp_path):
    text = "N,D,loss\n70M,1.4T,2.0\n70Mb,1.4T,2.1\n1.4X,2T,2.2\n"
    with pytest.raises(DataError) as info:
        load_runs(write(tmp_path, text))
    message = str(info.value)
    assert "line 3 ('70Mb')" in message and "line 4 ('1.4X')" in message and "unknown magnitude suffix" in message


def test_mixed_unit_strings_parse(tmp_path):
    text = "N,D,loss\n70M,1.4T,2.0\n70000000,1400B,2.1\n\"1,000,000\",6e9,2.2\n"
    table = load_runs(write(tmp_path, text))
    np.testing.assert_array_equal(table.N, [7e7, 7e7, 1e6])
    np.testing.assert_array_equal(table.D, [1.4e12, 1.4e12, 6e9])


def test_missing_required_column(tmp_path):
    with pytest.raises(DataError, match=r"no column for \['loss'\].*columns=\{'loss': \.\.\.\}"):
        load_runs(write(tmp_path, "N,D,accuracy\n1e8,2e9,0.3\n"))


def test_ambiguous_columns_ask_for_mapping(tmp_path):
    text = "N,D,val_loss,train_loss\n1e8,2e9,3.1,3.0\n"
    with pytest.raises(DataError, match=r"could each be 'loss'.*columns=\{'loss': 'val_loss'\}"):
        load_runs(write(tmp_path, text))
    table = load_runs(write(tmp_path, text), columns={"loss": "train_loss"})
    assert table.loss[0] == 3.0


def test_unknown_column_in_mapping(tmp_path):
    with pytest.raises(DataError, match=r"names \['params'\] are not in the table"):
        load_runs(write(tmp_path, GOOD), columns={"N": "params"})


def test_lenient_mode_drops_exactly_the_bad_rows(tmp_path):
    text = (GOOD + "8e8,abc,2.5\n" + "-1,2e9,2.0\n" + "1.6e9,3.2e10,nan\n" + "2e8,4e9,2.9\n"
            + "3.2e9,6.4e10,2.2\n")
    with pytest.warns(ScalefitWarning, match="dropped 3 invalid rows"):
        table = load_runs(write(tmp_path, text), on_invalid="drop")
    assert list(table.df["row"]) == ["line 2", "line 3", "line 4", "line 9"]
    dropped = table.dropped.set_index("row")
    assert list(dropped.index) == ["line 5", "line 6", "line 7", "line 8"]
    assert dropped.loc["line 5", "column"] == "D" and "not a number" in dropped.loc["line 5", "reason"]
    assert dropped.loc["line 6", "reason"] == "must be > 0"
    assert dropped.loc["line 7", "reason"] == "is missing or NaN"
    assert dropped.loc["line 8", "reason"] == "duplicates line 3"
    assert table.provenance["rows_read"] == 8 and table.provenance["rows_dropped"] == 4


def test_blank_lines_keep_line_numbers(tmp_path):
    text = "N,D,loss\n1e8,2e9,3.1\n\n2e8,4e9,2.9\n4e8,bad,2.7\n"
    with pytest.raises(DataError, match="line 5"):
        load_runs(write(tmp_path, text))


def test_invalid_json(tmp_path):
    with pytest.raises(DataError, match=r"runs.json: line 1: not valid JSON"):
        load_runs(write(tmp_path, "[{\"N\": 1e8,", name="runs.json"))


def test_jsonl_bad_line_is_named(tmp_path):
    text = '{"N": 1e8, "D": 2e9, "loss": 3.1}\n{"N": "x", "D": 2e9, "loss": 3.0}\n'
    with pytest.raises(DataError, match=r"line 2 \('x'\)"):
        load_runs(write(tmp_path, text, name="runs.jsonl"))


def test_boolean_column_is_not_a_number():
    frame = pd.DataFrame({"N": [1e8, 2e8], "D": [True, False], "loss": [3.0, 2.9]})
    with pytest.raises(DataError, match="boolean"):
        load_runs(frame)


def test_dataframe_rows_named_by_index():
    frame = pd.DataFrame({"N": [1e8, -2e8], "D": [2e9, 4e9], "loss": [3.0, 2.9]}, index=["run-a", "run-b"])
    with pytest.raises(DataError, match=r"(?s)DataFrame: .*index 'run-b'"):
        load_runs(frame)


def test_million_row_file_with_one_bad_row(tmp_path):
    rng = np.random.default_rng(0)
    n = 1_000_000
    frame = pd.DataFrame({"N": rng.uniform(1e7, 1e10, n), "D": rng.uniform(1e9, 1e12, n),
                          "loss": rng.uniform(2, 4, n)})
    path = tmp_path / "big.csv"
    frame.to_csv(path, index=False)
    lines = path.read_text().splitlines()
    lines[777_778] = "1e8,oops,3.0"  # data row 777,777 sits on line 777,779 of the file
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"line 777779 \('oops'\)"):
        load_runs(path)
    with pytest.warns(ScalefitWarning, match="dropped 1 invalid rows"):
        table = load_runs(path, on_invalid="drop")
    assert len(table) == n - 1
    assert list(table.dropped["row"]) == ["line 777779"]


def test_decimal_commas_in_a_semicolon_file_are_read_as_decimals_with_a_warning(tmp_path):
    """'3,125' in a semicolon-separated file is 3.125 nats/token, never 3125; thousands grouping stays as it is."""
    path = tmp_path / "europe.csv"
    path.write_text("params;tokens;loss\n1e8;2e9;3,125\n2e8;4e9;3,0\n4e8;8e9;2,875\n")
    with pytest.warns(scalefit.DataCheckWarning, match=r"column loss .* decimal mark"):
        runs = load_runs(path)
    np.testing.assert_allclose(runs.loss, [3.125, 3.0, 2.875])
    grouped = tmp_path / "grouped.csv"
    grouped.write_text("params;tokens;loss\n1,000,000;2e9;3.125\n2,000,000;4e9;3.0\n4,000,000;8e9;2.9\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scalefit.DelimiterWarning)
        warnings.simplefilter("error", scalefit.DataCheckWarning)
        np.testing.assert_allclose(load_runs(grouped).N, [1e6, 2e6, 4e6])
