"""Entry point of the `vt-tui` console script.

With a subcommand it runs the headless command line of `vt_core.cli` and never
imports Textual; without one it opens the app.
"""

from __future__ import annotations

import sys


def main() -> int:
    argv = sys.argv[1:]
    if argv:
        from vt_core.cli import main as cli_main

        return cli_main(argv)

    from vt_tui.app import run_app

    return run_app()


if __name__ == "__main__":
    sys.exit(main())
