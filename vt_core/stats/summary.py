"""Summary statistics and confidence intervals of per-iteration latency samples.

All inputs and outputs are in seconds unless a name says otherwise. scipy is
imported inside the functions that need it, because `vt_core.store` imports
this module and the app should not pay for scipy at start-up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

MEDIAN_CI_METHOD = (
    "distribution-free confidence interval of the median from order statistics "
    "(binomial method, the inverted sign test): [x(j), x(n-j+1)] with the largest j "
    "such that 1 - 2*BinomCDF(j-1; n, 0.5) >= confidence"
)
"""Description of the interval `median_ci` builds, for reports to print."""

MEAN_CI_METHOD = "Student t-interval of the mean: mean +/- t(1 - (1 - confidence)/2, n-1) * stdev / sqrt(n)"
"""Description of the interval `mean_ci` builds, for reports to print."""

PERCENTILE_METHOD = "linear interpolation between order statistics (numpy's default, DuckDB quantile_cont)"
"""Description of the percentile method behind p90 and p99, for reports to print."""


@dataclass(frozen=True)
class Interval:
    """A confidence interval; `low` and `high` are None when the samples are too few to build one."""

    low: float | None
    high: float | None
    confidence: float
    """The confidence level asked for, such as 0.95."""
    coverage: float | None
    """The exact coverage reached: the t-interval reaches `confidence` exactly, the
    order-statistic interval of the median reaches at least `confidence`."""
    method: str


@dataclass(frozen=True)
class SampleStats:
    """Summary of one set of latency samples, in seconds."""

    n: int
    mean_s: float | None
    mean_ci_low_s: float | None
    mean_ci_high_s: float | None
    median_s: float | None
    median_ci_low_s: float | None
    median_ci_high_s: float | None
    median_ci_coverage: float | None
    p90_s: float | None
    p99_s: float | None
    stdev_s: float | None
    """Sample standard deviation (ddof=1)."""
    cv: float | None
    """Coefficient of variation: stdev / mean."""
    min_s: float | None
    max_s: float | None
    throughput_per_s: float | None
    """Items per second over the whole timed loop: batch_size * n / sum(samples)."""
    confidence: float


def summarize(samples_s: Sequence[float], batch_size: int = 1) -> dict[str, float | int | None]:
    """Return n, mean, median, p90, p99, stdev, a 95% CI of the mean and throughput.

    The interval is the two-sided 95% Student t-interval of the mean,
    mean +/- t(0.975, n-1) * stdev / sqrt(n), with the sample standard deviation
    (ddof=1). With one sample the interval and stdev are None. Percentiles use
    linear interpolation (numpy's default). Throughput is items per second over
    the whole timed loop: batch_size * n / sum(samples).
    """
    values = np.asarray(list(samples_s), dtype=float)
    n = int(values.size)
    if n == 0:
        return {
            "n": 0, "mean_s": None, "median_s": None, "p90_s": None, "p99_s": None, "stdev_s": None,
            "ci95_low_s": None, "ci95_high_s": None, "throughput_per_s": None,
        }

    mean = float(values.mean())
    stdev = float(values.std(ddof=1)) if n > 1 else None
    ci_low = ci_high = None
    if stdev is not None:
        # scipy.special imports in about a third of the time scipy.stats takes
        # (0.18 s against 0.57 s here), and storing the first result pays it.
        from scipy.special import stdtrit

        half_width = float(stdtrit(n - 1, 0.975)) * stdev / math.sqrt(n)
        ci_low, ci_high = mean - half_width, mean + half_width
    total = float(values.sum())
    return {
        "n": n,
        "mean_s": mean,
        "median_s": float(np.median(values)),
        "p90_s": float(np.percentile(values, 90)),
        "p99_s": float(np.percentile(values, 99)),
        "stdev_s": stdev,
        "ci95_low_s": ci_low,
        "ci95_high_s": ci_high,
        "throughput_per_s": batch_size * n / total if total > 0 else None,
    }


def check_confidence(confidence: float) -> None:
    """Raise ValueError unless `confidence` lies strictly between 0 and 1."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence {confidence!r} is invalid; use a level between 0 and 1, such as 0.95")


def median_ci_ranks(n: ArrayLike, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the 0-based ranks (low, high) of the median's interval and its coverage, for each n.

    With B ~ Binomial(n, 0.5) the number of samples below the true median, the
    interval [x(j), x(n-1-j)] of the sorted samples (0-based) covers the median
    with probability 1 - 2 * P(B <= j). `j` is the largest rank that keeps this
    at or above `confidence`. Where no rank does (n < 6 at 95%), low and high
    are -1 and the coverage is NaN. Vectorized so that SQL can fetch the two
    order statistics of many groups at once.
    """
    from scipy import stats as scipy_stats

    check_confidence(confidence)
    counts = np.atleast_1d(np.asarray(n, dtype=np.int64))
    tail = (1.0 - confidence) / 2.0

    # binom.ppf gives the smallest k with P(B <= k) >= tail; the wanted rank is
    # one below it, or k itself when P(B <= k) equals the tail exactly.
    k = scipy_stats.binom.ppf(tail, counts, 0.5).astype(np.int64)
    exact = scipy_stats.binom.cdf(k, counts, 0.5) <= tail * (1.0 + 1e-12)
    low = np.where(exact, k, k - 1)
    valid = (counts > 0) & (low >= 0)
    coverage = np.where(valid, 1.0 - 2.0 * scipy_stats.binom.cdf(low, counts, 0.5), np.nan)
    high = np.where(valid, counts - 1 - low, -1)
    low = np.where(valid, low, -1)
    return low, high, coverage


def median_ci(samples: ArrayLike, confidence: float = 0.95) -> Interval:
    """Return the distribution-free confidence interval of the median (see `MEDIAN_CI_METHOD`).

    The interval needs no assumption about the shape of the distribution, only
    independent samples. It reaches at least `confidence`, and `coverage` is the
    exact level reached. Fewer than 6 samples cannot give a 95% interval, and
    the bounds are then None.
    """
    values = _as_samples(samples)
    low_rank, high_rank, coverage = median_ci_ranks(values.size, confidence)
    if values.size == 0 or low_rank[0] < 0:
        return Interval(None, None, confidence, None, MEDIAN_CI_METHOD)

    ordered = np.sort(values)
    return Interval(
        float(ordered[low_rank[0]]), float(ordered[high_rank[0]]), confidence, float(coverage[0]), MEDIAN_CI_METHOD,
    )


def mean_ci(samples: ArrayLike, confidence: float = 0.95) -> Interval:
    """Return the Student t confidence interval of the mean (see `MEAN_CI_METHOD`).

    The interval assumes independent samples whose mean is close to normal,
    which latency loops of 20 or more iterations usually give. Fewer than 2
    samples give None bounds.
    """
    from scipy import stats as scipy_stats

    check_confidence(confidence)
    values = _as_samples(samples)
    n = values.size
    if n < 2:
        return Interval(None, None, confidence, None, MEAN_CI_METHOD)

    mean = float(values.mean())
    half_width = float(scipy_stats.t.ppf(0.5 + confidence / 2.0, n - 1)) * float(values.std(ddof=1)) / math.sqrt(n)
    return Interval(mean - half_width, mean + half_width, confidence, confidence, MEAN_CI_METHOD)


def describe(samples_s: ArrayLike, batch_size: int = 1, confidence: float = 0.95) -> SampleStats:
    """Summarize latency samples with both intervals, percentiles, spread and throughput.

    Percentiles follow `PERCENTILE_METHOD`, so the figures equal what the
    store-level `group_statistics` computes in DuckDB from the same samples.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    values = _as_samples(samples_s)
    n = int(values.size)
    if n == 0:
        return SampleStats(0, *([None] * 14), confidence=confidence)

    mean = float(values.mean())
    stdev = float(values.std(ddof=1)) if n > 1 else None
    mean_interval = mean_ci(values, confidence)
    median_interval = median_ci(values, confidence)
    total = float(values.sum())
    return SampleStats(
        n=n,
        mean_s=mean,
        mean_ci_low_s=mean_interval.low,
        mean_ci_high_s=mean_interval.high,
        median_s=float(np.median(values)),
        median_ci_low_s=median_interval.low,
        median_ci_high_s=median_interval.high,
        median_ci_coverage=median_interval.coverage,
        p90_s=float(np.percentile(values, 90)),
        p99_s=float(np.percentile(values, 99)),
        stdev_s=stdev,
        cv=stdev / mean if stdev is not None and mean > 0 else None,
        min_s=float(values.min()),
        max_s=float(values.max()),
        throughput_per_s=batch_size * n / total if total > 0 else None,
        confidence=confidence,
    )


def _as_samples(samples: ArrayLike) -> np.ndarray:
    """Return the samples as a 1-D float array; raise ValueError on NaN or infinite values."""
    values = np.asarray(samples, dtype=float).ravel()
    if not np.all(np.isfinite(values)):
        bad = values[~np.isfinite(values)][0]
        raise ValueError(f"samples contain the non-finite value {bad}; drop it before computing statistics")
    return values
