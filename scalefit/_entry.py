"""Entry point of the ``scalefit`` console script: takes over Ctrl-C before anything heavy is imported.

The ``signal.signal`` call below, run before any heavy import, replaces Python's default SIGINT
handler (which would raise KeyboardInterrupt and print a traceback from whatever import is running)
with one that prints the one line and exits 130.
Nothing has been written at that point, so exiting at once is right. :func:`scalefit.cli.main` then
switches to raising KeyboardInterrupt, which it turns into the same line after cleaning up.

What no Python code can handle is the window before this module runs at all: process start (a Ctrl-C
there ends the process by the signal itself, status -2, which a shell shows as 130) and the interpreter's
own start-up, where the ``site`` import runs before any of our code (a Ctrl-C there makes Python print
"Fatal Python error: init_import_site" and exit 1). Both come before anything was written. The window is
tens of milliseconds on an idle machine; tests/test_cli_report.py interrupts from just after it.
"""

import os
import signal
import sys

INTERRUPTED_LINE = "scalefit: interrupted; nothing was written"


def _interrupted(signum: int, frame: object) -> None:
    os.write(2, (INTERRUPTED_LINE + "\n").encode())
    os._exit(130)


if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not when started with Ctrl-C ignored (nohup, &)
    signal.signal(signal.SIGINT, _interrupted)  # before any other import of scalefit; keep it here


def main() -> int:
    """Import the command line under the early handler, then run it."""
    from .cli.main import main as cli_main

    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
