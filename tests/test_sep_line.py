"""A spreadsheet's ``sep=X`` first line (Excel writes it so the file opens right in any locale): the delimiter
is taken from it, the line is skipped, line numbers in messages stay the file's own, and a note says so."""

from __future__ import annotations

import warnings

import pytest

from scalefit import DataError, load_runs
from scalefit.core.errors import DelimiterWarning
from scalefit.data.delimiters import declared_delimiter
from scalefit.data.text import read_text

ROWS = [("1e8", "2e9", "3.125"), ("1e8", "4e9", "3.0"), ("2e8", "2e9", "2.9")]


def write(tmp_path, delimiter: str, first: str | None = None, decimal: str = ".", name: str = "runs.csv",
          rows=ROWS):
    lines = [f"sep={delimiter}" if first is None else first, delimiter.join(["N", "D", "loss"])]
    lines += [delimiter.join(cell.replace(".", decimal) if i == 2 else cell for i, cell in enumerate(row))
              for row in rows]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_comma_sep_line_is_used_skipped_and_noted(tmp_path):
    with pytest.warns(DelimiterWarning, match=r"line 1 is a spreadsheet's 'sep=,' line; read the file as "
                                              r"comma-separated") as caught:
        table = load_runs(write(tmp_path, ","))
    assert list(table.df["loss"]) == [3.125, 3.0, 2.9] and list(table.df["N"]) == [1e8, 1e8, 2e8]
    assert table.provenance["encoding"]["delimiter_how"] == "sep line"
    assert table.provenance["encoding"]["sep_line"] == ","
    assert sum(issubclass(w.category, DelimiterWarning) for w in caught) == 1  # one note, not one per parser try


def test_semicolon_sep_line_with_decimal_commas(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = load_runs(write(tmp_path, ";", decimal=","))
    assert list(table.df["loss"]) == [3.125, 3.0, 2.9]  # "3,125" -> 3.125
    texts = [str(w.message) for w in caught]
    assert any("'sep=;'" in t and "semicolon-separated" in t for t in texts)
    assert any("decimal mark" in t for t in texts)


@pytest.mark.parametrize("first", ["sep=\t", "sep=\\t", '"sep=\t"', "SEP=\t"])
def test_tab_sep_line(tmp_path, first):
    with pytest.warns(DelimiterWarning, match=r"tab-separated"):
        table = load_runs(write(tmp_path, "\t", first=first))
    assert table.provenance["encoding"]["delimiter"] == "\t" and len(table) == 3


def test_bad_value_is_named_with_its_file_line(tmp_path):
    rows = [*ROWS, ("3e8", "2e9", "oops")]  # file line 6: sep=, header, 3 good rows, this one
    path = write(tmp_path, ",", rows=rows)
    with pytest.warns(DelimiterWarning), pytest.raises(DataError, match=r"line 6 \('oops'\)"):
        load_runs(path)


def test_bad_value_line_after_blank_lines(tmp_path):
    path = tmp_path / "gappy.csv"
    path.write_text("sep=;\n\nN;D;loss\n1e8;2e9;3,1\n\n1e8;4e9;x\n2e8;2e9;2,9\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the sep= note and the decimal-comma note
        with pytest.raises(DataError, match=r"line 6 \('x'\)"):
            load_runs(path)


@pytest.mark.parametrize("use_pyarrow", [False, True])
def test_both_parsers_number_lines_from_the_file(tmp_path, use_pyarrow):
    with pytest.warns(DelimiterWarning, match="'sep=;' line"):
        raw = read_text(write(tmp_path, ";"), "csv", None, None, "python", use_pyarrow=use_pyarrow)
    assert list(raw.frame.columns) == ["N", "D", "loss"]
    assert list(raw.rows.labels([0, 2])) == ["line 3", "line 5"]


def test_cp1252_file_with_sep_line(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("sep=;\nmodel;N;D;loss\ncafé;1e8;2e9;3,1\nthé;1e8;4e9;3,0\n".encode("cp1252"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = load_runs(path, columns={"group": "model"})
    assert list(table.df["loss"]) == [3.1, 3.0]
    assert any("'sep=;'" in str(w.message) for w in caught)


def test_explicit_sep_that_disagrees_wins_with_a_note(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text("sep=;\nN,D,loss\n1e8,2e9,3.1\n1e8,4e9,3.0\n2e8,2e9,2.9\n")
    with pytest.warns(DelimiterWarning, match=r"line 1 declares 'sep=;' \(semicolon\), but sep=',' was given and "
                                              r"is used"):
        table = load_runs(path, sep=",")
    assert list(table.df["loss"]) == [3.1, 3.0, 2.9]


def test_only_a_sep_line_is_an_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("sep=,\n")
    with pytest.raises(DataError, match="the file is empty"):
        load_runs(path)


def test_declared_delimiter_only_matches_a_whole_sep_line():
    assert declared_delimiter("sep=|") == "|"
    assert declared_delimiter("sep=,\r") == ","
    assert declared_delimiter("sep,N,D") is None and declared_delimiter("separator=,") is None
    assert declared_delimiter("sep=,,") is None


def test_cli_reads_a_sep_line_file(tmp_path):
    from tests.cli_helpers import run_cli

    done = run_cli("runs", write(tmp_path, ";", decimal=","))
    assert done.returncode == 0, done.stderr
    assert "'sep=;' line" in done.stderr and "Traceback" not in done.stderr
