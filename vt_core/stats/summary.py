"""Summary statistics of per-iteration latency samples.

All inputs and outputs are in seconds unless a name says otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


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
        from scipy import stats as scipy_stats

        half_width = float(scipy_stats.t.ppf(0.975, n - 1)) * stdev / math.sqrt(n)
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
