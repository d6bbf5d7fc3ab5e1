"""Association between metrics across results: numeric pairs, platform and pass/fail.

Each function takes plain arrays, drops the rows where a value is missing, and
returns None when fewer than `MIN_ROWS` complete rows remain or a column is
constant, because no coefficient is defined then.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

MIN_ROWS = 3

PEARSON = "pearson"
SPEARMAN = "spearman"
KRUSKAL_ETA2 = "kruskal_eta2"
POINT_BISERIAL = "point_biserial"

CORRELATION_METHODS: dict[str, str] = {
    PEARSON: "Pearson product-moment r with its two-sided p-value (scipy.stats.pearsonr); linear association",
    SPEARMAN: "Spearman rank rho with its two-sided p-value (scipy.stats.spearmanr); monotonic association",
    KRUSKAL_ETA2: (
        "Kruskal-Wallis H test across the categories (scipy.stats.kruskal); the coefficient is the "
        "rank eta squared (H - k + 1) / (n - k), the share of rank variance the category explains"
    ),
    POINT_BISERIAL: (
        "point-biserial r between a pass/fail flag and a numeric value (scipy.stats.pointbiserialr), "
        "with its two-sided p-value"
    ),
}
"""Description of each method, for reports to print."""


@dataclass(frozen=True)
class Association:
    """One coefficient with its test."""

    method: str
    coefficient: float
    p_value: float
    n: int
    """Complete rows used."""
    statistic: float
    """The test statistic: r or rho for the correlations, H for Kruskal-Wallis."""
    groups: int | None = None
    """Categories compared, for Kruskal-Wallis."""


def correlate(x: ArrayLike, y: ArrayLike, method: str = PEARSON) -> Association | None:
    """Return Pearson's r or Spearman's rho of two numeric columns with its two-sided p-value."""
    from scipy import stats as scipy_stats

    if method not in (PEARSON, SPEARMAN):
        raise ValueError(f"correlation method {method!r} is invalid; use {PEARSON!r} or {SPEARMAN!r}")
    first, second = _complete(x, y)
    if first.size < MIN_ROWS or _constant(first) or _constant(second):
        return None

    if method == PEARSON:
        result = scipy_stats.pearsonr(first, second)
    else:
        result = scipy_stats.spearmanr(first, second)
    coefficient = float(result.statistic)
    if not math.isfinite(coefficient):
        return None
    return Association(method, coefficient, float(result.pvalue), int(first.size), coefficient)


def category_effect(values: ArrayLike, labels: Sequence[object]) -> Association | None:
    """Return the rank eta squared of a numeric column across categories, with the Kruskal-Wallis p-value.

    Categories with no value are left out; at least two categories must remain.
    """
    from scipy import stats as scipy_stats

    numbers = np.asarray(values, dtype=float)
    names = np.asarray(labels, dtype=object)
    if numbers.size != names.size:
        raise ValueError(f"got {numbers.size} values but {names.size} labels; pass one label per value")
    keep = np.isfinite(numbers) & np.array([name is not None for name in names], dtype=bool)
    numbers, names = numbers[keep], names[keep]
    groups = [numbers[names == name] for name in dict.fromkeys(names.tolist())]
    groups = [g for g in groups if g.size]
    total = int(numbers.size)
    if len(groups) < 2 or total <= len(groups) or _constant(numbers):
        return None

    h_statistic, p_value = scipy_stats.kruskal(*groups)
    eta_squared = max(0.0, (float(h_statistic) - len(groups) + 1) / (total - len(groups)))
    return Association(KRUSKAL_ETA2, eta_squared, float(p_value), total, float(h_statistic), len(groups))


def point_biserial(flags: ArrayLike, values: ArrayLike) -> Association | None:
    """Return the point-biserial r between a boolean column and a numeric one, with its two-sided p-value."""
    from scipy import stats as scipy_stats

    binary, numbers = _complete(flags, values)
    if binary.size < MIN_ROWS or _constant(binary) or _constant(numbers):
        return None

    result = scipy_stats.pointbiserialr(binary.astype(bool), numbers)
    coefficient = float(result.statistic)
    if not math.isfinite(coefficient):
        return None
    return Association(POINT_BISERIAL, coefficient, float(result.pvalue), int(binary.size), coefficient)


def _complete(x: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    first = np.asarray(x, dtype=float).ravel()
    second = np.asarray(y, dtype=float).ravel()
    if first.size != second.size:
        raise ValueError(f"columns differ in length ({first.size} and {second.size}); pass one value per row in each")
    keep = np.isfinite(first) & np.isfinite(second)
    return first[keep], second[keep]


def _constant(values: np.ndarray) -> bool:
    return values.size == 0 or bool(np.all(values == values[0]))
