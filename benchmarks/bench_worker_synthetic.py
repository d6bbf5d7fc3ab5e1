"""Run full-size synthetic builds through the worker and print latency, memory and phase times.

Usage:
    python benchmarks/bench_worker_synthetic.py [--models openai/clip-vit-base-patch32,Salesforce/blip-image-captioning-base]
        [--platforms cpu,openvino] [--iterations 20] [--min-seconds 2] [--warmup 3] [--max-new-tokens 20]
        [--vt-home DIR]

Each (model, platform) pair runs as one `python -m vt_core.worker` process with
`weights=synthetic`: the real architecture with random weights, built on first
use (about 0.6 GB for CLIP B/32 and 0.9 GB for BLIP base). Nothing is stored in
a database. Each job prints the median of its timed samples, the first inference,
peak RSS above the worker's post-import baseline, the comparison with the
PyTorch CPU reference, and the wall time of every worker phase. OpenVINO jobs
convert the model once; run the script twice to see the converted-model cache hit.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

DEFAULT_MODELS = "openai/clip-vit-base-patch32,Salesforce/blip-image-captioning-base"


def run_job(model: str, platform: str, settings: dict, env: dict) -> dict | None:
    spec = {"model_ref": model, "platform": platform, "settings": settings}
    completed = subprocess.run(
        [sys.executable, "-m", "vt_core.worker"], input=json.dumps(spec), capture_output=True, text=True, env=env
    )
    for line in reversed(completed.stdout.splitlines()):
        event = json.loads(line)
        if event.get("event") == "result":
            return event["result"]
    print(f"{model} on {platform}: no result (exit code {completed.returncode})", file=sys.stderr)
    print(completed.stderr[-2000:], file=sys.stderr)
    return None


def describe(result: dict) -> str:
    samples = result["samples_s"]
    lines = [f"{result['model_id']} on {result['platform']} ({result['device']}): {result['status']}"]
    if result["error_type"]:
        lines.append(f"  error: {result['error_type']}: {result['error_message']}")
    if samples:
        lines.append(
            f"  median {statistics.median(samples) * 1000:.1f} ms over {len(samples)} samples, "
            f"first inference {result['first_inference_s'] * 1000:.1f} ms, "
            f"peak RSS +{result['peak_rss_mb'] or 0:.0f} MiB, parameters {result['parameter_count']:,}"
        )
    comparison = result["comparison"]
    if comparison:
        figures = {key: comparison.get(key) for key in ("max_abs_diff", "top1_agreement", "tokens_match", "tolerance")}
        lines.append("  comparison: " + ", ".join(f"{k}={v}" for k, v in figures.items() if v is not None))
    phases = ", ".join(f"{name} {seconds:.2f}" for name, seconds in result["phase_times_s"].items())
    lines.append(f"  phases (s): {phases}")
    if "ir_cache_hit" in result["extra"]:
        lines.append(f"  converted-model cache hit: {result['extra']['ir_cache_hit']}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=DEFAULT_MODELS, help="comma-separated catalog ids")
    parser.add_argument("--platforms", default="cpu,openvino", help="comma-separated platforms")
    parser.add_argument("--iterations", type=int, default=20, help="minimum timed iterations per job")
    parser.add_argument("--min-seconds", type=float, default=2.0, help="minimum seconds of the timed loop")
    parser.add_argument("--warmup", type=int, default=3, help="untimed iterations before timing")
    parser.add_argument("--max-new-tokens", type=int, default=20, help="tokens per caption for BLIP")
    parser.add_argument("--vt-home", help="VT_HOME for builds and caches (default: the user's vt-tui data folder)")
    args = parser.parse_args()

    env = dict(os.environ)
    if args.vt_home:
        env["VT_HOME"] = str(Path(args.vt_home).expanduser())
    settings = {
        "weights": "synthetic",
        "iterations": args.iterations,
        "min_seconds": args.min_seconds,
        "warmup": args.warmup,
        "max_new_tokens": args.max_new_tokens,
    }
    for model in args.models.split(","):
        for platform in args.platforms.split(","):
            result = run_job(model.strip(), platform.strip(), settings, env)
            if result is not None:
                print(describe(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
