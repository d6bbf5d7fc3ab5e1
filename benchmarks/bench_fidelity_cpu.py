"""Compare vt-tui's CPU latency of a CLIP model with torch.utils.benchmark.Timer on the same model.

Usage:
    python benchmarks/bench_fidelity_cpu.py [--model ID|DIR] [--rounds 8] [--iterations 20]
        [--min-seconds 3] [--warmup 3] [--threads N] [--home DIR] [--quick]

A is a vt-tui job: the real launcher starts a worker process that resolves,
loads and times the model on the cpu platform, and the samples come from the
job result. B is torch.utils.benchmark.Timer timing the plain model call under
torch.inference_mode() with `blocked_autorange`, after the same warm-up. Both
use the same model files, the same inputs (the task's make_inputs, so 1 image
and 8 labels padded to 77 tokens for CLIP) and the same intra-op thread count.

Each B round runs in a fresh Python process, as each A round does. On the
2-core machine of BENCHMARKS.md the latency of one process differed from the
next by up to 15% at the same load, so a single long-lived B process would
compare one draw of that variation with several. The script alternates A B A B
... so that drifting machine load hits both alike, and prints each round's
medians. The headline figure is the ratio of the median of A's round medians
to the median of B's round medians, beside the medians of all samples and the
paired per-round ratios. The goal is a ratio within 1 +- 3%.

The default model is the synthetic build of openai/clip-vit-base-patch32 (the
real architecture with random weights), kept in vt-tui's data directory as
`vt-tui run --weights synthetic` keeps it. `--quick` runs a tiny CLIP in a
temporary data directory, for smoke tests.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

TOLERANCE = 0.03
TIMER_TIMEOUT_S = 1800.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None,
                        help=f"catalog id, Hugging Face id or model folder of a CLIP model (default: {common.CLIP_ID})")
    parser.add_argument("--rounds", type=int, default=None, help="A/B rounds (default: 8; --quick: 2)")
    parser.add_argument("--iterations", type=int, default=20, help="minimum timed iterations of each vt-tui job")
    parser.add_argument("--min-seconds", type=float, default=None,
                        help="minimum timed seconds of each job and each Timer run (default: 3; --quick: 0.3)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed warm-up iterations on both sides")
    parser.add_argument("--threads", type=int, default=None,
                        help="intra-op threads on both sides (default: torch.get_num_threads())")
    parser.add_argument("--home", default=None,
                        help="vt-tui data directory (default: VT_HOME or the user data directory; "
                        "--quick: a temporary one)")
    parser.add_argument("--quick", action="store_true", help="tiny CLIP, 2 short rounds: checks that the script works")
    parser.add_argument("--timer-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = 2 if args.quick else 8
    if args.min_seconds is None:
        args.min_seconds = 0.3 if args.quick else 3.0
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    return args


def timer_child(args: argparse.Namespace) -> int:
    """Time the model with torch.utils.benchmark.Timer and print the block times as one JSON line.

    This is side B of one round, run by the parent as `--timer-child` in a
    fresh process. `--model` is the resolved model folder.
    """
    import torch
    from torch.utils import benchmark

    from vt_core.records import Settings
    from vt_core.tasks import task_for_family
    from vt_core.tasks.base import torch_inputs

    torch.set_num_threads(args.threads)
    task = task_for_family("clip")
    inputs = torch_inputs(task.make_inputs(task.load_processor(args.model), Settings()))
    model = task.load_torch_model(args.model, "cpu")
    with torch.inference_mode():
        for _ in range(args.warmup):
            model(**inputs)

    timer = benchmark.Timer(
        stmt="with torch.inference_mode():\n"
             "    model(pixel_values=pixel_values, input_ids=input_ids, attention_mask=attention_mask)",
        setup="import torch",
        globals={"model": model, **inputs},
        num_threads=args.threads,
        label="CLIP forward",
    )
    measurement = timer.blocked_autorange(min_run_time=args.min_seconds)
    print(json.dumps({"times": measurement.times, "median": measurement.median,
                      "threads": torch.get_num_threads()}))
    return 0


def run_timer(model_path: Path, args: argparse.Namespace, threads: int) -> dict:
    """Run side B in a fresh process and return its block times and median in seconds."""
    command = [sys.executable, str(Path(__file__).resolve()), "--timer-child", "--model", str(model_path),
               "--threads", str(threads), "--min-seconds", str(args.min_seconds), "--warmup", str(args.warmup)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=TIMER_TIMEOUT_S, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"the Timer process failed with status {completed.returncode}:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.timer_child:
        return timer_child(args)
    common.print_header("CPU timing fidelity: vt-tui job (A) vs torch.utils.benchmark.Timer (B)")

    with common.data_home(args.home, temporary=args.quick and not args.home):
        import torch

        from vt_core.records import JobSpec, Settings
        from vt_core.tasks import task_for_family

        reference = common.model_reference(args.model, args.quick)
        model = common.resolve_model(reference)
        if model.family != "clip":
            raise SystemExit(f"model {reference!r} is a {model.family} model; this benchmark times CLIP models only")
        threads = args.threads or torch.get_num_threads()
        settings = Settings(iterations=args.iterations, min_seconds=args.min_seconds, warmup=args.warmup,
                            threads=threads, weights="synthetic")
        task = task_for_family("clip")
        inputs = task.make_inputs(task.load_processor(model.path), settings)
        shapes = ", ".join(f"{name} {list(array.shape)}" for name, array in inputs.items())

        print(f"model: {model.model_id} ({model.source} weights) at {model.path}")
        print(f"inputs: {shapes}; threads {threads}; job: >= {args.iterations} iterations and "
              f">= {args.min_seconds:g} s after {args.warmup} warm-up; Timer: {args.warmup} warm-up, then "
              f"blocked_autorange(min_run_time={args.min_seconds:g}) in a fresh process per round")
        print()
        print(f"{'round':>5} {'A n':>5} {'A median ms':>12} {'B blocks':>9} {'B median ms':>12} {'A/B':>7}  load")

        samples_a: list[float] = []
        samples_b: list[float] = []
        medians_a: list[float] = []
        medians_b: list[float] = []
        for index in range(1, args.rounds + 1):
            common.progress(f"round {index}/{args.rounds}: vt-tui job")
            job = JobSpec(model_ref=str(model.path), platform="cpu", settings=settings)
            results, _ = common.run_jobs([job])
            result = common.require_pass(results[0])
            if result.extra.get("torch_threads") != threads:
                raise SystemExit(f"the worker ran {result.extra.get('torch_threads')} threads, expected {threads}")

            common.progress(f"round {index}/{args.rounds}: torch.utils.benchmark.Timer")
            timed = run_timer(model.path, args, threads)
            if timed["threads"] != threads:
                raise SystemExit(f"the Timer process ran {timed['threads']} threads, expected {threads}")
            median_a = common.median(result.samples_s)
            median_b = timed["median"]
            samples_a.extend(result.samples_s)
            samples_b.extend(timed["times"])
            medians_a.append(median_a)
            medians_b.append(median_b)
            print(f"{index:>5} {len(result.samples_s):>5} {common.ms(median_a):>12} {len(timed['times']):>9} "
                  f"{common.ms(median_b):>12} {median_a / median_b:>7.4f}  {common.load_text()}", flush=True)

    print()
    print(f"A vt-tui job: median of round medians {common.ms(common.median(medians_a))} ms, "
          f"median of all {len(samples_a)} samples {common.ms(common.median(samples_a))} ms")
    print(f"B torch Timer: median of round medians {common.ms(common.median(medians_b))} ms, "
          f"median of all {len(samples_b)} blocks {common.ms(common.median(samples_b))} ms")
    print(f"ratio of the medians of all samples A/B: {common.median(samples_a) / common.median(samples_b):.4f}")
    common.print_ratios(medians_a, medians_b, TOLERANCE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
