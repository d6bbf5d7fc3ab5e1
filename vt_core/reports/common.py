"""Helpers shared by the report writers: escaping, file naming, atomic writes, errors.

Everything that comes from the database (model ids, task names, error texts,
host names) is untrusted text. Each output format escapes it with its own
function here, so no report can carry markup that a viewer would interpret.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import os
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from vt_core.records import FAIL, MISMATCH, PASS, UNAVAILABLE, UNTESTED

STATE_GLYPHS: dict[str, str] = {
    PASS: "✓",
    MISMATCH: "≠",
    FAIL: "✗",
    UNAVAILABLE: "⊘",
    UNTESTED: "·",
}
"""One glyph per state; reports print glyph and word together so no state relies on colour."""

FAMILY_LABELS: dict[str, str] = {"clip": "CLIP", "blip": "BLIP"}
UNKNOWN_FAMILY = "unknown"


class ReportError(RuntimeError):
    """A report could not be built. The message names the cause and the next step."""


class EmptyDatabaseError(ReportError):
    """The database contains no result that a report could show."""


def empty_database_message(db_path: Path | str, flagged_only: int = 0) -> str:
    """Return the message for a database without usable results.

    `flagged_only` is the number of stored results hidden because they come from
    mock or simulated runs of the older framework.
    """
    if flagged_only:
        return (
            f"no results in DB {db_path} except {flagged_only} from mock or simulated runs, which reports "
            f"exclude; add --include-flagged to show them, or run `vt-tui run ...` to measure real ones"
        )
    return (
        f"no results in DB {db_path}; run `vt-tui run ...` or import with "
        f"`vt-tui db --import-results DIR`"
    )


def family_label(family: str | None) -> str:
    """Return the display name of a model family (`clip` -> `CLIP`)."""
    if not family:
        return UNKNOWN_FAMILY
    return FAMILY_LABELS.get(family.lower(), family)


def state_label(state: str, flagged: bool = False) -> str:
    """Return `glyph word` for a matrix cell; `†` marks a cell from a mock or simulated run."""
    text = f"{STATE_GLYPHS.get(state, '?')} {state}"
    return text + "†" if flagged else text


# -- escaping ---------------------------------------------------------------

_MARKDOWN_SPECIAL = set("\\`*_[]|~")


def md_cell(value: Any) -> str:
    """Return `value` as text safe inside a Markdown table cell.

    HTML is entity-escaped (Markdown renderers pass raw HTML through), Markdown
    punctuation and the cell separator `|` are backslash-escaped, and line breaks
    become spaces because a table row must stay on one line.
    """
    if value is None:
        return ""
    text = " ".join(str(value).splitlines())
    text = html.escape(text, quote=False)
    return "".join("\\" + ch if ch in _MARKDOWN_SPECIAL else ch for ch in text)


def html_text(value: Any) -> str:
    """Return `value` entity-escaped for HTML text and attributes and for Plotly's label markup.

    Quotes become numeric entities because Plotly decodes those but shows a
    named `&quot;` literally.
    """
    if value is None:
        return ""
    return html.escape(str(value), quote=False).replace('"', "&#34;").replace("'", "&#39;")


_CSV_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value: Any) -> Any:
    """Return a CSV field: numbers as they are, text prefixed with `'` when a spreadsheet would run it as a formula."""
    if isinstance(value, str) and value.startswith(_CSV_FORMULA_PREFIXES):
        return "'" + value
    return value


# -- number formatting --------------------------------------------------------

def fmt_ms(seconds: float | None, digits: int = 2) -> str:
    return "" if seconds is None else f"{seconds * 1000:.{digits}f}"


def fmt_ci_ms(low_s: float | None, high_s: float | None, digits: int = 2) -> str:
    if low_s is None or high_s is None:
        return ""
    return f"{low_s * 1000:.{digits}f}–{high_s * 1000:.{digits}f}"


def fmt_time(value: Any) -> str:
    """Return a timestamp as `YYYY-MM-DD HH:MM:SS` (UTC, as stored), or empty for None."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]], align: Sequence[str] | None = None) -> str:
    """Return a GitHub-flavoured Markdown table; cells must already be escaped with `md_cell`."""
    align = align or ["l"] * len(header)
    marks = {"l": "---", "r": "---:", "c": ":---:"}
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(marks[a] for a in align) + " |"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


def csv_string(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_text(v) for v in row])
    return buffer.getvalue()


def json_string(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"


# -- files ------------------------------------------------------------------

def unique_stem(output_dir: Path, kind: str, extensions: Sequence[str]) -> str:
    """Return `KIND-YYYYmmddTHHMMSSZ-XXXXXXXX`, a stem no file in `output_dir` uses with any of `extensions`.

    The random suffix keeps two reports written in the same second apart.
    """
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    while True:
        stem = f"{kind}-{stamp}-{uuid.uuid4().hex[:8]}"
        if not any((output_dir / f"{stem}.{ext}").exists() for ext in extensions):
            return stem


def atomic_write_text(path: Path, text: str) -> Path:
    """Write `text` to `path` through a temporary file in the same folder and a rename.

    A reader never sees a half-written report, and a crash leaves at most a
    hidden `.tmp` file behind.
    """
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
    # os.open with mode 0o666 lets the umask set the permissions, as for any new file;
    # tempfile.mkstemp would force 0o600.
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def prepare_output_dir(output_dir: str | os.PathLike[str] | None) -> Path:
    """Return the output folder (default: `vt_core.paths.reports_dir()`), created if missing.

    Raise ReportError when the path exists but is not a folder or cannot be created.
    """
    from vt_core import paths

    folder = Path(output_dir).expanduser() if output_dir else paths.reports_dir()
    if folder.exists() and not folder.is_dir():
        raise ReportError(f"output path {folder} is not a folder; pass a folder with --output-dir DIR")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ReportError(f"cannot create output folder {folder} ({error}); pass another with --output-dir DIR") from error
    return folder


def utc_now_seconds() -> dt.datetime:
    """Return the current UTC time without tzinfo, to the second (the form stored in DuckDB)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)


def newer(candidate: Any, current: Any) -> bool:
    """Return True when timestamp `candidate` is later than `current`; None counts as oldest."""
    if candidate is None:
        return False
    return current is None or candidate > current
