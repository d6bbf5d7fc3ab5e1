"""Headless command line: `vt-tui SUBCOMMAND ...` for scripts and CI.

Each subcommand lives in its own module with `add_parser(subparsers)` and a
`run(args) -> int` handler registered through `set_defaults(handler=...)`.
Results and tables go to standard output; progress and diagnostics go to
standard error so that output can be piped.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys
from collections.abc import Sequence

from vt_core import __version__
from vt_core.store import DatabaseLockedError
from vt_core.store.schema import SchemaError

SUBCOMMAND_MODULES = ("run", "db", "hardware", "viz", "stats", "setup")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vt-tui",
        description="Measure vision-text models on CPU, CUDA, ROCm, MPS, OpenVINO, WebGPU and WebNN. "
        "Without a subcommand, open the terminal app.",
        epilog="The app: vt-tui [--db PATH] [--model-dir DIR ...] [--theme NAME]. "
        "Run `vt-tui COMMAND --help` for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"vt-tui {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages to standard error")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        # NOTE: a subcommand whose module is not in this build is left out of the parser.
        if importlib.util.find_spec(f"vt_core.cli.{name}") is None:
            continue
        module = importlib.import_module(f"vt_core.cli.{name}")
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand and return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except UsageError as error:
        print(f"vt-tui: error: {error}", file=sys.stderr)
        return 2
    except DatabaseLockedError as error:
        print(f"vt-tui: error: {error}", file=sys.stderr)
        return 1
    except SchemaError as error:
        print(f"vt-tui: error: {error}", file=sys.stderr)
        return 2


class UsageError(Exception):
    """Invalid command-line input; the message says which value and what to do."""

