"""Whether two sets of measurements differ: latency, memory and pass/fail state.

A latency change is flagged only when two conditions hold, the same rule as
airspeed velocity (asv) uses:

1. the relative change of the medians, (after - before) / before, exceeds a
   threshold in absolute value (default 5%), and
2. a two-sided Mann-Whitney U test on the raw samples rejects "same
   distribution" at the significance level alpha (default 0.05).

The threshold keeps out differences that are statistically real but too small
to matter, and drift between runs that the test cannot see (a warmer machine).
The test keeps out noise. Latency and memory are "lower is better":
slower or larger is a regression, faster or smaller an improvement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from vt_core.records import FAIL, MISMATCH, PASS

DEFAULT_THRESHOLD = 0.05
"""Minimum relative change of the median latency that counts as a change."""
DEFAULT_ALPHA = 0.05
"""Significance level of the two-sided Mann-Whitney U test."""
DEFAULT_MEMORY_THRESHOLD = 0.10
"""Minimum relative change of peak memory that counts as a change."""
DEFAULT_MEMORY_MIN_CHANGE_MB = 2.0
"""Minimum absolute change of peak memory, in MiB, that counts as a change.

NOTE: an estimate of allocator noise in peak RSS. A change of 2 MiB on a 10 MiB
test model passes the relative threshold but is not a finding.
"""

REGRESSION = "regression"
IMPROVEMENT = "improvement"
UNCHANGED = "unchanged"

CHANGE_TEST_METHOD = (
    "flagged when |median(after) / median(before) - 1| > threshold AND a two-sided "
    "Mann-Whitney U test (scipy.stats.mannwhitneyu) gives p < alpha"
)
"""The two-condition rule of `compare_samples`, in words a report can print."""

BAD_STATES = frozenset({FAIL, MISMATCH})


@dataclass(frozen=True)
class Change:
    """The comparison of one metric between two sets of measurements."""

    metric: str
    """Compared metric: `latency_s`, `peak_rss_mb` or `torch_max_allocated_mb`."""
    before: float
    """Median of the earlier measurements, in the metric's unit."""
    after: float
    """Median of the later measurements, in the metric's unit."""
    relative_change: float
    """(after - before) / before; positive means slower or larger."""
    p_value: float | None
    """Two-sided Mann-Whitney U p-value; None when the samples are too few for the test to reach alpha."""
    n_before: int
    n_after: int
    threshold: float
    alpha: float
    direction: str
    """`regression`, `improvement` or `unchanged` (either condition failed)."""

    @property
    def flagged(self) -> bool:
        return self.direction != UNCHANGED


def check_threshold(threshold: float, name: str = "threshold") -> None:
    """Raise ValueError unless `threshold` is a finite relative change of zero or more."""
    if not (math.isfinite(threshold) and threshold >= 0):
        raise ValueError(f"{name} {threshold!r} is invalid; use a relative change of zero or more, such as 0.05 for 5%")


def check_alpha(alpha: float) -> None:
    """Raise ValueError unless `alpha` is a significance level strictly between 0 and 1."""
    if not (math.isfinite(alpha) and 0 < alpha < 1):
        raise ValueError(f"alpha {alpha!r} is invalid; use a significance level between 0 and 1, such as 0.05")


def relative_change(before: float, after: float) -> float:
    """Return (after - before) / before; infinite when before is zero and after is not."""
    if before == 0:
        return 0.0 if after == 0 else math.copysign(math.inf, after)
    return (after - before) / before


def direction_of(rel_change: float, passed: bool) -> str:
    """Return `regression` for a passed increase, `improvement` for a passed decrease, else `unchanged`."""
    if not passed:
        return UNCHANGED
    return REGRESSION if rel_change > 0 else IMPROVEMENT


def mann_whitney_p(before: ArrayLike, after: ArrayLike) -> float:
    """Return the two-sided Mann-Whitney U p-value (scipy's exact or normal method, chosen by size)."""
    from scipy import stats as scipy_stats

    return float(scipy_stats.mannwhitneyu(before, after, alternative="two-sided").pvalue)


def min_mann_whitney_p(n_before: int, n_after: int) -> float:
    """Return the smallest two-sided p-value the exact Mann-Whitney U test can give for these sizes.

    The most extreme outcome, every value of one set above every value of the
    other, has probability 1 / C(n1 + n2, n1) under the null hypothesis.
    """
    return min(1.0, 2.0 / math.comb(n_before + n_after, n_before))


def compare_samples(before_s: ArrayLike, after_s: ArrayLike, threshold: float = DEFAULT_THRESHOLD,
                    alpha: float = DEFAULT_ALPHA, *, metric: str = "latency_s") -> Change:
    """Compare two sets of raw latency samples by the rule of `CHANGE_TEST_METHOD`.

    Each set is every timed iteration of one run (or of several runs pooled).
    Both sets need at least one positive sample; with very few samples the test
    cannot reach alpha and nothing is flagged (3 against 3 gives p >= 0.1).
    """
    check_threshold(threshold)
    check_alpha(alpha)
    before = _as_values(before_s, "before")
    after = _as_values(after_s, "after")

    median_before = float(np.median(before))
    median_after = float(np.median(after))
    change = relative_change(median_before, median_after)
    p_value = mann_whitney_p(before, after)
    passed = abs(change) > threshold and p_value < alpha
    return Change(
        metric, median_before, median_after, change, p_value, int(before.size), int(after.size),
        threshold, alpha, direction_of(change, passed),
    )


def compare_values(before: ArrayLike, after: ArrayLike, threshold: float = DEFAULT_MEMORY_THRESHOLD,
                   alpha: float = DEFAULT_ALPHA, *, min_change: float = DEFAULT_MEMORY_MIN_CHANGE_MB,
                   metric: str = "peak_rss_mb") -> Change:
    """Compare one value per run, such as peak memory, between two sets of runs.

    A change is flagged when the relative change of the medians exceeds
    `threshold`, the absolute change is at least `min_change`, and the values
    differ by the test. The test is Mann-Whitney U at alpha when the sets are
    large enough for it to reach alpha, else complete separation (every later
    value beyond every earlier one). So two single runs are compared by the
    thresholds alone.
    """
    check_threshold(threshold)
    check_alpha(alpha)
    if not (math.isfinite(min_change) and min_change >= 0):
        raise ValueError(f"min_change {min_change!r} is invalid; use an absolute change of zero or more")
    earlier = _as_values(before, "before", positive=False)
    later = _as_values(after, "after", positive=False)

    median_before = float(np.median(earlier))
    median_after = float(np.median(later))
    change = relative_change(median_before, median_after)
    large_enough = abs(change) > threshold and abs(median_after - median_before) >= min_change
    if min_mann_whitney_p(earlier.size, later.size) < alpha:
        p_value: float | None = mann_whitney_p(earlier, later)
        differs = p_value < alpha
    else:
        p_value = None
        differs = bool(later.min() > earlier.max() or later.max() < earlier.min())
    return Change(
        metric, median_before, median_after, change, p_value, int(earlier.size), int(later.size),
        threshold, alpha, direction_of(change, large_enough and differs),
    )


def compare_states(before_state: str, after_state: str) -> str:
    """Return `regression` for pass -> fail or mismatch, `improvement` for the reverse, else `unchanged`.

    `unavailable` and `untested` carry no information about the model and never count as a change.
    """
    if before_state == PASS and after_state in BAD_STATES:
        return REGRESSION
    if before_state in BAD_STATES and after_state == PASS:
        return IMPROVEMENT
    return UNCHANGED


def _as_values(values: ArrayLike, name: str, *, positive: bool = True) -> np.ndarray:
    array = np.asarray(values, dtype=float).ravel()
    if array.size == 0:
        raise ValueError(f"the {name} set has no samples; compare runs that measured at least one iteration")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"the {name} set contains a non-finite value; drop it before comparing")
    if positive and np.any(array <= 0):
        raise ValueError(f"the {name} set contains a latency of {array[array <= 0][0]} s; latencies must be positive")
    return array
