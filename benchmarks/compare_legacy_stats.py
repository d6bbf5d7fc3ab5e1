"""Compare the older framework's regression rule with vt-tui's on the same generated histories.

Older rule: take the average latency of each earlier run, build a 95% Student
t-interval of their mean, and flag the new run when its average falls
outside that interval.

vt-tui rule (`vt_core.stats.detect_steps`): penalised step detection
(optimal partitioning) over the per-run medians, each step confirmed by a relative change of the medians over
5% AND a two-sided Mann-Whitney U test at alpha 0.05 on the raw samples.

The script prints two worked cases, then the rates of both rules over many
seeded histories. Latencies are lognormal (sigma 5%) around 20 ms, with 30
iterations a run, 15 earlier runs and one new run. Some runs contain a few
stalls of 5-10x, the kind a garbage collection or a busy neighbour causes.

Run: python benchmarks/compare_legacy_stats.py [--histories 1000]
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from scipy import stats as scipy_stats

from vt_core.stats import detect_steps

BASE_S = 0.020
SIGMA = 0.05
SAMPLES = 30
EARLIER_RUNS = 15
ALPHA = 0.05


def make_run(rng: np.random.Generator, level: float = 1.0, stalls: int = 0) -> np.ndarray:
    """Return one run's samples; `stalls` iterations take 5-10x longer."""
    samples = BASE_S * level * rng.lognormal(0.0, SIGMA, SAMPLES)
    if stalls:
        positions = rng.choice(SAMPLES, size=stalls, replace=False)
        samples[positions] *= rng.uniform(5.0, 10.0, size=stalls)
    return samples


def legacy_verdict(earlier: list[np.ndarray], new: np.ndarray) -> tuple[str, str]:
    """Apply the older rule; return the verdict and the figures it rests on."""
    averages = np.array([run.mean() for run in earlier])
    k = averages.size
    half_width = scipy_stats.t.ppf(0.975, k - 1) * averages.std(ddof=1) / math.sqrt(k)
    low, high = averages.mean() - half_width, averages.mean() + half_width
    average = new.mean()
    verdict = "no change"
    if average > high:
        verdict = "regression"
    elif average < low:
        verdict = "improvement"
    return verdict, f"new average {average * 1e3:.2f} ms, interval of earlier averages {low * 1e3:.2f}-{high * 1e3:.2f} ms"


def vt_verdict(earlier: list[np.ndarray], new: np.ndarray) -> tuple[str, str]:
    """Apply vt-tui's rule to the whole history; report a step that begins at the new run."""
    found = [step for step in detect_steps([*earlier, new]) if step.index == len(earlier)]
    if not found:
        medians = [np.median(run) for run in earlier]
        return "no change", (f"new median {np.median(new) * 1e3:.2f} ms, earlier medians "
                             f"{min(medians) * 1e3:.2f}-{max(medians) * 1e3:.2f} ms, no step at the new run")
    change = found[0].change
    return change.direction, (f"median {change.before * 1e3:.2f} -> {change.after * 1e3:.2f} ms "
                              f"({change.relative_change:+.1%}), Mann-Whitney U p = {change.p_value:.2g}")


def show_case(title: str, truth: str, earlier: list[np.ndarray], new: np.ndarray) -> None:
    print(f"\n{title}\n  truth:  {truth}")
    for name, rule in (("older", legacy_verdict), ("vt-tui", vt_verdict)):
        verdict, detail = rule(earlier, new)
        print(f"  {name:<7} {verdict:<12} ({detail})")


def rates(rng: np.random.Generator, histories: int) -> None:
    """Print false-alarm and detection rates of both rules over seeded histories."""
    scenarios = (
        ("no change, no stalls", 1.0, 0.0),
        ("no change, 20% of runs with 1-2 stalls", 1.0, 0.2),
        ("10% slower, no stalls", 1.10, 0.0),
        ("10% slower, 20% of runs with 1-2 stalls", 1.10, 0.2),
    )
    print(f"\nRates over {histories} seeded histories each (share of new runs flagged as a regression):")
    print(f"  {'scenario':<42} {'older':>7} {'vt-tui':>7}")
    for name, level, stall_share in scenarios:
        flagged = {"older": 0, "vt-tui": 0}
        for _ in range(histories):
            def stalls() -> int:
                return int(rng.integers(1, 3)) if rng.random() < stall_share else 0

            earlier = [make_run(rng, 1.0, stalls()) for _ in range(EARLIER_RUNS)]
            new = make_run(rng, level, stalls())
            flagged["older"] += legacy_verdict(earlier, new)[0] == "regression"
            flagged["vt-tui"] += vt_verdict(earlier, new)[0] == "regression"
        print(f"  {name:<42} {flagged['older'] / histories:>7.1%} {flagged['vt-tui'] / histories:>7.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--histories", type=int, default=1000, help="histories per scenario (default 1000)")
    parser.add_argument("--seed", type=int, default=2025)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    print(f"Histories: {EARLIER_RUNS} earlier runs + 1 new run, {SAMPLES} samples a run, "
          f"lognormal sigma {SIGMA:.0%} around {BASE_S * 1e3:.0f} ms.")

    earlier = [make_run(rng) for _ in range(EARLIER_RUNS)]
    show_case("Case 1: the new run is as fast as before but has two stalled iterations",
              "no change in steady-state latency", earlier, make_run(rng, 1.0, stalls=2))

    earlier = [make_run(rng, 1.0, stalls=2 if i in (3, 9) else 0) for i in range(EARLIER_RUNS)]
    show_case("Case 2: the new run is 12% slower; two earlier runs had stalls that widened the interval",
              "regression of 12%", earlier, make_run(rng, 1.12))

    rates(rng, args.histories)


if __name__ == "__main__":
    main()
