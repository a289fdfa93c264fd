"""Hostile-input corpus for the loaders: each case is a file (bytes) or DataFrame and its exact outcome.

Outcomes: ``Rows(n)`` loaded with n rows (and no unexpected scalefit warning); ``Warns(cls, text, n)``
loaded with n rows and a warning of class ``cls`` whose message contains ``text`` (a column name or the
fix); ``Fails(*texts)`` a :class:`DataError` whose message contains the file name and every text (line,
column, value). Add a case here for every new kind of bad input a user reports.
"""

from __future__ import annotations

import codecs
import json
import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

from scalefit import DataError, load_runs
from scalefit.core.errors import CheckpointWarning, DataCheckWarning, ScalefitWarning, TextEncodingWarning
from scalefit.data.readers import DelimiterWarning

GOOD = "N,D,loss\n1e8,2e9,3.1\n2e8,4e9,2.9\n4e8,8e9,2.7\n"


@dataclass(frozen=True)
class Rows:
    n: int
    check: object = None  # optional callable(table) -> None with extra assertions


@dataclass(frozen=True)
class Warns:
    category: type
    text: str
    n: int
    check: object = None


@dataclass(frozen=True)
class Fails:
    texts: tuple[str, ...] = field(default_factory=tuple)

    def __init__(self, *texts: str) -> None:
        object.__setattr__(self, "texts", texts)


def _curves(steps: int = 4, sizes=(1e8, 1e8, 4e8, 4e8)) -> pd.DataFrame:
    rows = []
    for run, n in enumerate(sizes):
        for s in range(1, steps + 1):
            rows.append({"run_id": f"r{run}", "N": n, "step": 1000 * s, "D": 1e9 * s * (run + 1),
                         "loss": 4.0 - 1.5 * s / steps - 0.05 * run})
    return pd.DataFrame(rows)


def _settings() -> pd.DataFrame:
    frame = pd.DataFrame({"N": np.repeat([1e8, 2e8, 4e8], 4), "D": np.tile([1e9, 2e9], 6),
                          "loss": np.linspace(3.5, 2.5, 12), "optimizer": np.tile(["adam", "adam", "sgd", "sgd"], 3)})
    return frame


def _group_checks(how: str, n_groups: int):
    def check(table):
        assert how in table.provenance["group"]["how"]
        assert table.n_groups == n_groups
    return check


CASES: dict[str, tuple[object, dict, object]] = {
    # --- encodings
    "latin1 byte 0xFF (Excel export)": (b"N,D,loss,note\n1e8,2e9,3.1,caf\xe9\n2e8,4e9,2.9,\xff\n4e8,8e9,2.7,x\n",
                                        {}, Warns(TextEncodingWarning, "read the file as cp1252", 3)),
    "latin1 names the first bad line": (b"N,D,loss,note\n1e8,2e9,3.1,ok\n2e8,4e9,2.9,\xe9\n", {},
                                        Warns(TextEncodingWarning, "line 3: byte 0xE9", 2)),
    "utf-8 with BOM": (codecs.BOM_UTF8 + GOOD.encode(), {}, Rows(3, lambda t: t.provenance["columns"]["N"] == "N")),
    "utf-16 with BOM": (GOOD.encode("utf-16"), {}, Rows(3)),
    "utf-16 BOM, big endian": (codecs.BOM_UTF16_BE + GOOD.encode("utf-16-be"), {}, Rows(3)),
    "explicit encoding wrong for the bytes": (b"N,D,loss\n1e8,2e9,3.1\n2e8,4e9,\xff\n", {"encoding": "ascii"},
                                              Fails("line 3", "not valid ascii", "encoding=")),
    "unknown encoding name": (GOOD.encode(), {"encoding": "klingon"}, Fails("unknown text encoding 'klingon'")),
    # --- structure
    "duplicate header N,N": (b"N,N,D,loss\n1e8,2e8,2e9,3.1\n", {}, Fails("line 1", "column 'N' appears twice")),
    "duplicate header after spaces": (b"N, D,D ,loss\n1e8,2e9,2e9,3.1\n", {}, Fails("column 'D' appears twice")),
    "blank lines between rows": (b"N,D,loss\n1e8,2e9,3.1\n\n2e8,4e9,2.9\n\n\n4e8,8e9,2.7\n", {}, Rows(3)),
    "blank lines keep line numbers in errors": (b"N,D,loss\n1e8,2e9,3.1\n\n\n2e8,4e9,2.9\n4e8,oops,2.7\n", {},
                                                Fails("line 6", "column D", "'oops'")),
    "leading blank line before header": (b"\nN,D,loss\n1e8,2e9,3.1\n2e8,bad,2.9\n", {}, Fails("line 4", "'bad'")),
    "trailing delimiter on every line": (b"N,D,loss,\n1e8,2e9,3.1,\n2e8,4e9,2.9,\n", {}, Rows(2)),
    "CRLF line endings": (GOOD.replace("\n", "\r\n").encode(), {}, Rows(3)),
    "spaces inside cells only": (b"N,D,loss\n1e8, 2e9,3.1\n2e8, 70M ,2.9\n", {},
                                 Rows(2, lambda t: np.testing.assert_allclose(t.D, [2e9, 7e7]))),
    "valid UTF-8 text column": ("N,D,loss,note\n1e8,2e9,3.1,café\n2e8,4e9,2.9,naïve\n".encode(), {},
                                Rows(2, lambda t: t.provenance["encoding"]["encoding"] == "utf-8")),
    "spaces around cells and names": (b" N , D , loss\n 1e8 , 2e9 , 3.1\n2e8, 4e9,2.9\n", {}, Rows(2)),
    "semicolon CSV without sep (sniffed)": (GOOD.replace(",", ";").encode(), {}, Warns(
        DelimiterWarning, "semicolon-separated (';')", 3, lambda t: t.provenance["encoding"]["delimiter"] == ";")),
    "tab CSV without sep (sniffed)": (GOOD.replace(",", "\t").encode(), {}, Warns(
        DelimiterWarning, "tab-separated ('\\t')", 3, lambda t: t.provenance["encoding"]["delimiter"] == "\t")),
    "pipe CSV without sep (sniffed)": (GOOD.replace(",", "|").encode(), {}, Warns(
        DelimiterWarning, "pipe-separated ('|')", 3, lambda t: t.provenance["encoding"]["delimiter"] == "|")),
    "header both semicolon and pipe": (b"N;D|loss\n1e8;2e9|3.1\n", {}, Fails("line 1", "semicolon or pipe",
                                                                             "sep=';'")),
    "semicolon CSV with sep": (GOOD.replace(",", ";").encode(), {"sep": ";"}, Rows(3)),
    "quoted thousands separators": (b'N,D,loss\n"1,000,000","2,000,000,000",3.1\n"2,000,000",4e9,2.9\n', {},
                                    Rows(2, lambda t: np.testing.assert_allclose(t.N, [1e6, 2e6]))),
    "unit strings": (b"N,D,loss\n70M,1.4T,2.0\n1.3B,300B,2.1\n", {},
                     Rows(2, lambda t: np.testing.assert_allclose(t.N, [7e7, 1.3e9]))),
    "unit typo": (b"N,D,loss\n70M,1.4T,2.0\n70Mb,1.4T,2.1\n", {}, Fails("line 3", "column N", "'70Mb'")),
    # --- values
    "NaN loss": (b"N,D,loss\n1e8,2e9,nan\n2e8,4e9,2.9\n", {}, Fails("column loss", "missing or NaN", "line 2")),
    "infinite tokens": (b"N,D,loss\n1e8,inf,3.1\n2e8,4e9,2.9\n", {}, Fails("column D", "infinite", "line 2")),
    "negative parameters": (b"params,D,loss\n-1e8,2e9,3.1\n", {}, Fails("column N (column 'params')", "must be > 0",
                                                                       "line 2")),
    "text in numeric column": (b"N,D,loss\n1e8,2e9,3.1\n2e8,four,2.9\n", {}, Fails("line 3", "column D", "'four'")),
    "empty file": (b"", {}, Fails("the file is empty")),
    "whitespace-only file": (b"\n\n  \n", {}, Fails("the file is empty")),
    "header only": (b"N,D,loss\n", {}, Fails("header but no runs")),
    "missing loss column": (b"N,D,acc\n1e8,2e9,0.3\n", {}, Fails("no column for ['loss']", "columns={'loss': ...}")),
    "duplicated rows": (GOOD.encode() + b"2e8,4e9,2.9\n", {}, Fails("line 5 (duplicates line 3)")),
    # --- meaning (sanity checks)
    "N in millions without units": (b"N,D,loss\n125,2e9,3.1\n350,4e9,2.9\n760,8e9,2.7\n", {},
                                    Warns(DataCheckWarning, "N is at most 760 parameters", 3)),
    "D in billions without units": (b"N,D,loss\n1e8,2,3.1\n2e8,4,2.9\n", {},
                                    Warns(DataCheckWarning, "D is at most 4 tokens", 2)),
    "perplexity loaded as loss": (b"N,D,ppl\n1e8,2e9,230\n2e8,4e9,120\n", {"columns": {"loss": "ppl"}},
                                  Warns(DataCheckWarning, "ln(perplexity)", 2)),
    "loss in bits": (b"N,D,val_bpb\n1e8,2e9,1.1\n2e8,4e9,1.0\n", {"columns": {"loss": "val_bpb"}},
                     Warns(DataCheckWarning, "named like bits", 2)),
    "repeated data U < D": (b"N,D,U,loss\n1e8,2e9,1e9,3.1\n2e8,4e9,4e9,2.9\n", {},
                            Warns(DataCheckWarning, "law='data_constrained'", 2)),
    "mixed configuration column": (_settings(), {}, Warns(DataCheckWarning, "optimizer has 2 values", 12)),
    "C in PF-days": (pd.DataFrame({"N": [1e8, 2e8], "D": [2e9, 4e9], "loss": [3.1, 2.9],
                                   "C": [6 * 1e8 * 2e9 / 8.64e19, 6 * 2e8 * 4e9 / 8.64e19]}), {},
                     Warns(DataCheckWarning, "PF-days", 2)),
    "C counted as 2x 6ND": (pd.DataFrame({"N": [1e8, 2e8], "D": [2e9, 4e9], "loss": [3.1, 2.9],
                                          "C": [24 * 1e8 * 2e9, 24 * 2e8 * 4e9]}), {},
                            Warns(DataCheckWarning, "typically 4 x 6ND", 2)),
    # --- groups and curves
    "run_name column is a run id, not the group": (
        b"run_name,N,D,loss\na,1e8,2e9,3.1\nb,1e8,4e9,3.0\nc,2e8,2e9,2.9\nd,2e8,4e9,2.8\n", {},
        Rows(4, _group_checks("model size", 2))),
    "explicit group column": (pd.DataFrame({"N": [1e8, 1e8, 2e8, 2e8], "D": [2e9, 4e9, 2e9, 4e9],
                                            "loss": [3.1, 3.0, 2.9, 2.8], "seed": [1, 2, 1, 2]}),
                              {"columns": {"group": "seed"}}, Rows(4, _group_checks("given explicitly", 2))),
    "model label column is the group": (pd.DataFrame({"params": [1e8, 1e8, 2e8], "D": [2e9, 4e9, 2e9],
                                                      "loss": [3.1, 3.0, 2.9], "model": ["s", "s", "m"]}), {},
                                        Rows(3, _group_checks("model label column 'model'", 2))),
    "text model_size beside params is a label": (
        pd.DataFrame({"params": [1e8, 1e8, 2e8], "D": [2e9, 4e9, 2e9], "loss": [3.1, 3.0, 2.9],
                      "model_size": ["small", "small", "medium"]}), {},
        Rows(3, _group_checks("model label column 'model_size'", 2))),
    "checkpoint curves keep the final checkpoint": (
        _curves(), {}, Rows(4, lambda t: (t.is_curves and t.n_curves == 4 and len(t.filtered) == 12
                                          and t.n_groups == 2 and t.provenance["curves"]["checkpoints"] == "final"))),
    "checkpoint curves, all checkpoints": (_curves(), {"checkpoints": "all"},
                                           Warns(CheckpointWarning, "Choshen", 16)),
    "checkpoint curves, min fraction of run": (_curves(), {"min_fraction_of_run": 0.5},
                                               Warns(CheckpointWarning, "intermediate checkpoints", 12)),
    "one curve per size: group is the curve": (
        _curves(sizes=(1e8, 2e8, 4e8)), {}, Rows(3, lambda t: "the curve" in t.provenance["group"]["how"])),
    "step column without run id": (_curves().drop(columns="run_id").iloc[:4], {},
                                   Rows(1, lambda t: t.is_curves and t.D[0] == 4e9)),
    # --- JSON shapes
    "JSON records": (json.dumps([{"N": 1e8, "D": 2e9, "loss": 3.1}, {"N": 2e8, "D": 4e9, "loss": 2.9}]).encode(),
                     {"fmt": "json"}, Rows(2)),
    "JSON columns": (json.dumps({"N": [1e8, 2e8], "D": [2e9, 4e9], "loss": [3.1, 2.9]}).encode(), {"fmt": "json"},
                     Rows(2)),
    "JSON list of numbers": (b"[1, 2, 3]", {"fmt": "json"}, Fails("record 1", "one object per run")),
    "JSON ragged columns": (json.dumps({"N": [1e8, 2e8], "D": [2e9], "loss": [3.1, 2.9]}).encode(), {"fmt": "json"},
                            Fails("different lengths")),
    "JSON lines with a bad record": (b'{"N": 1e8, "D": 2e9, "loss": 3.1}\n{"N": 1e8, "D": \n', {"fmt": "jsonl"},
                                     Fails("line 2", "not valid JSON")),
    "DataFrame with duplicated column names": (pd.DataFrame([[1e8, 2e8, 2e9, 3.1]], columns=["N", "N", "D", "loss"]),
                                               {}, Fails("column 'N' appears twice")),
    "boolean column as a number": (pd.DataFrame({"N": [1e8, 2e8], "D": [True, False], "loss": [3.0, 2.9]}), {},
                                   Fails("column D", "boolean")),
}


@pytest.mark.parametrize("name", list(CASES))
def test_corpus(name, tmp_path):
    content, kwargs, outcome = CASES[name]
    if isinstance(content, bytes):
        source = tmp_path / "case.csv"
        source.write_bytes(content)
    else:
        source = content
    where = "case.csv" if isinstance(content, bytes) else "DataFrame"
    if isinstance(outcome, Fails):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(DataError) as info:
                load_runs(source, **kwargs)
        message = str(info.value)
        assert where in message
        for text in outcome.texts:
            assert text in message, f"{text!r} not in {message!r}"
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = load_runs(source, **kwargs)
    ours = [w for w in caught if issubclass(w.category, ScalefitWarning)]
    assert len(table) == outcome.n
    if isinstance(outcome, Warns):
        matching = [w for w in ours if issubclass(w.category, outcome.category) and outcome.text in str(w.message)]
        assert matching, f"no {outcome.category.__name__} with {outcome.text!r}; got {[str(w.message) for w in ours]}"
        if issubclass(outcome.category, DataCheckWarning):
            assert table.checks and any(outcome.text in c["message"] for c in table.checks)
    else:
        assert not ours, [str(w.message) for w in ours]
    if outcome.check is not None:
        result = outcome.check(table)
        assert result is None or bool(result) is True


def test_corpus_has_at_least_twenty_kinds():
    assert len(CASES) >= 20


def test_mixed_configurations_are_quiet_once_one_is_selected():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataCheckWarning)
        table = load_runs(_settings(), query="optimizer == 'adam'")
    assert len(table) == 6 and table.checks == []


def test_hint_style_cli_speaks_options():
    with pytest.raises(DataError, match=re.escape("--columns loss=...")):
        load_runs(pd.DataFrame({"N": [1e8], "D": [2e9], "acc": [0.3]}), hint_style="cli")
    with pytest.warns(DataCheckWarning, match=re.escape("--law data_constrained")):
        load_runs(pd.DataFrame({"N": [1e8, 2e8], "D": [2e9, 4e9], "U": [1e9, 1e9], "loss": [3.1, 2.9]}),
                  hint_style="cli")


def test_final_and_min_fraction_conflict():
    with pytest.raises(DataError, match="give one of them"):
        load_runs(_curves(), checkpoints="final", min_fraction_of_run=0.5)


def test_repr_is_a_short_summary():
    table = load_runs(_curves(steps=50))
    text = repr(table)
    assert text.startswith("RunTable(4 runs, 2 groups, 4 curves") and "\n" not in text and len(text) < 200
