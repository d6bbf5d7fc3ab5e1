"""Tests of vt_core.stats: intervals against scipy, change tests, step detection, store queries.

Sample histories are generated with seeded generators: lognormal latencies
(the usual right skew of timings) around a base level, with injected steps of
known size and position. Store tests ingest real JobResults into a temporary
DuckDB file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import sys

import numpy as np
import pytest
from scipy import stats as scipy_stats

from vt_core import stats
from vt_core.records import JobResult
from vt_core.stats import change, correlation, steps, summary
from vt_core.store import Store

RUNS = 20
SAMPLES_PER_RUN = 30
ALPHA = 0.05


def history(rng: np.random.Generator, *, runs: int = RUNS, samples: int = SAMPLES_PER_RUN, sigma: float = 0.05,
            steps_at: dict[int, float] | None = None, base: float = 0.02) -> list[np.ndarray]:
    """Return per-run lognormal samples; `steps_at` maps a run index to the relative step that starts there."""
    levels = np.full(runs, base)
    for index, size in (steps_at or {}).items():
        levels[index:] *= 1.0 + size
    return list(levels[:, None] * rng.lognormal(0.0, sigma, size=(runs, samples)))


# -- intervals ----------------------------------------------------------------

FIXED = np.array([
    0.0212, 0.0198, 0.0205, 0.0231, 0.0201, 0.0199, 0.0244, 0.0203, 0.0207, 0.0196,
    0.0210, 0.0202, 0.0288, 0.0204, 0.0200, 0.0209, 0.0197, 0.0206, 0.0215, 0.0203,
    0.0201, 0.0223, 0.0205, 0.0199, 0.0208,
])


@pytest.mark.parametrize("confidence", [0.90, 0.95, 0.99])
def test_mean_ci_matches_scipy_t_interval(confidence: float) -> None:
    interval = summary.mean_ci(FIXED, confidence)
    expected = scipy_stats.t.interval(confidence, FIXED.size - 1, loc=FIXED.mean(), scale=scipy_stats.sem(FIXED))
    assert interval.low == pytest.approx(expected[0], rel=1e-12)
    assert interval.high == pytest.approx(expected[1], rel=1e-12)
    assert interval.method == summary.MEAN_CI_METHOD


@pytest.mark.parametrize("n", [6, 7, 10, 25, 30, 31, 100, 257])
@pytest.mark.parametrize("confidence", [0.90, 0.95, 0.99])
def test_median_ci_matches_scipy_quantile_test(n: int, confidence: float) -> None:
    values = np.random.default_rng(n).lognormal(-4.0, 0.3, size=n)
    interval = summary.median_ci(values, confidence)
    result = scipy_stats.quantile_test(values, q=float(np.median(values)), p=0.5)
    expected = result.confidence_interval(confidence)
    if not (np.isfinite(expected.low) and np.isfinite(expected.high)):
        # Too few samples for this level: scipy leaves the interval open, ours has no bounds.
        assert interval.low is None
        assert interval.high is None
        return
    assert interval.low == expected.low
    assert interval.high == expected.high


@pytest.mark.parametrize("n", [6, 20, 30, 101])
def test_median_ci_coverage_matches_binomtest_inversion(n: int) -> None:
    """The interval contains exactly the candidate medians a two-sided sign test (binomtest) does not reject."""
    values = np.sort(np.random.default_rng(n).normal(1.0, 0.1, size=n))
    interval = summary.median_ci(values, 0.95)

    # Between consecutive order statistics, a candidate median m has k samples below it.
    kept = [k for k in range(n + 1) if scipy_stats.binomtest(k, n, 0.5).pvalue > 0.05]
    assert interval.low == values[min(kept) - 1]
    assert interval.high == values[max(kept)]
    low, _, coverage = summary.median_ci_ranks(n, 0.95)
    assert coverage[0] == pytest.approx(1 - 2 * scipy_stats.binom.cdf(low[0], n, 0.5))
    assert interval.coverage >= 0.95


def test_median_ci_too_few_samples() -> None:
    interval = summary.median_ci([0.01, 0.02, 0.03, 0.04, 0.05], 0.95)
    assert interval.low is None
    assert interval.high is None
    assert summary.median_ci([0.01] * 6, 0.95).low == 0.01


def test_median_ci_ranks_vectorized() -> None:
    counts = np.arange(1, 300)
    low, high, coverage = summary.median_ci_ranks(counts, 0.95)
    for n, lo, hi, cov in zip(counts, low, high, coverage):
        single = summary.median_ci(np.arange(n, dtype=float), 0.95)
        assert (single.low, single.high) == ((lo, hi) if lo >= 0 else (None, None))
        if lo >= 0:
            assert cov >= 0.95


def test_describe_matches_numpy_and_summarize() -> None:
    described = summary.describe(FIXED, batch_size=4)
    legacy = stats.summarize(FIXED, batch_size=4)
    assert described.median_s == np.median(FIXED)
    assert described.p90_s == np.percentile(FIXED, 90)
    assert described.p99_s == np.percentile(FIXED, 99)
    assert described.stdev_s == pytest.approx(np.std(FIXED, ddof=1))
    assert described.cv == pytest.approx(np.std(FIXED, ddof=1) / np.mean(FIXED))
    assert described.mean_ci_low_s == pytest.approx(legacy["ci95_low_s"])
    assert described.mean_ci_high_s == pytest.approx(legacy["ci95_high_s"])
    assert described.throughput_per_s == pytest.approx(legacy["throughput_per_s"])


def test_summarize_keys_unchanged() -> None:
    assert set(stats.summarize([0.1, 0.2, 0.3])) == {
        "n", "mean_s", "median_s", "p90_s", "p99_s", "stdev_s", "ci95_low_s", "ci95_high_s", "throughput_per_s",
    }
    assert stats.summarize([])["mean_s"] is None


def test_describe_rejects_nan() -> None:
    with pytest.raises(ValueError, match="non-finite value nan"):
        summary.describe([0.1, float("nan")])


def test_invalid_confidence_named() -> None:
    with pytest.raises(ValueError, match="confidence 1.5 is invalid"):
        summary.median_ci(FIXED, 1.5)


# -- two-run comparison -------------------------------------------------------

def test_compare_p_value_is_mannwhitneyu() -> None:
    rng = np.random.default_rng(1)
    before, after = rng.lognormal(0, 0.05, 30), rng.lognormal(0.08, 0.05, 30)
    result = change.compare_samples(before, after)
    expected = scipy_stats.mannwhitneyu(before, after, alternative="two-sided").pvalue
    assert result.p_value == pytest.approx(expected)
    assert result.direction == change.REGRESSION
    assert result.relative_change == pytest.approx(np.median(after) / np.median(before) - 1)


def test_compare_faster_is_improvement() -> None:
    rng = np.random.default_rng(2)
    result = change.compare_samples(rng.lognormal(0, 0.05, 30), rng.lognormal(-0.15, 0.05, 30))
    assert result.direction == change.IMPROVEMENT
    assert result.relative_change < -0.05


def test_compare_small_change_not_flagged() -> None:
    """Significant by the test but under the 5% threshold: not flagged."""
    rng = np.random.default_rng(3)
    result = change.compare_samples(rng.lognormal(0, 0.01, 500), rng.lognormal(0.02, 0.01, 500))
    assert result.p_value < 1e-10
    assert result.direction == change.UNCHANGED


def test_compare_insignificant_change_not_flagged() -> None:
    """Over the threshold but three samples against three cannot reach alpha: not flagged."""
    result = change.compare_samples([1.0, 1.1, 1.2], [1.3, 1.4, 1.5])
    assert result.relative_change > 0.2
    assert result.p_value >= 0.05
    assert result.direction == change.UNCHANGED


def test_compare_threshold_settable() -> None:
    rng = np.random.default_rng(4)
    before, after = rng.lognormal(0, 0.01, 200), rng.lognormal(0.03, 0.01, 200)
    assert change.compare_samples(before, after, threshold=0.05).direction == change.UNCHANGED
    assert change.compare_samples(before, after, threshold=0.02).direction == change.REGRESSION


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"threshold": -0.1}, "threshold -0.1 is invalid"),
    ({"alpha": 0.0}, "alpha 0.0 is invalid"),
    ({"alpha": 1.5}, "alpha 1.5 is invalid"),
])
def test_compare_invalid_settings_named(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        change.compare_samples([1.0, 2.0], [1.0, 2.0], **kwargs)


def test_compare_empty_and_nonpositive_rejected() -> None:
    with pytest.raises(ValueError, match="before set has no samples"):
        change.compare_samples([], [1.0])
    with pytest.raises(ValueError, match="latency of 0.0 s"):
        change.compare_samples([1.0], [0.0])


def test_compare_values_two_runs_thresholds_only() -> None:
    assert change.compare_values([100.0], [115.0]).direction == change.REGRESSION
    assert change.compare_values([100.0], [105.0]).direction == change.UNCHANGED
    # 20% of 5 MiB is under the 2 MiB minimum.
    assert change.compare_values([5.0], [6.0]).direction == change.UNCHANGED
    assert change.compare_values([100.0], [115.0]).p_value is None


def test_compare_values_uses_test_when_possible() -> None:
    before = [100.0, 130.0, 98.0, 131.0, 99.0, 129.0]
    after = [101.0, 140.0, 132.0, 100.0, 135.0, 131.0]
    result = change.compare_values(before, after)
    assert result.p_value == pytest.approx(scipy_stats.mannwhitneyu(before, after).pvalue)
    assert result.direction == change.UNCHANGED


def test_compare_states() -> None:
    assert change.compare_states("pass", "fail") == change.REGRESSION
    assert change.compare_states("pass", "mismatch") == change.REGRESSION
    assert change.compare_states("mismatch", "pass") == change.IMPROVEMENT
    assert change.compare_states("fail", "mismatch") == change.UNCHANGED
    assert change.compare_states("pass", "unavailable") == change.UNCHANGED


# -- step detection -----------------------------------------------------------

def test_partition_noiseless_segments() -> None:
    levels = np.repeat([0.0, 5.0, 2.0], [4, 7, 5])
    assert steps.optimal_partitions([levels], [np.ones(levels.size)], [1.0]) == [[4, 11]]


def brute_force_partition(x: np.ndarray, w: np.ndarray, penalty: float) -> tuple[float, list[int]]:
    """Return the minimum penalized cost over every segmentation, by enumeration."""
    best: tuple[float, list[int]] = (math.inf, [])
    for mask in range(2 ** (x.size - 1)):
        points = [i + 1 for i in range(x.size - 1) if mask >> i & 1]
        bounds = [0, *points, x.size]
        cost = penalty * len(points)
        for a, b in zip(bounds[:-1], bounds[1:]):
            mean = np.average(x[a:b], weights=w[a:b])
            cost += float(np.sum(w[a:b] * (x[a:b] - mean) ** 2))
        if cost < best[0] - 1e-9:
            best = (cost, points)
    return best


def test_partition_matches_brute_force() -> None:
    """Series of different lengths solved together give each series' exact optimum."""
    rng = np.random.default_rng(5)
    levels, weights = [], []
    for size in (2, 3, 5, 8, 9, 6, 9):
        levels.append(rng.normal(size=size) + np.repeat(rng.normal(0, 3, 3), 4)[:size])
        weights.append(rng.integers(1, 40, size=size).astype(float))
    found = steps.optimal_partitions(levels, weights, [4.0] * len(levels))
    for x, w, points in zip(levels, weights, found):
        assert points == brute_force_partition(x, w, 4.0)[1]


@pytest.mark.parametrize("size", [0.10, 0.20, -0.10])
def test_injected_step_found_at_its_run(size: float) -> None:
    """Steps of 10% or more at 30 samples a run, sigma 5%: found at the run where they begin.

    A spurious extra step may appear beside the real one at the rate of a false alarm, at most alpha.
    """
    rng = np.random.default_rng(100)
    positions = [1, 2, 5, 10, 15, 18, 19]
    trials = 30
    found = extra = 0
    for position in positions:
        for _ in range(trials):
            detected = {s.index: s for s in steps.detect_steps(history(rng, steps_at={position: size}))}
            extra += bool(set(detected) - {position})
            if position not in detected:
                continue
            found += 1
            step = detected[position]
            assert step.change.direction == (change.REGRESSION if size > 0 else change.IMPROVEMENT)
            if len(detected) == 1:
                assert step.change.relative_change == pytest.approx(size, abs=0.05)
    histories = len(positions) * trials
    assert found / histories >= 0.98
    assert extra / histories <= ALPHA


def test_injected_step_noisier_runs_mostly_found() -> None:
    """At sigma 10% a run's median has a standard error of about 2.3%, so the run at a 10% step
    lands nearer the old level about 2% of the time and the step is then placed one run off."""
    rng = np.random.default_rng(101)
    found = [[s.index for s in steps.detect_steps(history(rng, sigma=0.10, steps_at={10: 0.10}))]
             for _ in range(200)]
    assert sum(indices == [10] for indices in found) >= 0.85 * len(found)
    assert sum(bool({9, 10, 11} & set(indices)) for indices in found) >= 0.98 * len(found)


def test_two_steps_undone_regression() -> None:
    rng = np.random.default_rng(102)
    detected = steps.detect_steps(history(rng, steps_at={6: 0.15, 14: -0.15 / 1.15}))
    assert [s.index for s in detected] == [6, 14]
    assert detected[0].change.direction == change.REGRESSION
    assert not detected[0].still_open
    assert detected[1].change.direction == change.IMPROVEMENT
    assert detected[1].still_open


def test_small_step_under_threshold_ignored() -> None:
    rng = np.random.default_rng(103)
    detected = steps.detect_steps(history(rng, sigma=0.01, steps_at={10: 0.03}))
    assert detected == []
    assert [s.index for s in steps.detect_steps(history(rng, sigma=0.01, steps_at={10: 0.03}), threshold=0.01)] == [10]


@pytest.mark.parametrize("threshold", [change.DEFAULT_THRESHOLD, 0.0])
def test_false_alarm_rate_at_most_alpha(threshold: float) -> None:
    """1,000 pure-noise histories (sigma 10%, so a 5% threshold alone would not protect): at most alpha flagged.

    With threshold 0 only the statistics (penalty and Mann-Whitney U) stand between noise and a report.
    """
    rng = np.random.default_rng(7)
    histories = 0.02 * rng.lognormal(0.0, 0.10, size=(1000, RUNS, SAMPLES_PER_RUN))
    found = steps.detect_steps_many([list(h) for h in histories], threshold=threshold, alpha=ALPHA)
    alarms = sum(bool(f) for f in found)
    assert alarms / len(histories) <= ALPHA


def test_detect_steps_many_matches_single() -> None:
    rng = np.random.default_rng(6)
    histories = [history(rng, runs=runs, steps_at={runs // 2: 0.2}) for runs in (3, 8, 12, 20)]
    histories.append([rng.lognormal(-4, 0.05, size) for size in (10, 30, 20, 30, 25)])
    many = steps.detect_steps_many(histories)
    assert many == [steps.detect_steps(h) for h in histories]
    assert [[s.index for s in found] for found in many[:4]] == [[1], [4], [6], [10]]


def test_detect_steps_edge_cases() -> None:
    assert steps.detect_steps([]) == []
    assert steps.detect_steps([[0.1, 0.2]]) == []
    with pytest.raises(ValueError, match="run 1 of series 0 has no samples"):
        steps.detect_steps([[0.1], []])
    with pytest.raises(ValueError, match="run 0 of series 0 contains a latency that is not a positive number"):
        steps.detect_steps([[0.1, -1.0], [0.1]])


def test_value_steps_memory() -> None:
    rng = np.random.default_rng(8)
    values = np.r_[np.full(8, 400.0), np.full(6, 460.0)] + rng.normal(0, 2.0, 14)
    detected = steps.detect_value_steps(values)
    assert [s.index for s in detected] == [8]
    assert detected[0].change.metric == "peak_rss_mb"
    assert detected[0].change.p_value == pytest.approx(scipy_stats.mannwhitneyu(values[:8], values[8:]).pvalue)


def test_value_steps_constant_memory() -> None:
    assert steps.detect_value_steps(np.full(10, 300.0)) == []


# -- correlation --------------------------------------------------------------

def test_correlate_matches_scipy() -> None:
    rng = np.random.default_rng(9)
    x = rng.normal(size=60)
    y = 2 * x + rng.normal(size=60)
    pearson = correlation.correlate(x, y, correlation.PEARSON)
    spearman = correlation.correlate(x, y, correlation.SPEARMAN)
    assert pearson.coefficient == pytest.approx(scipy_stats.pearsonr(x, y).statistic)
    assert pearson.p_value == pytest.approx(scipy_stats.pearsonr(x, y).pvalue)
    assert spearman.coefficient == pytest.approx(scipy_stats.spearmanr(x, y).statistic)
    assert spearman.p_value == pytest.approx(scipy_stats.spearmanr(x, y).pvalue)


def test_correlate_drops_missing_and_constant() -> None:
    assert correlation.correlate([1, 2, np.nan, 4], [2, 4, 5, 8]).n == 3
    assert correlation.correlate([1, 1, 1, 1], [1, 2, 3, 4]) is None
    assert correlation.correlate([1, 2], [1, 2]) is None
    with pytest.raises(ValueError, match="method 'kendall' is invalid"):
        correlation.correlate([1, 2, 3], [1, 2, 3], "kendall")


def test_category_effect_matches_kruskal() -> None:
    rng = np.random.default_rng(10)
    groups = {"cpu": rng.normal(10, 1, 20), "cuda": rng.normal(2, 1, 15), "openvino": rng.normal(8, 1, 10)}
    values = np.concatenate(list(groups.values()))
    labels = [name for name, g in groups.items() for _ in g]
    result = correlation.category_effect(values, labels)
    h, p = scipy_stats.kruskal(*groups.values())
    assert result.statistic == pytest.approx(h)
    assert result.p_value == pytest.approx(p)
    assert result.coefficient == pytest.approx((h - 3 + 1) / (values.size - 3))
    assert result.groups == 3


def test_point_biserial_matches_scipy() -> None:
    flags = np.array([1, 1, 0, 1, 0, 0, 1, 0, 1, 1], dtype=float)
    sizes = np.array([5, 6, 90, 7, 80, 70, 5, 60, 8, 9], dtype=float)
    result = correlation.point_biserial(flags, sizes)
    expected = scipy_stats.pointbiserialr(flags.astype(bool), sizes)
    assert result.coefficient == pytest.approx(expected.statistic)
    assert result.p_value == pytest.approx(expected.pvalue)


# -- store queries ------------------------------------------------------------

START = dt.datetime(2025, 3, 1, 12, 0)


def make_result(model: str, index: int, samples: np.ndarray | None, *, platform: str = "cpu",
                status: str = "pass", peak_rss_mb: float | None = 200.0, batch_size: int = 1,
                parameter_count: int = 1000, extra: dict | None = None) -> JobResult:
    return JobResult(
        job_id=f"{model}-{platform}-{index}-{batch_size}", run_id=f"run-{index:02d}", model_id=model,
        platform=platform, status=status, device=platform, weights_source="synthetic",
        settings={"batch_size": batch_size, "precision": "f32"},
        samples_s=[float(v) for v in samples] if samples is not None else [],
        peak_rss_mb=peak_rss_mb, parameter_count=parameter_count,
        error_type=None if status == "pass" else "runtime_error",
        started_at=(START + dt.timedelta(days=index)).isoformat(),
        finished_at=(START + dt.timedelta(days=index, minutes=1)).isoformat(),
        extra=extra or {},
    )


@pytest.fixture
def step_store(db_path) -> Store:
    """A database with a 20% latency step at run 9 of `clip`, a steady `blip`, and a pass->fail of `vit`."""
    rng = np.random.default_rng(11)
    store = Store(db_path)
    clip = history(rng, runs=12, steps_at={9: 0.20})
    blip = history(rng, runs=12, base=0.08)
    results = []
    for index in range(12):
        results.append(make_result("clip", index, clip[index], parameter_count=150_000_000))
        results.append(make_result("blip", index, blip[index], peak_rss_mb=900.0 + index % 2,
                                   parameter_count=400_000_000))
        failing = index >= 10
        results.append(make_result("vit", index, None if failing else blip[index], status="fail" if failing else "pass",
                                   parameter_count=80_000_000))
    store.ingest(results)
    return store


def test_group_statistics_match_describe(step_store: Store) -> None:
    pooled = {g.model_id: g for g in stats.group_statistics(step_store)}
    clip = pooled["clip"]
    samples = np.concatenate(history(np.random.default_rng(11), runs=12, steps_at={9: 0.20}))
    expected = summary.describe(samples)
    for field in ("n", "mean_s", "median_s", "median_ci_low_s", "median_ci_high_s", "median_ci_coverage",
                  "mean_ci_low_s", "mean_ci_high_s", "p90_s", "p99_s", "stdev_s", "cv", "min_s", "max_s",
                  "throughput_per_s"):
        assert getattr(clip, field) == pytest.approx(getattr(expected, field), rel=1e-9), field
    assert clip.run_count == 12
    assert clip.result_count == 12
    assert clip.settings_key == "cpu|f32|bs1|synthetic"
    assert clip.peak_rss_mb == 200.0
    assert pooled["vit"].result_count == 10


def test_group_statistics_latest_only(step_store: Store) -> None:
    latest = {g.model_id: g for g in stats.group_statistics(step_store, latest_only=True)}
    clip_runs = history(np.random.default_rng(11), runs=12, steps_at={9: 0.20})
    assert latest["clip"].n == SAMPLES_PER_RUN
    assert latest["clip"].median_s == pytest.approx(float(np.median(clip_runs[-1])))
    assert latest["clip"].run_count == 1


def test_group_statistics_skips_flagged(db_path) -> None:
    store = Store(db_path)
    rng = np.random.default_rng(13)
    store.ingest([
        make_result("clip", 0, rng.lognormal(-4, 0.1, 30)),
        make_result("mocked", 1, rng.lognormal(-4, 0.1, 30), extra={"is_mock": True}),
    ])
    assert [g.model_id for g in stats.group_statistics(store)] == ["clip"]
    assert {g.model_id for g in stats.group_statistics(store, include_flagged=True)} == {"clip", "mocked"}


def test_group_statistics_empty_database(db_path) -> None:
    assert stats.group_statistics(Store(db_path)) == []
    assert stats.find_regressions(Store(db_path)) == []
    assert stats.correlations(Store(db_path)) == []


def test_find_regressions_latency_and_state(step_store: Store) -> None:
    found = stats.find_regressions(step_store)
    by_model = {(r.model_id, r.kind): r for r in found}
    assert set(by_model) == {("clip", "latency"), ("vit", "state")}

    latency = by_model[("clip", "latency")]
    assert latency.run_id == "run-09"
    assert latency.result_id == "clip-cpu-9-1"
    assert latency.timestamp == START + dt.timedelta(days=9, minutes=1)
    assert latency.direction == "regression"
    assert latency.relative_change == pytest.approx(0.20, abs=0.03)
    assert latency.p_value < 0.05
    assert latency.n_before == 9 * SAMPLES_PER_RUN
    assert latency.n_after == 3 * SAMPLES_PER_RUN

    state = by_model[("vit", "state")]
    assert (state.before_state, state.after_state) == ("pass", "fail")
    assert state.run_id == "run-10"


def test_find_regressions_since(step_store: Store) -> None:
    assert {r.model_id for r in stats.find_regressions(step_store, since=dt.date(2025, 3, 10))} == {"clip", "vit"}
    assert [r.model_id for r in stats.find_regressions(step_store, since=dt.datetime(2025, 3, 11))] == ["vit"]
    assert stats.find_regressions(step_store, since=dt.date(2025, 3, 12)) == []


def test_find_regressions_threshold_settable(step_store: Store) -> None:
    assert [r.kind for r in stats.find_regressions(step_store, threshold=0.25)] == ["state"]


def test_find_regressions_memory(db_path) -> None:
    rng = np.random.default_rng(14)
    store = Store(db_path)
    runs = history(rng, runs=10)
    store.ingest([
        make_result("clip", i, runs[i], peak_rss_mb=(300.0 if i < 6 else 360.0) + rng.normal(0, 1.0))
        for i in range(10)
    ])
    found = stats.find_regressions(store)
    assert [(r.kind, r.metric, r.run_id) for r in found] == [("memory", "peak_rss_mb", "run-06")]
    assert found[0].relative_change == pytest.approx(0.2, abs=0.02)
    assert found[0].unit == "MiB"
    assert stats.find_regressions(store, memory_threshold=0.3) == []


def test_find_regressions_improvement_and_resolved(db_path) -> None:
    rng = np.random.default_rng(15)
    store = Store(db_path)
    runs = history(rng, runs=16, steps_at={5: 0.25, 11: -0.25 / 1.25})
    store.ingest([make_result("clip", i, runs[i]) for i in range(16)])
    assert stats.find_regressions(store) == []
    everything = stats.find_regressions(store, include_improvements=True, include_resolved=True)
    assert [(r.direction, r.run_id, r.still_open) for r in everything] == [
        ("regression", "run-05", False), ("improvement", "run-11", True),
    ]


def test_find_regressions_state_fixed_not_reported(db_path) -> None:
    store = Store(db_path)
    rng = np.random.default_rng(16)
    states = ["pass", "pass", "fail", "fail", "pass"]
    store.ingest([
        make_result("clip", i, rng.lognormal(-4, 0.05, 30) if s == "pass" else None, status=s)
        for i, s in enumerate(states)
    ])
    assert stats.find_regressions(store) == []
    improvements = stats.find_regressions(store, include_improvements=True)
    assert [(r.kind, r.direction, r.run_id) for r in improvements] == [("state", "improvement", "run-04")]


def test_find_regressions_invalid_arguments(db_path) -> None:
    with pytest.raises(ValueError, match="alpha 2 is invalid"):
        stats.find_regressions(Store(db_path), alpha=2)
    with pytest.raises(ValueError, match="memory_threshold -1 is invalid"):
        stats.find_regressions(Store(db_path), memory_threshold=-1)


def test_correlations_from_store(db_path) -> None:
    rng = np.random.default_rng(17)
    store = Store(db_path)
    results = []
    for index in range(24):
        size = int(rng.integers(10, 500)) * 1_000_000
        platform = ("cpu", "openvino")[index % 2]
        latency = size * 1e-10 * (2.0 if platform == "cpu" else 1.0)
        failing = size > 450_000_000
        samples = None if failing else latency * rng.lognormal(0, 0.02, 20)
        results.append(make_result(f"m{index}", index, samples, platform=platform,
                                   status="fail" if failing else "pass", parameter_count=size,
                                   peak_rss_mb=size / 1e6 * 4 + rng.normal(0, 5)))
    store.ingest(results)

    found = stats.correlations(store, per_platform=True)
    keyed = {(c.x, c.y, c.method, c.scope): c for c in found}
    size_latency = keyed[("parameter_count", "latency_s", "spearman", "cpu")]
    assert size_latency.coefficient > 0.95
    assert size_latency.p_value < 0.001
    assert keyed[("platform", "latency_s", "kruskal_eta2", "all")].groups == 2
    assert keyed[("passed", "parameter_count", "point_biserial", "all")].coefficient < 0
    for item in found:
        assert -1.0 <= item.coefficient <= 1.0
        assert 0.0 <= item.p_value <= 1.0
        assert item.method in stats.CORRELATION_METHODS


def test_records_serialize_as_dicts(step_store: Store) -> None:
    for record in [*stats.group_statistics(step_store), *stats.find_regressions(step_store),
                   *stats.correlations(step_store)]:
        assert isinstance(dataclasses.asdict(record), dict)


def test_import_store_does_not_load_scipy() -> None:
    import subprocess

    code = "import sys, vt_core.store, vt_core.stats; print('scipy' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "False"


def test_stats_imports_no_ui_or_ml() -> None:
    import subprocess

    code = (
        "import sys, vt_core.stats as s; s.find_regressions; s.describe; s.correlations; s.detect_steps; "
        "print(sorted(m for m in ('textual', 'torch', 'transformers', 'openvino') if m in sys.modules))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"


def test_method_strings_exported() -> None:
    for name in ("MEDIAN_CI_METHOD", "MEAN_CI_METHOD", "PERCENTILE_METHOD", "CHANGE_TEST_METHOD", "STEP_METHOD"):
        assert isinstance(getattr(stats, name), str)
    assert not math.isnan(stats.DEFAULT_ALPHA)


def test_find_regressions_results_without_run(db_path) -> None:
    """Results stored without a run id form one run each; the regression names the result."""
    rng = np.random.default_rng(18)
    store = Store(db_path)
    runs = history(rng, runs=8, steps_at={5: 0.3})
    results = [dataclasses.replace(make_result("clip", i, runs[i]), run_id="") for i in range(8)]
    store.ingest(results)
    (found,) = stats.find_regressions(store)
    assert found.run_id is None
    assert found.result_id == "clip-cpu-5-1"
    assert found.timestamp == START + dt.timedelta(days=5, minutes=1)
