"""Plotly figures of the results database and their export to HTML, PNG, SVG and PDF.

`write_figures` is the entry point: it builds the requested figures from a
`FigureData` (see `load_figure_data`) and writes each in the requested formats.
This package imports plotly at module level; the CLI imports it only when a
figure is requested, and Kaleido loads only for static formats.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from vt_core.plots import figures
from vt_core.plots.dashboard import dashboard_html
from vt_core.plots.data import FigureData, load_figure_data
from vt_core.plots.export import EXPORT_FORMATS, HTML, STATIC_FORMATS, ExportError, StaticJob, write_html, write_static
from vt_core.plots.figures import FIGURE_KINDS, build_figure
from vt_core.plots.style import THEMES
from vt_core.reports import common

DASHBOARD = "dashboard"

__all__ = [
    "DASHBOARD", "EXPORT_FORMATS", "FIGURE_KINDS", "THEMES", "ExportError", "FigureData", "build_figure",
    "dashboard_html", "load_figure_data", "write_figures",
]


def write_figures(data: FigureData, output_dir: Path, *, kinds: Sequence[str] = FIGURE_KINDS,
                  formats: Sequence[str] = (HTML,), dashboard: bool = False, theme: str = "light") -> list[Path]:
    """Write each figure of `kinds` in each of `formats`, and the dashboard page when asked; return the paths.

    The dashboard is interactive and is always written as HTML. HTML files are
    written first, so a failing static export (ExportError, which lists the
    files already written) still leaves them in place.
    """
    for kind in kinds:
        if kind not in FIGURE_KINDS:
            raise ValueError(f"figure {kind!r} is invalid; use one of {', '.join(FIGURE_KINDS)}")
    for fmt in formats:
        if fmt not in EXPORT_FORMATS:
            raise ValueError(f"export format {fmt!r} is invalid; use one of {', '.join(EXPORT_FORMATS)}")

    written: list[Path] = []
    static_jobs: list[StaticJob] = []
    for kind in kinds:
        figure = build_figure(kind, data, theme)
        stem = common.unique_stem(output_dir, kind, formats)
        if HTML in formats:
            post_script = figures.MODEL_MENU_SCRIPT if kind == figures.TIME_SERIES else None
            written.append(write_html(figure, output_dir / f"{stem}.{HTML}", post_script=post_script))
        static_jobs.extend(
            StaticJob(figure, output_dir / f"{stem}.{fmt}", fmt) for fmt in formats if fmt in STATIC_FORMATS
        )

    if dashboard:
        stem = common.unique_stem(output_dir, DASHBOARD, (HTML,))
        written.append(common.atomic_write_text(output_dir / f"{stem}.{HTML}", dashboard_html(data, theme)))

    try:
        written.extend(write_static(static_jobs))
    except ExportError as error:
        error.written = written + error.written
        raise
    return written
