"""Time the app from process start to its first screen, on an empty database and on one with 1M results.

Usage:
    python benchmarks/bench_app_start.py [--results 1000000] [--samples-per-result 5] [--repeats 3]
                                         [--db PATH]

For each database the script starts a fresh interpreter that imports the app
and runs it headless (Textual's `run_test`, 80x24), and prints the median over
`--repeats` starts of four moments, each measured from just before the
interpreter was spawned:

- first screen: the model browser is composed, mounted and painted;
- models: the browser's table is filled (catalog merged with the latest states);
- matrix: the compatibility matrix is filled after pressing 3;
- stats: the statistics table is filled after pressing 4;
- flags: regression detection has finished and flagged the table.

The app reads the database only in thread workers, so the first screen must not
wait for the data. Each mark includes the ones before it. The large database is generated with DuckDB SQL by
`benchmarks/bench_reports.py` (`generate`): results spread over 200 models x 7
platforms and a year, about 85% passing, `--samples-per-result` samples each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
MARKS = ("first screen", "models", "matrix", "stats", "flags")

CHILD = """
import asyncio, json, os, sys, time
t0 = float(os.environ["VT_BENCH_T0"])
from pathlib import Path
from vt_tui.app import VtApp
from vt_tui.config import AppConfig

async def wait(pilot, condition, limit_s=600):
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the screen did not load in time")
        await asyncio.sleep(0.005)

async def main():
    marks = {}
    app = VtApp(AppConfig(db_path=Path(sys.argv[1]), theme="textual-dark"))
    async with app.run_test(size=(80, 24)) as pilot:
        marks["first screen"] = time.time() - t0
        await wait(pilot, lambda: getattr(app.screen, "table_data", None) is not None)
        marks["models"] = time.time() - t0
        await pilot.press("3")
        await wait(pilot, lambda: getattr(app.screen, "table_data", None) is not None)
        marks["matrix"] = time.time() - t0
        await pilot.press("4")
        await wait(pilot, lambda: getattr(app.screen, "data", None) is not None)
        marks["stats"] = time.time() - t0
        await wait(pilot, lambda: app.screen.data.regressions != "pending")
        marks["flags"] = time.time() - t0
    print("BENCH " + json.dumps(marks))

asyncio.run(main())
"""


def start_once(db_path: Path, home: Path) -> dict[str, float]:
    """Start the app once in a fresh interpreter; return the seconds to each mark."""
    env = dict(os.environ, VT_HOME=str(home), PYTHONPATH=str(REPO_ROOT))
    env["VT_BENCH_T0"] = repr(time.time())
    completed = subprocess.run([sys.executable, "-c", CHILD, str(db_path)], env=env, capture_output=True,
                               text=True, timeout=900)
    lines = [line for line in completed.stdout.splitlines() if line.startswith("BENCH ")]
    if not lines:
        raise RuntimeError(f"the app did not report its timings:\n{completed.stdout}\n{completed.stderr[-3000:]}")
    return json.loads(lines[-1].removeprefix("BENCH "))


def measure(label: str, db_path: Path, home: Path, repeats: int) -> None:
    runs = [start_once(db_path, home) for _ in range(repeats)]
    figures = "  ".join(f"{mark} {statistics.median(r[mark] for r in runs):5.2f} s" for mark in MARKS)
    print(f"{label:<18} {figures}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=int, default=1_000_000, help="results in the large database (default 1,000,000)")
    parser.add_argument("--samples-per-result", type=int, default=5, help="samples per timed result (default 5)")
    parser.add_argument("--repeats", type=int, default=3, help="starts per database; the median is printed (default 3)")
    parser.add_argument("--db", type=Path, default=None, help="reuse or create the large database here")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
    from bench_reports import generate

    workdir = Path(tempfile.mkdtemp(prefix="vt-bench-app-"))
    home = workdir / "home"
    large = args.db or workdir / "large.duckdb"
    if not large.exists():
        started = time.perf_counter()
        generate(large, args.results, args.samples_per_result, 200)
        print(f"generated {args.results:,} results in {time.perf_counter() - started:.1f} s", flush=True)

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; median of {args.repeats} starts, "
          "seconds from spawning the interpreter", flush=True)
    measure("empty database", workdir / "empty.duckdb", home, args.repeats)
    measure(f"{args.results:,} results", large, home, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
