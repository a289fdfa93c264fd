"""Entry point of the ``scalefit`` console script: takes over Ctrl-C before anything heavy is imported.

The ``signal.signal`` call below, run before any heavy import, replaces Python's default SIGINT
handler (which would raise KeyboardInterrupt and print a traceback from whatever import is running)
with one that prints the one line and exits 130.
Nothing has been written at that point, so exiting at once is right. :func:`scalefit.cli.main` then
switches to raising KeyboardInterrupt, which it turns into the same line after cleaning up.

What remains unhandled is the kernel's window before this module runs at all (process start, the
interpreter's own start-up and the console script's two imports, tens of milliseconds): a Ctrl-C there
ends the process by the signal itself (status -2, shown by a shell as 130), before anything was written.
"""

import os
import signal
import sys

INTERRUPTED_LINE = "scalefit: interrupted; nothing was written"


def _interrupted(signum: int, frame: object) -> None:
    os.write(2, (INTERRUPTED_LINE + "\n").encode())
    os._exit(130)


signal.signal(signal.SIGINT, _interrupted)  # before any other import of scalefit; keep it here


def main() -> int:
    """Import the command line under the early handler, then run it."""
    from .cli import main as cli_main

    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
