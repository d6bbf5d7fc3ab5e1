"""Compare vt-tui's CPU latency of a CLIP model with torch.utils.benchmark.Timer on the same model.

Usage:
    python benchmarks/bench_fidelity_cpu.py [--model ID|DIR] [--rounds 5] [--iterations 20]
        [--min-seconds 3] [--warmup 3] [--threads N] [--home DIR] [--quick]

A is a vt-tui job: the real launcher starts a worker process that resolves,
loads and times the model on the cpu platform, and the samples come from the
job result. B is torch.utils.benchmark.Timer in this process, timing the plain
model call under torch.inference_mode() with `blocked_autorange`. Both use the
same model files, the same inputs (the task's make_inputs, so 1 image and 8
labels padded to 77 tokens for CLIP) and the same intra-op thread count. The
script alternates A B A B ... so that drifting machine load hits both alike,
and prints each round's medians and the ratio of the medians of all samples.
The goal is a ratio within 1 +- 3%.

The default model is the synthetic build of openai/clip-vit-base-patch32 (the
real architecture with random weights), kept in vt-tui's data directory as
`vt-tui run --weights synthetic` keeps it. `--quick` runs a tiny CLIP in a
temporary data directory, for smoke tests.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

TOLERANCE = 0.03


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None,
                        help=f"catalog id, Hugging Face id or model folder of a CLIP model (default: {common.CLIP_ID})")
    parser.add_argument("--rounds", type=int, default=None, help="A/B rounds (default: 5; --quick: 2)")
    parser.add_argument("--iterations", type=int, default=20, help="minimum timed iterations of each vt-tui job")
    parser.add_argument("--min-seconds", type=float, default=None,
                        help="minimum timed seconds of each job and each Timer run (default: 3; --quick: 0.3)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed warm-up iterations on both sides")
    parser.add_argument("--threads", type=int, default=None,
                        help="intra-op threads on both sides (default: torch.get_num_threads() here)")
    parser.add_argument("--home", default=None,
                        help="vt-tui data directory (default: VT_HOME or the user data directory; "
                        "--quick: a temporary one)")
    parser.add_argument("--quick", action="store_true", help="tiny CLIP, 2 short rounds: checks that the script works")
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = 2 if args.quick else 5
    if args.min_seconds is None:
        args.min_seconds = 0.3 if args.quick else 3.0
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    return args


def make_timer(model, inputs, threads: int):
    from torch.utils import benchmark

    return benchmark.Timer(
        stmt="with torch.inference_mode():\n"
             "    model(pixel_values=pixel_values, input_ids=input_ids, attention_mask=attention_mask)",
        setup="import torch",
        globals={"model": model, **inputs},
        num_threads=threads,
        label="CLIP forward",
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    common.print_header("CPU timing fidelity: vt-tui job (A) vs torch.utils.benchmark.Timer (B)")

    with common.data_home(args.home, temporary=args.quick and not args.home):
        import torch

        from vt_core.records import JobSpec, Settings
        from vt_core.tasks import task_for_family
        from vt_core.tasks.base import torch_inputs

        reference = str(common.quick_model("clip")) if args.quick and not args.model else (args.model or common.CLIP_ID)
        model = common.resolve_model(reference)
        if model.family != "clip":
            raise SystemExit(f"model {reference!r} is a {model.family} model; this benchmark times CLIP models only")
        threads = args.threads or torch.get_num_threads()
        settings = Settings(iterations=args.iterations, min_seconds=args.min_seconds, warmup=args.warmup,
                            threads=threads, weights="synthetic")

        task = task_for_family("clip")
        inputs = task.make_inputs(task.load_processor(model.path), settings)
        shapes = ", ".join(f"{name} {list(array.shape)}" for name, array in inputs.items())
        torch_model = task.load_torch_model(model.path, "cpu")
        timer = make_timer(torch_model, torch_inputs(inputs), threads)
        with torch.inference_mode():
            for _ in range(args.warmup):
                torch_model(**torch_inputs(inputs))

        print(f"model: {model.model_id} ({model.source} weights) at {model.path}")
        print(f"inputs: {shapes}; threads {threads}; job: >= {args.iterations} iterations and "
              f">= {args.min_seconds:g} s after {args.warmup} warm-up; Timer: blocked_autorange(min_run_time="
              f"{args.min_seconds:g})")
        print()
        print(f"{'round':>5} {'A n':>5} {'A median ms':>12} {'B blocks':>9} {'B median ms':>12} {'A/B':>7}  load")

        samples_a: list[float] = []
        samples_b: list[float] = []
        ratios: list[float] = []
        for index in range(1, args.rounds + 1):
            common.progress(f"round {index}/{args.rounds}: vt-tui job")
            job = JobSpec(model_ref=str(model.path), platform="cpu", settings=settings)
            results, _ = common.run_jobs([job])
            result = common.require_pass(results[0])
            if result.extra.get("torch_threads") != threads:
                raise SystemExit(f"the worker ran {result.extra.get('torch_threads')} threads, expected {threads}")

            common.progress(f"round {index}/{args.rounds}: torch.utils.benchmark.Timer")
            measurement = timer.blocked_autorange(min_run_time=args.min_seconds)
            median_a = common.median(result.samples_s)
            median_b = measurement.median
            samples_a.extend(result.samples_s)
            samples_b.extend(measurement.times)
            ratios.append(median_a / median_b)
            print(f"{index:>5} {len(result.samples_s):>5} {common.ms(median_a):>12} {len(measurement.times):>9} "
                  f"{common.ms(median_b):>12} {median_a / median_b:>7.4f}  {common.load_text()}", flush=True)

    median_a = common.median(samples_a)
    median_b = common.median(samples_b)
    round_ratios = common.spread(ratios)
    print()
    print(f"A vt-tui job: median {common.ms(median_a)} ms over {len(samples_a)} samples")
    print(f"B torch Timer: median {common.ms(median_b)} ms over {len(samples_b)} blocks")
    print(f"per-round A/B: median {round_ratios.median:.4f}, min {round_ratios.minimum:.4f}, "
          f"max {round_ratios.maximum:.4f}")
    print(common.goal_line("ratio of medians A/B", median_a / median_b, TOLERANCE))
    print(f"load average at end: {common.load_text()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
