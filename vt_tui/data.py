"""Queries behind the screens: each takes a Store, blocks, and returns plain rows.

Screens call these from thread workers. Aggregation happens in DuckDB, so a
database with a million results costs one grouped query per screen, not a scan
in Python.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from vt_core.records import PLATFORMS, UNTESTED
from vt_core.store import Store
from vt_tui.services import FeatureMissing, ModelInfo, import_optional

log = logging.getLogger(__name__)

HISTORY_LIMIT = 200
"""Newest results shown in a model's run history."""
CELL_RUNS_LIMIT = 50
TIMELINE_LIMIT = 500
"""Newest runs drawn in the latency-over-time chart."""


# -- model browser and matrix ----------------------------------------------


@dataclass
class ModelRow:
    """One model with its latest state on every platform."""

    model_id: str
    family: str | None
    task: str | None
    sources: tuple[str, ...]
    parameter_count: int | None
    parameter_count_note: str | None
    states: dict[str, str]
    last_tested: Any = None
    in_catalog: bool = False
    reference: str | None = None
    """Model reference a job passes to the worker (a folder for models found only there); None means the id."""


@dataclass
class ModelTable:
    rows: list[ModelRow]
    catalog_problem: str | None = None
    """Reason the catalog models are missing from `rows`, or None."""


def load_model_table(store: Store, models: Sequence[ModelInfo] | None, catalog_problem: str | None = None) -> ModelTable:
    """Merge the known models with the latest stored states; tested models outside the catalog come last."""
    matrix = store.matrix()
    measured = _measured_parameter_counts(store)
    rows: list[ModelRow] = []
    seen: set[str] = set()

    for info in models or ():
        if info.model_id in seen:
            continue
        seen.add(info.model_id)
        entry = matrix.get(info.model_id, {})
        count, note = info.parameter_count, info.parameter_count_note
        if info.model_id in measured:
            count, note = measured[info.model_id], "counted by a run"
        sources = set(info.sources) | set(entry.get("sources", ()))
        rows.append(
            ModelRow(
                model_id=info.model_id, family=info.family or entry.get("family"),
                task=info.task or entry.get("task"), sources=tuple(sorted(sources)),
                parameter_count=count, parameter_count_note=note,
                states=dict(entry.get("states") or {p: UNTESTED for p in PLATFORMS}),
                last_tested=entry.get("last_tested"), in_catalog=info.in_catalog, reference=info.reference,
            )
        )

    for model_id, entry in matrix.items():
        if model_id in seen:
            continue
        rows.append(
            ModelRow(
                model_id=model_id, family=entry.get("family"), task=entry.get("task"),
                sources=tuple(sorted(entry.get("sources", ()))),
                parameter_count=measured.get(model_id),
                parameter_count_note="counted by a run" if model_id in measured else None,
                states=dict(entry["states"]), last_tested=entry.get("last_tested"),
            )
        )
    return ModelTable(rows=rows, catalog_problem=catalog_problem)


def _measured_parameter_counts(store: Store) -> dict[str, int]:
    with store.connect(read_only=True) as con:
        rows = con.execute(
            """
            SELECT r.model_id, arg_max(d.parameter_count, r.timestamp)
            FROM vision_text_results r JOIN result_details d ON d.result_id = r.id
            WHERE d.parameter_count IS NOT NULL
            GROUP BY r.model_id
            """
        ).fetchall()
    return {model_id: int(count) for model_id, count in rows}


def group_by_family(rows: Sequence[ModelRow]) -> list[tuple[str, list[ModelRow]]]:
    """Return rows grouped by family, families in first-seen order, unknown family last."""
    groups: dict[str, list[ModelRow]] = {}
    for row in rows:
        groups.setdefault(row.family or "other", []).append(row)
    ordered = [(name, items) for name, items in groups.items() if name != "other"]
    if "other" in groups:
        ordered.append(("other", groups["other"]))
    return ordered


# -- run history and cell details -------------------------------------------


@dataclass
class RunRecord:
    """One stored result with the fields the detail views show."""

    result_id: str
    model_id: str
    platform: str
    timestamp: Any
    state: str
    error_type: str | None = None
    error_message: str | None = None
    device: str | None = None
    weights_source: str | None = None
    precision: str | None = None
    batch_size: int | None = None
    n: int | None = None
    mean_s: float | None = None
    median_s: float | None = None
    p90_s: float | None = None
    p99_s: float | None = None
    stdev_s: float | None = None
    ci95_low_s: float | None = None
    ci95_high_s: float | None = None
    throughput_per_s: float | None = None
    load_time_s: float | None = None
    first_inference_s: float | None = None
    peak_rss_mb: float | None = None
    max_abs_diff: float | None = None
    top1_agreement: float | None = None
    tokens_match: bool | None = None
    comparison: dict[str, Any] = field(default_factory=dict)
    output: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    flag: str | None = None
    """Kind of fake ("mock" or "simulated") of a legacy result that the older framework faked, else None."""


_RUN_COLUMNS = """
    r.id, r.model_id, r.hardware_platform, r.timestamp, d.state, r.error_type, d.error_message, d.device,
    d.weights_source, d.precision, d.batch_size, d.n_samples, d.mean_s, d.median_s, d.p90_s, d.p99_s,
    d.stdev_s, d.ci95_low_s, d.ci95_high_s, d.throughput_per_s, d.load_time_s, d.first_inference_s,
    d.peak_rss_mb, d.max_abs_diff, d.top1_agreement, d.tokens_match, r.results, d.run_id, d.is_mock,
    d.is_simulated
"""


def _run_record(row: Sequence[Any]) -> RunRecord:
    results = _json(row[26])
    flag = None
    if row[28]:
        flag = "mock"
    elif row[29]:
        flag = "simulated"
    return RunRecord(
        result_id=row[0], model_id=row[1], platform=row[2], timestamp=row[3], state=row[4],
        error_type=row[5], error_message=row[6], device=row[7], weights_source=row[8], precision=row[9],
        batch_size=row[10], n=row[11], mean_s=row[12], median_s=row[13], p90_s=row[14], p99_s=row[15],
        stdev_s=row[16], ci95_low_s=row[17], ci95_high_s=row[18], throughput_per_s=row[19],
        load_time_s=row[20], first_inference_s=row[21], peak_rss_mb=row[22], max_abs_diff=row[23],
        top1_agreement=row[24], tokens_match=row[25], comparison=results.get("comparison") or {},
        output=results.get("output") or {}, run_id=row[27],
        flag=flag,
    )


def _json(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if not value:
        return {}
    try:
        data = json.loads(value)
    except (TypeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def load_history(store: Store, model_id: str, limit: int = HISTORY_LIMIT) -> list[RunRecord]:
    """Return the newest results of one model on every platform, newest first."""
    with store.connect(read_only=True) as con:
        rows = con.execute(
            f"""
            SELECT {_RUN_COLUMNS}
            FROM vision_text_results r JOIN result_details d ON d.result_id = r.id
            WHERE r.model_id = ?
            ORDER BY r.timestamp DESC, r.id DESC
            LIMIT ?
            """,
            [model_id, limit],
        ).fetchall()
    return [_run_record(row) for row in rows]


def load_cell_runs(store: Store, model_id: str, platform: str, limit: int = CELL_RUNS_LIMIT) -> list[RunRecord]:
    """Return the newest results of one model on one platform, newest first."""
    with store.connect(read_only=True) as con:
        rows = con.execute(
            f"""
            SELECT {_RUN_COLUMNS}
            FROM vision_text_results r JOIN result_details d ON d.result_id = r.id
            WHERE r.model_id = ? AND r.hardware_platform = ?
            ORDER BY r.timestamp DESC, r.id DESC
            LIMIT ?
            """,
            [model_id, platform, limit],
        ).fetchall()
    return [_run_record(row) for row in rows]


# -- statistics ------------------------------------------------------------


@dataclass
class StatRow:
    """Latency statistics of one model on one platform under one settings key."""

    model_id: str
    platform: str
    settings_key: str | None
    n: int | None
    mean_s: float | None
    median_s: float | None
    p90_s: float | None
    p99_s: float | None
    stdev_s: float | None
    ci95_low_s: float | None
    """Lower end of the 95% interval of the mean (Student t)."""
    ci95_high_s: float | None
    throughput_per_s: float | None
    peak_rss_mb: float | None
    median_ci_low_s: float | None = None
    """Lower end of the 95% interval of the median (order statistics); None below 6 samples."""
    median_ci_high_s: float | None = None
    runs: int | None = None
    regression: str | None = None
    """Short description of the detected regressions that are still open, None when there are none."""


@dataclass
class StatsData:
    rows: list[StatRow]
    basis: str
    """What the figures are computed from, shown under the table."""
    regressions: str = "pending"
    """`pending` while detection runs, `done` when the flags are set, else why they are absent."""


def load_statistics(store: Store, *, pooled: bool = False) -> StatsData:
    """Return per model x platform x settings statistics, without regression flags.

    The figures come from `vt_core.stats.group_statistics`: the samples of each
    group's latest run, or with `pooled` the samples of all its pass results.
    """
    stats = import_optional("vt_core.stats", "statistics")
    group_statistics = getattr(stats, "group_statistics", None)
    if group_statistics is None:
        raise FeatureMissing("statistics are not available yet: vt_core.stats.group_statistics is missing")
    groups = group_statistics(store, latest_only=not pooled)
    rows = [
        StatRow(
            model_id=g.model_id, platform=g.platform, settings_key=g.settings_key, n=g.n, mean_s=g.mean_s,
            median_s=g.median_s, p90_s=g.p90_s, p99_s=g.p99_s, stdev_s=g.stdev_s, ci95_low_s=g.mean_ci_low_s,
            ci95_high_s=g.mean_ci_high_s, throughput_per_s=g.throughput_per_s, peak_rss_mb=g.peak_rss_mb,
            median_ci_low_s=g.median_ci_low_s, median_ci_high_s=g.median_ci_high_s, runs=g.run_count,
        )
        for g in groups
    ]
    rows.sort(key=lambda row: (row.model_id, PLATFORMS.index(row.platform) if row.platform in PLATFORMS else 99,
                               row.settings_key or ""))
    basis = "pass results of all runs, pooled" if pooled else "latest run of each model, platform and settings"
    return StatsData(rows=rows, basis=basis)


RegressionFlags = dict[tuple[str, str, str | None], str]
"""(model_id, platform, settings_key) -> a short description of the regressions that still stand."""


def load_regression_flags(store: Store) -> RegressionFlags:
    """Return the standing regressions found by `vt_core.stats.find_regressions`, by group.

    This reads the whole history and tests raw samples, which takes much longer
    than the statistics table on a large database, so the screen loads it second.
    """
    stats = import_optional("vt_core.stats", "regression detection")
    find_regressions = getattr(stats, "find_regressions", None)
    if find_regressions is None:
        raise FeatureMissing("regression detection is not available yet: vt_core.stats.find_regressions is missing")
    flags: dict[tuple[str, str, str | None], list[str]] = {}
    for item in find_regressions(store):
        if item.direction == "regression":
            flags.setdefault((item.model_id, item.platform, item.settings_key), []).append(_describe_regression(item))
    return {key: ", ".join(parts) for key, parts in flags.items()}


def _describe_regression(item: Any) -> str:
    if item.kind == "state":
        return f"{item.before_state}→{item.after_state}"
    change = f"{item.relative_change:+.0%}" if item.relative_change is not None else "changed"
    return change if item.kind == "latency" else f"{item.kind} {change}"


def latest_result_id(store: Store, model_id: str, platform: str, settings_key: str | None) -> str | None:
    """Return the id of the newest result with samples in one group, or None."""
    with store.connect(read_only=True) as con:
        row = con.execute(
            """
            SELECT r.id FROM vision_text_results r JOIN result_details d ON d.result_id = r.id
            WHERE r.model_id = ? AND r.hardware_platform = ? AND d.settings_key IS NOT DISTINCT FROM ?
              AND d.n_samples > 0
            ORDER BY r.timestamp DESC, r.id DESC LIMIT 1
            """,
            [model_id, platform, settings_key],
        ).fetchone()
    return row[0] if row else None


@dataclass
class TimePoint:
    timestamp: dt.datetime
    median_s: float
    result_id: str


def load_timeline(store: Store, model_id: str, platform: str, settings_key: str | None,
                  limit: int = TIMELINE_LIMIT) -> list[TimePoint]:
    """Return (timestamp, median) of the newest measured runs of one group, oldest first."""
    with store.connect(read_only=True) as con:
        rows = con.execute(
            """
            SELECT timestamp, median_s, id FROM (
                SELECT r.timestamp, d.median_s, r.id
                FROM vision_text_results r JOIN result_details d ON d.result_id = r.id
                WHERE r.model_id = ? AND r.hardware_platform = ? AND d.settings_key IS NOT DISTINCT FROM ?
                  AND d.median_s IS NOT NULL
                ORDER BY r.timestamp DESC, r.id DESC LIMIT ?
            ) ORDER BY timestamp, id
            """,
            [model_id, platform, settings_key, limit],
        ).fetchall()
    return [TimePoint(timestamp=r[0], median_s=r[1], result_id=r[2]) for r in rows]


def load_samples(store: Store, result_id: str) -> list[float]:
    return store.samples(result_id)


# -- helpers ---------------------------------------------------------------


def age(timestamp: Any, now: dt.datetime) -> str:
    """Format how long ago `timestamp` was, such as `5m ago` or `3d ago`."""
    if not isinstance(timestamp, dt.datetime):
        return "never"
    seconds = (now - timestamp).total_seconds()
    if seconds < 0:
        return timestamp.strftime("%Y-%m-%d %H:%M")
    for limit, unit in ((60, "s"), (3600, "m"), (86400, "h")):
        if seconds < limit:
            divisor = {"s": 1, "m": 60, "h": 3600}[unit]
            return f"{int(seconds // divisor)}{unit} ago"
    days = int(seconds // 86400)
    if days < 60:
        return f"{days}d ago"
    return timestamp.strftime("%Y-%m-%d")


def shared_model_table(services: Any, version: int, *, refresh: bool = False) -> ModelTable:
    """Return the model table of data version `version`, built once for all screens."""
    if refresh:
        services.models(refresh=True)
    build = lambda: load_model_table_with_catalog(services.store, services)  # noqa: E731
    return services.shared("models", version, build, rebuild=refresh)


def load_model_table_with_catalog(store: Store, services: Any) -> ModelTable:
    """Load the known models (if the catalog is installed) and merge them with stored states."""
    problem = None
    try:
        models = services.models()
    except FeatureMissing as error:
        models, problem = [], str(error)
    except Exception as error:  # a broken model folder must not hide the stored results
        log.exception("listing models failed")
        models, problem = [], f"listing models failed: {error}"
    return load_model_table(store, models, problem)
