"""Import the older test framework's result files: `vt-tui db --import-results DIR`.

Each JSON file is read, recognised by its layout (see `legacy_formats`) and
written in one transaction: its results, their details, a `runs` row for the
file, its `imported_files` row, and the refreshed `model_compatibility` rows of
the models it touched. A file whose bytes were imported before is skipped by
its SHA-256, and result ids are hashes of each test's content, so importing a
folder again, or a copy of a file under another name, adds nothing.

Mock and simulated results are stored with `result_details.is_mock` /
`is_simulated` set, so the matrix and statistics leave them out unless asked.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from vt_core.records import utc_now
from vt_core.store import DatabaseLockedError, Store, insert_result, refresh_compatibility
from vt_core.store.legacy_formats import LegacyTest, NoTestResults, NotAResultFile, parse_document
from vt_core.store.schema import SchemaError

log = logging.getLogger(__name__)

DEFAULT_MAX_FILE_BYTES = 512 * 2**20
"""Larger files are reported as failed instead of being decoded into memory."""

IMPORTED, SKIPPED, FAILED = "imported", "skipped", "failed"

CONFLICT_MARKER = re.compile(r"^(<{7}|={7}|>{7})(?:\s|$)", re.MULTILINE)


class UnreadableFile(Exception):
    """A file that cannot be decoded as one JSON document; the message says why."""

    def __init__(self, message: str, *, outcome: str = FAILED) -> None:
        super().__init__(message)
        self.outcome = outcome


@dataclass
class FileReport:
    """What happened to one file."""

    path: str
    outcome: str
    """imported, skipped or failed."""
    rows: int = 0
    """Results added to the database."""
    already_stored: int = 0
    """Tests of the file whose result was already in the database (from another file or an earlier run)."""
    flagged: int = 0
    """Added results flagged as mock or simulated."""
    variant: str | None = None
    reason: str | None = None
    notes: list[str] = field(default_factory=list)
    """Tests or sections of the file that were not imported, with the reason."""


@dataclass
class ImportReport:
    """The outcome of one import: a report per file, in the order the files were read."""

    source: str
    files: list[FileReport] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for f in self.files if f.outcome == outcome)

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def flagged(self) -> int:
        return sum(f.flagged for f in self.files)

    def totals(self) -> dict[str, int]:
        return {
            "files": len(self.files), IMPORTED: self.count(IMPORTED), SKIPPED: self.count(SKIPPED),
            FAILED: self.count(FAILED), "rows": self.rows, "flagged_rows": self.flagged,
        }

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "files": [asdict(f) for f in self.files], "totals": self.totals()}


# -- reading -------------------------------------------------------------------


def find_result_files(root: Path, *, recursive: bool = False) -> list[Path]:
    """Return the `.json` files in `root` (and its subfolders with `recursive`), sorted, hidden folders excluded."""
    if root.is_file():
        return [root]
    candidates = root.rglob("*") if recursive else root.glob("*")
    found = []
    for path in candidates:
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts[:-1]):
            continue
        if path.suffix.lower() == ".json" and path.is_file():
            found.append(path)
    return sorted(found)


def decode_document(content: bytes) -> Any:
    """Return the JSON document in `content`; raise UnreadableFile with a precise reason when there is none."""
    if not content.strip():
        raise UnreadableFile("the file is empty", outcome=SKIPPED)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UnreadableFile(
            f"not UTF-8 text (byte 0x{content[error.start]:02x} at offset {error.start}); "
            "result files of the older framework are UTF-8 JSON"
        ) from None

    marker = CONFLICT_MARKER.search(text)
    if marker:
        line = text.count("\n", 0, marker.start()) + 1
        raise UnreadableFile(
            f"contains a Git merge-conflict marker '{marker.group(1)}' at line {line}; resolve the conflict "
            "(keep one side) and import again"
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise UnreadableFile(f"invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}") from None
    except RecursionError:
        raise UnreadableFile("invalid JSON: nested too deeply to decode") from None


# -- storing -------------------------------------------------------------------


def import_results(store: Store, source: str | Path, *, recursive: bool = False,
                   max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
                   progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """Import every result file under `source` (a folder or one file) into `store`.

    Each file is written in its own transaction, so a file that fails leaves
    nothing behind and never stops the others. Raise FileNotFoundError when
    `source` does not exist, and SchemaError or DatabaseLockedError when the
    database cannot be used at all.
    """
    root = Path(source).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"{root} not found")
    files = find_result_files(root, recursive=recursive)
    report = ImportReport(source=str(root))
    if not files:
        return report

    with store.connect() as con:
        for number, path in enumerate(files, start=1):
            shown = str(path.relative_to(root)) if path != root else path.name
            report.files.append(_import_file(con, path, shown, max_file_bytes))
            if progress is not None:
                progress(number, len(files))
    return report


def _import_file(con: duckdb.DuckDBPyConnection, path: Path, shown: str, max_file_bytes: int) -> FileReport:
    try:
        size = path.stat().st_size
        if size > max_file_bytes:
            return FileReport(shown, FAILED, reason=(
                f"the file is {size / 2**20:.0f} MiB, over the {max_file_bytes / 2**20:.0f} MiB limit for one "
                "result file; split it or raise max_file_bytes"))
        content = path.read_bytes()
    except OSError as error:
        return FileReport(shown, FAILED, reason=f"could not read the file: {error.strerror or error}")

    sha = hashlib.sha256(content).hexdigest()
    previous = con.execute(
        "SELECT path, imported_at FROM imported_files WHERE content_sha256 = ?", [sha]
    ).fetchone()
    if previous:
        return FileReport(shown, SKIPPED, reason=(
            f"already imported on {previous[1]:%Y-%m-%d %H:%M} UTC from {previous[0]} (same SHA-256)"))

    try:
        parsed = parse_document(decode_document(content))
    except UnreadableFile as error:
        return FileReport(shown, error.outcome, reason=str(error))
    except (NotAResultFile, NoTestResults) as error:
        return FileReport(shown, SKIPPED, reason=str(error))
    except Exception as error:  # noqa: BLE001 - one malformed file must not stop the import
        log.debug("reading %s failed", path, exc_info=True)
        return FileReport(shown, FAILED, reason=f"could not read its results: {type(error).__name__}: {error}")

    file_report = FileReport(shown, IMPORTED, variant=parsed.variant, notes=list(parsed.notes))
    try:
        _store_file(con, parsed.tests, sha=sha, path=path.resolve(), variant=parsed.variant, report=file_report)
    except duckdb.Error as error:
        log.debug("storing %s failed", path, exc_info=True)
        return FileReport(shown, FAILED, variant=parsed.variant,
                          reason=f"writing its results failed and nothing was stored: {error}")
    return file_report


def _store_file(con: duckdb.DuckDBPyConnection, tests: list[LegacyTest], *, sha: str, path: Path, variant: str,
                report: FileReport) -> None:
    """Write the tests of one file, its run and its imported_files row in one transaction."""
    run_id = f"legacy-{sha[:16]}"
    con.execute("BEGIN TRANSACTION")
    try:
        ids = [t.result.job_id for t in tests]
        stored = {
            row[0] for row in con.execute(
                "SELECT id FROM vision_text_results WHERE id IN (SELECT UNNEST(?))", [ids]
            ).fetchall()
        }
        touched: set[str] = set()
        added: list[LegacyTest] = []
        for test in tests:
            result = test.result
            if result.job_id in stored:
                report.already_stored += 1
                continue
            stored.add(result.job_id)
            result.run_id = run_id
            result.extra["source_file"] = str(path)
            insert_result(con, result)
            added.append(test)
            touched.add(result.model_id)
            report.rows += 1
            if result.extra.get("is_mock") or result.extra.get("is_simulated"):
                report.flagged += 1

        _write_summaries(con, added)
        if report.rows:
            times = sorted(t.result.finished_at for t in tests if t.result.finished_at)
            con.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO NOTHING",
                [run_id, times[0], times[-1], f"vt-tui db --import-results {path}",
                 json.dumps({"legacy_variant": variant, "content_sha256": sha}), report.rows],
            )
        con.execute("INSERT INTO imported_files VALUES (?, ?, ?, ?)", [sha, str(path), utc_now(), report.rows])
        refresh_compatibility(con, touched)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def _write_summaries(con: duckdb.DuckDBPyConnection, tests: list[LegacyTest]) -> None:
    """Store each file average as a one-value summary: mean_s and avg_inference_time, with no samples."""
    ids, averages, throughputs, patches = [], [], [], []
    for test in tests:
        summary = test.summary
        statistics = {k: v for k, v in (("mean_s", summary.avg_s), ("throughput_per_s", summary.throughput_per_s))
                      if v is not None}
        if not statistics:
            continue
        ids.append(test.result.job_id)
        averages.append(summary.avg_s)
        throughputs.append(summary.throughput_per_s)
        patches.append(json.dumps({"statistics": statistics, "legacy_summary": summary.to_dict()}))
    if not ids:
        return
    # One statement per table for the whole file: each statement costs about a millisecond in DuckDB.
    con.execute(
        "UPDATE vision_text_results AS t SET avg_inference_time = v.average, "
        "results = json_merge_patch(t.results, v.patch::JSON) "
        "FROM (SELECT UNNEST(?) AS id, UNNEST(?::DOUBLE[]) AS average, UNNEST(?) AS patch) AS v WHERE t.id = v.id",
        [ids, averages, patches],
    )
    con.execute(
        "UPDATE result_details AS d SET mean_s = v.average, throughput_per_s = v.throughput "
        "FROM (SELECT UNNEST(?) AS id, UNNEST(?::DOUBLE[]) AS average, UNNEST(?::DOUBLE[]) AS throughput) AS v "
        "WHERE d.result_id = v.id",
        [ids, averages, throughputs],
    )


# -- command line --------------------------------------------------------------


def cli_import_results(args: argparse.Namespace) -> int:
    """Run `vt-tui db --import-results DIR`: print a report per file, return 0, 1 (a file failed) or 2."""
    store = Store(args.db)
    source = Path(args.import_results).expanduser()
    try:
        report = import_results(store, source, recursive=bool(getattr(args, "recursive", False)))
    except FileNotFoundError:
        print(f"vt-tui: error: --import-results {source}: folder not found; pass the folder that holds "
              "the older framework's JSON result files", file=sys.stderr)
        return 2
    except SchemaError as error:
        print(f"vt-tui: error: cannot import into {store.path}: {error}", file=sys.stderr)
        return 2
    except DatabaseLockedError as error:
        print(f"vt-tui: error: {error}", file=sys.stderr)
        return 1

    if getattr(args, "json", False):
        json.dump({"database": str(store.path), **report.to_dict()}, sys.stdout, indent=2, default=str)
        print()
    else:
        print_report(report, sys.stdout)

    if not report.files:
        hint = "" if getattr(args, "recursive", False) or source.is_file() else "; add --recursive to search subfolders"
        print(f"vt-tui: no .json files found in {source}{hint}", file=sys.stderr)
        return 1
    return 1 if report.count(FAILED) else 0


def print_report(report: ImportReport, stream: Any) -> None:
    """Write one line per file, its notes indented below it, then the totals."""
    for item in report.files:
        stream.write(_report_line(item) + "\n")
        for note in _limited(item.notes, 10):
            stream.write(f"          note: {note}\n")
    totals = report.totals()
    line = (f"{totals['files']} file(s): {totals[IMPORTED]} imported ({totals['rows']} new result rows), "
            f"{totals[SKIPPED]} skipped, {totals[FAILED]} failed")
    stream.write(line + "\n")
    if report.flagged:
        stream.write(f"{report.flagged} of the new rows come from mock or simulated runs; the matrix and "
                     "statistics leave them out unless --include-flagged is given\n")


def _report_line(item: FileReport) -> str:
    if item.outcome != IMPORTED:
        return f"{item.outcome:<9} {item.path}: {item.reason}"
    parts = [f"{item.rows} new row(s)"]
    if item.already_stored:
        parts.append(f"{item.already_stored} test(s) already stored")
    if item.flagged:
        parts.append(f"{item.flagged} flagged mock or simulated")
    return f"{IMPORTED:<9} {item.path}: {', '.join(parts)} [{item.variant}]"


def _limited(notes: Iterable[str], limit: int) -> list[str]:
    notes = list(notes)
    if len(notes) <= limit:
        return notes
    return notes[:limit] + [f"... and {len(notes) - limit} more"]
