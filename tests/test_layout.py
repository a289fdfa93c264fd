"""The house: stage folders in the order data flows, imports only downward, no circle, no file over 400 lines.

Read from the source with :mod:`ast` (nothing is imported). A stage may import its own stage and any lower one.
An import inside a function body counts too: the only upward imports allowed are the one-line conveniences
listed in ``CONVENIENCES`` (a result object reaching the next stage, e.g. ``Fit.bootstrap``), and even those may
not close a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "scalefit"
MAX_LINES = 400

#: stage -> rank; scalefit/<stage>/ or scalefit/<stage>.py. The package root (public names, entry point) is on top.
STAGES = {
    "core": 0,           # errors, C = 6ND accounting, formatting, the parallel dispatch
    "data": 1,           # files -> RunTable, dataset registry
    "laws": 2,           # functional forms, compute-optimal allocation
    "solver": 3,         # objectives, variable projection, Levenberg-Marquardt, identifiability maths
    "fitting": 4,        # FitSpec, engines, fit() -> Fit, identifiability, goodness of fit
    "uncertainty": 5,    # resampling, bootstrap -> Bootstrap, interval methods, noise model
    "extrapolation": 6,  # backtest -> Calibration, prediction intervals, held-out view
    "simulation": 7,     # coverage studies on data drawn from a known law
    "approaches": 8,     # Approaches 1 and 2, the staged data-constrained fit, comparisons
    "plots": 9,          # figures
    "report": 10,        # fit.json record, text, Markdown, HTML
    "cli": 11,           # the command line
    "__init__": 12, "__main__": 12, "_entry": 12,
}

#: (importing module, imported module): a lazy, one-line convenience on a result object reaching a higher stage
CONVENIENCES = {
    ("scalefit.fitting.result", "scalefit.uncertainty.bootstrap"),       # Fit.bootstrap()
    ("scalefit.fitting.result", "scalefit.uncertainty.influence"),       # Fit.influence()
    ("scalefit.uncertainty.influence", "scalefit.plots.influence"),      # Influence.figure()
    ("scalefit.extrapolation.backtest_result", "scalefit.plots.backtest"),  # Backtest.figure()
    ("scalefit.approaches.compare_laws", "scalefit.plots.comparison"),   # Comparison.figure()
}


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> list[tuple[str, bool, int]]:
    """(imported module, at module level?, line) for every import of a scalefit module in ``path``."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    top_level = {id(node) for node in tree.body}
    for node in tree.body:  # `if TYPE_CHECKING:` blocks and try/except at the top count as module level
        if isinstance(node, (ast.If, ast.Try)):
            top_level |= {id(n) for n in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            candidates = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in known] or [target]
        elif isinstance(node, ast.Import):
            candidates = [a.name for a in node.names]
        else:
            continue
        for target in candidates:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if (target and target != name and target != "scalefit") or (target == "scalefit" and name != "scalefit"
                                                                       and target in known and False):
                found.append((target, id(node) in top_level, node.lineno))
    return found


def stage(name: str) -> int:
    parts = name.split(".")
    return STAGES[parts[1]] if len(parts) > 1 else STAGES["__init__"]


MODULES = modules()
GRAPH = {name: imports(name, path, set(MODULES)) for name, path in MODULES.items()}


def test_every_module_sits_in_a_named_stage():
    unplaced = [name for name in MODULES if len(name.split(".")) > 1 and name.split(".")[1] not in STAGES]
    assert not unplaced, f"modules outside the stage folders: {unplaced}"


def test_no_file_is_over_400_lines():
    long = {str(p.relative_to(PACKAGE.parent)): n for p in MODULES.values()
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"files over {MAX_LINES} lines: {long}"


def test_imports_only_run_downward():
    upward = [f"{name}:{line} -> {target}" for name, edges in GRAPH.items() for target, at_top, line in edges
              if stage(target) > stage(name) and (at_top or (name, target) not in CONVENIENCES)
              and not name == "scalefit"]
    assert not upward, "imports from a lower stage to a higher one:\n" + "\n".join(upward)


def test_the_package_root_is_imported_by_no_module():
    back = [f"{name}:{line}" for name, edges in GRAPH.items() for target, _, line in edges if target == "scalefit"]
    assert not back, f"modules importing the package root: {back}"


def test_no_import_circle():
    graph = {name: {t for t, _, _ in edges} for name, edges in GRAPH.items()}
    state: dict[str, int] = {}
    circles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                circles.append([*path[path.index(nxt):], nxt] if nxt in path else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not circles, "import circles:\n" + "\n".join(" -> ".join(c) for c in circles)


@pytest.mark.parametrize("pair", sorted(CONVENIENCES))
def test_each_allowed_upward_import_is_still_a_one_line_convenience(pair):
    """An allowed upward import sits in a function whose body, docstring aside, is the import and one return."""
    name, target = pair
    tree = ast.parse(MODULES[name].read_text())
    hosts = []
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = [s for s in fn.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
            for node in body:
                if isinstance(node, ast.ImportFrom) and target.endswith(str(node.module).lstrip(".")):
                    hosts.append((fn.name, len(body)))
    assert hosts, f"{name} no longer imports {target}: drop it from CONVENIENCES"
    assert all(size <= 3 for _, size in hosts), f"{name} -> {target} is more than a one-line convenience: {hosts}"
