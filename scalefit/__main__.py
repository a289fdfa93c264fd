"""``python -m scalefit``: the same as the ``scalefit`` command."""

import sys

from ._entry import main

sys.exit(main())
