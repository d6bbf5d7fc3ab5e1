"""SQL that reports and figures read from the results database.

Every aggregation over results or samples runs in DuckDB. Python receives one
row per matrix cell, per performance group or per time-series point, so a
database with a million results stays fast.

Rules shared by all queries:
- Results flagged as mock or simulated (legacy imports) are left out unless
  `include_flagged` is set.
- Latency and memory statistics use `pass` results only, as `vt_core.stats`
  does: a run whose output is wrong may have skipped work, so its timing is no
  measure of the platform.
- Empty task, settings key or machine id are stored as '' inside the queries so
  that NULLs group and join like any other value; `none_if_empty` turns them back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from vt_core.records import PLATFORMS

FLAG_FILTER = "($include_flagged OR (NOT COALESCE(d.is_mock, FALSE) AND NOT COALESCE(d.is_simulated, FALSE)))"

TIMED_STATE = "pass"

CONFIDENCE = 0.95


def none_if_empty(value: Any) -> Any:
    return None if value == "" else value


@dataclass
class ResultCounts:
    total: int
    """Results stored, flagged or not."""
    flagged: int
    """Results from mock or simulated legacy runs."""

    def usable(self, include_flagged: bool) -> int:
        return self.total if include_flagged else self.total - self.flagged


def result_counts(con: duckdb.DuckDBPyConnection) -> ResultCounts:
    total, flagged = con.execute(
        """
        SELECT COUNT(*),
               COUNT(*) FILTER (WHERE COALESCE(d.is_mock, FALSE) OR COALESCE(d.is_simulated, FALSE))
        FROM vision_text_results r LEFT JOIN result_details d ON d.result_id = r.id
        """
    ).fetchone()
    return ResultCounts(int(total), int(flagged))


# -- compatibility matrix -----------------------------------------------------

MATRIX_CELLS_SQL = f"""
WITH latest AS (
    SELECT r.model_id,
           COALESCE(r.task, '') AS task,
           r.hardware_platform AS platform,
           -- ARG_MAX over (available first, newest, highest id) picks the same row as
           -- ROW_NUMBER() ... = 1 would, about three times faster on a million results.
           ARG_MAX(
               {{'state': d.state,
                 'family': COALESCE(d.model_family, r.model_type),
                 'timestamp': r.timestamp,
                 'weights_source': d.weights_source,
                 'error_type': r.error_type,
                 'error_message': d.error_message,
                 'flagged': COALESCE(d.is_mock, FALSE) OR COALESCE(d.is_simulated, FALSE)}},
               ROW(CASE WHEN d.state = 'unavailable' THEN 0 ELSE 1 END, r.timestamp, r.id)
           ) AS cell
    FROM vision_text_results r
    JOIN result_details d ON d.result_id = r.id
    WHERE d.state <> 'untested' AND {FLAG_FILTER}
    GROUP BY ALL
)
SELECT model_id, task, platform, cell.state, cell.family, cell.timestamp, cell.weights_source, cell.error_type,
       cell.error_message, cell.flagged
FROM latest
ORDER BY model_id, task, platform
"""
"""The current state of each (model, task, platform): the newest pass, mismatch or fail
result, else `unavailable`. An absent platform on one machine never hides a real
result from another machine."""


def matrix_cells(con: duckdb.DuckDBPyConnection, include_flagged: bool) -> list[tuple]:
    return con.execute(MATRIX_CELLS_SQL, {"include_flagged": include_flagged}).fetchall()


# -- performance groups -------------------------------------------------------

GROUP_KEYS = ("model_id", "task", "platform", "settings_key", "machine_id")

TIMED_RESULTS_SQL = f"""
SELECT r.id,
       r.model_id,
       COALESCE(r.task, '') AS task,
       r.hardware_platform AS platform,
       r.timestamp,
       COALESCE(d.model_family, r.model_type) AS family,
       d.state,
       COALESCE(d.settings_key, '') AS settings_key,
       d.device,
       d.precision,
       COALESCE(d.batch_size, 1) AS batch_size,
       d.weights_source,
       COALESCE(d.machine_id, '') AS machine_id,
       COALESCE(d.torch_max_allocated_mb, d.peak_rss_mb) AS memory_mb,
       d.median_s,
       d.mean_s,
       d.n_samples
FROM vision_text_results r
JOIN result_details d ON d.result_id = r.id
WHERE d.state = '{TIMED_STATE}' AND {FLAG_FILTER}
"""

PERF_GROUPS_SQL = f"""
CREATE OR REPLACE TEMP TABLE vt_perf_groups AS
WITH timed AS ({TIMED_RESULTS_SQL}),
runs AS (
    SELECT model_id, task, platform, settings_key, machine_id,
           ANY_VALUE(family) FILTER (WHERE family IS NOT NULL) AS family,
           ANY_VALUE(device) FILTER (WHERE device IS NOT NULL) AS device,
           ANY_VALUE(precision) FILTER (WHERE precision IS NOT NULL) AS precision,
           ANY_VALUE(batch_size) AS batch_size,
           ANY_VALUE(weights_source) FILTER (WHERE weights_source IS NOT NULL) AS weights_source,
           COUNT(*) AS runs,
           -- Legacy results carry the older framework's average and no samples.
           COUNT(*) FILTER (WHERE COALESCE(n_samples, 0) = 0) AS runs_without_samples,
           AVG(mean_s) FILTER (WHERE COALESCE(n_samples, 0) = 0) AS unsampled_mean_s,
           MAX(memory_mb) AS peak_memory_mb,
           MIN(timestamp) AS first_run,
           MAX(timestamp) AS last_run
    FROM timed
    GROUP BY ALL
),
sample_stats AS (
    SELECT t.model_id, t.task, t.platform, t.settings_key, t.machine_id,
           COUNT(*) AS n,
           AVG(s.latency_s) AS mean_s,
           STDDEV_SAMP(s.latency_s) AS stdev_s,
           SUM(s.latency_s) AS total_s,
           SUM(t.batch_size) AS items,
           -- One sorted list per group gives the median, p90 and the median's interval
           -- bounds; it is about twice as fast as QUANTILE_CONT plus a sorted list.
           LIST(s.latency_s ORDER BY s.latency_s) AS sorted_s
    FROM samples s
    JOIN timed t ON t.id = s.result_id
    GROUP BY ALL
)
SELECT runs.*, COALESCE(st.n, 0) AS n, st.mean_s, st.stdev_s, st.total_s, st.items, st.sorted_s
FROM runs
LEFT JOIN sample_stats st USING ({", ".join(GROUP_KEYS)})
"""

def list_quantile(sorted_list: str, count: str, q: float) -> str:
    """Return SQL for the q-quantile of a sorted 1-based list, interpolated linearly at (n - 1) * q.

    This is numpy's default percentile method and DuckDB's QUANTILE_CONT.
    """
    position = f"(({count} - 1) * {q!r})"
    low = f"{sorted_list}[CAST(FLOOR({position}) AS BIGINT) + 1]"
    high = f"{sorted_list}[CAST(CEIL({position}) AS BIGINT) + 1]"
    return f"({low} + ({position} - FLOOR({position})) * ({high} - {low}))"


PERF_SELECT_SQL = f"""
SELECT g.family, g.model_id, g.task, g.platform, g.settings_key, g.machine_id, g.device, g.precision,
       g.batch_size, g.weights_source, g.runs, g.n, g.mean_s,
       {list_quantile("g.sorted_s", "g.n", 0.5)} AS median_s,
       {list_quantile("g.sorted_s", "g.n", 0.9)} AS p90_s,
       g.stdev_s,
       g.mean_s - k.t_critical * g.stdev_s / SQRT(g.n) AS mean_ci_low_s,
       g.mean_s + k.t_critical * g.stdev_s / SQRT(g.n) AS mean_ci_high_s,
       g.sorted_s[k.median_low_rank] AS median_ci_low_s,
       g.sorted_s[k.median_high_rank] AS median_ci_high_s,
       k.median_ci_coverage,
       CASE WHEN g.total_s > 0 THEN g.items / g.total_s END AS throughput_per_s,
       g.peak_memory_mb, g.first_run, g.last_run,
       m.hostname, m.cpu, m.gpu_name, g.runs_without_samples, g.unsampled_mean_s
FROM vt_perf_groups g
LEFT JOIN vt_ci_constants k ON k.n = g.n
LEFT JOIN machines m ON m.machine_id = g.machine_id
ORDER BY g.family NULLS LAST, g.model_id, g.task, g.platform, g.settings_key, g.machine_id
"""

PERF_COLUMNS = (
    "family", "model_id", "task", "platform", "settings_key", "machine_id", "device", "precision",
    "batch_size", "weights_source", "runs", "n", "mean_s", "median_s", "p90_s",
    "stdev_s", "mean_ci_low_s", "mean_ci_high_s", "median_ci_low_s", "median_ci_high_s", "median_ci_coverage",
    "throughput_per_s", "peak_memory_mb", "first_run", "last_run", "hostname", "cpu", "gpu_name",
    "runs_without_samples", "unsampled_mean_s",
)


def ci_constants(sample_counts: np.ndarray, confidence: float = CONFIDENCE) -> pa.Table:
    """Return, for each sample count n, the t critical value and the 1-based ranks of the median's interval.

    Mean: the Student t-interval of `vt_core.stats.mean_ci`. Median: the
    order-statistic interval of `vt_core.stats.median_ci`, whose ranks come from
    `median_ci_ranks`; with fewer than 6 samples at 95% the ranks are NULL.
    """
    from scipy import stats as scipy_stats

    from vt_core.stats.summary import median_ci_ranks

    n = np.unique(np.asarray(sample_counts, dtype=np.int64))
    n = n[n > 0]
    several = n > 1
    t_critical = np.zeros(n.shape)
    t_critical[several] = scipy_stats.t.ppf(0.5 + confidence / 2.0, n[several] - 1)
    low, high, coverage = median_ci_ranks(n, confidence) if n.size else (n, n, n.astype(float))
    valid = low >= 0

    return pa.table({
        "n": pa.array(n, type=pa.int64()),
        "t_critical": pa.array(t_critical, mask=~several, type=pa.float64()),
        "median_low_rank": pa.array(low + 1, mask=~valid, type=pa.int64()),
        "median_high_rank": pa.array(high + 1, mask=~valid, type=pa.int64()),
        "median_ci_coverage": pa.array(np.nan_to_num(coverage), mask=~valid, type=pa.float64()),
    })


def performance_groups(con: duckdb.DuckDBPyConnection, include_flagged: bool) -> list[dict[str, Any]]:
    """Return one dict per (model, task, platform, settings key, machine) with statistics of its samples."""
    con.execute(PERF_GROUPS_SQL, {"include_flagged": include_flagged})
    counts = np.array([row[0] for row in con.execute("SELECT DISTINCT n FROM vt_perf_groups").fetchall()])
    constants = ci_constants(counts)
    con.register("vt_ci_constants_arrow", constants)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE vt_ci_constants AS SELECT * FROM vt_ci_constants_arrow")
    finally:
        con.unregister("vt_ci_constants_arrow")
    rows = con.execute(PERF_SELECT_SQL).fetchall()
    con.execute("DROP TABLE IF EXISTS vt_perf_groups")
    con.execute("DROP TABLE IF EXISTS vt_ci_constants")

    groups = []
    for row in rows:
        group = dict(zip(PERF_COLUMNS, row))
        for key in ("task", "settings_key", "machine_id"):
            group[key] = none_if_empty(group[key])
        groups.append(group)
    return groups


# -- time series --------------------------------------------------------------

TIME_SERIES_SQL = f"""
WITH timed AS ({TIMED_RESULTS_SQL}),
series AS (
    SELECT model_id, task, platform, settings_key,
           COUNT(*) AS series_runs, MIN(timestamp) AS t0, MAX(timestamp) AS t1
    FROM timed
    WHERE median_s IS NOT NULL
    GROUP BY ALL
),
runs AS (
    SELECT t.*, s.series_runs, s.t0, s.t1
    FROM timed t
    JOIN series s USING (model_id, task, platform, settings_key)
    WHERE t.median_s IS NOT NULL
),
single_runs AS (
    SELECT family, model_id, task, platform, settings_key, weights_source, device,
           timestamp AS point_time, median_s, 1 AS runs, COALESCE(n_samples, 0) AS samples
    FROM runs
    WHERE series_runs <= $max_points
),
buckets AS (
    SELECT ANY_VALUE(family) FILTER (WHERE family IS NOT NULL) AS family, model_id, task, platform, settings_key,
           ANY_VALUE(weights_source) FILTER (WHERE weights_source IS NOT NULL) AS weights_source,
           ANY_VALUE(device) FILTER (WHERE device IS NOT NULL) AS device,
           MIN(timestamp) + (MAX(timestamp) - MIN(timestamp)) / 2 AS point_time,
           MEDIAN(median_s) AS median_s,
           COUNT(*) AS runs,
           SUM(COALESCE(n_samples, 0)) AS samples
    FROM runs
    WHERE series_runs > $max_points
    GROUP BY model_id, task, platform, settings_key,
             LEAST(FLOOR(DATE_DIFF('microsecond', t0, timestamp)
                         / GREATEST(DATE_DIFF('microsecond', t0, t1), 1) * $max_points), $max_points - 1)
)
SELECT * FROM single_runs
UNION ALL
SELECT * FROM buckets
ORDER BY model_id, task, platform, settings_key, point_time
"""

TIME_SERIES_COLUMNS = (
    "family", "model_id", "task", "platform", "settings_key", "weights_source", "device", "point_time",
    "median_s", "runs", "samples",
)


def time_series_points(con: duckdb.DuckDBPyConnection, include_flagged: bool, max_points: int = 200) -> list[dict[str, Any]]:
    """Return the points of every (model, task, platform, settings key) latency series, oldest first.

    A point is one run's median latency (from its samples, computed at ingest).
    A series with more than `max_points` runs is cut into `max_points` equal time
    buckets, and each point is then the median of the run medians in its bucket
    (`runs` counts them).
    """
    rows = con.execute(TIME_SERIES_SQL, {"include_flagged": include_flagged, "max_points": max_points}).fetchall()
    points = []
    for row in rows:
        point = dict(zip(TIME_SERIES_COLUMNS, row))
        point["task"] = none_if_empty(point["task"])
        point["settings_key"] = none_if_empty(point["settings_key"])
        points.append(point)
    return points


def other_platform_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Return platform names stored in results that are not one of the seven matrix platforms."""
    rows = con.execute(
        "SELECT DISTINCT hardware_platform FROM vision_text_results WHERE hardware_platform NOT IN (SELECT UNNEST(?))"
        " OR hardware_platform IS NULL",
        [list(PLATFORMS)],
    ).fetchall()
    return sorted(str(r[0]) for r in rows)
