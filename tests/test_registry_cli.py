"""Every registered dataset through `scalefit fit NAME --bootstrap 100`: a report whose first section states
the problems found, or one error line; never a traceback. Slow (minutes per dataset on a busy machine)."""

from __future__ import annotations

import pytest
from cli_helpers import run_cli

from scalefit import datasets


@pytest.mark.slow
@pytest.mark.parametrize("name", datasets.names())
def test_every_registered_dataset_fits_or_says_why(name, mirror, tmp_path):
    out = tmp_path / name
    done = run_cli("fit", name, "--mirror", mirror, "--bootstrap", "100", "--out", out, "--quiet", timeout=3600)
    assert "Traceback" not in done.stderr
    if done.returncode == 2:
        lines = done.stderr.strip().splitlines()
        assert lines[-1].startswith("scalefit: error: ")
        return
    assert done.returncode == 0, done.stderr
    md = (out / "report.md").read_text()
    if not (out / "fit.json").exists():  # the registry's recipe ran Approach 2 or the staged fit instead
        written = {p.name for p in out.iterdir()}
        assert written & {"approach2.json", "data_constrained_staged.json"}, written
        assert "applying the registry's recommended fit" in done.stderr
        assert md.split("\n## ")[1].startswith("Problems found")
        return
    assert md.split("\n## ")[2].startswith("Problems found")  # right after the summary
