"""DuckDB schema of the results database and its versioned migrations.

`vision_text_results` and `model_compatibility` keep exactly the columns that
existing SQL expects. Everything else vt-tui records lives in its own tables,
keyed by the result id:

- `result_details`: one row per result with the typed fields reports and
  statistics need (state, device, source, summary statistics, memory, reference
  comparison, legacy flags).
- `samples`: every timed iteration of every result, in seconds.
- `runs` and `machines`: what was run, when, and on which machine.
- `imported_files`: content hashes of imported legacy files, so a file is never
  imported twice.

Timestamps are UTC without time zone. Durations are seconds, memory is MiB.
"""

from __future__ import annotations

import duckdb

from vt_core.records import utc_now

SCHEMA_VERSION_TABLE = "vt_schema_version"

VISION_TEXT_RESULTS_COLUMNS = (
    "id", "model_id", "model_type", "task", "hardware_platform", "timestamp", "success",
    "error_type", "avg_inference_time", "memory_usage_mb", "results", "metadata",
)
MODEL_COMPATIBILITY_COLUMNS = (
    "model_id", "model_family", "model_type", "architecture_type", "task",
    "cpu", "cuda", "openvino", "rocm", "mps", "webnn", "webgpu", "last_tested", "last_updated",
)

_V1 = [
    f"""
    CREATE TABLE IF NOT EXISTS {SCHEMA_VERSION_TABLE} (
        version INTEGER PRIMARY KEY,
        applied_at TIMESTAMP NOT NULL,
        description VARCHAR
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS vision_text_results (
        id VARCHAR PRIMARY KEY,
        model_id VARCHAR,
        model_type VARCHAR,
        task VARCHAR,
        hardware_platform VARCHAR,
        timestamp TIMESTAMP,
        success BOOLEAN,
        error_type VARCHAR,
        avg_inference_time DOUBLE,
        memory_usage_mb DOUBLE,
        results JSON,
        metadata JSON
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS model_compatibility (
        model_id VARCHAR,
        model_family VARCHAR,
        model_type VARCHAR,
        architecture_type VARCHAR,
        task VARCHAR,
        cpu BOOLEAN,
        cuda BOOLEAN,
        openvino BOOLEAN,
        rocm BOOLEAN,
        mps BOOLEAN,
        webnn BOOLEAN,
        webgpu BOOLEAN,
        last_tested TIMESTAMP,
        last_updated TIMESTAMP
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS machines (
        machine_id VARCHAR PRIMARY KEY,
        hostname VARCHAR,
        os VARCHAR,
        cpu VARCHAR,
        cpu_count INTEGER,
        memory_total_mb DOUBLE,
        gpu_name VARCHAR,
        gpu_driver VARCHAR,
        python_version VARCHAR,
        torch_version VARCHAR,
        transformers_version VARCHAR,
        openvino_version VARCHAR,
        browser_version VARCHAR,
        details JSON,
        first_seen TIMESTAMP
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS runs (
        run_id VARCHAR PRIMARY KEY,
        started_at TIMESTAMP,
        finished_at TIMESTAMP,
        command VARCHAR,
        settings JSON,
        job_count INTEGER
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS result_details (
        result_id VARCHAR PRIMARY KEY,
        run_id VARCHAR,
        machine_id VARCHAR,
        state VARCHAR NOT NULL,
        model_family VARCHAR,
        architecture VARCHAR,
        device VARCHAR,
        weights_source VARCHAR,
        precision VARCHAR,
        batch_size INTEGER,
        settings_key VARCHAR,
        n_samples INTEGER,
        mean_s DOUBLE,
        median_s DOUBLE,
        p90_s DOUBLE,
        p99_s DOUBLE,
        stdev_s DOUBLE,
        ci95_low_s DOUBLE,
        ci95_high_s DOUBLE,
        throughput_per_s DOUBLE,
        load_time_s DOUBLE,
        convert_time_s DOUBLE,
        first_inference_s DOUBLE,
        peak_rss_mb DOUBLE,
        torch_max_allocated_mb DOUBLE,
        torch_reserved_mb DOUBLE,
        parameter_count BIGINT,
        max_abs_diff DOUBLE,
        top1_agreement DOUBLE,
        tokens_match BOOLEAN,
        error_message VARCHAR,
        is_mock BOOLEAN DEFAULT FALSE,
        is_simulated BOOLEAN DEFAULT FALSE,
        source_file VARCHAR,
        phase_times JSON
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS samples (
        result_id VARCHAR NOT NULL,
        iteration INTEGER NOT NULL,
        latency_s DOUBLE NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS imported_files (
        content_sha256 VARCHAR PRIMARY KEY,
        path VARCHAR,
        imported_at TIMESTAMP,
        result_count INTEGER
    )
    """,
]

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (1, "results, compatibility, machines, runs, details, samples, imported files", _V1),
]
"""Ordered (version, description, statements). Append new versions; never edit an applied one."""

LATEST_VERSION = MIGRATIONS[-1][0]


class SchemaError(RuntimeError):
    """The database has tables vt-tui cannot use as they are."""


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    """Return the applied schema version, 0 for a database vt-tui never migrated."""
    exists = con.execute(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = ?", [SCHEMA_VERSION_TABLE]
    ).fetchone()[0]
    if not exists:
        return 0
    row = con.execute(f"SELECT MAX(version) FROM {SCHEMA_VERSION_TABLE}").fetchone()
    return int(row[0] or 0)


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str] | None:
    """Return the column names of `table` in order, or None when it does not exist."""
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return [r[0] for r in rows] or None


def check_foreign_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Raise SchemaError when a shared table exists with columns other than the expected ones.

    The older framework created `model_compatibility` keyed by model family in a
    second script; writing into such a table would corrupt it silently.
    """
    for table, expected in (
        ("vision_text_results", VISION_TEXT_RESULTS_COLUMNS),
        ("model_compatibility", MODEL_COMPATIBILITY_COLUMNS),
    ):
        found = table_columns(con, table)
        if found is not None and tuple(found) != expected:
            raise SchemaError(
                f"table {table} exists with columns ({', '.join(found)}), but vt-tui expects "
                f"({', '.join(expected)}). Rename the existing table (ALTER TABLE {table} RENAME TO "
                f"{table}_legacy) or use another database with --db PATH."
            )


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply pending migrations in one transaction each; return the resulting version."""
    version = current_version(con)
    if version == 0:
        check_foreign_tables(con)
    for number, description, statements in MIGRATIONS:
        if number <= version:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            for statement in statements:
                con.execute(statement)
            con.execute(
                f"INSERT INTO {SCHEMA_VERSION_TABLE} VALUES (?, ?, ?)", [number, utc_now(), description]
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        version = number
    return version
