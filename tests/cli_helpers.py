"""Run the installed ``scalefit`` console script the way a user would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def scalefit_command() -> list[str]:
    """The console script installed beside this Python, else ``python -m scalefit``."""
    script = Path(sys.executable).with_name("scalefit")
    if script.exists():
        return [str(script)]
    found = shutil.which("scalefit")
    return [found] if found else [sys.executable, "-m", "scalefit"]


def run_cli(*args: str, env: dict | None = None, cwd=None, timeout: float = 300) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([*scalefit_command(), *map(str, args)], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=timeout, check=False)
