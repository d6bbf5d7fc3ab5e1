"""The data behind the figures, read once from the store and shared by every figure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vt_core.reports import common, queries
from vt_core.reports.matrix import MatrixReport, build_matrix
from vt_core.reports.performance import PerformanceReport, build_performance


@dataclass
class FigureData:
    matrix: MatrixReport
    performance: PerformanceReport
    time_series: list[dict[str, Any]] = field(default_factory=list)
    """Points from `queries.time_series_points`."""

    @property
    def db_path(self) -> str:
        return self.matrix.db_path


def load_figure_data(store: Any, *, include_flagged: bool = False, max_points_per_series: int = 200) -> FigureData:
    """Read the matrix, the performance groups and the latency series from `store`.

    Raise EmptyDatabaseError when there is no result to plot.
    """
    matrix = build_matrix(store, include_flagged=include_flagged)
    performance = build_performance(store, include_flagged=include_flagged)
    with store.connect(read_only=True) as con:
        points = queries.time_series_points(con, include_flagged, max_points_per_series)
    return FigureData(matrix=matrix, performance=performance, time_series=points)


@dataclass
class ChartEntry:
    """One bar or marker: the group that stands for a (category, platform) pair."""

    family: str | None
    category: str
    platform: str
    group: dict[str, Any]
    hidden_groups: int = 0
    """Other groups of the same pair (other devices or machines) left out of the chart."""


def chart_entries(groups: list[dict[str, Any]]) -> list[ChartEntry]:
    """Pick, per family, category and platform, the group with the newest run.

    The category is the model id, with the task added when the model has several
    tasks in the family, and the precision, batch size and weights source added
    when the model and task were measured with several of them.
    Groups without samples have no latency and are skipped.
    """
    timed = [g for g in groups if g["median_s"] is not None]
    tasks: dict[tuple, set] = {}
    variants: dict[tuple, set] = {}
    for g in timed:
        tasks.setdefault((g["family"], g["model_id"]), set()).add(g["task"])
        variants.setdefault((g["family"], g["model_id"], g["task"]), set()).add(variant_of(g))

    chosen: dict[tuple, ChartEntry] = {}
    for g in timed:
        category = g["model_id"]
        if len(tasks[(g["family"], g["model_id"])]) > 1:
            category += f" · {g['task'] or 'default task'}"
        if len(variants[(g["family"], g["model_id"], g["task"])]) > 1:
            category += f" · {variant_of(g)}"
        key = (g["family"], category, g["platform"])
        entry = chosen.get(key)
        if entry is None:
            chosen[key] = ChartEntry(g["family"], category, g["platform"], g)
            continue
        entry.hidden_groups += 1
        if common.newer(g["last_run"], entry.group["last_run"]):
            entry.group = g
    return sorted(chosen.values(), key=lambda e: (e.family is None, common.family_label(e.family).lower(), e.category))


def variant_of(group: dict[str, Any]) -> str:
    return f"{group['precision'] or 'f32'} bs{group['batch_size'] or 1} {group['weights_source'] or 'unknown'}"
