"""The ``scalefit`` command: a thin shell over the Python API.

Exit codes: 0 success, 2 bad usage or bad data (one-line message, no traceback), 130 interrupted.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import warnings
from collections.abc import Sequence

from ..core.errors import ScalefitError
from .common import _COLLECTED, one_line
from .compare import cmd_compare
from .data import cmd_datasets, cmd_runs
from .fit import cmd_approaches, cmd_fit
from .parser import build_parser
from .results import cmd_optimal, cmd_plan, cmd_predict, cmd_report

__all__ = ["build_parser", "main", "one_line"]


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    text = one_line(str(message))
    if category is not FutureWarning:
        _COLLECTED.append(text)
    print(f"scalefit: warning: {text}", file=sys.stderr if file is None else file)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (0 ok, 1 internal error, 2 usage/data error, 130 Ctrl-C)."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) not in (
            signal.SIG_IGN, None):
        # the console script's early handler exits at once; from here on, Ctrl-C unwinds (and cleans up)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            _COLLECTED.clear()
            parser = build_parser()
            args = parser.parse_args(argv)
            handler = {"datasets": cmd_datasets, "runs": cmd_runs, "fit": cmd_fit, "compare": cmd_compare,
                       "approaches": cmd_approaches, "report": cmd_report,
                       "predict": cmd_predict, "optimal": cmd_optimal, "plan": cmd_plan}[args.command]
            return handler(args)
    except ScalefitError as exc:
        print(f"scalefit: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("scalefit: interrupted; nothing was written", file=sys.stderr)
        return 130
    except Exception as exc:  # last resort: one line, never a traceback unless asked for
        if os.environ.get("SCALEFIT_DEBUG"):
            raise
        print(f"scalefit: error: internal error: {type(exc).__name__}: {one_line(str(exc))} (please report "
              "it; rerun with SCALEFIT_DEBUG=1 to see the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
