"""The app's access to vt_core: database, catalog, platform detection, reports.

Every call here may block (DuckDB queries, a detection subprocess, file
writes), so screens call them from thread workers only. Tests replace single
entries of `Services` with fixed data (a detection result that does not depend
on the machine, a fixed clock) to make snapshots stable.

Parts of vt_core that are not installed raise `FeatureMissing` with a message
that names the missing module, so the screen shows what is missing instead of
showing empty data as if it were a result.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vt_core.store import Store

log = logging.getLogger(__name__)

_LOCKS: dict[str, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()


class FeatureMissing(RuntimeError):
    """A part of vt_core the app needs is not installed."""


def _lock_for(path: Path) -> threading.RLock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(str(path.resolve()), threading.RLock())


class AppStore(Store):
    """A Store for the app: connections to one file never overlap, and DuckDB prints nothing.

    DuckDB refuses a read-only connection to a file that the same process has
    open for writing, and the reverse ("different configuration"). The app
    reads in thread workers while the launcher writes results in its own
    thread, so every connection to the file takes one lock per path. DuckDB
    also draws a progress bar on the terminal during long queries, over the
    app's screen, so each connection turns it off.

    NOTE: reads do not run in parallel either, and a result the launcher stores
    waits for the read in progress (it is in the spool file meanwhile). On a
    database of a million results the longest read, regression detection, takes
    tens of seconds.
    """

    @contextlib.contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[Any]:
        with _lock_for(self.path):
            with super().connect(read_only=read_only) as con:
                con.execute("SET enable_progress_bar = false")
                yield con


@dataclass
class ModelInfo:
    """One model the browser lists: from the catalog, a local folder or the Hugging Face cache."""

    model_id: str
    family: str | None = None
    task: str | None = None
    sources: tuple[str, ...] = ()
    """Places with weights: cache, local, synthetic (a synthetic build exists on disk)."""
    parameter_count: int | None = None
    parameter_count_note: str | None = None
    """Origin of the count: the catalog's figure, a weights header, or a run that loaded the model."""
    path: str | None = None
    in_catalog: bool = False
    reference: str | None = None
    """Model reference a job passes to the worker: the local folder when the weights are only there, else the id."""


def import_optional(module: str, what: str) -> Any:
    """Import a vt_core module or raise FeatureMissing naming it and the feature."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise FeatureMissing(f"{what} is not available yet: {module} is not installed ({error})") from error


def catalog_models(model_dirs: Sequence[Path]) -> list[ModelInfo]:
    """Return the catalog's models plus those found in `model_dirs` and the Hugging Face cache."""
    catalog = import_optional("vt_core.catalog", "the model catalog")
    entries = catalog.list_models(extra_dirs=tuple(model_dirs))
    models: list[ModelInfo] = []
    for entry in entries:
        sources = tuple(str(source) for source in getattr(entry, "sources", ()) or ())
        count = getattr(entry, "parameter_count", None)
        note = getattr(entry, "parameter_count_note", None) or ("catalog figure" if count is not None else None)
        local_path = getattr(entry, "local_path", None)
        cache_path = getattr(entry, "cache_path", None)
        synthetic_path = getattr(entry, "synthetic_path", None)
        in_catalog = bool(getattr(entry, "in_catalog", False))
        path = local_path or cache_path or synthetic_path
        # The worker resolves a reference as a folder, then a Hugging Face cache id, then a
        # synthetic build of a catalog id. A model outside the catalog found only in a folder
        # must therefore be passed by its folder.
        reference = str(entry.model_id)
        if local_path and not cache_path:
            reference = str(local_path)
        elif synthetic_path and not in_catalog and not cache_path:
            reference = str(synthetic_path)
        models.append(
            ModelInfo(
                model_id=str(entry.model_id),
                family=getattr(entry, "family", None),
                task=getattr(entry, "task", None),
                sources=sources,
                parameter_count=count,
                parameter_count_note=note,
                path=_str_or_none(path),
                in_catalog=in_catalog,
                reference=reference,
            )
        )
    return models


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def detect_platforms() -> list[dict[str, Any]]:
    """Return the platform dicts of `vt_core.platforms.detect_in_subprocess`."""
    platforms = import_optional("vt_core.platforms", "platform detection")
    return list(platforms.detect_in_subprocess())


def export_reports(store: Store, output_dir: Path) -> list[Path]:
    """Write the full report set into `output_dir` and return the written files."""
    reports = import_optional("vt_core.reports", "report export")
    return [Path(p) for p in reports.export_all(store, output_dir)]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


@dataclass
class Services:
    """The blocking operations the app performs, replaceable one by one in tests."""

    store: Store
    model_dirs: list[Path] = field(default_factory=list)
    list_models: Callable[[Sequence[Path]], list[ModelInfo]] = catalog_models
    detect_platforms: Callable[[], list[dict[str, Any]]] = detect_platforms
    export_reports: Callable[[Store, Path], list[Path]] = export_reports
    reports_dir: Callable[[], Path] | None = None
    now: Callable[[], dt.datetime] = utc_now
    """Wall clock in UTC (naive, like stored timestamps), for ages such as `3h ago`."""

    _models_cache: list[ModelInfo] | None = None
    _models_lock: threading.Lock = field(default_factory=threading.Lock)
    _tables: dict[str, tuple[int, Any]] = field(default_factory=dict)
    _tables_lock: threading.Lock = field(default_factory=threading.Lock)

    def models(self, *, refresh: bool = False) -> list[ModelInfo]:
        """Return the known models, scanning folders and the cache once per app unless `refresh`."""
        with self._models_lock:
            if self._models_cache is None or refresh:
                self._models_cache = self.list_models(self.model_dirs)
            return list(self._models_cache)

    def shared(self, name: str, version: int, build: Callable[[], Any], *, rebuild: bool = False) -> Any:
        """Return `build()` computed once per data version and shared by the screens that ask for `name`.

        The model browser, the launcher and the matrix all show the same table.
        On a large database one query for it takes seconds, so the first
        screen to ask builds it and the others wait for that result.
        """
        with self._tables_lock:
            cached = self._tables.get(name)
            if cached is not None and cached[0] == version and not rebuild:
                return cached[1]
            value = build()
            self._tables[name] = (version, value)
            return value

    def output_dir(self) -> Path:
        if self.reports_dir is not None:
            return self.reports_dir()
        from vt_core import paths

        return paths.reports_dir()
