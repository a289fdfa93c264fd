#!/usr/bin/env bash
# Build the documentation site into site/ with warnings as errors (the CI command).
#   pip install -e ".[docs]" && docs/build.sh
# Notebooks are rendered from their stored outputs (not re-executed); tests/test_notebooks.py executes them,
# and notebooks/execute.py refreshes the stored outputs after an edit.
set -euo pipefail
cd "$(dirname "$0")/.."
export NO_MKDOCS_2_WARNING=1
exec python -m mkdocs build --strict --clean "$@"
