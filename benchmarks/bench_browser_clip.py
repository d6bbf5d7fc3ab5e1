"""Compare CLIP latency on webgpu (in headless Chromium) with cpu and openvino for one model.

Usage:
    python benchmarks/bench_browser_clip.py [--model tiny | CATALOG_ID | DIR]
        [--platforms cpu,openvino,webgpu] [--iterations 20] [--min-seconds 2] [--warmup 3]

`--model tiny` (the default) builds the tests' tiny synthetic CLIP (32-pixel
images, 2 layers, width 32; text padded to 77 tokens, 8 labels). A catalog id
such as openai/clip-vit-base-patch32 runs from the Hugging Face cache or, when
absent, as a synthetic build of the real architecture (random weights). Each
platform runs as a normal job in its own worker process through the launcher,
and nothing is stored. The script prints one line per platform: median, mean
and p90 latency of the timed samples, the first inference, and the maximum
difference from the PyTorch CPU reference.

On a machine without a GPU, Chromium's WebGPU adapter is SwiftShader, which
runs on the CPU; its figures measure CPU emulation, not a GPU.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import statistics
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def build_tiny(target: Path) -> Path:
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    from models import build_tiny_clip

    return build_tiny_clip(target)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny", help="tiny, a catalog id, or a model directory (default: tiny)")
    parser.add_argument("--platforms", default="cpu,openvino,webgpu", help="comma-separated platforms")
    parser.add_argument("--iterations", type=int, default=20, help="minimum timed iterations (default: 20)")
    parser.add_argument("--min-seconds", type=float, default=2.0, help="minimum timed seconds (default: 2)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed warm-up iterations (default: 3)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="time limit of each phase in seconds")
    args = parser.parse_args()

    from vt_core.launcher import Launcher
    from vt_core.records import JobSpec, Settings

    with tempfile.TemporaryDirectory(prefix="vt-bench-") as scratch:
        model_ref = str(build_tiny(Path(scratch) / "tiny-clip")) if args.model == "tiny" else args.model
        settings = Settings(
            iterations=args.iterations, min_seconds=args.min_seconds, warmup=args.warmup,
            timeout_s=args.timeout, weights="synthetic",
        )
        platforms = [name.strip() for name in args.platforms.split(",") if name.strip()]
        jobs = [JobSpec(model_ref=model_ref, platform=platform, settings=settings) for platform in platforms]
        print(f"model {args.model}: {len(jobs)} jobs, iterations >= {args.iterations}, "
              f"min {args.min_seconds} s, warm-up {args.warmup}", file=sys.stderr)
        launcher = Launcher(None)
        # Kill the running worker (and its browser) on Ctrl-C or `timeout`, so no
        # orphaned worker keeps measuring after this script ends.
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signal_number, lambda *_: launcher.cancel())
        results = asyncio.run(launcher.run(jobs))

    header = f"{'platform':<9} {'device':<28} {'status':<11} {'n':>4} {'median ms':>10} {'mean ms':>10} " \
             f"{'p90 ms':>10} {'first s':>8} {'max|diff|':>10}"
    print(header)
    for result in results:
        samples = result.samples_s
        if not samples:
            print(f"{result.platform:<9} {str(result.device):<28} {result.status:<11} "
                  f"{result.error_type}: {(result.error_message or '').splitlines()[0][:80]}")
            continue
        diff = result.comparison.get("max_abs_diff")
        print(
            f"{result.platform:<9} {str(result.device)[:28]:<28} {result.status:<11} {len(samples):>4} "
            f"{statistics.median(samples) * 1e3:>10.2f} {statistics.fmean(samples) * 1e3:>10.2f} "
            f"{percentile(samples, 0.9) * 1e3:>10.2f} {result.first_inference_s or 0:>8.2f} "
            f"{diff if diff is None else format(diff, '.2e'):>10}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
