"""Step detection over the history of one model x platform x settings series.

A series is the sequence of runs of one group, oldest first. Detection has two
stages:

1. Candidate change points come from PELT (pruned exact linear time; Killick,
   Fearnhead and Eckley, 2012), the exact optimal partitioning of the log
   per-run medians under a Gaussian cost with weights equal to the sample
   counts, plus a penalty per change point. The penalty is the chi-square(1)
   quantile at alpha / (L - 1) for L runs, so on a history of pure noise one
   spurious split is found with probability about alpha (a Bonferroni bound
   over the L - 1 run boundaries).
2. Each candidate is kept only when the change between its two neighbouring
   segments passes the two-condition rule of `vt_core.stats.change` (relative
   change of medians over the threshold AND Mann-Whitney U at alpha on the raw
   samples). A failing candidate is removed and its neighbours are tested again
   on the merged segments, weakest first, until every remaining one passes.

The first run of the new level is where the step began. Working on log
medians makes a step of the same relative size look the same at 5 ms and 5 s.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from vt_core.stats.change import (
    DEFAULT_ALPHA, DEFAULT_MEMORY_MIN_CHANGE_MB, DEFAULT_MEMORY_THRESHOLD, DEFAULT_THRESHOLD, Change,
    check_alpha, check_threshold, compare_samples, compare_values,
)

STEP_METHOD = (
    "PELT optimal partitioning (Killick et al. 2012) of log per-run medians weighted by sample "
    "counts, penalty chi2.isf(alpha / (runs - 1), 1); each change point kept only when the change "
    "between its neighbouring segments passes the threshold AND a Mann-Whitney U test at alpha"
)
"""How `detect_steps` finds steps, in words a report can print."""

MEDIAN_VARIANCE_FACTOR = math.pi / 2
"""Variance of a sample median is about (pi / 2) * sigma^2 / n for normal data."""
MAD_TO_SIGMA = 1.4826
"""Scales a median absolute deviation to the standard deviation of normal data."""
MIN_DIFFERENCES_FOR_SPREAD = 4
"""Run-to-run differences needed before their spread joins the noise estimate."""


@dataclass(frozen=True)
class Step:
    """A change of level in a series, confirmed by the two-condition rule."""

    index: int
    """Position of the first run of the new level in the series (0-based)."""
    change: Change
    """The comparison of the segment before the step with the segment after it."""
    still_open: bool
    """True when the latest segment still differs from the segment before the step, in the
    same direction, by the same rule: the regression or improvement has not been undone."""


def change_point_penalty(runs: int, alpha: float) -> float:
    """Return the PELT penalty for a series of `runs` runs, in units of the per-sample variance."""
    check_alpha(alpha)
    return _penalty(max(int(runs), 2), float(alpha))


@functools.lru_cache(maxsize=1024)
def _penalty(runs: int, alpha: float) -> float:
    from scipy import stats as scipy_stats

    return float(scipy_stats.chi2.isf(alpha / (runs - 1), 1))


def noise_variance(levels: np.ndarray, weights: np.ndarray, within_sigma: np.ndarray | None = None) -> float:
    """Estimate s^2 such that var(levels[i]) = s^2 / weights[i] on a series without steps.

    Two estimates are combined and the larger wins, so that the estimate errs
    towards fewer candidates:

    - the spread inside runs: the median of the per-run sigma^2 times the
      variance factor of a median;
    - with at least `MIN_DIFFERENCES_FOR_SPREAD` differences, the spread of the
      run-to-run differences, which also holds drift between runs (a warmer
      machine, another process) that the samples of one run cannot show. The
      largest tenth of the differences is left out, so the few jumps that real
      steps make do not inflate it.
    """
    estimates = [1e-18]
    if within_sigma is not None:
        finite = within_sigma[np.isfinite(within_sigma)]
        if finite.size:
            estimates.append(MEDIAN_VARIANCE_FACTOR * float(np.median(finite**2)))
    if levels.size - 1 >= MIN_DIFFERENCES_FOR_SPREAD:
        scaled = np.diff(levels) ** 2 / (1.0 / weights[:-1] + 1.0 / weights[1:])
        estimates.append(_trimmed_chi2_scale(scaled))
    return max(estimates)


def _trimmed_chi2_scale(values: np.ndarray) -> float:
    """Return the scale of chi-square(1) values from the mean of their lower nine tenths.

    For X ~ chi-square(1), E[X | X < q] = P(chi-square(3) < q) / P(chi-square(1) < q),
    so dividing the trimmed mean by it gives an unbiased scale for large samples.
    """
    kept = values.size - math.ceil(0.1 * values.size)
    return float(np.mean(np.sort(values)[:kept])) / _trimmed_chi2_mean(kept, values.size)


@functools.lru_cache(maxsize=1024)
def _trimmed_chi2_mean(kept: int, size: int) -> float:
    from scipy import stats as scipy_stats

    fraction = kept / size
    return float(scipy_stats.chi2.cdf(scipy_stats.chi2.ppf(fraction, 1), 3)) / fraction


def pelt(levels: ArrayLike, weights: ArrayLike, penalty: float) -> list[int]:
    """Return the change points minimizing weighted squared error plus `penalty` per change point.

    `levels` must already be divided by the noise scale, so that a segment's
    cost is sum(w * (x - weighted mean)^2). A change point is the index of the
    first element of a new segment. The pruning (Killick et al. 2012) is exact
    for this cost because splitting a segment never raises its cost.
    """
    x = np.asarray(levels, dtype=float)
    w = np.asarray(weights, dtype=float)
    size = x.size
    if size < 2:
        return []

    cum_w = np.concatenate(([0.0], np.cumsum(w)))
    cum_wx = np.concatenate(([0.0], np.cumsum(w * x)))
    cum_wxx = np.concatenate(([0.0], np.cumsum(w * x * x)))

    best = np.empty(size + 1)
    best[0] = -penalty
    last_change = np.zeros(size + 1, dtype=np.int64)
    candidates = np.array([0], dtype=np.int64)
    for end in range(1, size + 1):
        seg_w = cum_w[end] - cum_w[candidates]
        seg_wx = cum_wx[end] - cum_wx[candidates]
        cost = cum_wxx[end] - cum_wxx[candidates] - seg_wx**2 / seg_w
        totals = best[candidates] + np.maximum(cost, 0.0) + penalty
        choice = int(np.argmin(totals))
        best[end] = totals[choice]
        last_change[end] = candidates[choice]
        keep = best[candidates] + np.maximum(cost, 0.0) <= best[end]
        candidates = np.append(candidates[keep], end)

    points = []
    position = size
    while position > 0:
        position = int(last_change[position])
        if position > 0:
            points.append(position)
    return sorted(points)


def change_point_candidates(medians: ArrayLike, counts: ArrayLike, alpha: float = DEFAULT_ALPHA,
                            within_log_mad: ArrayLike | None = None) -> list[int]:
    """Return candidate change points of a series from its per-run medians and sample counts.

    `within_log_mad` is, per run, the median absolute deviation of the natural
    log of its samples (DuckDB: MAD(LN(latency_s))); without it only the
    run-to-run spread sets the noise level.
    """
    values = np.asarray(medians, dtype=float)
    weights = np.asarray(counts, dtype=float)
    if values.size != weights.size:
        raise ValueError(f"got {values.size} medians but {weights.size} counts; pass one of each per run")
    if values.size < 2:
        return []
    if np.any(values <= 0) or np.any(weights <= 0):
        raise ValueError("medians and counts must be positive; drop runs without samples first")

    # Centring keeps the cumulative sums of PELT small, so their differences stay exact.
    levels = np.log(values)
    levels -= levels.mean()
    within = None
    if within_log_mad is not None:
        within = MAD_TO_SIGMA * np.asarray(within_log_mad, dtype=float)
    scale = math.sqrt(noise_variance(levels, weights, within))
    return pelt(levels / scale, weights, change_point_penalty(values.size, alpha))


Segment = tuple[int, int]
"""Runs [start, stop) of a series."""

Comparer = Callable[[Segment, Segment], Change]
"""Compares the runs of an earlier segment with those of a later one."""


def confirm_steps(candidates: Sequence[int], run_count: int, compare: Comparer) -> list[Step]:
    """Keep the candidates whose change passes `compare`, removing the weakest failure each round.

    After each removal the neighbouring segments merge and every remaining
    candidate is compared again. The weakest failure is the one with the
    smallest relative change.
    """
    points = sorted({int(c) for c in candidates if 0 < c < run_count})
    changes: list[Change] = []
    while points:
        bounds = [0, *points, run_count]
        changes = [
            compare((bounds[i - 1], bounds[i]), (bounds[i], bounds[i + 1])) for i in range(1, len(bounds) - 1)
        ]
        failed = [i for i, change in enumerate(changes) if not change.flagged]
        if not failed:
            break
        weakest = min(failed, key=lambda i: _log_ratio(changes[i]))
        del points[weakest]
    if not points:
        return []

    bounds = [0, *points, run_count]
    latest = (bounds[-2], run_count)
    steps = []
    for i, change in enumerate(changes, start=1):
        before = (bounds[i - 1], bounds[i])
        if bounds[i] == latest[0]:
            still_open = True
        else:
            still_open = compare(before, latest).direction == change.direction
        steps.append(Step(bounds[i], change, still_open))
    return steps


def sample_comparer(runs: Sequence[np.ndarray], threshold: float, alpha: float) -> Comparer:
    """Return a comparer that pools the raw latency samples of each segment and applies `compare_samples`."""

    def compare(before: Segment, after: Segment) -> Change:
        return compare_samples(_pool(runs, before), _pool(runs, after), threshold, alpha)

    return compare


def value_comparer(values: np.ndarray, threshold: float, alpha: float, min_change: float,
                   metric: str) -> Comparer:
    """Return a comparer of one value per run (peak memory) that applies `compare_values`."""

    def compare(before: Segment, after: Segment) -> Change:
        return compare_values(
            values[before[0]:before[1]], values[after[0]:after[1]], threshold, alpha,
            min_change=min_change, metric=metric,
        )

    return compare


def detect_steps(run_samples: Sequence[ArrayLike], threshold: float = DEFAULT_THRESHOLD,
                 alpha: float = DEFAULT_ALPHA) -> list[Step]:
    """Find latency steps in a series from the raw samples of each run, oldest first (see `STEP_METHOD`).

    Every sample must be a positive latency. With fewer than two runs there is
    nothing to compare and the result is empty.
    """
    check_threshold(threshold)
    check_alpha(alpha)
    runs = [np.asarray(r, dtype=float).ravel() for r in run_samples]
    for position, run in enumerate(runs):
        if run.size == 0:
            raise ValueError(f"run {position} has no samples; leave runs without timed iterations out of the series")
        if not np.all(np.isfinite(run) & (run > 0)):
            raise ValueError(f"run {position} contains a latency that is not a positive number; drop it first")
    if len(runs) < 2:
        return []

    counts = np.array([r.size for r in runs])
    if np.all(counts == counts[0]):
        table = np.stack(runs)
        medians = np.median(table, axis=1)
        log_mad = log_mad_of(table)
    else:
        medians = np.array([np.median(r) for r in runs])
        log_mad = np.array([log_mad_of(r) for r in runs])
    candidates = change_point_candidates(medians, counts, alpha, log_mad)
    return confirm_steps(candidates, len(runs), sample_comparer(runs, threshold, alpha))


def detect_value_steps(values: ArrayLike, threshold: float = DEFAULT_MEMORY_THRESHOLD, alpha: float = DEFAULT_ALPHA,
                       *, min_change: float = DEFAULT_MEMORY_MIN_CHANGE_MB,
                       metric: str = "peak_rss_mb") -> list[Step]:
    """Find steps in a series with one positive value per run, such as peak memory in MiB, oldest first.

    Candidates come from the same PELT fit with weight 1 per run; each is kept
    by the rule of `compare_values` (relative threshold, absolute minimum and
    Mann-Whitney U or complete separation).
    """
    check_threshold(threshold)
    check_alpha(alpha)
    array = np.asarray(values, dtype=float).ravel()
    if not np.all(np.isfinite(array) & (array > 0)):
        raise ValueError(f"{metric} values must be positive numbers; drop missing or zero values first")
    if array.size < 2:
        return []

    candidates = change_point_candidates(array, np.ones(array.size), alpha)
    return confirm_steps(candidates, array.size, value_comparer(array, threshold, alpha, min_change, metric))


def log_mad_of(samples: np.ndarray) -> np.ndarray | float:
    """Return the median absolute deviation of the natural log of positive samples (unscaled).

    A 2-D array gives one value per row.
    """
    logs = np.log(samples)
    centre = np.median(logs, axis=-1, keepdims=True)
    mad = np.median(np.abs(logs - centre), axis=-1)
    return float(mad) if mad.ndim == 0 else mad


def _pool(runs: Sequence[np.ndarray], segment: Segment) -> np.ndarray:
    return np.concatenate(runs[segment[0]:segment[1]])


def _log_ratio(change: Change) -> float:
    ratio = 1.0 + change.relative_change
    return abs(math.log(ratio)) if ratio > 0 and math.isfinite(ratio) else math.inf
