"""Writing figures: self-contained HTML, and PNG, SVG or PDF through Kaleido and the system Chromium.

HTML embeds plotly.js, so a file opens offline. Static formats render in one
Kaleido browser session per batch, because starting Chromium costs seconds.
Every file is written under a temporary name and renamed into place.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio

from vt_core.plots import style
from vt_core.reports import common
from vt_core.reports.common import ReportError

log = logging.getLogger(__name__)

HTML = "html"
STATIC_FORMATS = ("png", "svg", "pdf")
EXPORT_FORMATS = (HTML, *STATIC_FORMATS)
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
RENDER_TIMEOUT_S = 120
"""Kaleido's time limit for one image, in seconds; a 1,000-row heatmap renders in well under it."""


class ExportError(ReportError):
    """A figure could not be written; `written` lists the files that were."""

    def __init__(self, message: str, written: Sequence[Path] = ()) -> None:
        super().__init__(message)
        self.written = list(written)


@dataclass
class StaticJob:
    figure: go.Figure
    path: Path
    format: str


def find_chromium() -> str | None:
    """Return the browser Kaleido should drive: `BROWSER_PATH`, else the first Chromium or Chrome on PATH."""
    configured = os.environ.get("BROWSER_PATH")
    if configured:
        return configured
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def write_html(figure: go.Figure, path: Path, *, post_script: str | None = None) -> Path:
    """Write `figure` as one self-contained HTML file (plotly.js embedded)."""
    text = pio.to_html(
        figure, full_html=True, include_plotlyjs=True, post_script=post_script,
        config={"displaylogo": False, "responsive": True},
    )
    return common.atomic_write_text(path, text)


def static_size(figure: go.Figure) -> tuple[int, int]:
    """Return the (width, height) in pixels of a static export of `figure`."""
    height = figure.layout.height or 600
    return style.STATIC_WIDTH_PX, int(height)


def static_view(figure: go.Figure) -> go.Figure | dict:
    """Return `figure` as a static image shows it: hidden traces and dropdown menus removed.

    The time series keeps one trace per platform and model, all but one model's
    hidden; sending the hidden ones to Chromium only slows the render. The result
    is a plain figure dict, which Kaleido takes without validating it again.
    """
    if not figure.layout.updatemenus and all(trace.visible is not False for trace in figure.data):
        return figure
    spec = figure.to_plotly_json()
    return {
        "data": [trace for trace in spec["data"] if trace.get("visible") is not False],
        "layout": {**spec["layout"], "updatemenus": []},
    }


def write_static(jobs: Sequence[StaticJob]) -> list[Path]:
    """Render every job in one Kaleido session; return the written paths.

    Raise ExportError naming the browser and the failure when Chromium is missing
    or a render fails; files rendered before the failure are kept and listed.
    """
    if not jobs:
        return []
    for job in jobs:
        if job.format not in STATIC_FORMATS:
            raise ValueError(f"static format {job.format!r} is invalid; use one of {', '.join(STATIC_FORMATS)}")

    browser = find_chromium()
    if browser is None:
        raise ExportError(
            "Chromium not found for PNG, SVG or PDF export; install chromium or set BROWSER_PATH to a "
            "Chromium or Chrome executable, or export HTML with --export-format html"
        )

    import kaleido

    staging = Path(tempfile.mkdtemp(prefix=".vt-export-", dir=jobs[0].path.parent))
    specs = []
    for index, job in enumerate(jobs):
        width, height = static_size(job.figure)
        specs.append({
            "fig": static_view(job.figure),
            "path": staging / f"{index}.{job.format}",
            "opts": {"format": job.format, "width": width, "height": height, "scale": 1},
        })
    written: list[Path] = []
    try:
        try:
            kaleido.write_fig_from_object_sync(
                specs,
                kopts={"path": browser, "mathjax": False, "timeout": RENDER_TIMEOUT_S},
                cancel_on_error=True,
            )
        except Exception as error:  # kaleido and choreographer raise many unrelated types
            raise ExportError(
                f"static export with browser {browser} failed: {type(error).__name__}: {error}. "
                "Check that the browser starts headless, or export HTML with --export-format html"
            ) from error
        for spec, job in zip(specs, jobs):
            staged = Path(spec["path"])
            if not staged.exists():
                raise ExportError(f"static export wrote no file for {job.path.name}", written)
            os.replace(staged, job.path)
            written.append(job.path)
    except ExportError as error:
        error.written = written + [p for p in error.written if p not in written]
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written
