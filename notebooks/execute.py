"""Execute the notebooks in place so their outputs are saved (the docs render them without re-running).

    SCALEFIT_DATA_MIRROR=/path/to/datasets python notebooks/execute.py [notebook.ipynb ...]

Needs nbclient and ipykernel (the ``docs`` extra). Prints each notebook's run time. Cells run in the
notebook's folder; figures are stored as PNG outputs.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def scrub(text: str) -> str:
    """Machine paths out of stored outputs: the repository, the dataset mirror and temporary folders."""
    mirror = os.environ.get("SCALEFIT_DATA_MIRROR")
    if mirror:
        text = text.replace(str(Path(mirror).resolve()), "$SCALEFIT_DATA_MIRROR").replace(mirror.rstrip("/"),
                                                                                           "$SCALEFIT_DATA_MIRROR")
    text = text.replace(str(REPO) + "/", "")
    text = re.sub(r"/tmp/ipykernel_\d+/\d+\.py", "<cell>", text)  # warnings raised in a cell name it by pid
    return re.sub(r"/tmp/tmp[A-Za-z0-9_]+", "<tmpdir>", text)


def _scrub_outputs(notebook) -> None:
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = scrub(output["text"])
            for kind, value in output.get("data", {}).items():
                if kind.startswith("text/") and isinstance(value, str):
                    output["data"][kind] = scrub(value)


def execute(path: Path, timeout: int = 600) -> float:
    """Run every cell of ``path`` top to bottom and write the outputs back; returns seconds taken."""
    notebook = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - started
    for cell in notebook.cells:  # stable files: no per-run timing metadata
        cell.get("metadata", {}).pop("execution", None)
    _scrub_outputs(notebook)
    nbformat.write(notebook, path)
    return seconds


if __name__ == "__main__":
    paths = [Path(p) for p in sys.argv[1:]] or sorted(HERE.glob("*.ipynb"))
    for path in paths:
        print(f"{path.name}: {execute(path):.1f} s", flush=True)
