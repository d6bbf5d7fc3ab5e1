"""Entry point of the `vt-tui` console script.

With a subcommand it runs the headless command line of `vt_core.cli` and never
imports Textual; without one, or with only the app's options (--db, --model-dir,
--theme), it opens the app.
"""

from __future__ import annotations

import sys


def main() -> int:
    argv = sys.argv[1:]
    app_options = ("--db", "--model-dir", "--theme")
    if argv and argv[0].split("=", 1)[0] not in app_options:
        from vt_core.cli import main as cli_main

        return cli_main(argv)

    from vt_tui.app import run_app

    return run_app(argv)


if __name__ == "__main__":
    sys.exit(main())
