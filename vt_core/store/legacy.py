"""Import the older test framework's result files: `vt-tui db --import-results DIR`.

Each JSON file is read, recognised by its layout (see `legacy_formats`) and
written whole: its results, their details, a `runs` row for the file and its
`imported_files` row commit together with the refreshed `model_compatibility`
rows of the models it touched, so a file is either fully stored or not at all.
A file whose bytes were imported before is skipped by its SHA-256, and result
ids are hashes of each test's content, so importing a folder again, or a copy
of a file under another name, adds nothing.

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

DEFAULT_FILES_PER_TRANSACTION = 50
"""Whole files written per transaction. Each commit and compatibility refresh costs about 10 ms of
DuckDB work, several times the cost of one small file's rows (bench_import_merge.py, duckdb 2.0.1)."""

IMPORTED, SKIPPED, FAILED = "imported", "skipped", "failed"

CONFLICT_MARKER = re.compile(r"^(<{7}|={7}|>{7})(?:\s|$)", re.MULTILINE)


class UnreadableFile(Exception):
    """A file that cannot be decoded as one JSON document; the message gives the reason."""

    def __init__(self, message: str, *, outcome: str = FAILED) -> None:
        super().__init__(message)
        self.outcome = outcome


@dataclass
class FileReport:
    """Outcome of importing one file."""

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


@dataclass
class _PendingFile:
    """A decoded file waiting for the transaction of its batch."""

    path: Path
    sha: str
    tests: list[LegacyTest]
    report: FileReport


def import_results(store: Store, source: str | Path, *, recursive: bool = False,
                   max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
                   files_per_transaction: int = DEFAULT_FILES_PER_TRANSACTION,
                   progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """Import every result file under `source` (a folder or one file) into `store`.

    Files are written whole: a transaction contains up to `files_per_transaction`
    complete files, their `imported_files` rows and the refreshed compatibility
    of their models. When a transaction fails, its files are written again one
    per transaction, so a bad file leaves nothing behind and never stops the
    others. Raise FileNotFoundError when `source` does not exist, and
    SchemaError or DatabaseLockedError when the database cannot be used at all.
    """
    if files_per_transaction < 1:
        raise ValueError(f"files_per_transaction must be at least 1, got {files_per_transaction}")
    root = Path(source).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"{root} not found")
    files = find_result_files(root, recursive=recursive)
    report = ImportReport(source=str(root))
    if not files:
        return report

    with store.connect() as con:
        batch: list[_PendingFile] = []
        batch_shas: dict[str, str] = {}
        for number, path in enumerate(files, start=1):
            shown = str(path.relative_to(root)) if path != root else path.name
            outcome = _read_file(con, path, shown, max_file_bytes, batch_shas)
            report.files.append(outcome if isinstance(outcome, FileReport) else outcome.report)
            if isinstance(outcome, _PendingFile):
                batch.append(outcome)
                batch_shas[outcome.sha] = shown
            if len(batch) >= files_per_transaction:
                _write_batch(con, batch)
                batch, batch_shas = [], {}
            if progress is not None:
                progress(number, len(files))
        if batch:
            _write_batch(con, batch)
    return report


def _read_file(con: duckdb.DuckDBPyConnection, path: Path, shown: str, max_file_bytes: int,
               batch_shas: dict[str, str]) -> FileReport | _PendingFile:
    """Return the file's final report when it will not be written, else the file waiting for its batch."""
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
    if sha in batch_shas:
        return FileReport(shown, SKIPPED, reason=f"same content (SHA-256) as {batch_shas[sha]}, imported in this run")
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
    return _PendingFile(path=path.resolve(), sha=sha, tests=parsed.tests, report=file_report)


def _write_batch(con: duckdb.DuckDBPyConnection, batch: list[_PendingFile]) -> None:
    """Write whole files in one transaction; after a failure, write them one per transaction."""
    try:
        counts = _write_files(con, batch)
    except (duckdb.Error, ValueError, TypeError) as error:
        if len(batch) > 1:
            log.debug("a transaction of %d files failed (%s); writing them one by one", len(batch), error)
            for pending in batch:
                _write_batch(con, [pending])
            return
        log.debug("storing %s failed", batch[0].path, exc_info=True)
        item = batch[0].report
        item.outcome = FAILED
        item.reason = f"writing its results failed and nothing was stored: {error}"
        return
    for pending, (rows, already_stored, flagged) in zip(batch, counts):
        pending.report.rows, pending.report.already_stored, pending.report.flagged = rows, already_stored, flagged


def _write_files(con: duckdb.DuckDBPyConnection, batch: list[_PendingFile]) -> list[tuple[int, int, int]]:
    """Write the tests, run and imported_files row of each file in one transaction.

    Return (new rows, tests already stored, new rows flagged mock or simulated) per file.
    """
    con.execute("BEGIN TRANSACTION")
    try:
        ids = [t.result.job_id for pending in batch for t in pending.tests]
        stored = {
            row[0] for row in con.execute(
                "SELECT id FROM vision_text_results WHERE id IN (SELECT UNNEST(?))", [ids]
            ).fetchall()
        }
        counts = []
        all_added: list[LegacyTest] = []
        runs: list[list[Any]] = []
        for pending in batch:
            added = _insert_new_tests(con, pending, stored)
            all_added.extend(added)
            flagged = sum(1 for t in added if t.result.extra.get("is_mock") or t.result.extra.get("is_simulated"))
            counts.append((len(added), len(pending.tests) - len(added), flagged))
            if added:
                times = sorted(t.result.finished_at for t in pending.tests if t.result.finished_at)
                runs.append([
                    added[0].result.run_id, times[0], times[-1], f"vt-tui db --import-results {pending.path}",
                    json.dumps({"legacy_variant": pending.report.variant, "content_sha256": pending.sha}), len(added),
                ])

        # The rows of a whole batch go in with one statement per table: each statement costs
        # about a millisecond in DuckDB, more than the rows of a small file.
        _write_summaries(con, all_added)
        if runs:
            con.execute(
                "INSERT INTO runs SELECT UNNEST(?), UNNEST(?::TIMESTAMP[]), UNNEST(?::TIMESTAMP[]), UNNEST(?), "
                "UNNEST(?::JSON[]), UNNEST(?::INTEGER[]) ON CONFLICT (run_id) DO NOTHING",
                [list(column) for column in zip(*runs)],
            )
        con.execute(
            "INSERT INTO imported_files SELECT UNNEST(?), UNNEST(?), ?, UNNEST(?::INTEGER[])",
            [[p.sha for p in batch], [str(p.path) for p in batch], utc_now(), [c[0] for c in counts]],
        )
        refresh_compatibility(con, {t.result.model_id for t in all_added})
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return counts


def _insert_new_tests(con: duckdb.DuckDBPyConnection, pending: _PendingFile, stored: set[str]) -> list[LegacyTest]:
    """Insert the results of one file's tests that are not in `stored`; return the tests added."""
    run_id = f"legacy-{pending.sha[:16]}"
    added: list[LegacyTest] = []
    for test in pending.tests:
        result = test.result
        if result.job_id in stored:
            continue
        stored.add(result.job_id)
        result.run_id = run_id
        result.extra["source_file"] = str(pending.path)
        insert_result(con, result)
        added.append(test)
    return added


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
    progress = _print_progress if sys.stderr.isatty() else None
    try:
        report = import_results(store, source, recursive=bool(getattr(args, "recursive", False)), progress=progress)
    except FileNotFoundError:
        print(f"vt-tui: error: --import-results {source}: folder not found; pass the folder that contains "
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


def _print_progress(done: int, total: int) -> None:
    if done % 100 == 0 or done == total:
        end = "\n" if done == total else ""
        print(f"\rread {done}/{total} files", end=end, file=sys.stderr, flush=True)


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
