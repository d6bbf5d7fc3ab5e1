"""Statistics over a results database: per-group summaries, regressions, correlations.

Every function takes a `vt_core.store.Store` and reads through
`store.connect(read_only=True)`. Aggregates are computed in DuckDB; raw samples
are loaded only for the series whose history has a candidate step, so a
million results cost a few aggregate passes over the `samples` table and no
Python loop over samples (figures: benchmarks/stats_scale.py).

A group (and a history series) is one model x platform x settings key from
`result_details`: device, precision, batch size and weights source, the
settings that change latency. Only `pass` results count for latency and
memory, and results imported from mock or simulated runs of the older
framework count only with `include_flagged`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from vt_core.stats.change import (
    DEFAULT_ALPHA, DEFAULT_MEMORY_MIN_CHANGE_MB, DEFAULT_MEMORY_THRESHOLD, DEFAULT_THRESHOLD, IMPROVEMENT,
    REGRESSION, check_alpha, check_threshold, compare_states,
)
from vt_core.stats.correlation import (
    PEARSON, SPEARMAN, Association, category_effect, correlate, point_biserial,
)
from vt_core.stats.steps import (
    RunSummary, Step, change_point_candidates_many, confirm_steps, sample_comparer, value_comparer,
)
from vt_core.stats.summary import check_confidence, median_ci_ranks

if TYPE_CHECKING:
    import duckdb

    from vt_core.store import Store

LATENCY = "latency"
MEMORY = "memory"
STATE = "state"

MEMORY_METRICS = ("peak_rss_mb", "torch_max_allocated_mb")
"""Memory columns of `result_details` watched for steps, both in MiB."""

SeriesKey = tuple[str, str, str]
"""(model_id, platform, settings_key)."""


@dataclass(frozen=True)
class GroupStats:
    """Latency statistics of one model x platform x settings key, pooled over its samples.

    Latencies are in seconds, memory in MiB. `n` counts samples; with n == 0
    (results imported without per-iteration samples) every latency figure is None.
    """

    model_id: str
    platform: str
    settings_key: str
    device: str | None
    precision: str | None
    batch_size: int | None
    weights_source: str | None
    model_family: str | None
    parameter_count: int | None
    result_count: int
    run_count: int
    first_timestamp: dt.datetime | None
    last_timestamp: dt.datetime | None
    n: int
    mean_s: float | None
    mean_ci_low_s: float | None
    """Student t-interval of the mean (`MEAN_CI_METHOD`)."""
    mean_ci_high_s: float | None
    median_s: float | None
    median_ci_low_s: float | None
    """Order-statistic interval of the median (`MEDIAN_CI_METHOD`); None below 6 samples at 95%."""
    median_ci_high_s: float | None
    median_ci_coverage: float | None
    p90_s: float | None
    p99_s: float | None
    stdev_s: float | None
    cv: float | None
    """Coefficient of variation, stdev / mean."""
    min_s: float | None
    max_s: float | None
    throughput_per_s: float | None
    """Items per second: batch_size * n / sum of the samples."""
    peak_rss_mb: float | None
    """Median over the results of the worker's peak RSS above its post-import baseline."""
    torch_max_allocated_mb: float | None
    """Median over the results of torch's peak allocated device memory (CUDA, ROCm)."""
    confidence: float


@dataclass(frozen=True)
class Regression:
    """A change in one series: where it began, its size and the evidence for it.

    For `latency` and `memory`, before and after are the medians of the
    segments on either side of the step, in `unit`. For `state` they are None
    and `before_state` / `after_state` hold the states instead.
    """

    model_id: str
    platform: str
    settings_key: str
    """The series key; for `state`, the settings key of the result where the change began."""
    kind: str
    """`latency`, `memory` or `state`."""
    metric: str
    """`latency_s`, `peak_rss_mb`, `torch_max_allocated_mb` or `state`."""
    direction: str
    """`regression` (slower, larger, or passing -> failing) or `improvement`."""
    before: float | None
    after: float | None
    relative_change: float | None
    p_value: float | None
    """Two-sided Mann-Whitney U p-value; None for state changes and for memory
    segments too short for the test, where complete separation decides."""
    run_id: str | None
    """The run where the change began; None for results stored without a run."""
    result_id: str
    """The first result of that run in the series."""
    timestamp: dt.datetime | None
    n_before: int | None
    """Samples (latency) or runs (memory) before the step."""
    n_after: int | None
    unit: str | None
    still_open: bool
    """False when a later step has undone the change."""
    before_state: str | None = None
    after_state: str | None = None
    """For `state`: the latest state of the series."""


@dataclass(frozen=True)
class Correlation:
    """One association between two variables across results."""

    x: str
    y: str
    method: str
    """A key of `CORRELATION_METHODS`."""
    coefficient: float
    p_value: float
    n: int
    statistic: float
    scope: str
    """`all`, or the platform the rows were restricted to."""
    groups: int | None = None


# -- shared SQL ---------------------------------------------------------------

PICKED_RESULTS_SQL = """
SELECT r.id AS result_id, r.model_id, r.hardware_platform AS platform,
       COALESCE(d.settings_key, 'unknown') AS settings_key, d.run_id,
       COALESCE(d.run_id, r.id) AS run_key, r.timestamp, d.device, d.precision, d.batch_size,
       d.weights_source, d.model_family, d.peak_rss_mb, d.torch_max_allocated_mb, d.parameter_count
FROM vision_text_results r
JOIN result_details d ON d.result_id = r.id
WHERE d.state = 'pass'
  AND ($include_flagged OR (NOT COALESCE(d.is_mock, FALSE) AND NOT COALESCE(d.is_simulated, FALSE)))
"""
"""Pass results with their series keys. `run_key` is the run id, or the result id for a result stored without a run."""

def _picked(latest_only: bool = False) -> str:
    """Return the pass-results query, restricted to each group's newest run with `latest_only`."""
    if not latest_only:
        return PICKED_RESULTS_SQL
    return (
        f"SELECT * FROM ({PICKED_RESULTS_SQL}) AS pass_results "
        "QUALIFY run_key = ARG_MAX(run_key, timestamp) OVER (PARTITION BY model_id, platform, settings_key)"
    )


# -- group statistics ---------------------------------------------------------

GROUP_SIZES_SQL = """
WITH picked AS ({picked})
SELECT DISTINCT n FROM (
    SELECT COUNT(*) AS n FROM samples s JOIN picked p ON p.result_id = s.result_id
    GROUP BY p.model_id, p.platform, p.settings_key
)
"""
"""Distinct sample counts of the groups, so the ranks of the median's interval can be computed first."""

GROUP_SQL = """
WITH picked AS ({picked}),
by_result AS (
    SELECT model_id, platform, settings_key,
           COUNT(*) AS result_count, COUNT(DISTINCT run_key) AS run_count,
           MIN(timestamp) AS first_timestamp, MAX(timestamp) AS last_timestamp,
           ANY_VALUE(device) AS device, ANY_VALUE(precision) AS precision,
           ANY_VALUE(batch_size) AS batch_size, ANY_VALUE(weights_source) AS weights_source,
           ANY_VALUE(model_family) AS model_family, MAX(parameter_count) AS parameter_count,
           MEDIAN(peak_rss_mb) AS peak_rss_mb, MEDIAN(torch_max_allocated_mb) AS torch_max_allocated_mb
    FROM picked GROUP BY model_id, platform, settings_key
),
by_sample AS (
    SELECT p.model_id, p.platform, p.settings_key,
           COUNT(*) AS n, AVG(s.latency_s) AS mean_s, MEDIAN(s.latency_s) AS median_s,
           QUANTILE_CONT(s.latency_s, 0.9) AS p90_s, QUANTILE_CONT(s.latency_s, 0.99) AS p99_s,
           STDDEV_SAMP(s.latency_s) AS stdev_s, MIN(s.latency_s) AS min_s, MAX(s.latency_s) AS max_s,
           SUM(s.latency_s) AS total_s, LIST_SORT(LIST(s.latency_s)) AS ordered
    FROM samples s JOIN picked p ON p.result_id = s.result_id
    GROUP BY p.model_id, p.platform, p.settings_key
),
ranks AS (SELECT UNNEST($counts) AS n, UNNEST($low_ranks) AS low_rank, UNNEST($high_ranks) AS high_rank)
SELECT g.*, COALESCE(s.n, 0) AS n, s.mean_s, s.median_s, s.p90_s, s.p99_s, s.stdev_s, s.min_s, s.max_s,
       s.total_s, s.ordered[k.low_rank + 1] AS median_ci_low_s, s.ordered[k.high_rank + 1] AS median_ci_high_s
FROM by_result g
LEFT JOIN by_sample s ON s.model_id = g.model_id AND s.platform = g.platform AND s.settings_key = g.settings_key
LEFT JOIN ranks k ON k.n = s.n
ORDER BY g.model_family NULLS LAST, g.model_id, g.platform, g.settings_key
"""
"""One pass over the samples: aggregates, and the two order statistics of the median's
interval picked from each group's sorted samples (1-based list index = 0-based rank + 1)."""


def group_statistics(store: Store, include_flagged: bool = False, *, latest_only: bool = False,
                     confidence: float = 0.95) -> list[GroupStats]:
    """Return latency and memory statistics of every model x platform x settings key with pass results.

    By default the samples of every pass result of a group are pooled, so the
    intervals describe the whole history and assume it has one level.
    `find_regressions` finds where it does not. With `latest_only`, each
    group keeps only the results of its newest run. Percentiles are linear
    interpolations (DuckDB quantile_cont), equal to numpy's default and to
    `vt_core.stats.describe` on the same samples.
    """
    from scipy import stats as scipy_stats

    check_confidence(confidence)
    picked = _picked(latest_only)
    parameters = {"include_flagged": bool(include_flagged)}
    with store.connect(read_only=True) as con:
        counts = [int(row[0]) for row in con.execute(GROUP_SIZES_SQL.format(picked=picked), parameters).fetchall()]
        low, high, reached = median_ci_ranks(counts, confidence) if counts else ([], [], [])
        usable = [i for i, rank in enumerate(low) if rank >= 0]
        coverage = {counts[i]: float(reached[i]) for i in usable}
        ranks = {
            "counts": [counts[i] for i in usable],
            "low_ranks": [int(low[i]) for i in usable],
            "high_ranks": [int(high[i]) for i in usable],
        }
        cursor = con.execute(GROUP_SQL.format(picked=picked), {**parameters, **ranks})
        rows = _dict_rows(cursor)

    groups = []
    for row in rows:
        n = int(row["n"])
        mean, stdev = row["mean_s"], row["stdev_s"]
        mean_low = mean_high = None
        if n > 1 and stdev is not None:
            half_width = float(scipy_stats.t.ppf(0.5 + confidence / 2.0, n - 1)) * stdev / math.sqrt(n)
            mean_low, mean_high = mean - half_width, mean + half_width
        median_low, median_high = row["median_ci_low_s"], row["median_ci_high_s"]
        batch_size = row["batch_size"] or 1
        total = row["total_s"]
        groups.append(GroupStats(
            model_id=row["model_id"], platform=row["platform"], settings_key=row["settings_key"],
            device=row["device"], precision=row["precision"], batch_size=row["batch_size"],
            weights_source=row["weights_source"], model_family=row["model_family"],
            parameter_count=row["parameter_count"], result_count=int(row["result_count"]),
            run_count=int(row["run_count"]), first_timestamp=row["first_timestamp"],
            last_timestamp=row["last_timestamp"], n=n, mean_s=mean, mean_ci_low_s=mean_low,
            mean_ci_high_s=mean_high, median_s=row["median_s"], median_ci_low_s=median_low,
            median_ci_high_s=median_high,
            median_ci_coverage=coverage.get(n) if median_low is not None else None,
            p90_s=row["p90_s"], p99_s=row["p99_s"], stdev_s=stdev,
            cv=stdev / mean if stdev is not None and mean else None,
            min_s=row["min_s"], max_s=row["max_s"],
            throughput_per_s=batch_size * n / total if total else None,
            peak_rss_mb=row["peak_rss_mb"], torch_max_allocated_mb=row["torch_max_allocated_mb"],
            confidence=confidence,
        ))
    return groups


# -- regressions --------------------------------------------------------------

RUN_LATENCY_SQL = """
WITH picked AS ({picked})
SELECT p.model_id, p.platform, p.settings_key, p.run_key, ANY_VALUE(p.run_id) AS run_id,
       ARG_MIN(p.result_id, p.timestamp) AS first_result, MIN(p.timestamp) AS started_at,
       MEDIAN(s.latency_s) AS value, COUNT(*) AS n, MAD(LN(s.latency_s)) AS log_mad
FROM samples s JOIN picked p ON p.result_id = s.result_id
WHERE s.latency_s > 0
GROUP BY p.model_id, p.platform, p.settings_key, p.run_key
ORDER BY p.model_id, p.platform, p.settings_key, started_at, p.run_key
"""

SERIES_SAMPLES_SQL = """
WITH picked AS ({picked}),
wanted AS (SELECT UNNEST($models) AS model_id, UNNEST($platforms) AS platform, UNNEST($keys) AS settings_key)
SELECT p.model_id, p.platform, p.settings_key, p.run_key, s.latency_s
FROM samples s
JOIN picked p ON p.result_id = s.result_id
JOIN wanted w ON w.model_id = p.model_id AND w.platform = p.platform AND w.settings_key = p.settings_key
WHERE s.latency_s > 0
ORDER BY p.model_id, p.platform, p.settings_key, p.run_key
"""

RUN_MEMORY_SQL = """
WITH picked AS ({picked})
SELECT model_id, platform, settings_key, run_key, ANY_VALUE(run_id) AS run_id,
       ARG_MIN(result_id, timestamp) AS first_result, MIN(timestamp) AS started_at,
       MEDIAN({metric}) AS value, COUNT(*) AS n
FROM picked
WHERE {metric} > 0
GROUP BY model_id, platform, settings_key, run_key
ORDER BY model_id, platform, settings_key, started_at, run_key
"""

STATE_CHANGES_SQL = """
WITH tested AS (
    SELECT r.model_id, r.hardware_platform AS platform, COALESCE(d.precision, 'f32') AS precision,
           COALESCE(d.batch_size, 1) AS batch_size, d.state, COALESCE(d.settings_key, 'unknown') AS settings_key,
           r.id AS result_id, d.run_id, r.timestamp,
           ROW_NUMBER() OVER (
               PARTITION BY r.model_id, r.hardware_platform, COALESCE(d.precision, 'f32'), COALESCE(d.batch_size, 1)
               ORDER BY r.timestamp DESC, r.id DESC
           ) AS age
    FROM vision_text_results r
    JOIN result_details d ON d.result_id = r.id
    WHERE d.state IN ('pass', 'fail', 'mismatch')
      AND ($include_flagged OR (NOT COALESCE(d.is_mock, FALSE) AND NOT COALESCE(d.is_simulated, FALSE)))
),
latest AS (SELECT * FROM tested WHERE age = 1),
boundary AS (
    SELECT t.model_id, t.platform, t.precision, t.batch_size, MIN(t.age) AS age
    FROM tested t
    JOIN latest l ON l.model_id = t.model_id AND l.platform = t.platform
                 AND l.precision = t.precision AND l.batch_size = t.batch_size
    WHERE (t.state = 'pass') <> (l.state = 'pass')
    GROUP BY t.model_id, t.platform, t.precision, t.batch_size
)
SELECT l.model_id, l.platform, previous.state AS before_state, l.state AS after_state,
       began.settings_key, began.run_id, began.result_id, began.timestamp
FROM boundary b
JOIN latest l ON l.model_id = b.model_id AND l.platform = b.platform
             AND l.precision = b.precision AND l.batch_size = b.batch_size
JOIN tested previous ON previous.model_id = b.model_id AND previous.platform = b.platform
                    AND previous.precision = b.precision AND previous.batch_size = b.batch_size
                    AND previous.age = b.age
JOIN tested began ON began.model_id = b.model_id AND began.platform = b.platform
                 AND began.precision = b.precision AND began.batch_size = b.batch_size
                 AND began.age = b.age - 1
ORDER BY l.model_id, l.platform, began.timestamp
"""
"""The latest pass/fail flip of each model x platform x precision x batch size.

The series key leaves out device and weights source because failed results
often lack both, and the run that began the current streak of the latest
state is where the change began.
"""


@dataclass
class _Series:
    """The per-run rows of one series, oldest run first, as column arrays."""

    key: SeriesKey
    run_keys: np.ndarray
    run_ids: np.ndarray
    first_results: np.ndarray
    started_at: np.ndarray
    values: np.ndarray
    """Median latency (s) or median memory (MiB) per run."""
    counts: np.ndarray
    log_mad: np.ndarray | None = None


def find_regressions(store: Store, since: dt.datetime | dt.date | None = None,
                     threshold: float = DEFAULT_THRESHOLD, alpha: float = DEFAULT_ALPHA, *,
                     memory_threshold: float = DEFAULT_MEMORY_THRESHOLD,
                     memory_min_change_mb: float = DEFAULT_MEMORY_MIN_CHANGE_MB,
                     include_improvements: bool = False, include_resolved: bool = False,
                     include_flagged: bool = False) -> list[Regression]:
    """Return the changes in latency, memory and pass/fail state that began at or after `since`.

    Latency: steps over each series' runs by `vt_core.stats.steps.STEP_METHOD`,
    each confirmed by the threshold AND a Mann-Whitney U test at alpha on the
    raw samples. Memory: the same step detection on one value per run
    (`memory_threshold`, `memory_min_change_mb`). State: a series whose latest
    state is fail or mismatch after a pass, reported from the run where the
    failing streak began.

    By default only regressions that still stand are returned: a step undone
    by a later one is left out unless `include_resolved`, improvements unless
    `include_improvements`. `since` is naive UTC, like the stored timestamps;
    a date means its midnight. The whole history is still read, because a
    step needs the runs before it.
    """
    check_threshold(threshold)
    check_alpha(alpha)
    check_threshold(memory_threshold, "memory_threshold")
    if not (math.isfinite(memory_min_change_mb) and memory_min_change_mb >= 0):
        raise ValueError(f"memory_min_change_mb {memory_min_change_mb!r} is invalid; use zero or more MiB")
    start = _as_datetime(since)
    parameters = {"include_flagged": bool(include_flagged)}

    found: list[Regression] = []
    with store.connect(read_only=True) as con:
        found += _latency_changes(con, parameters, start, threshold, alpha)
        for metric in MEMORY_METRICS:
            found += _memory_changes(con, parameters, start, metric, memory_threshold, alpha, memory_min_change_mb)
        found += _state_changes(con, parameters, start)

    kept = [
        r for r in found
        if (r.direction == REGRESSION or include_improvements) and (r.still_open or include_resolved)
    ]
    kinds = {LATENCY: 0, MEMORY: 1, STATE: 2}
    kept.sort(key=lambda r: (r.model_id, r.platform, r.settings_key, kinds[r.kind], r.metric, _sortable(r.timestamp)))
    return kept


def _latency_changes(con: duckdb.DuckDBPyConnection, parameters: dict[str, Any], start: dt.datetime | None,
                     threshold: float, alpha: float) -> list[Regression]:
    picked = _picked()
    series = _fetch_series(con, RUN_LATENCY_SQL.format(picked=picked), parameters, start)

    # Stage 1 on per-run aggregates only: which series have a candidate step.
    candidates = change_point_candidates_many(
        [RunSummary(s.values, s.counts, s.log_mad) for s in series], alpha,
    )
    testable = [(s, points) for s, points in zip(series, candidates) if points]
    if not testable:
        return []

    # Stage 2 on raw samples, loaded for those series only.
    samples = _load_samples(con, parameters, picked, [s.key for s, _ in testable])
    found = []
    for item, points in testable:
        run_samples = [samples[(item.key, run_key)] for run_key in item.run_keys.tolist()]
        steps = confirm_steps(points, len(run_samples), sample_comparer(run_samples, threshold, alpha))
        found += [_regression(item, LATENCY, step, "s") for step in steps]
    return [r for r in found if start is None or _after(r.timestamp, start)]


def _load_samples(con: duckdb.DuckDBPyConnection, parameters: dict[str, Any], picked: str,
                  keys: Sequence[SeriesKey]) -> dict[tuple[SeriesKey, str], np.ndarray]:
    """Return the raw latency samples of every run of the given series, keyed by (series, run key)."""
    columns = con.execute(
        SERIES_SAMPLES_SQL.format(picked=picked),
        {
            **parameters,
            "models": [k[0] for k in keys],
            "platforms": [k[1] for k in keys],
            "keys": [k[2] for k in keys],
        },
    ).fetchnumpy()
    latency = np.asarray(columns["latency_s"], dtype=float)
    labels = [np.asarray(columns[name], dtype=object) for name in ("model_id", "platform", "settings_key", "run_key")]
    if latency.size == 0:
        return {}

    # Rows arrive sorted by series and run, so each run is one contiguous slice.
    changes = np.zeros(latency.size - 1, dtype=bool)
    for column in labels:
        changes |= column[1:] != column[:-1]
    starts = np.concatenate(([0], np.flatnonzero(changes) + 1))
    stops = np.concatenate((starts[1:], [latency.size]))
    return {
        ((labels[0][a], labels[1][a], labels[2][a]), labels[3][a]): latency[a:b]
        for a, b in zip(starts.tolist(), stops.tolist())
    }


def _memory_changes(con: duckdb.DuckDBPyConnection, parameters: dict[str, Any], start: dt.datetime | None,
                    metric: str, threshold: float, alpha: float, min_change_mb: float) -> list[Regression]:
    series = _fetch_series(con, RUN_MEMORY_SQL.format(picked=_picked(), metric=metric), parameters, start)
    candidates = change_point_candidates_many([RunSummary(s.values, s.counts) for s in series], alpha)
    found = []
    for item, points in zip(series, candidates):
        if not points:
            continue
        compare = value_comparer(item.values, threshold, alpha, min_change_mb, metric)
        found += [_regression(item, MEMORY, step, "MiB") for step in confirm_steps(points, item.values.size, compare)]
    return [r for r in found if start is None or _after(r.timestamp, start)]


def _fetch_series(con: duckdb.DuckDBPyConnection, sql: str, parameters: dict[str, Any],
                  start: dt.datetime | None) -> list[_Series]:
    """Return the series of a per-run query with at least two runs and, with `start`, a run at or after it.

    The query must return model_id, platform, settings_key, run_key, run_id,
    first_result, started_at, value and n (and optionally log_mad), sorted by
    series and then by start time.
    """
    columns = con.execute(sql, parameters).fetchnumpy()
    size = len(columns["run_key"])
    if size == 0:
        return []
    labels = [np.asarray(columns[name], dtype=object) for name in ("model_id", "platform", "settings_key")]
    started = np.asarray(columns["started_at"])
    values = _floats(columns["value"])
    counts = _floats(columns["n"])
    log_mad = _floats(columns["log_mad"]) if "log_mad" in columns else None

    changes = np.zeros(size - 1, dtype=bool)
    for column in labels:
        changes |= column[1:] != column[:-1]
    bounds = np.concatenate(([0], np.flatnonzero(changes) + 1, [size])).tolist()

    found = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        if b - a < 2 or (start is not None and not started[b - 1] >= np.datetime64(start)):
            continue
        found.append(_Series(
            key=(labels[0][a], labels[1][a], labels[2][a]),
            run_keys=np.asarray(columns["run_key"][a:b], dtype=object),
            run_ids=np.asarray(columns["run_id"][a:b], dtype=object),
            first_results=np.asarray(columns["first_result"][a:b], dtype=object),
            started_at=started[a:b], values=values[a:b], counts=counts[a:b],
            log_mad=None if log_mad is None else log_mad[a:b],
        ))
    return found


def _state_changes(con: duckdb.DuckDBPyConnection, parameters: dict[str, Any],
                   start: dt.datetime | None) -> list[Regression]:
    found = []
    for model_id, platform, before, after, key, run_id, result_id, timestamp in con.execute(
        STATE_CHANGES_SQL, parameters
    ).fetchall():
        direction = compare_states(before, after)
        if direction not in (REGRESSION, IMPROVEMENT):
            continue
        if start is not None and not _after(timestamp, start):
            continue
        found.append(Regression(
            model_id=model_id, platform=platform, settings_key=key, kind=STATE, metric="state",
            direction=direction, before=None, after=None, relative_change=None, p_value=None,
            run_id=run_id, result_id=result_id, timestamp=timestamp, n_before=None, n_after=None,
            unit=None, still_open=True, before_state=before, after_state=after,
        ))
    return found


def _regression(series: _Series, kind: str, step: Step, unit: str) -> Regression:
    change = step.change
    run_id = series.run_ids[step.index]
    return Regression(
        model_id=series.key[0], platform=series.key[1], settings_key=series.key[2], kind=kind,
        metric=change.metric, direction=change.direction, before=change.before, after=change.after,
        relative_change=change.relative_change, p_value=change.p_value,
        run_id=None if run_id is None or run_id is np.ma.masked else str(run_id),
        result_id=str(series.first_results[step.index]), timestamp=_to_datetime(series.started_at[step.index]),
        n_before=change.n_before, n_after=change.n_after, unit=unit, still_open=step.still_open,
    )


# -- correlations -------------------------------------------------------------

MEASURED_SQL = """
WITH picked AS ({picked})
SELECT p.platform, d.median_s AS latency_s, COALESCE(p.torch_max_allocated_mb, p.peak_rss_mb) AS memory_mb,
       CAST(p.batch_size AS DOUBLE) AS batch_size, CAST(p.parameter_count AS DOUBLE) AS parameter_count
FROM picked p JOIN result_details d ON d.result_id = p.result_id
"""

TESTED_SQL = """
SELECT r.hardware_platform AS platform, d.state = 'pass' AS passed,
       CAST(d.batch_size AS DOUBLE) AS batch_size, CAST(d.parameter_count AS DOUBLE) AS parameter_count
FROM vision_text_results r
JOIN result_details d ON d.result_id = r.id
WHERE d.state IN ('pass', 'fail', 'mismatch')
  AND ($include_flagged OR (NOT COALESCE(d.is_mock, FALSE) AND NOT COALESCE(d.is_simulated, FALSE)))
"""

NUMERIC_PAIRS: tuple[tuple[str, str], ...] = (
    ("parameter_count", "latency_s"),
    ("parameter_count", "memory_mb"),
    ("batch_size", "latency_s"),
    ("batch_size", "memory_mb"),
    ("memory_mb", "latency_s"),
)
"""Numeric pairs correlated across pass results. `latency_s` is each result's median
latency; `memory_mb` is torch's peak allocation on GPUs, else the peak RSS."""

CATEGORY_TARGETS = ("latency_s", "memory_mb")
"""Numeric columns tested for a difference across platforms."""

PASS_FLAG_TARGETS = ("parameter_count", "batch_size")
"""Numeric columns correlated with passing, across pass, fail and mismatch results."""


def correlations(store: Store, include_flagged: bool = False, *, per_platform: bool = False) -> list[Correlation]:
    """Return the associations between latency, memory, batch size, model size, platform and passing.

    Pearson and Spearman coefficients for each of `NUMERIC_PAIRS`, the
    Kruskal-Wallis rank eta squared of latency and memory across platforms,
    and the point-biserial r between passing and model size or batch size.
    Pooled over platforms, model size and latency are confounded by the
    platform, so `per_platform` adds the numeric pairs within each platform.
    Pairs with fewer than 3 complete rows or a constant column are left out.
    """
    parameters = {"include_flagged": bool(include_flagged)}
    with store.connect(read_only=True) as con:
        measured = con.execute(MEASURED_SQL.format(picked=_picked()), parameters).fetchnumpy()
        tested = con.execute(TESTED_SQL, parameters).fetchnumpy()

    platforms = np.asarray(measured["platform"], dtype=object)
    columns = {name: _floats(measured[name]) for name in ("latency_s", "memory_mb", "batch_size", "parameter_count")}
    found = _numeric_pairs(columns, "all")
    if per_platform:
        for platform in sorted(set(platforms.tolist())):
            rows = platforms == platform
            found += _numeric_pairs({name: values[rows] for name, values in columns.items()}, platform)

    for target in CATEGORY_TARGETS:
        _append(found, "platform", target, "all", category_effect(columns[target], platforms.tolist()))

    passed = _floats(tested["passed"])
    for target in PASS_FLAG_TARGETS:
        _append(found, "passed", target, "all", point_biserial(passed, _floats(tested[target])))
    return found


def _numeric_pairs(columns: dict[str, np.ndarray], scope: str) -> list[Correlation]:
    found: list[Correlation] = []
    for x, y in NUMERIC_PAIRS:
        for method in (PEARSON, SPEARMAN):
            _append(found, x, y, scope, correlate(columns[x], columns[y], method))
    return found


def _append(found: list[Correlation], x: str, y: str, scope: str, association: Association | None) -> None:
    if association is None:
        return
    found.append(Correlation(
        x=x, y=y, method=association.method, coefficient=association.coefficient, p_value=association.p_value,
        n=association.n, statistic=association.statistic, scope=scope, groups=association.groups,
    ))


# -- helpers ------------------------------------------------------------------

def _dict_rows(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _floats(values: Iterable[Any]) -> np.ndarray:
    """Return a float array with NaN where a value is missing (DuckDB returns masked arrays for NULLs)."""
    if isinstance(values, np.ma.MaskedArray):
        return values.astype(float).filled(np.nan)
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


def _as_datetime(value: dt.datetime | dt.date | None) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    raise TypeError(f"since must be a datetime or a date, got {type(value).__name__}")


def _after(timestamp: dt.datetime | None, start: dt.datetime) -> bool:
    return timestamp is not None and timestamp >= start


def _sortable(timestamp: dt.datetime | None) -> dt.datetime:
    return timestamp or dt.datetime.min


def _to_datetime(value: Any) -> dt.datetime | None:
    """Return a numpy datetime64 from fetchnumpy as a naive datetime, or None for NaT."""
    if value is None or value is np.ma.masked:
        return None
    if isinstance(value, dt.datetime):
        return value
    if np.isnat(value):
        return None
    return np.datetime64(value, "us").astype(dt.datetime)
