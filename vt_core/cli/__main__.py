"""Run the headless command line as `python -m vt_core.cli`."""

import sys

from vt_core.cli import main

sys.exit(main())
