"""Move results between vt-tui databases: `vt-tui db --export DIR` and `vt-tui db --merge PATH`.

An export is a folder with one Parquet file per table and `manifest.json`
(format name, schema version, row counts and columns). A merge reads another
vt-tui database file (attached read-only) or such a folder and copies, in one
transaction, every result whose id the target lacks, together with its
details, samples, run and machine record. Everything runs as DuckDB SQL
(`INSERT ... SELECT ... WHERE NOT EXISTS`), so a million results never pass
through Python.

`model_compatibility` is never copied: it is derived from the latest state of
each (model, platform) pair, so the merge recomputes it for the models it
touched, and an older result from the source never replaces a newer state.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from vt_core import __version__
from vt_core.records import utc_now
from vt_core.store import DatabaseLockedError, Store, is_lock_error, refresh_compatibility
from vt_core.store import schema
from vt_core.store.schema import MODEL_COMPATIBILITY_COLUMNS, VISION_TEXT_RESULTS_COLUMNS, SchemaError

EXPORT_FORMAT = "vt-tui-parquet-export"
MANIFEST_NAME = "manifest.json"
SOURCE_ALIAS = "vt_merge_source"

TABLE_KEYS: dict[str, str] = {
    "machines": "machine_id",
    "runs": "run_id",
    "vision_text_results": "id",
    "result_details": "result_id",
    "samples": "result_id",
    "imported_files": "content_sha256",
}
"""Tables a merge copies, in insertion order, with the column that identifies a row (or its result)."""

EXPORT_TABLES = (*TABLE_KEYS, "model_compatibility")
"""Tables an export writes; `model_compatibility` is included for readers of the Parquet files only."""

REQUIRED_TABLES = ("vision_text_results", "result_details")


class ExchangeError(RuntimeError):
    """An export or merge cannot start: a path is missing, in use or of the wrong kind."""


@dataclass
class MergeReport:
    """What one merge added to the target database."""

    source: str
    source_kind: str
    """`database` or `parquet`."""
    added: dict[str, int] = field(default_factory=dict)
    """New rows per table."""
    already_present: int = 0
    """Source results whose id the target already had; they are left as they were."""
    models_refreshed: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# -- export --------------------------------------------------------------------


def export_parquet(store: Store, directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Write every table of `store` as Parquet into `directory` and return the manifest.

    The folder must be new or empty, so an export is never mixed with an older
    one. The manifest is written last: a folder without it is an unfinished export.
    """
    target = Path(directory).expanduser()
    if not store.path.exists():
        raise ExchangeError(f"database {store.path} not found; pass the database to export with --db PATH")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ExchangeError(f"{target} exists and is not an empty folder; choose a new or empty folder for the export")
    target.mkdir(parents=True, exist_ok=True)

    tables: dict[str, Any] = {}
    with store.connect(read_only=True) as con:
        con.execute("BEGIN TRANSACTION")
        version = schema.current_version(con)
        for table in EXPORT_TABLES:
            file_name = f"{table}.parquet"
            con.execute(
                f"COPY (SELECT * FROM {table}) TO {_sql_string(target / file_name)} "
                "(FORMAT parquet, COMPRESSION zstd)"
            )
            rows = con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            tables[table] = {"file": file_name, "rows": rows, "columns": _columns_by_table(con, None)[table]}
        con.execute("COMMIT")

    manifest = {
        "format": EXPORT_FORMAT,
        "schema_version": version,
        "vt_tui_version": __version__,
        "exported_at": utc_now().isoformat(),
        "source_database": str(store.path),
        "tables": tables,
    }
    (target / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


# -- merge ---------------------------------------------------------------------


def merge(store: Store, source: str | os.PathLike[str]) -> MergeReport:
    """Copy the results of `source` (a vt-tui database file or Parquet export folder) that `store` lacks.

    Raise ExchangeError when the source cannot be read, SchemaError when its
    tables have another shape than vt-tui's, and DatabaseLockedError when the
    target is locked. Merging the same source twice adds nothing the second time.
    """
    path = Path(source).expanduser()
    if not path.exists():
        raise ExchangeError(f"{path} not found; pass a vt-tui database file or a folder written by --export")
    if store.path.exists() and path.is_file() and os.path.samefile(path, store.path):
        raise ExchangeError(f"{path} is the target database itself; pass another database")

    started = time.perf_counter()
    with store.connect() as con:
        if path.is_dir():
            relations, version, found = _parquet_source(con, path)
            kind = "parquet"
        else:
            relations, version, found = _attach_database(con, path)
            kind = "database"
        try:
            _check_source_shape(path, found, _columns_by_table(con, None), version)
            report = MergeReport(source=str(path), source_kind=kind)
            _copy_rows(con, relations, report)
        finally:
            if kind == "database":
                con.execute(f"DETACH {SOURCE_ALIAS}")
    report.seconds = time.perf_counter() - started
    return report


def _attach_database(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[dict[str, str], int | None, dict]:
    try:
        con.execute(f"ATTACH {_sql_string(path)} AS {SOURCE_ALIAS} (READ_ONLY)")
    except duckdb.Error as error:
        if is_lock_error(error):
            raise ExchangeError(
                f"{path} is locked by another process ({error}); close the vt-tui or DuckDB session that "
                "has it open and merge again"
            ) from None
        raise ExchangeError(f"{path} is not a DuckDB database or could not be opened: {error}") from None

    found = _columns_by_table(con, SOURCE_ALIAS)
    version = None
    if schema.SCHEMA_VERSION_TABLE in found:
        row = con.execute(f"SELECT MAX(version) FROM {SOURCE_ALIAS}.main.{schema.SCHEMA_VERSION_TABLE}").fetchone()
        version = int(row[0] or 0)
    relations = {table: f"{SOURCE_ALIAS}.main.{table}" for table in TABLE_KEYS if table in found}
    return relations, version, found


def _parquet_source(con: duckdb.DuckDBPyConnection, folder: Path) -> tuple[dict[str, str], int | None, dict]:
    manifest_path = folder / MANIFEST_NAME
    if not manifest_path.is_file():
        raise ExchangeError(
            f"{folder} has no {MANIFEST_NAME}, so it is not a finished vt-tui export; pass a folder written by "
            "`vt-tui db --export` or a .duckdb file"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ExchangeError(f"{manifest_path} could not be read: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != EXPORT_FORMAT:
        raise ExchangeError(f"{manifest_path} is not a vt-tui export manifest (format is not {EXPORT_FORMAT!r})")

    relations: dict[str, str] = {}
    found: dict[str, list[str]] = {}
    for table, entry in (manifest.get("tables") or {}).items():
        file_name = entry.get("file") if isinstance(entry, dict) else None
        if not isinstance(file_name, str) or "/" in file_name or "\\" in file_name:
            raise ExchangeError(f"{manifest_path}: table {table} has an invalid file name {file_name!r}")
        file_path = folder / file_name
        if not file_path.is_file():
            raise ExchangeError(f"{file_path} is missing although {MANIFEST_NAME} lists it; export again")
        relation = f"read_parquet({_sql_string(file_path)})"
        found[table] = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
        if table in TABLE_KEYS:
            relations[table] = relation
    version = manifest.get("schema_version")
    return relations, int(version) if isinstance(version, int) else None, found


def _check_source_shape(path: Path, found: dict[str, list[str]], target: dict[str, list[str]],
                        version: int | None) -> None:
    """Raise SchemaError unless the source's tables have the columns of the target's."""
    for table, expected in (("vision_text_results", VISION_TEXT_RESULTS_COLUMNS),
                            ("model_compatibility", MODEL_COMPATIBILITY_COLUMNS)):
        columns = found.get(table)
        if columns is not None and tuple(columns) != expected:
            raise SchemaError(
                f"{path} is not a vt-tui database: its table {table} has columns ({', '.join(columns)}), but "
                f"vt-tui expects ({', '.join(expected)}). To bring in results of the older framework, import "
                "its JSON result files with --import-results."
            )
    if version is None:
        raise SchemaError(
            f"{path} has no {schema.SCHEMA_VERSION_TABLE} table, so it is not a vt-tui database or export; "
            "to bring in results of the older framework, import its JSON result files with --import-results"
        )
    if version > schema.LATEST_VERSION:
        raise SchemaError(
            f"{path} has schema version {version}, newer than this vt-tui's {schema.LATEST_VERSION}; "
            "upgrade vt-tui and merge again"
        )
    missing = [table for table in REQUIRED_TABLES if table not in found]
    if missing:
        raise SchemaError(f"{path} lacks the table(s) {', '.join(missing)}; it is not a complete vt-tui database")
    # NOTE: every schema so far is version 1. A later version that changes a table's columns needs
    # this merge to migrate an older source; until then a column difference is rejected here.
    for table in TABLE_KEYS:
        if table in found and sorted(found[table]) != sorted(target[table]):
            raise SchemaError(
                f"{path}: table {table} has columns ({', '.join(found[table])}), but this database has "
                f"({', '.join(target[table])}); merge with the vt-tui version that wrote {path}"
            )


def _copy_rows(con: duckdb.DuckDBPyConnection, relations: dict[str, str], report: MergeReport) -> None:
    """Insert the source rows the target lacks and refresh compatibility, all in one transaction."""
    results = relations["vision_text_results"]
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE vt_merge_new AS "
            f"SELECT s.id, s.model_id FROM {results} s "
            "WHERE NOT EXISTS (SELECT 1 FROM vision_text_results t WHERE t.id = s.id)"
        )
        new_count = con.execute("SELECT COUNT(*) FROM vt_merge_new").fetchone()[0]
        report.already_present = con.execute(f"SELECT COUNT(*) FROM {results}").fetchone()[0] - new_count

        for table, key in TABLE_KEYS.items():
            relation = relations.get(table)
            if relation is None:
                continue
            if table in ("vision_text_results", "result_details", "samples"):
                # Rows of a result come along only with a result the target did not have.
                condition = f"s.{key} IN (SELECT id FROM vt_merge_new)"
                if table == "result_details":
                    condition += f" AND NOT EXISTS (SELECT 1 FROM {table} t WHERE t.{key} = s.{key})"
            else:
                condition = f"NOT EXISTS (SELECT 1 FROM {table} t WHERE t.{key} = s.{key})"
            inserted = con.execute(f"INSERT INTO {table} BY NAME SELECT s.* FROM {relation} s WHERE {condition}")
            report.added[table] = int(inserted.fetchone()[0])

        models = [row[0] for row in con.execute("SELECT DISTINCT model_id FROM vt_merge_new").fetchall()]
        refresh_compatibility(con, models)
        report.models_refreshed = len(models)
        con.execute("DROP TABLE vt_merge_new")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def _columns_by_table(con: duckdb.DuckDBPyConnection, database: str | None) -> dict[str, list[str]]:
    """Return {table: columns} of the `main` schema of `database` (None: the connection's own database)."""
    rows = con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() "
        "WHERE database_name = COALESCE(?, current_database()) AND schema_name = 'main' "
        "ORDER BY table_name, column_index",
        [database],
    ).fetchall()
    columns: dict[str, list[str]] = {}
    for table, column in rows:
        columns.setdefault(table, []).append(column)
    return columns


def _sql_string(value: Any) -> str:
    """Quote a path as an SQL string literal (COPY and ATTACH take no bound parameters)."""
    return "'" + str(value).replace("'", "''") + "'"


# -- command line --------------------------------------------------------------


def cli_export(args: argparse.Namespace) -> int:
    """Run `vt-tui db --export DIR`; return 0, 1 (database locked) or 2 (invalid path or schema)."""
    store = Store(args.db)
    try:
        manifest = export_parquet(store, args.export)
    except (ExchangeError, SchemaError) as error:
        print(f"vt-tui: error: {error}", file=sys.stderr)
        return 2
    except DatabaseLockedError as error:
        print(f"vt-tui: error: {error}", file=sys.stderr)
        return 1
    if getattr(args, "json", False):
        json.dump(manifest, sys.stdout, indent=2)
        print()
        return 0
    counts = ", ".join(f"{entry['rows']} {table}" for table, entry in manifest["tables"].items())
    print(f"exported {store.path} (schema version {manifest['schema_version']}) to {Path(args.export).expanduser()}: "
          f"{counts}")
    return 0


def cli_merge(args: argparse.Namespace) -> int:
    """Run `vt-tui db --merge PATH`; return 0, 1 (database locked or merge failed) or 2 (invalid source or schema)."""
    store = Store(args.db)
    try:
        report = merge(store, args.merge)
    except (ExchangeError, SchemaError) as error:
        print(f"vt-tui: error: {error}", file=sys.stderr)
        return 2
    except DatabaseLockedError as error:
        print(f"vt-tui: error: {error}", file=sys.stderr)
        return 1
    except duckdb.Error as error:
        print(f"vt-tui: error: merging {args.merge} failed and nothing was changed: {error}", file=sys.stderr)
        return 1
    if getattr(args, "json", False):
        json.dump({"database": str(store.path), **report.to_dict()}, sys.stdout, indent=2)
        print()
        return 0
    added = report.added
    print(
        f"merged {report.source} ({report.source_kind}) into {store.path} in {report.seconds:.1f} s: "
        f"{added.get('vision_text_results', 0)} new result(s), {report.already_present} already present; "
        f"{added.get('samples', 0)} sample(s), {added.get('machines', 0)} machine(s), {added.get('runs', 0)} run(s), "
        f"{added.get('imported_files', 0)} imported file record(s); compatibility refreshed for "
        f"{report.models_refreshed} model(s)"
    )
    return 0
