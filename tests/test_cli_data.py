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
    assert "kind: IsoFLOP" in result.stdout and "fit approach=2" in result.stdout
    assert "recipe: load --filter \"used_in_default_fit\"; fit law=data_constrained" in result.stdout


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


def test_encoding_sep_and_group_options(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("model;N;D;loss;note\nA;1e8;2e9;3.1;café\nA;1e8;4e9;3.0;x\nB;2e8;2e9;2.9;y\n".encode("cp1252"))
    detected = run_cli("runs", path, "--sep", ";")
    assert detected.returncode == 0, detected.stderr
    assert "read the file as cp1252" in detected.stderr and "Traceback" not in detected.stderr
    given = run_cli("runs", path, "--sep", ";", "--encoding", "cp1252", "--group", "note")
    assert given.returncode == 0, given.stderr
    assert "cp1252" not in given.stderr
    assert given.stdout.startswith("3 runs in 3 groups") and "column 'note', given explicitly" in given.stdout
    default = run_cli("runs", path, "--sep", ";", "--encoding", "cp1252")
    assert default.stdout.startswith("3 runs in 2 groups") and "model label column 'model'" in default.stdout
    wrong = run_cli("runs", path, "--sep", ";", "--encoding", "ascii")
    assert wrong.returncode == 2 and "line 2" in wrong.stderr and "--encoding" in wrong.stderr


def test_cli_messages_speak_cli(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text("N;D;loss\n1e8;2e9;3.1\n")
    semicolon = run_cli("runs", path)
    assert semicolon.returncode == 0 and semicolon.stdout.startswith("1 runs"), semicolon.stderr
    assert "scalefit: warning:" in semicolon.stderr and "semicolon-separated (';')" in semicolon.stderr
    assert "--sep '...'" in semicolon.stderr and "sep='...'" not in semicolon.stderr.replace("--sep '...'", "")
    given = run_cli("runs", path, "--sep", ";")
    assert given.returncode == 0 and "separated" not in given.stderr, given.stderr
    path.write_text("N;D|loss\n1e8;2e9|3.1\n")
    ambiguous = run_cli("runs", path)
    assert ambiguous.returncode == 2 and "--sep ';'" in ambiguous.stderr and "sep=';'" not in ambiguous.stderr
    path.write_text("N,D,accuracy\n1e8,2e9,0.3\n")
    missing = run_cli("runs", path)
    assert missing.returncode == 2 and "--columns loss=..." in missing.stderr and "columns={" not in missing.stderr
    path.write_text("N,N,D,loss\n1e8,1e8,2e9,3.1\n")
    duplicate = run_cli("runs", path)
    assert duplicate.returncode == 2 and "runs.csv: line 1: column 'N' appears twice" in duplicate.stderr


def test_registry_recipe_is_applied_with_a_note(mirror):
    result = run_cli("runs", "porian2024_isoflop", env={"SCALEFIT_DATA_MIRROR": str(mirror)})
    assert result.returncode == 0, result.stderr
    assert "note: porian2024_isoflop: applying the registry's recommended load recipe" in result.stderr
    assert result.stdout.startswith("121 runs") and "mixed configurations" not in result.stderr
    own = run_cli("runs", "porian2024_isoflop", "--filter", "dataset == 'rw'",
                  env={"SCALEFIT_DATA_MIRROR": str(mirror)})
    assert own.returncode == 0 and "your filters replace" in own.stderr
    assert "filter with e.g. --filter" in own.stderr and "param_count has 3 values" in own.stderr


def test_every_load_option_has_help():
    result = run_cli("runs", "--help")
    for option in ("--sep", "--encoding", "--group", "--n-convention", "--min-fraction-of-run", "--checkpoints"):
        assert option in result.stdout
    from scalefit.cli.main import build_parser

    runs = build_parser()._subparsers._group_actions[0].choices["runs"]
    assert all(action.help for action in runs._actions if action.dest != "help")


def test_checkpoint_options(tmp_path):
    path = tmp_path / "curves.csv"
    rows = ["run_id,N,step,D,loss"]
    for run, n in enumerate((1e8, 1e8, 4e8, 4e8)):
        rows += [f"r{run},{n},{1000 * s},{1e9 * s * (run + 1)},{4.0 - 0.3 * s - 0.05 * run}" for s in range(1, 5)]
    path.write_text("\n".join(rows) + "\n")
    final = run_cli("runs", path)
    assert final.returncode == 0, final.stderr
    assert final.stdout.startswith("4 runs in 2 groups") and "checkpoints: final" in final.stdout
    every = run_cli("runs", path, "--checkpoints", "all")
    assert every.stdout.startswith("16 runs") and "intermediate checkpoints" in every.stderr
    later = run_cli("runs", path, "--min-fraction-of-run", "0.5")
    assert later.stdout.startswith("12 runs") and "Choshen" in later.stderr
    both = run_cli("runs", path, "--checkpoints", "final", "--min-fraction-of-run", "0.5")
    assert both.returncode == 2 and "--min-fraction-of-run keeps more" in both.stderr
