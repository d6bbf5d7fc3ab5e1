"""Locations of the database, spool, caches and reports.

Defaults live under the user's data directory (`platformdirs`); `VT_DB` moves
the database and `VT_HOME` moves everything else (tests point it at a temporary
folder).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "vt-tui"


def data_dir() -> Path:
    """Return the root folder for vt-tui's files: `VT_HOME`, else the user's data directory."""
    override = os.environ.get("VT_HOME")
    path = Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    return path.expanduser()


def default_db_path() -> Path:
    return data_dir() / "results.duckdb"


def resolve_db_path(cli_value: str | os.PathLike[str] | None = None) -> Path:
    """Return the database path: `--db`, else `VT_DB`, else the default under the data directory."""
    if cli_value:
        return Path(cli_value).expanduser()
    env = os.environ.get("VT_DB")
    if env:
        return Path(env).expanduser()
    return default_db_path()


def spool_dir(db_path: Path) -> Path:
    """Return the spool folder of a database: results wait there until they are in DuckDB."""
    return db_path.with_name(db_path.name + ".spool")


def cache_dir() -> Path:
    """Return the cache root: synthetic builds, converted models, reference outputs."""
    return data_dir() / "cache"


def synthetic_models_dir() -> Path:
    return cache_dir() / "synthetic"


def converted_models_dir() -> Path:
    return cache_dir() / "converted"


def references_dir() -> Path:
    return cache_dir() / "references"


def inputs_dir() -> Path:
    return cache_dir() / "inputs"


def reports_dir() -> Path:
    """Return the default output folder for reports and figures."""
    return data_dir() / "reports"
