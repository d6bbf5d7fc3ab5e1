"""Repeat one vt-tui job and report the spread of its medians, and how thread count and warm-up change it.

Usage:
    python benchmarks/bench_noise.py [--model ID|DIR] [--platform cpu|openvino] [--repeats 10]
        [--config-repeats 5] [--iterations 20] [--min-seconds 2] [--home DIR] [--quick]

Each job runs through the real launcher in its own worker, as `vt-tui run`
runs it. Three settings are compared, interleaved round by round so that
machine load drifts over all of them alike:

  default     the library's own thread count (settings.threads unset), 3 warm-up iterations
  threads=1   settings.threads = 1 (torch.set_num_threads, or OpenVINO INFERENCE_NUM_THREADS)
  warmup=0    no untimed iterations besides the first inference, which is always untimed

`default` runs `--repeats` times, the other two `--config-repeats` times. For
each setting the script prints the spread of the job medians (min, max,
relative range = (max - min) / median, coefficient of variation), the mean
within-job coefficient of variation of the samples, and the mean of each job's
first three samples over its median, which shows what warm-up removes.

`--quick` runs a tiny CLIP in a temporary data directory, for smoke tests.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402


@dataclass(frozen=True)
class Config:
    name: str
    threads: int | None
    warmup: int


CONFIGS = (Config("default", None, 3), Config("threads=1", 1, 3), Config("warmup=0", None, 0))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None,
                        help=f"catalog id, Hugging Face id or model folder (default: {common.CLIP_ID})")
    parser.add_argument("--platform", choices=("cpu", "openvino"), default="cpu", help="platform (default: cpu)")
    parser.add_argument("--repeats", type=int, default=None, help="jobs with the default settings (default: 10; --quick: 2)")
    parser.add_argument("--config-repeats", type=int, default=None,
                        help="jobs with each other setting (default: 5; --quick: 1)")
    parser.add_argument("--iterations", type=int, default=20, help="minimum timed iterations per job (default: 20)")
    parser.add_argument("--min-seconds", type=float, default=None,
                        help="minimum timed seconds per job (default: 2, as `vt-tui run`; --quick: 0.2)")
    parser.add_argument("--home", default=None,
                        help="vt-tui data directory (default: VT_HOME or the user data directory; "
                        "--quick: a temporary one)")
    parser.add_argument("--quick", action="store_true", help="tiny CLIP, few short jobs: checks that the script works")
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 2 if args.quick else 10
    if args.config_repeats is None:
        args.config_repeats = 1 if args.quick else 5
    if args.min_seconds is None:
        args.min_seconds = 0.2 if args.quick else 2.0
    if args.repeats < 2:
        parser.error(f"--repeats must be at least 2 to have a spread, got {args.repeats}")
    if args.config_repeats < 0:
        parser.error(f"--config-repeats must be zero or more, got {args.config_repeats}")
    return args


def schedule(repeats: int, config_repeats: int) -> list[Config]:
    """Return the job order: each round runs default, then each other setting while it has repeats left."""
    order = []
    for round_index in range(repeats):
        order.append(CONFIGS[0])
        if round_index < config_repeats:
            order.extend(CONFIGS[1:])
    for round_index in range(repeats, config_repeats):
        order.extend(CONFIGS[1:])
    return order


def within_job_cv(samples: list[float]) -> float:
    return statistics.stdev(samples) / statistics.fmean(samples) if len(samples) > 1 else float("nan")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    common.print_header("Noise of repeated vt-tui jobs")

    with common.data_home(args.home, temporary=args.quick and not args.home):
        from vt_core.records import JobSpec, Settings

        reference = common.model_reference(args.model, args.quick)
        model = common.resolve_model(reference)
        order = schedule(args.repeats, args.config_repeats)
        print(f"model: {model.model_id} ({model.source} weights) on {args.platform}; each job >= {args.iterations} "
              f"iterations and >= {args.min_seconds:g} s; {len(order)} jobs, settings interleaved")
        print()
        print(f"{'job':>4} {'setting':<10} {'threads':>7} {'n':>5} {'median ms':>10} {'first ms':>9} "
              f"{'cv':>7}  load")

        jobs_by_config: dict[str, list] = {config.name: [] for config in CONFIGS}
        for index, config in enumerate(order, start=1):
            settings = Settings(iterations=args.iterations, min_seconds=args.min_seconds, warmup=config.warmup,
                                threads=config.threads, weights="synthetic")
            common.progress(f"job {index}/{len(order)}: {config.name}")
            results, _ = common.run_jobs([JobSpec(model_ref=str(model.path), platform=args.platform,
                                                  settings=settings)])
            result = common.require_pass(results[0])
            jobs_by_config[config.name].append(result)
            threads = result.extra.get("torch_threads", config.threads or "-")
            print(f"{index:>4} {config.name:<10} {str(threads):>7} {len(result.samples_s):>5} "
                  f"{common.ms(common.median(result.samples_s)):>10} {common.ms(result.first_inference_s):>9} "
                  f"{common.percent(within_job_cv(result.samples_s)):>7}  {common.load_text()}", flush=True)

    print()
    print(f"{'setting':<10} {'jobs':>4} {'median ms':>10} {'min ms':>9} {'max ms':>9} {'range':>7} {'cv':>7} "
          f"{'job cv':>7} {'first3/med':>10}")
    for config in CONFIGS:
        results = jobs_by_config[config.name]
        if len(results) < 2:
            print(f"{config.name:<10} {len(results):>4}  fewer than 2 jobs: no spread")
            continue
        medians = common.spread([common.median(result.samples_s) for result in results])
        job_cv = statistics.fmean(within_job_cv(result.samples_s) for result in results)
        first_three = statistics.fmean(
            statistics.fmean(result.samples_s[:3]) / common.median(result.samples_s) for result in results
        )
        print(f"{config.name:<10} {medians.count:>4} {common.ms(medians.median):>10} {common.ms(medians.minimum):>9} "
              f"{common.ms(medians.maximum):>9} {common.percent(medians.relative_range):>7} "
              f"{common.percent(medians.cv):>7} {common.percent(job_cv):>7} {first_three:>10.3f}")
    print(f"load average at end: {common.load_text()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
