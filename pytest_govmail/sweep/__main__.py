"""``python -m pytest_govmail.sweep``: the same as the ``govmail-sweep`` command."""

import sys

from pytest_govmail.sweep.cli import main

sys.exit(main())
