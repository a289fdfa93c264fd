"""End-to-end: the installed console script on the data commands (datasets, runs)."""

from __future__ import annotations

from cli_helpers import run_cli


def test_datasets_list_names_every_dataset_with_citation():
    result = run_cli("datasets", "list")
    assert result.returncode == 0, result.stderr
    for name in ("example_chinchilla", "chinchilla_epoch", "colpret_datablations", "colpret_opt",
                 "datablations_c4", "porian2024_isoflop"):
        assert name in result.stdout
    assert "arXiv:2404.10102" in result.stdout and "licence:" in result.stdout


def test_runs_summary_of_bundled_example():
    result = run_cli("runs", "example_chinchilla")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("153 runs in 36 groups")


def test_fetch_from_mirror_prints_paths(mirror, tmp_path):
    result = run_cli("datasets", "fetch", "chinchilla_epoch", "--mirror", mirror, "--cache-dir", tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"{mirror}/chinchilla_epoch/svg_extracted_data.csv" in result.stdout


def test_bad_data_is_one_line_exit_2(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("N,D,loss\n70M,1.4X,2.0\n")
    result = run_cli("runs", path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "bad.csv" in result.stderr and "line 2" in result.stderr and "'1.4X'" in result.stderr


def test_missing_file_and_unknown_column(tmp_path):
    missing = run_cli("runs", tmp_path / "nope.csv")
    assert missing.returncode == 2 and "nope.csv: no such file" in missing.stderr
    path = tmp_path / "ok.csv"
    path.write_text("N,D,loss\n70M,1.4T,2.0\n")
    unknown = run_cli("runs", path, "--columns", "N=params")
    assert unknown.returncode == 2 and "['params'] are not in the table" in unknown.stderr


def test_usage_error_exit_2():
    result = run_cli("frobnicate")
    assert result.returncode == 2 and "invalid choice" in result.stderr
