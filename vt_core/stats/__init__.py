"""Statistics of latency samples: intervals, change tests, step detection, correlation.

- `summary`: `summarize` (used by the store at ingest), `describe`, and the
  median (order statistics) and mean (Student t) confidence intervals.
- `change`: whether two sets of measurements differ (threshold AND
  Mann-Whitney U), for latency, memory and pass/fail state.
- `steps`: where a series of runs changed level (optimal partitioning, then
  the change test).
- `correlation`: Pearson, Spearman, Kruskal-Wallis and point-biserial.
- `queries`: the same over a results database: `group_statistics`,
  `find_regressions`, `correlations`.

Names are importable from this package. Everything except `summarize` loads on
first use, so that importing the store does not import scipy. No module here
imports textual, torch, transformers or openvino.
"""

from __future__ import annotations

import importlib
from typing import Any

from vt_core.stats.summary import summarize

_EXPORTS: dict[str, str] = {
    # summary
    "MEAN_CI_METHOD": "summary", "MEDIAN_CI_METHOD": "summary", "PERCENTILE_METHOD": "summary",
    "Interval": "summary", "SampleStats": "summary", "describe": "summary", "mean_ci": "summary",
    "median_ci": "summary", "median_ci_ranks": "summary",
    # change
    "CHANGE_TEST_METHOD": "change", "DEFAULT_ALPHA": "change", "DEFAULT_THRESHOLD": "change",
    "DEFAULT_MEMORY_THRESHOLD": "change", "DEFAULT_MEMORY_MIN_CHANGE_MB": "change",
    "REGRESSION": "change", "IMPROVEMENT": "change", "UNCHANGED": "change", "Change": "change",
    "compare_samples": "change", "compare_values": "change", "compare_states": "change",
    # steps
    "STEP_METHOD": "steps", "Step": "steps", "detect_steps": "steps", "detect_value_steps": "steps",
    # correlation
    "CORRELATION_METHODS": "correlation", "correlate": "correlation", "category_effect": "correlation",
    "point_biserial": "correlation",
    # queries
    "GroupStats": "queries", "Regression": "queries", "Correlation": "queries",
    "group_statistics": "queries", "find_regressions": "queries", "correlations": "queries",
}

__all__ = ["summarize", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'vt_core.stats' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"vt_core.stats.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
