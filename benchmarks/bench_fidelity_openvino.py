"""Compare vt-tui's OpenVINO latency of a CLIP model with OpenVINO's benchmark_app on the same IR.

Usage:
    python benchmarks/bench_fidelity_openvino.py [--model ID|DIR] [--rounds 5] [--seconds 5]
        [--iterations 20] [--warmup 3] [--precision f32] [--threads N] [--home DIR] [--quick]

A is a vt-tui job: the real launcher starts a worker that converts the model to
OpenVINO IR (or reuses the IR it cached), compiles it for CPU with
PERFORMANCE_HINT=LATENCY and INFERENCE_PRECISION_HINT=<precision>, and times
one synchronous infer request; its samples come from the job result. B is
`benchmark_app -m <that IR>/model.xml -d CPU -api sync -hint latency -nireq 1
-t SECONDS -infer_precision <precision>`, fed the same input arrays (the
task's make_inputs, saved as .npy) with -data_shape, so the compiled model keeps
the dynamic shapes vt-tui compiles. Its "Median" latency line is parsed. The
script alternates A B A B ... and prints each round's medians. benchmark_app
prints no samples, so the headline figure is the ratio of the median of A's
round medians to the median of B's round medians, beside the paired per-round
ratios. The goal is a ratio within 1 +- 5%.

By default both sides use OpenVINO's own thread count. benchmark_app rejects
-nthreads together with -hint latency, so `--threads N` gives the job
settings.threads = N (INFERENCE_NUM_THREADS=N beside PERFORMANCE_HINT=LATENCY)
and benchmark_app `-hint none -nstreams 1 -nthreads N`, and the script prints
the configuration benchmark_app reports, to compare with the job's.

`--quick` runs a tiny CLIP in a temporary data directory, for smoke tests.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

TOLERANCE = 0.05
BENCHMARK_APP_TIMEOUT_S = 900.0
# Order of the graph's parameters: OpenVINORunner.infer passes the arrays positionally in this order.
INPUT_ORDER = ("pixel_values", "input_ids", "attention_mask")
CONFIG_KEYS = ("NUM_STREAMS", "INFERENCE_NUM_THREADS", "ENABLE_CPU_PINNING", "INFERENCE_PRECISION_HINT",
               "PERFORMANCE_HINT")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None,
                        help=f"catalog id, Hugging Face id or model folder of a CLIP model (default: {common.CLIP_ID})")
    parser.add_argument("--rounds", type=int, default=None, help="A/B rounds (default: 5; --quick: 2)")
    parser.add_argument("--seconds", type=int, default=None,
                        help="benchmark_app -t and the job's minimum timed seconds, a whole number "
                        "because benchmark_app takes no fraction (default: 5; --quick: 1)")
    parser.add_argument("--iterations", type=int, default=20, help="minimum timed iterations of each vt-tui job")
    parser.add_argument("--warmup", type=int, default=3, help="untimed warm-up iterations of each vt-tui job")
    parser.add_argument("--precision", choices=("f32", "f16", "bf16"), default="f32",
                        help="inference precision on both sides (default: f32)")
    parser.add_argument("--threads", type=int, default=None,
                        help="inference threads on both sides (default: OpenVINO's own, with -hint latency)")
    parser.add_argument("--home", default=None,
                        help="vt-tui data directory (default: VT_HOME or the user data directory; "
                        "--quick: a temporary one)")
    parser.add_argument("--quick", action="store_true", help="tiny CLIP, 2 short rounds: checks that the script works")
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = 2 if args.quick else 5
    if args.seconds is None:
        args.seconds = 1 if args.quick else 5
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    if args.seconds < 1:
        parser.error(f"--seconds must be at least 1, got {args.seconds}")
    return args


def benchmark_app_command() -> list[str]:
    """Return the benchmark_app command of this interpreter's environment."""
    beside = Path(sys.executable).parent / "benchmark_app"
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("benchmark_app")
    if found:
        return [found]
    raise SystemExit("benchmark_app not found beside the Python interpreter or on PATH; "
                     "it comes with the openvino package: `pip install openvino`")


def write_inputs(xml: Path, inputs: dict, folder: Path) -> tuple[str, list[str]]:
    """Save each input array as .npy and return benchmark_app's -data_shape value and -i arguments."""
    import numpy as np
    import openvino

    parameters = openvino.Core().read_model(str(xml)).inputs
    if len(parameters) != len(INPUT_ORDER):
        raise SystemExit(f"{xml} has {len(parameters)} inputs, expected {len(INPUT_ORDER)} ({', '.join(INPUT_ORDER)})")
    shapes: list[str] = []
    files: list[str] = []
    for parameter, name in zip(parameters, INPUT_ORDER):
        graph_name = parameter.get_any_name()
        path = folder / f"{name}.npy"
        np.save(path, inputs[name])
        shapes.append(f"{graph_name}[{','.join(str(size) for size in inputs[name].shape)}]")
        files.append(f"{graph_name}:{path}")
    return ",".join(shapes), files


def job_config(xml: Path, precision: str, threads: int | None) -> dict[str, str]:
    """Return the CONFIG_KEYS properties of `xml` compiled as OpenVINORunner compiles it for CPU."""
    import openvino

    config: dict[str, object] = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": precision}
    if threads:
        config["INFERENCE_NUM_THREADS"] = threads
    compiled = openvino.Core().compile_model(str(xml), "CPU", config)
    return {key: str(compiled.get_property(key)) for key in CONFIG_KEYS}


def run_benchmark_app(command: list[str]) -> tuple[float, int, dict[str, str]]:
    """Run benchmark_app; return its median latency in seconds, its iteration count and its CPU config lines."""
    completed = subprocess.run(command, capture_output=True, text=True, timeout=BENCHMARK_APP_TIMEOUT_S, check=False)
    output = completed.stdout + completed.stderr
    if completed.returncode != 0:
        raise SystemExit(f"benchmark_app failed with status {completed.returncode}:\n{output[-3000:]}\n"
                         f"command: {' '.join(command)}")
    return parse_benchmark_app_output(output)


def parse_benchmark_app_output(output: str) -> tuple[float, int, dict[str, str]]:
    """Return the median latency in seconds, the iteration count and the CPU config lines of benchmark_app OUTPUT."""
    # benchmark_app prints every latency in "us" when the average is under 1 ms
    # (the tiny --quick model on a quiet machine), otherwise in "ms".
    median = re.search(r"Median:\s+([0-9.]+)\s*(us|ms|s)\b", output)
    count = re.search(r"Count:\s+(\d+)\s+iterations", output)
    if median is None or count is None:
        raise SystemExit(f"benchmark_app printed no Median or Count line; its output ends with:\n{output[-3000:]}")
    config = {}
    for key in CONFIG_KEYS:
        match = re.search(rf"^\[ INFO \]\s+{key}: (.+)$", output, re.MULTILINE)
        if match:
            config[key] = match.group(1).strip()
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0}[median.group(2)]
    return float(median.group(1)) * scale, int(count.group(1)), config


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    common.print_header("OpenVINO timing fidelity: vt-tui job (A) vs benchmark_app (B)")
    app = benchmark_app_command()

    with common.data_home(args.home, temporary=args.quick and not args.home), \
            tempfile.TemporaryDirectory(prefix="vt-bench-ov-") as scratch:
        from vt_core.records import JobSpec, Settings
        from vt_core.tasks import task_for_family

        reference = common.model_reference(args.model, args.quick)
        model = common.resolve_model(reference)
        if model.family != "clip":
            raise SystemExit(f"model {reference!r} is a {model.family} model; this benchmark times CLIP models only")
        settings = Settings(iterations=args.iterations, min_seconds=args.seconds, warmup=args.warmup,
                            precision=args.precision, threads=args.threads, weights="synthetic")
        task = task_for_family("clip")
        inputs = task.make_inputs(task.load_processor(model.path), settings)
        print(f"model: {model.model_id} ({model.source} weights) at {model.path}")
        print(f"inputs: {', '.join(f'{name} {list(array.shape)}' for name, array in inputs.items())}; "
              f"precision {args.precision}; threads {args.threads or 'default'}")
        print(f"job: >= {args.iterations} iterations and >= {args.seconds} s after {args.warmup} warm-up; "
              f"benchmark_app: -t {args.seconds}")

        samples_a: list[float] = []
        medians_a: list[float] = []
        medians_b: list[float] = []
        command: list[str] | None = None
        for index in range(1, args.rounds + 1):
            common.progress(f"round {index}/{args.rounds}: vt-tui job")
            job = JobSpec(model_ref=str(model.path), platform="openvino", settings=settings)
            results, _ = common.run_jobs([job])
            result = common.require_pass(results[0])

            if command is None:
                ir_dir = Path(result.extra["ir_dir"])
                data_shape, files = write_inputs(ir_dir / "model.xml", inputs, Path(scratch))
                command = app + [
                    "-m", str(ir_dir / "model.xml"), "-d", "CPU", "-api", "sync", "-nireq", "1",
                    "-t", str(args.seconds), "-infer_precision", args.precision,
                    "-data_shape", data_shape, "-i", *files,
                ]
                if args.threads is None:
                    command += ["-hint", "latency"]
                else:
                    command += ["-hint", "none", "-nstreams", "1", "-nthreads", str(args.threads)]
                print(f"IR: {ir_dir} (cache hit in round 1: {result.extra.get('ir_cache_hit')}); "
                      f"vt-tui inference precision {result.extra.get('inference_precision')}")
                config = job_config(ir_dir / "model.xml", args.precision, args.threads)
                print("vt-tui CPU config (compiled here as the runner does): "
                      + ", ".join(f"{key} {value}" for key, value in config.items()))
                print("benchmark_app command: " + " ".join(command))
                print()
                print(f"{'round':>5} {'A n':>5} {'A median ms':>12} {'B n':>6} {'B median ms':>12} {'A/B':>7}  load")

            common.progress(f"round {index}/{args.rounds}: benchmark_app")
            median_b, count_b, config = run_benchmark_app(command)
            if index == 1:
                print("benchmark_app CPU config: " + ", ".join(f"{key} {value}" for key, value in config.items()))
            median_a = common.median(result.samples_s)
            samples_a.extend(result.samples_s)
            medians_a.append(median_a)
            medians_b.append(median_b)
            print(f"{index:>5} {len(result.samples_s):>5} {common.ms(median_a):>12} {count_b:>6} "
                  f"{common.ms(median_b):>12} {median_a / median_b:>7.4f}  {common.load_text()}", flush=True)

    print()
    print(f"A vt-tui job: median of round medians {common.ms(common.median(medians_a))} ms, "
          f"median of all {len(samples_a)} samples {common.ms(common.median(samples_a))} ms")
    print(f"B benchmark_app: median of round medians {common.ms(common.median(medians_b))} ms")
    common.print_ratios(medians_a, medians_b, TOLERANCE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
