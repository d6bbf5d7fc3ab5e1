"""`vt-tui viz`: write Plotly figures and the dashboard of the results database.

Plotly and Kaleido load only when this command runs, so other subcommands
start without them.
"""

from __future__ import annotations

import argparse
import os
import sys
import webbrowser
from pathlib import Path

FIGURE_FLAGS = {
    "performance_comparison": "performance-comparison",
    "compatibility_heatmap": "compatibility-heatmap",
    "time_series": "time-series",
    "statistical_analysis": "statistical-analysis",
}
EXPORT_FORMATS = ("html", "png", "svg", "pdf")
THEMES = ("light", "dark")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "viz",
        help="write Plotly figures and the dashboard as HTML, PNG, SVG or PDF",
        description="Write figures of the results database. Choose one or more figures, or --all. "
        "HTML files embed plotly.js and open offline; PNG, SVG and PDF render through Kaleido and Chromium.",
    )

    figures = parser.add_argument_group("figures")
    figures.add_argument("--performance-comparison", action="store_true",
                         help="grouped bars of median latency per family and platform, with 95%% CI")
    figures.add_argument("--compatibility-heatmap", action="store_true",
                         help="the five states of every model on every platform, grouped by family")
    figures.add_argument("--time-series", action="store_true",
                         help="per-run median latency over time, one line per platform, with a range slider")
    figures.add_argument("--statistical-analysis", action="store_true",
                         help="median and mean latency with 95%% CI error bars from the raw samples")
    figures.add_argument("--dashboard", action="store_true",
                         help="all figures on one HTML page with family, platform and model filters")
    figures.add_argument("--all", action="store_true", help="every figure and the dashboard")

    parser.add_argument("--theme", choices=THEMES, default="light", help="colour theme (default: light)")
    parser.add_argument("--export-format", default="html", metavar="FORMAT[,FORMAT]",
                        help="file formats, comma-separated, from html, png, svg, pdf (default: html); "
                        "the dashboard is always HTML")
    parser.add_argument("--output-dir", default=None, metavar="DIR",
                        help="folder for the files (default: the reports folder under the vt-tui data directory)")
    parser.add_argument("--browser", action="store_true",
                        help="open the written files in a web browser; without a display, print their paths")
    parser.add_argument("--db", default=None, metavar="PATH", help="results database (default: $VT_DB or the data directory)")
    parser.add_argument("--include-flagged", action="store_true",
                        help="include results from mock or simulated runs of the older framework")

    parser.set_defaults(handler=run)
    return parser


def parse_formats(value: str) -> list[str]:
    """Return the formats of a comma-separated `--export-format` value, in order, without repeats."""
    from vt_core.cli import UsageError

    formats: list[str] = []
    for item in value.split(","):
        fmt = item.strip().lower()
        if not fmt:
            continue
        if fmt not in EXPORT_FORMATS:
            raise UsageError(f"--export-format {item.strip()!r} is invalid; use one or more of {', '.join(EXPORT_FORMATS)}")
        if fmt not in formats:
            formats.append(fmt)
    if not formats:
        raise UsageError(f"--export-format is empty; use one or more of {', '.join(EXPORT_FORMATS)}")
    return formats


def selected_figures(args: argparse.Namespace) -> tuple[list[str], bool]:
    """Return the figure kinds and whether the dashboard was requested."""
    from vt_core.cli import UsageError

    if args.all:
        return list(FIGURE_FLAGS.values()), True
    kinds = [kind for flag, kind in FIGURE_FLAGS.items() if getattr(args, flag)]
    if not kinds and not args.dashboard:
        raise UsageError(
            "no figure selected; add one or more of --performance-comparison, --compatibility-heatmap, "
            "--time-series, --statistical-analysis, --dashboard, or --all"
        )
    return kinds, bool(args.dashboard)


def has_display() -> bool:
    """Return True when a browser window can open: macOS, Windows, or an X11 or Wayland display."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def open_in_browser(paths: list[Path]) -> None:
    if not has_display():
        print("no display ($DISPLAY unset); open these files in a browser:", file=sys.stderr)
        for path in paths:
            print(f"  {path.resolve()}", file=sys.stderr)
        return
    for path in paths:
        if not webbrowser.open(path.resolve().as_uri()):
            print(f"could not open a browser for {path}; open it by hand", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Write the requested figures, print each path on stdout, and open them with --browser."""
    kinds, dashboard = selected_figures(args)
    formats = parse_formats(args.export_format)
    if dashboard and formats != ["html"]:
        print("note: the dashboard is interactive and is written as HTML only", file=sys.stderr)

    from vt_core import plots, reports
    from vt_core.reports.common import EmptyDatabaseError, prepare_output_dir

    store = reports.open_store(args.db)
    written: list[Path] = []
    try:
        data = plots.load_figure_data(store, include_flagged=args.include_flagged)
        folder = prepare_output_dir(args.output_dir)
        written = plots.write_figures(data, folder, kinds=kinds, formats=formats, dashboard=dashboard, theme=args.theme)
    except EmptyDatabaseError as error:
        print(f"vt-tui: {error}", file=sys.stderr)
        return 1
    except plots.ExportError as error:
        for path in error.written:
            print(path)
        print(f"vt-tui: error: {error}", file=sys.stderr)
        return 1
    except reports.report_errors() as error:
        print(f"vt-tui: error: {error}", file=sys.stderr)
        return 1

    for path in written:
        print(path)
    if args.browser:
        viewable = [p for p in written if p.suffix in (".html", ".svg", ".png", ".pdf")]
        open_in_browser(viewable)
    return 0
