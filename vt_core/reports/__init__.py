"""Reports of the results database: the compatibility matrix and the performance report.

Each report is built once from DuckDB (`build_matrix`, `build_performance`) and
written as Markdown, JSON and CSV under a new unique name. `export_all` writes
the full set the app's export key hands out: both reports, every figure as HTML
and PNG, and the dashboard.

The CLI entry points `cli_generate_matrix` and `cli_performance_report` serve
`vt-tui db --generate-matrix` and `vt-tui db --performance-report`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vt_core.reports.common import EmptyDatabaseError, ReportError, json_string, prepare_output_dir
from vt_core.reports.matrix import MatrixReport, build_matrix, write_matrix
from vt_core.reports.matrix import render_markdown as render_matrix_markdown
from vt_core.reports.performance import PerformanceReport, build_performance, write_performance
from vt_core.reports.performance import render_markdown as render_performance_markdown

__all__ = [
    "EmptyDatabaseError", "MatrixReport", "PerformanceReport", "ReportError", "build_matrix", "build_performance",
    "cli_generate_matrix", "cli_performance_report", "export_all", "open_store", "report_errors",
    "write_matrix", "write_performance",
]


def open_store(db: str | os.PathLike[str] | None) -> Any:
    """Return the Store of `--db` (else `VT_DB`, else the default path)."""
    from vt_core.store import Store

    return Store(db)


def report_errors() -> tuple[type[BaseException], ...]:
    """Return the exception types a report command turns into a message and exit status 1."""
    import duckdb

    from vt_core.store import DatabaseLockedError
    from vt_core.store.schema import SchemaError

    return (ReportError, DatabaseLockedError, SchemaError, duckdb.Error, OSError)


def _run_report(args: argparse.Namespace, build: Callable[..., Any], write: Callable[[Any, Path], list[Path]],
                render_markdown: Callable[[Any], str]) -> int:
    store = open_store(getattr(args, "db", None))
    try:
        report = build(store, include_flagged=bool(getattr(args, "include_flagged", False)))
        folder = prepare_output_dir(getattr(args, "output_dir", None))
        written = write(report, folder)
    except EmptyDatabaseError as error:
        print(f"vt-tui: {error}", file=sys.stderr)
        return 1
    except report_errors() as error:
        print(f"vt-tui: error: {error}", file=sys.stderr)
        return 1

    if getattr(args, "json", False):
        sys.stdout.write(json_string(report.to_dict()))
    else:
        sys.stdout.write(render_markdown(report))
    sys.stdout.flush()
    for path in written:
        print(f"wrote {path}", file=sys.stderr)
    return 0


def cli_generate_matrix(args: argparse.Namespace) -> int:
    """Write the compatibility matrix (md, json, csv), print it to stdout and the paths to stderr.

    Reads `args.db`, `args.output_dir` (None: the reports folder), `args.include_flagged`
    and `args.json` (print JSON instead of Markdown). Return 1 with a message for an
    empty or unreadable database.
    """
    return _run_report(args, build_matrix, write_matrix, render_matrix_markdown)


def cli_performance_report(args: argparse.Namespace) -> int:
    """Write the performance report (md, json, csv), print it to stdout and the paths to stderr.

    Takes the same arguments as `cli_generate_matrix`.
    """
    return _run_report(args, build_performance, write_performance, render_performance_markdown)


def export_all(store: Any, output_dir: str | os.PathLike[str] | None = None, *, theme: str = "light",
               include_flagged: bool = False) -> list[Path]:
    """Write the full report set to `output_dir` and return the paths.

    The set: compatibility matrix and performance report (md, json, csv), every
    figure as HTML and PNG, and the dashboard. Blocking (seconds: PNG export starts
    Chromium), so the app calls it in a worker thread. Raise EmptyDatabaseError for
    a database without results, and plots.ExportError (with `.written`) when PNG
    export fails after the other files are written.
    """
    from vt_core import plots

    folder = prepare_output_dir(output_dir)
    data = plots.load_figure_data(store, include_flagged=include_flagged)
    written = write_matrix(data.matrix, folder)
    written += write_performance(data.performance, folder)
    try:
        written += plots.write_figures(data, folder, formats=("html", "png"), dashboard=True, theme=theme)
    except plots.ExportError as error:
        error.written = written + error.written
        raise
    return written
