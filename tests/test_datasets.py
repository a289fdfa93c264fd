"""The dataset registry: every usable mirror file loads with its documented row count; checksums and the
cache never let a wrong or half-written file through."""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from scalefit import DatasetError, datasets, load_runs
from scalefit.core.errors import DataCheckWarning, ScalefitWarning

DOCUMENTED_ROWS = {  # from each SOURCE.md
    ("chinchilla_epoch", "svg_extracted_data.csv"): 245,
    ("chinchilla_epoch", "chinchilla_epoch.csv"): 245,
    ("colpret_datablations", None): 9261,
    ("colpret_opt", None): 142,
    ("datablations_c4", None): 296,
    ("porian2024_isoflop", None): 1745,
}


@pytest.mark.parametrize(("name", "file"), list(DOCUMENTED_ROWS))
def test_usable_mirror_files_load_with_documented_rows(mirror, name, file):
    # curves (colpret_*) keep every checkpoint only when asked; the default keeps the final one per curve
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScalefitWarning)
        table = datasets.load(name, file, mirror=mirror, checkpoints="all")
    assert len(table) == DOCUMENTED_ROWS[(name, file)] == table.provenance["rows_read"]
    assert (table.loss > 0).all() and (table.N > 0).all() and (table.D > 0).all()


def test_chinchilla_default_fit_subset(mirror):
    table = datasets.load("chinchilla_epoch", mirror=mirror, **datasets.info("chinchilla_epoch").recommended)
    assert len(table) == 240
    tidy = pd.read_csv(mirror / "chinchilla_epoch" / "chinchilla_epoch.csv")
    np.testing.assert_allclose(sorted(table.filtered["loss"]),
                               sorted(tidy.loc[tidy.epoch_excluded_outlier, "loss"]), rtol=1e-9)
    kept = tidy.loc[~tidy.epoch_excluded_outlier]
    np.testing.assert_allclose(np.sort(table.D), np.sort(kept["D"]), rtol=1e-9)


def test_documented_subsets(mirror):
    assert len(datasets.load("datablations_c4", mirror=mirror, query="used_in_default_fit")) == 182
    colpret = datasets.load("colpret_datablations", mirror=mirror)
    # 48 training curves of 3 model sizes: the final checkpoint of each, clustered by model size
    assert colpret.is_curves and len(colpret) == colpret.n_curves == 48 and colpret.n_groups == 3
    assert len(colpret.filtered) == 9261 - 48 and colpret.provenance["curves"]["checkpoints"] == "final"
    assert "flops_broken_upstream" in colpret.df and colpret.provenance["derived"]["C"] == "6 N D"
    opt = datasets.load("colpret_opt", mirror=mirror, checkpoints="all")
    assert opt.n_groups == 6 and opt.N.max() == 175e9
    np.testing.assert_allclose(opt.C, 6 * opt.N * opt.D, rtol=1e-9)  # SOURCE.md: 10^flops = 6 N 10^num_token


def test_mirror_checksum_mismatch_is_refused(tmp_path):
    folder = tmp_path / "chinchilla_epoch"
    folder.mkdir()
    (folder / "svg_extracted_data.csv").write_text("x\n1\n")
    with pytest.raises(DatasetError, match=r"sha256 .* does not match"):
        datasets.fetch("chinchilla_epoch", mirror=tmp_path)


def test_mirror_only_file_without_mirror_says_what_to_do(tmp_path):
    with pytest.raises(DatasetError, match=r"ipynb.*SCALEFIT_DATA_MIRROR.*datablations_c4_runs.csv"):
        datasets.fetch("datablations_c4", mirror=tmp_path / "nowhere", cache_dir=tmp_path)


def _local_entry(monkeypatch, tmp_path, content: bytes, sha: str):
    """Register a copy of chinchilla_epoch whose URL is a local file:// path (no network in tests)."""
    source = tmp_path / "upstream.csv"
    source.write_bytes(content)
    base = datasets.info("chinchilla_epoch")
    entry = replace(base.table, url=source.as_uri(), sha256=sha)
    monkeypatch.setitem(datasets.REGISTRY, "chinchilla_epoch", replace(base, files=(entry,)))


def test_download_goes_to_cache_once_checksum_matches(monkeypatch, tmp_path, mirror):
    content = (mirror / "chinchilla_epoch" / "svg_extracted_data.csv").read_bytes()
    _local_entry(monkeypatch, tmp_path, content, hashlib.sha256(content).hexdigest())
    cache = tmp_path / "cache"
    path = datasets.fetch("chinchilla_epoch", mirror="", cache_dir=cache)
    assert path == cache / "chinchilla_epoch" / "svg_extracted_data.csv" and path.read_bytes() == content
    (tmp_path / "upstream.csv").unlink()  # a second fetch is served from the cache
    assert datasets.fetch("chinchilla_epoch", mirror="", cache_dir=cache) == path


def test_bad_download_leaves_no_cache_file(monkeypatch, tmp_path):
    _local_entry(monkeypatch, tmp_path, b"N,D,loss\n1,2,3\n", "0" * 64)
    cache = tmp_path / "cache"
    with pytest.raises(DatasetError, match="does not match the registry's 0000"):
        datasets.fetch("chinchilla_epoch", mirror="", cache_dir=cache)
    assert list(cache.rglob("*")) == [cache / "chinchilla_epoch"]  # no file, not even a temporary one


def test_corrupt_cache_entry_is_replaced(monkeypatch, tmp_path):
    content = b"N,D,loss\n1,2,3\n"
    _local_entry(monkeypatch, tmp_path, content, hashlib.sha256(content).hexdigest())
    cached = tmp_path / "cache" / "chinchilla_epoch" / "svg_extracted_data.csv"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"truncated")
    assert datasets.fetch("chinchilla_epoch", mirror="", cache_dir=tmp_path / "cache").read_bytes() == content


def test_no_network_no_mirror_is_a_clear_error(monkeypatch, tmp_path):
    base = datasets.info("chinchilla_epoch")
    entry = replace(base.table, url="http://127.0.0.1:9/nothing-listens-here.csv")
    monkeypatch.setitem(datasets.REGISTRY, "chinchilla_epoch", replace(base, files=(entry,)))
    with pytest.raises(DatasetError, match=r"could not download .* point SCALEFIT_DATA_MIRROR"):
        datasets.fetch("chinchilla_epoch", mirror="", cache_dir=tmp_path)
    assert not list(tmp_path.rglob("*.csv"))


def test_unknown_dataset():
    with pytest.raises(DatasetError, match="unknown dataset 'nope'; known: example_chinchilla"):
        datasets.info("nope")


def assert_close_tree(got, expected, where="truth"):
    """Nested dicts/lists equal, floats within 1e-12 relative (they are generated, not typed in)."""
    if isinstance(expected, dict):
        assert isinstance(got, dict) and got.keys() == expected.keys(), where
        for key in expected:
            assert_close_tree(got[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, (list, tuple)):
        assert isinstance(got, (list, tuple)) and len(got) == len(expected), where
        for i, (a, b) in enumerate(zip(got, expected, strict=True)):
            assert_close_tree(a, b, f"{where}[{i}]")
    elif isinstance(expected, float):
        assert got == pytest.approx(expected, rel=1e-12, abs=0.0), where
    else:
        assert got == expected, where


def test_bundled_example_is_what_the_script_generates():
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "datasets" / "make_examples.py"
    spec = importlib.util.spec_from_file_location("make_examples", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    frame, truth = module.make_example()
    bundled = datasets.load("example_chinchilla")
    assert len(bundled) == len(frame) == truth["rows"] == datasets.info("example_chinchilla").table.rows
    # floats generated here differ from the bundled ones in the last bits on other numpy builds and CPUs
    # (np.geomspace, exp, log): compare within a tolerance, never bit for bit across machines
    np.testing.assert_allclose(bundled.N, frame["N"], rtol=1e-12)
    np.testing.assert_allclose(bundled.D, frame["D"], rtol=1e-12)
    np.testing.assert_allclose(bundled.loss, frame["loss"], rtol=1e-12)
    assert_close_tree(datasets.example_truth(), truth)
    assert bundled.n_groups == frame["group"].nunique() > 8
    assert load_runs(datasets.fetch("example_chinchilla")).provenance["columns"]["group"] == "group"


def test_every_entry_has_a_kind_and_a_recipe_split_into_load_and_fit():
    for name in datasets.names():
        entry = datasets.info(name)
        assert entry.kind and set(entry.kind) <= set(datasets.KINDS)
        assert set(entry.recipe.to_dict()) == {"load", "fit", "why"}
    assert datasets.info("porian2024_isoflop").kind == ("IsoFLOP",)
    assert datasets.info("porian2024_isoflop").recipe.fit == {"approach": 2, "window": 5}
    assert datasets.info("datablations_c4").recipe.fit == {"law": "data_constrained"}
    assert datasets.info("chinchilla_epoch").recommended == {"drop_highest_loss": 5}


def test_porian_recipe_selects_one_configuration_and_mixed_data_warns(mirror):
    with pytest.warns(DataCheckWarning, match=r"param_count has 3 values.*filter with"):
        mixed = datasets.load("porian2024_isoflop", mirror=mirror)
    assert any(check["check"] == "mixed_settings" for check in mixed.checks)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataCheckWarning)
        final = datasets.load("porian2024_isoflop", mirror=mirror, **datasets.info("porian2024_isoflop").recommended)
    assert len(final) == 121 and final.checks == []  # SOURCE.md: rw/tuned/short/const/standard/val 121 rows
    assert set(final.df["decay"]) == {"const"} and set(final.df["param_count"]) == {"standard"}


def test_multi_epoch_data_warns_about_repeated_tokens(mirror):
    with pytest.warns(DataCheckWarning, match="data-constrained law"):
        table = datasets.load("datablations_c4", mirror=mirror, query="used_in_default_fit")
    assert [c["check"] for c in table.checks] == ["repeated_data"]
