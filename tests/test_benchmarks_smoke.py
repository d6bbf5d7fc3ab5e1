"""Run each timing benchmark with --quick (tiny models, short runs) so a broken script fails CI.

The figures of a quick run mean nothing. The tests check that each script ends
with status 0 and prints the lines that BENCHMARKS.md takes its figures from.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPT_TIMEOUT_S = 1200

pytestmark = pytest.mark.slow


def run_script(name: str, home: Path, *arguments: str) -> str:
    """Run benchmarks/NAME --quick --home HOME ARGUMENTS and return its standard output."""
    command = [sys.executable, str(REPO_ROOT / "benchmarks" / name), "--quick", "--home", str(home), *arguments]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_S,
                               env=dict(os.environ), cwd=REPO_ROOT, check=False)
    assert completed.returncode == 0, f"{name} exited {completed.returncode}:\n{completed.stderr[-4000:]}"
    return completed.stdout


def test_fidelity_cpu_quick(tmp_path: Path) -> None:
    output = run_script("bench_fidelity_cpu.py", tmp_path)
    assert "ratio of medians A/B (medians of round medians):" in output
    assert output.count("\n    1 ") == 1
    assert "B torch Timer: median of round medians" in output


def test_fidelity_openvino_quick(tmp_path: Path) -> None:
    output = run_script("bench_fidelity_openvino.py", tmp_path)
    assert "ratio of medians A/B (medians of round medians):" in output
    assert "B benchmark_app: median of round medians" in output
    assert "benchmark_app CPU config: NUM_STREAMS 1" in output


def test_overhead_quick(tmp_path: Path) -> None:
    output = run_script("bench_overhead.py", tmp_path, "--models", "clip")
    runs = re.split(r"\nrun \d+: ", output)
    assert len(runs) == 3, output
    cold, warm = runs[1], runs[2]
    assert "overhead %" in cold
    assert "IR cache hit" in cold
    ir_cold = next(line for line in cold.splitlines() if line.startswith("IR cache hit"))
    ir_warm = next(line for line in warm.splitlines() if line.startswith("IR cache hit"))
    assert ir_cold.split()[-1] == "False"
    assert ir_warm.split()[-1] == "True"
    assert "import profile openvino" in output


def test_noise_quick(tmp_path: Path) -> None:
    output = run_script("bench_noise.py", tmp_path)
    summary = output.split("\nsetting ")[-1]
    assert "default       2" in summary
    assert "threads=1" in summary
    assert "warmup=0" in summary


BENCHMARK_APP_TAIL = """[ INFO ]   INFERENCE_NUM_THREADS: 2
[ INFO ] Count:            1343 iterations
[ INFO ] Latency:
[ INFO ]    Median:        {median}
[ INFO ]    Average:       {median}
"""


@pytest.mark.parametrize(("printed", "seconds"), [("702.80 us", 702.80e-6), ("10.47 ms", 10.47e-3)])
def test_benchmark_app_median_in_either_unit(printed: str, seconds: float) -> None:
    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
    try:
        import bench_fidelity_openvino
    finally:
        sys.path.remove(str(REPO_ROOT / "benchmarks"))
    median, count, config = bench_fidelity_openvino.parse_benchmark_app_output(
        BENCHMARK_APP_TAIL.format(median=printed))
    assert median == pytest.approx(seconds)
    assert count == 1343
    assert config == {"INFERENCE_NUM_THREADS": "2"}
