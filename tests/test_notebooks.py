"""Every notebook in notebooks/ runs top to bottom in a fresh kernel, and is committed with its outputs.

Execution uses nbclient (a real Jupyter kernel, as the docs and a reader see it) when nbclient and ipykernel
are installed (the ``docs`` extra), else concatenates the code cells into a script run in a fresh Python
process. Notebooks whose metadata says ``"scalefit": {"needs_mirror": true}`` read a public dataset: they
run only when the dataset mirror is present (tests never touch the network).

Re-execute in place after editing a notebook: ``python notebooks/execute.py``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import mirror_path

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
HAVE_NBCLIENT = all(importlib.util.find_spec(m) is not None for m in ("nbclient", "nbformat", "ipykernel"))


def _environment(tmp_path: Path) -> dict[str, str]:
    env = {"MPLBACKEND": "Agg", "PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
           "SCALEFIT_CACHE_DIR": str(tmp_path / "cache"), "PYTHONHASHSEED": "0",
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    mirror = mirror_path()
    if mirror is not None:
        env["SCALEFIT_DATA_MIRROR"] = str(mirror)
    return env


def _run_with_nbclient(path: Path, tmp_path: Path, env: dict[str, str]) -> None:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.read(path, as_version=4)
    saved = dict(os.environ)
    os.environ.update(env)  # the kernel inherits the test's environment
    try:
        NotebookClient(notebook, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    except CellExecutionError as exc:
        pytest.fail(f"{path.name}: {str(exc)[-3000:]}")
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _run_as_script(path: Path, tmp_path: Path, env: dict[str, str]) -> None:
    cells = json.loads(path.read_text())["cells"]
    code = "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    script = tmp_path / "notebook.py"
    script.write_text(code)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-3000:]


def _needs_mirror(notebook: dict) -> bool:
    return bool(notebook.get("metadata", {}).get("scalefit", {}).get("needs_mirror"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, tmp_path):
    notebook = json.loads(path.read_text())
    if _needs_mirror(notebook) and mirror_path() is None:
        pytest.skip(f"{path.name} reads a public dataset: set SCALEFIT_DATA_MIRROR to run it")
    env = _environment(tmp_path)
    if HAVE_NBCLIENT:
        _run_with_nbclient(path, tmp_path, env)
    else:
        _run_as_script(path, tmp_path, env)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_committed_executed_with_outputs_and_prose(path):
    """The docs render the stored outputs: every code cell ran, in order, without an error."""
    cells = json.loads(path.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    counts = [c.get("execution_count") for c in code]
    assert all(isinstance(n, int) for n in counts), f"{path.name}: re-run python notebooks/execute.py"
    assert counts == sorted(counts), f"{path.name}: cells were executed out of order"
    assert any(c.get("outputs") for c in code), path.name
    for cell in code:
        for output in cell.get("outputs", []):
            assert output.get("output_type") != "error", (path.name, output.get("ename"), output.get("evalue"))
    prose = sum(len("".join(c["source"])) for c in cells if c["cell_type"] == "markdown")
    assert prose > 800, f"{path.name}: a notebook interprets its results in prose"


def test_every_notebook_is_in_the_docs_navigation():
    """A notebook left out of mkdocs.yml's nav is built but unreachable from the site's menu."""
    config = (Path(__file__).resolve().parent.parent / "mkdocs.yml").read_text()
    missing = [p.name for p in NOTEBOOKS if f"notebooks/{p.name}" not in config]
    assert not missing, f"add to the Notebooks section of mkdocs.yml: {missing}"
