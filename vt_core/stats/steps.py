"""Step detection over the history of one model x platform x settings series.

A series is the sequence of runs of one group, oldest first. Detection has two
stages:

1. Candidate change points come from optimal partitioning (Jackson et al.,
   2005): the exact minimum, over all segmentations, of the weighted squared
   error of the log per-run medians (weights are the sample counts) plus a
   penalty per change point. PELT (Killick et al., 2012) finds the same
   minimum with pruning. Here many series are solved at once with numpy
   instead, because that is faster for the short series of benchmark histories.
   The penalty is the chi-square(1) quantile at alpha / (L - 1) for L runs,
   so on a history of pure noise one spurious split is found with
   probability about alpha (a Bonferroni bound over the L - 1 run boundaries).
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
    "optimal partitioning (Jackson et al. 2005; the minimum PELT finds) of log per-run medians weighted "
    "by sample counts, penalty chi2.isf(alpha / (runs - 1), 1); each change point kept only when the "
    "change between its neighbouring segments passes the threshold AND a Mann-Whitney U test at alpha"
)
"""Description of the method of `detect_steps`, for reports to print."""

MEDIAN_VARIANCE_FACTOR = math.pi / 2
"""Variance of a sample median is about (pi / 2) * sigma^2 / n for normal data."""
MAD_TO_SIGMA = 1.4826
"""Scales a median absolute deviation to the standard deviation of normal data."""
MIN_DIFFERENCES_FOR_SPREAD = 4
"""Run-to-run differences needed before their spread joins the noise estimate."""
PARTITION_CHUNK_CELLS = 20_000_000
"""Upper bound on series x runs^2 solved in one numpy pass, to bound memory (about 8 bytes each)."""


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
    """Return the penalty per change point for a series of `runs` runs, in units of the noise variance."""
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
      run-to-run differences, which also includes drift between runs (a warmer
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


def optimal_partitions(levels: Sequence[ArrayLike], weights: Sequence[ArrayLike],
                       penalties: ArrayLike) -> list[list[int]]:
    """Return, per series, the change points minimizing weighted squared error plus a penalty each.

    Each series' levels must already be divided by its noise scale, so that a
    segment costs sum(w * (x - weighted mean)^2). A change point is the index
    of the first element of a new segment. Series are padded to a common
    length and solved together by dynamic programming over the segment end.
    Padding never enters a segment that ends within its series, so it cannot
    change the result.
    """
    series = [np.asarray(x, dtype=float) for x in levels]
    weight_arrays = [np.asarray(w, dtype=float) for w in weights]
    penalty_array = np.broadcast_to(np.asarray(penalties, dtype=float), (len(series),))
    result: list[list[int]] = [[] for _ in series]

    order = sorted(range(len(series)), key=lambda i: series[i].size)
    start = 0
    while start < len(order):
        longest = series[order[start]].size
        stop = start + 1
        while stop < len(order):
            longest = series[order[stop]].size
            if (stop - start + 1) * longest**2 > PARTITION_CHUNK_CELLS:
                break
            stop += 1
        chunk = order[start:stop]
        for index, points in zip(chunk, _partition_chunk(
            [series[i] for i in chunk], [weight_arrays[i] for i in chunk], penalty_array[chunk],
        )):
            result[index] = points
        start = stop
    return result


def _partition_chunk(series: list[np.ndarray], weights: list[np.ndarray], penalties: np.ndarray) -> list[list[int]]:
    lengths = np.array([x.size for x in series])
    width = int(lengths.max(initial=0))
    if width < 2:
        return [[] for _ in series]

    x = np.zeros((len(series), width))
    w = np.zeros((len(series), width))
    for row, (values, row_weights) in enumerate(zip(series, weights)):
        x[row, :values.size] = values
        w[row, :values.size] = row_weights
    zeros = np.zeros((len(series), 1))
    cum_w = np.hstack((zeros, np.cumsum(w, axis=1)))
    cum_wx = np.hstack((zeros, np.cumsum(w * x, axis=1)))
    cum_wxx = np.hstack((zeros, np.cumsum(w * x * x, axis=1)))

    rows = np.arange(len(series))
    best = np.empty((len(series), width + 1))
    best[:, 0] = -penalties
    last_change = np.zeros((len(series), width + 1), dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        for end in range(1, width + 1):
            seg_w = cum_w[:, end, None] - cum_w[:, :end]
            seg_wx = cum_wx[:, end, None] - cum_wx[:, :end]
            cost = cum_wxx[:, end, None] - cum_wxx[:, :end] - seg_wx**2 / seg_w
            cost = np.where(seg_w > 0, np.maximum(cost, 0.0), 0.0)
            totals = best[:, :end] + cost + penalties[:, None]
            choice = np.argmin(totals, axis=1)
            best[:, end] = totals[rows, choice]
            last_change[:, end] = choice

    found = []
    for row, length in enumerate(lengths.tolist()):
        points = []
        position = int(length)
        while position > 0:
            position = int(last_change[row, position])
            if position > 0:
                points.append(position)
        found.append(sorted(points))
    return found


@dataclass(frozen=True)
class RunSummary:
    """Stage-1 input of one series: per-run medians, sample counts and log spreads."""

    medians: np.ndarray
    counts: np.ndarray
    log_mad: np.ndarray | None = None
    """Per run, the median absolute deviation of ln(samples) (DuckDB: MAD(LN(latency_s)));
    None when runs hold one value each (memory), so only run-to-run spread sets the noise."""


def change_point_candidates_many(series: Sequence[RunSummary], alpha: float = DEFAULT_ALPHA) -> list[list[int]]:
    """Return the candidate change points of each series (stage 1 of `STEP_METHOD`)."""
    check_alpha(alpha)
    levels, weights, penalties = [], [], []
    for position, item in enumerate(series):
        values = np.asarray(item.medians, dtype=float)
        counts = np.asarray(item.counts, dtype=float)
        if values.size != counts.size:
            raise ValueError(f"series {position} has {values.size} medians but {counts.size} counts; "
                             f"pass one of each per run")
        if np.any(~np.isfinite(values) | (values <= 0)) or np.any(counts <= 0):
            raise ValueError(f"series {position} has a median or count that is not positive; "
                             f"drop runs without samples first")

        # Centring keeps the cumulative sums small, so their differences stay exact.
        logs = np.log(values) if values.size else values
        logs = logs - logs.mean() if logs.size else logs
        within = None
        if item.log_mad is not None:
            within = MAD_TO_SIGMA * np.asarray(item.log_mad, dtype=float)
        scale = math.sqrt(noise_variance(logs, counts, within)) if logs.size > 1 else 1.0
        levels.append(logs / scale)
        weights.append(counts)
        penalties.append(change_point_penalty(values.size, alpha))
    return optimal_partitions(levels, weights, penalties)


def change_point_candidates(medians: ArrayLike, counts: ArrayLike, alpha: float = DEFAULT_ALPHA,
                            within_log_mad: ArrayLike | None = None) -> list[int]:
    """Return the candidate change points of one series from its per-run medians and sample counts."""
    log_mad = None if within_log_mad is None else np.asarray(within_log_mad, dtype=float)
    summary = RunSummary(np.asarray(medians, dtype=float), np.asarray(counts, dtype=float), log_mad)
    return change_point_candidates_many([summary], alpha)[0]


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
    return detect_steps_many([run_samples], threshold, alpha)[0]


def detect_steps_many(histories: Sequence[Sequence[ArrayLike]], threshold: float = DEFAULT_THRESHOLD,
                      alpha: float = DEFAULT_ALPHA) -> list[list[Step]]:
    """Find latency steps in many series at once; the result contains one list of steps per series.

    Stage 1 runs for all series in one vectorized pass, and stage 2 only for
    the series with a candidate, so this is the fast way to scan many histories.
    """
    check_threshold(threshold)
    check_alpha(alpha)
    prepared = [_prepare_runs(runs, position) for position, runs in enumerate(histories)]
    candidates = change_point_candidates_many([summary for _, summary in prepared], alpha)
    return [
        confirm_steps(points, len(runs), sample_comparer(runs, threshold, alpha)) if points else []
        for (runs, _), points in zip(prepared, candidates)
    ]


def _prepare_runs(run_samples: Sequence[ArrayLike], series: int) -> tuple[list[np.ndarray], RunSummary]:
    """Check one series' samples and summarize each run for stage 1."""
    runs = [np.asarray(r, dtype=float).ravel() for r in run_samples]
    for position, run in enumerate(runs):
        if run.size == 0:
            raise ValueError(f"run {position} of series {series} has no samples; "
                             f"leave runs without timed iterations out of the series")
        if not np.all(np.isfinite(run) & (run > 0)):
            raise ValueError(f"run {position} of series {series} contains a latency that is not a positive "
                             f"number; drop it first")

    counts = np.array([r.size for r in runs], dtype=float)
    if runs and np.all(counts == counts[0]):
        table = np.stack(runs)
        medians = np.median(table, axis=1)
        log_mad = np.asarray(log_mad_of(table))
    else:
        medians = np.array([np.median(r) for r in runs])
        log_mad = np.array([log_mad_of(r) for r in runs])
    return runs, RunSummary(medians, counts, log_mad)


def detect_value_steps(values: ArrayLike, threshold: float = DEFAULT_MEMORY_THRESHOLD, alpha: float = DEFAULT_ALPHA,
                       *, min_change: float = DEFAULT_MEMORY_MIN_CHANGE_MB,
                       metric: str = "peak_rss_mb") -> list[Step]:
    """Find steps in a series with one positive value per run, such as peak memory in MiB, oldest first.

    Candidates come from the same fit with weight 1 per run. Each is kept by
    the rule of `compare_values`: relative threshold, absolute minimum, and
    Mann-Whitney U or complete separation.
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
