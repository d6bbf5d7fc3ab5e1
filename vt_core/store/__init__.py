"""The results database: one DuckDB file written only by the parent process.

Writes go through `Store.store_result`: the result is appended to the spool
(a JSON-lines file beside the database) and then written to DuckDB in one
transaction. Ingest is idempotent by result id, so a crash between the two
steps loses nothing and duplicates nothing, and the next `ingest_spool` call
picks up whatever is still pending.

DuckDB lets one process open a file for writing. Every method here opens a
connection for the duration of one operation and closes it, so an app and a
CLI run can take turns; when the file stays locked, writes retry and then
leave results in the spool (see `DatabaseLockedError`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from vt_core import paths
from vt_core.records import FAIL, MISMATCH, PASS, PLATFORMS, UNAVAILABLE, UNTESTED, JobResult, utc_now
from vt_core.stats import summarize
from vt_core.store import schema

log = logging.getLogger(__name__)

LOCK_RETRIES = 20
LOCK_RETRY_DELAY_S = 0.25


class DatabaseLockedError(RuntimeError):
    """Another process holds the database file open for writing."""


def is_lock_error(error: BaseException) -> bool:
    return isinstance(error, duckdb.IOException) and "lock" in str(error).lower()


def machine_id_of(machine: dict[str, Any]) -> str:
    """Return a stable id for a machine record: the hash of its identifying fields."""
    keys = (
        "hostname", "os", "cpu", "gpu_name", "gpu_driver", "python_version",
        "torch_version", "transformers_version", "openvino_version", "browser_version",
    )
    identity = json.dumps({k: machine.get(k) for k in keys}, sort_keys=True)
    return hashlib.sha256(identity.encode()).hexdigest()[:16]


def settings_key(result: JobResult) -> str:
    """Return the key of the settings that change latency, so statistics never mix them."""
    settings = result.settings or {}
    return "|".join(
        str(part)
        for part in (
            result.device or "default",
            settings.get("precision", "f32"),
            f"bs{settings.get('batch_size', 1)}",
            result.weights_source or "unknown",
        )
    )


@dataclass
class SpoolStatus:
    """Outcome of moving spooled results into DuckDB."""

    ingested: int = 0
    """Results written to DuckDB by this call."""
    already_stored: int = 0
    pending: int = 0
    """Results still waiting in the spool because the database was locked."""
    message: str | None = None


@dataclass
class LatestState:
    """The current state of one model on one platform, from its latest tested result."""

    model_id: str
    platform: str
    state: str
    model_family: str | None = None
    model_type: str | None = None
    architecture: str | None = None
    task: str | None = None
    result_id: str | None = None
    timestamp: Any = None
    weights_source: str | None = None
    error_type: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Store:
    """Access to one results database file."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, lock_retries: int = LOCK_RETRIES,
                 lock_retry_delay_s: float = LOCK_RETRY_DELAY_S) -> None:
        self.path = paths.resolve_db_path(path)
        self.lock_retries = lock_retries
        self.lock_retry_delay_s = lock_retry_delay_s
        self._migrated = False

    # -- connections -------------------------------------------------------

    @contextlib.contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open the database for one operation, retrying while another process holds the lock.

        A read-only connection to a database that does not exist yet yields an
        in-memory database with the empty schema, so readers need no special case.
        """
        if read_only and not self.path.exists():
            con = duckdb.connect(":memory:")
            schema.migrate(con)
            try:
                yield con
            finally:
                con.close()
            return

        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        con = self._open_with_retry(read_only)
        try:
            if not read_only and not self._migrated:
                schema.migrate(con)
                self._migrated = True
            elif read_only and schema.current_version(con) < schema.LATEST_VERSION:
                # A file written by an older vt-tui: readers expect the latest schema,
                # so open it writable once to migrate it, then reopen it read-only.
                con.close()
                with self.connect() as writable:
                    pass
                con = self._open_with_retry(True)
            yield con
        finally:
            con.close()

    def _open_with_retry(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        last_error: BaseException | None = None
        for attempt in range(self.lock_retries + 1):
            try:
                return duckdb.connect(str(self.path), read_only=read_only)
            except duckdb.IOException as error:
                if not is_lock_error(error):
                    raise
                last_error = error
                if attempt < self.lock_retries:
                    time.sleep(self.lock_retry_delay_s)
        raise DatabaseLockedError(
            f"database {self.path} is locked by another process ({last_error}). Close the other vt-tui "
            f"or DuckDB session, or use another file with --db PATH."
        )

    # -- writes ------------------------------------------------------------

    def store_result(self, result: JobResult) -> bool:
        """Spool `result`, then write it and anything else pending to DuckDB.

        Return True when the result is in DuckDB, False when the database stayed
        locked and the result waits in the spool for the next run.
        """
        self.spool_append(result)
        status = self.ingest_spool()
        return status.pending == 0

    def spool_append(self, result: JobResult) -> Path:
        """Append one result to its run's spool file and flush it to disk."""
        return self._spool_line(result.run_id, result.to_dict())

    def _spool_line(self, run_id: str | None, record: dict[str, Any]) -> Path:
        folder = paths.spool_dir(self.path)
        folder.mkdir(parents=True, exist_ok=True)
        spool_file = folder / f"{run_id or 'no-run'}.jsonl"
        line = json.dumps(record, default=str) + "\n"
        with open(spool_file, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        return spool_file

    def ingest_spool(self) -> SpoolStatus:
        """Write every spooled result to DuckDB; delete each spool file once all its results are stored."""
        status = SpoolStatus()
        folder = paths.spool_dir(self.path)
        files = sorted(folder.glob("*.jsonl")) if folder.exists() else []
        if not files:
            return status

        for spool_file in files:
            results, runs = _read_spool(spool_file)
            try:
                added = self.ingest(results, runs=runs)
            except DatabaseLockedError as error:
                status.pending += len(results)
                status.message = (
                    f"{status.pending} result(s) wait in {folder} because the database is locked "
                    f"({error}). They are written on the next run, or with `vt-tui db --ingest-spool`."
                )
                log.warning("spool not ingested: %s", status.message)
                continue
            status.ingested += added
            status.already_stored += len(results) - added
            spool_file.unlink(missing_ok=True)
        return status

    def ingest(self, results: Iterable[JobResult], *, runs: Iterable[dict[str, Any]] = ()) -> int:
        """Insert results not stored yet, and upsert run records, in one transaction.

        Return how many results were new.
        """
        results = list(results)
        runs = list(runs)
        if not results and not runs:
            return 0
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                ids = [r.job_id for r in results]
                existing = {
                    row[0]
                    for row in con.execute(
                        "SELECT id FROM vision_text_results WHERE id IN (SELECT UNNEST(?))", [ids]
                    ).fetchall()
                }
                added = 0
                seen: set[str] = set()
                touched_models: set[str] = set()
                for result in results:
                    if result.job_id in existing or result.job_id in seen:
                        continue
                    seen.add(result.job_id)
                    insert_result(con, result)
                    touched_models.add(result.model_id)
                    added += 1
                refresh_compatibility(con, touched_models)
                for run in runs:
                    _upsert_run(con, run)
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise
        return added

    def record_run(self, run_id: str, *, started_at: Any, finished_at: Any, command: str,
                   settings: dict[str, Any], job_count: int) -> bool:
        """Insert or update the row of one run.

        Return True when it is in DuckDB. When the database stays locked the row
        goes to the spool with the run's results and is written with them later.
        """
        run = {"run_id": run_id, "started_at": _iso(started_at), "finished_at": _iso(finished_at),
               "command": command, "settings": settings, "job_count": job_count}
        try:
            with self.connect() as con:
                _upsert_run(con, run)
            return True
        except DatabaseLockedError:
            self._spool_line(run_id, {RUN_SPOOL_KEY: run})
            return False

    # -- reads -------------------------------------------------------------

    def latest_states(self, *, include_flagged: bool = False) -> list[LatestState]:
        """Return the current state of every (model, platform) pair that has results.

        The state comes from the newest pass, mismatch or fail result. A pair with
        only `unavailable` results is unavailable: an absent platform on one machine
        never hides a real result from another. Results of mock or simulated runs
        imported from the older framework count only with `include_flagged`.
        """
        with self.connect(read_only=True) as con:
            rows = con.execute(LATEST_STATES_SQL, [include_flagged]).fetchall()
        return [
            LatestState(
                model_id=r[0], platform=r[1], state=r[2], model_family=r[3], model_type=r[4],
                architecture=r[5], task=r[6], result_id=r[7], timestamp=r[8], weights_source=r[9],
                error_type=r[10],
            )
            for r in rows
        ]

    def matrix(self, *, include_flagged: bool = False) -> dict[str, dict[str, Any]]:
        """Return {model_id: {"family", "task", "states": {platform: state}, "last_tested"}} for all tested models."""
        table: dict[str, dict[str, Any]] = {}
        for item in self.latest_states(include_flagged=include_flagged):
            entry = table.setdefault(
                item.model_id,
                {"family": item.model_family, "task": item.task, "model_type": item.model_type,
                 "states": {p: UNTESTED for p in PLATFORMS}, "last_tested": None, "sources": set()},
            )
            if item.platform in entry["states"]:
                entry["states"][item.platform] = item.state
            entry["family"] = entry["family"] or item.model_family
            entry["task"] = entry["task"] or item.task
            if item.weights_source:
                entry["sources"].add(item.weights_source)
            if item.state != UNAVAILABLE and item.timestamp is not None:
                if entry["last_tested"] is None or item.timestamp > entry["last_tested"]:
                    entry["last_tested"] = item.timestamp
        return table

    def samples(self, result_id: str) -> list[float]:
        """Return the timed iterations of one result, in seconds, in measurement order."""
        with self.connect(read_only=True) as con:
            rows = con.execute(
                "SELECT latency_s FROM samples WHERE result_id = ? ORDER BY iteration", [result_id]
            ).fetchall()
        return [r[0] for r in rows]

    def result_count(self) -> int:
        with self.connect(read_only=True) as con:
            return con.execute("SELECT COUNT(*) FROM vision_text_results").fetchone()[0]


RUN_SPOOL_KEY = "__run__"
"""Key of a spool line that contains a run record instead of a result."""


def _read_spool(spool_file: Path) -> tuple[list[JobResult], list[dict[str, Any]]]:
    """Return the results and run records of one spool file."""
    results: list[JobResult] = []
    runs: list[dict[str, Any]] = []
    with open(spool_file, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
                if RUN_SPOOL_KEY in record:
                    runs.append(record[RUN_SPOOL_KEY])
                else:
                    results.append(JobResult.from_dict(record))
            except (json.JSONDecodeError, TypeError) as error:
                # A line cut short by a crash mid-write: that record is lost, but
                # the rest of the file is still good.
                log.warning("skipped invalid spool line %s:%d: %s", spool_file, number, error)
    return results, runs


def _upsert_run(con: duckdb.DuckDBPyConnection, run: dict[str, Any]) -> None:
    con.execute(
        "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET "
        "finished_at = excluded.finished_at, job_count = excluded.job_count",
        [run["run_id"], _parse_time(run.get("started_at")), _parse_time(run.get("finished_at")),
         run.get("command"), json.dumps(run.get("settings") or {}), run.get("job_count")],
    )


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


LATEST_STATES_SQL = """
WITH ranked AS (
    SELECT r.model_id, r.hardware_platform AS platform, d.state, d.model_family, r.model_type,
           d.architecture, r.task, r.id AS result_id, r.timestamp, d.weights_source, r.error_type,
           ROW_NUMBER() OVER (
               PARTITION BY r.model_id, r.hardware_platform
               ORDER BY CASE WHEN d.state = 'unavailable' THEN 1 ELSE 0 END, r.timestamp DESC, r.id DESC
           ) AS position
    FROM vision_text_results r
    JOIN result_details d ON d.result_id = r.id
    WHERE d.state <> 'untested'
      AND (? OR (NOT COALESCE(d.is_mock, FALSE) AND NOT COALESCE(d.is_simulated, FALSE)))
)
SELECT model_id, platform, state, model_family, model_type, architecture, task, result_id, timestamp,
       weights_source, error_type
FROM ranked WHERE position = 1
ORDER BY model_family NULLS LAST, model_id, platform
"""


def insert_result(con: duckdb.DuckDBPyConnection, result: JobResult) -> None:
    """Insert one result with its details, samples and machine record (no transaction handling)."""
    settings = result.settings or {}
    summary = summarize(result.samples_s, int(settings.get("batch_size", 1) or 1))
    timestamp = _parse_time(result.finished_at or result.started_at)
    machine_id = None
    if result.machine:
        machine_id = machine_id_of(result.machine)
        insert_machine(con, machine_id, result.machine, timestamp)

    results_json = {
        "statistics": summary,
        "load_time_s": result.load_time_s,
        "convert_time_s": result.convert_time_s,
        "first_inference_s": result.first_inference_s,
        "comparison": result.comparison,
        "output": result.output_summary,
        "error_message": result.error_message,
    }
    metadata_json = {
        "state": result.status,
        "run_id": result.run_id,
        "machine_id": machine_id,
        "model_family": result.model_family,
        "architecture": result.architecture,
        "device": result.device,
        "weights_source": result.weights_source,
        "model_path": result.model_path,
        "parameter_count": result.parameter_count,
        "settings": settings,
        "phase_times_s": result.phase_times_s,
        "peak_rss_mb": result.peak_rss_mb,
        "torch_max_allocated_mb": result.torch_max_allocated_mb,
        "torch_reserved_mb": result.torch_reserved_mb,
        "started_at": result.started_at,
        **({"extra": result.extra} if result.extra else {}),
    }
    # memory_usage_mb: torch's peak allocation on GPUs, else the worker's peak RSS above its baseline.
    memory = result.torch_max_allocated_mb if result.torch_max_allocated_mb is not None else result.peak_rss_mb
    con.execute(
        "INSERT INTO vision_text_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            result.job_id, result.model_id, result.model_type, result.task, result.platform, timestamp,
            result.status == PASS, result.error_type, summary["mean_s"], memory,
            json.dumps(results_json, default=str), json.dumps(metadata_json, default=str),
        ],
    )

    comparison = result.comparison or {}
    extra = result.extra or {}
    con.execute(
        "INSERT INTO result_details VALUES (" + ", ".join(["?"] * 35) + ")",
        [
            result.job_id, result.run_id or None, machine_id, result.status, result.model_family,
            result.architecture, result.device, result.weights_source, settings.get("precision"),
            settings.get("batch_size"), settings_key(result), summary["n"], summary["mean_s"],
            summary["median_s"], summary["p90_s"], summary["p99_s"], summary["stdev_s"],
            summary["ci95_low_s"], summary["ci95_high_s"], summary["throughput_per_s"],
            result.load_time_s, result.convert_time_s, result.first_inference_s, result.peak_rss_mb,
            result.torch_max_allocated_mb, result.torch_reserved_mb, result.parameter_count,
            comparison.get("max_abs_diff"), comparison.get("top1_agreement"), comparison.get("tokens_match"),
            result.error_message, bool(extra.get("is_mock", False)), bool(extra.get("is_simulated", False)),
            extra.get("source_file"), json.dumps(result.phase_times_s or {}),
        ],
    )

    if result.samples_s:
        con.executemany(
            "INSERT INTO samples VALUES (?, ?, ?)",
            [(result.job_id, i, float(v)) for i, v in enumerate(result.samples_s)],
        )


def insert_machine(con: duckdb.DuckDBPyConnection, machine_id: str, machine: dict[str, Any], seen_at: Any) -> None:
    """Insert a machine record unless one with the same id exists."""
    con.execute(
        "INSERT INTO machines VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (machine_id) DO NOTHING",
        [
            machine_id, machine.get("hostname"), machine.get("os"), machine.get("cpu"),
            machine.get("cpu_count"), machine.get("memory_total_mb"), machine.get("gpu_name"),
            machine.get("gpu_driver"), machine.get("python_version"), machine.get("torch_version"),
            machine.get("transformers_version"), machine.get("openvino_version"),
            machine.get("browser_version"), json.dumps(machine, default=str), seen_at,
        ],
    )


COMPATIBILITY_REFRESH_SQL = """
INSERT INTO model_compatibility
SELECT model_id,
       ANY_VALUE(model_family) FILTER (WHERE model_family IS NOT NULL),
       ANY_VALUE(model_type) FILTER (WHERE model_type IS NOT NULL),
       ANY_VALUE(architecture) FILTER (WHERE architecture IS NOT NULL),
       ANY_VALUE(task) FILTER (WHERE task IS NOT NULL),
       {platform_columns},
       MAX(timestamp) FILTER (WHERE state <> 'unavailable'),
       ?
FROM ({latest}) latest
WHERE model_id IN ({model_list})
GROUP BY model_id
"""


def refresh_compatibility(con: duckdb.DuckDBPyConnection, model_ids: Iterable[str]) -> None:
    """Rewrite the `model_compatibility` rows of `model_ids` from their latest states.

    A platform column is TRUE for pass, FALSE for fail or mismatch, NULL otherwise.
    """
    model_ids = sorted(set(model_ids))
    if not model_ids:
        return
    columns = ("cpu", "cuda", "openvino", "rocm", "mps", "webnn", "webgpu")
    platform_columns = ",\n       ".join(
        f"MAX(CASE WHEN platform = '{p}' THEN (CASE state WHEN '{PASS}' THEN 1 "
        f"WHEN '{FAIL}' THEN 0 WHEN '{MISMATCH}' THEN 0 END) END)::BOOLEAN"
        for p in columns
    )
    con.execute("DELETE FROM model_compatibility WHERE model_id IN (SELECT UNNEST(?))", [model_ids])
    # The ids go in as SQL literals: DuckDB pushes a constant IN list below the window of the
    # latest-state query and reads only these models, while IN (SELECT UNNEST(?)) ranks every
    # result in the table first (0.3 s per call at 250,000 results, duckdb 2.0.1).
    model_list = ", ".join("'" + model_id.replace("'", "''") + "'" for model_id in model_ids)
    con.execute(
        COMPATIBILITY_REFRESH_SQL.format(platform_columns=platform_columns, latest=LATEST_STATES_SQL,
                                         model_list=model_list),
        [utc_now(), False],
    )


def _parse_time(value: Any) -> Any:
    if value is None:
        return utc_now()
    if isinstance(value, str):
        import datetime as dt

        parsed = dt.datetime.fromisoformat(value)
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return parsed
    return value
