"""Split the wall time of each job of `vt-tui run` into its parts and report the harness overhead.

Usage:
    python benchmarks/bench_overhead.py [--models clip,blip] [--hardware cpu,openvino] [--runs 2]
        [--home DIR] [--keep] [--quick]

The script runs the real `vt-tui run --models clip,blip --hardware cpu,openvino
--weights synthetic --db <scratch>.duckdb` `--runs` times, each in a fresh
Python process as a user's command would run, all in the same data directory:
a fresh temporary one by default, so the first run is cold (synthetic builds,
reference outputs and OpenVINO IR are made) and later runs find them cached.
The launcher is the real one with timestamp hooks only (common.RecordingLauncher).
Each job's wall time, from the launcher starting its worker to the stored
result, is split into:

  worker start   process start, interpreter start, importing vt_core.worker (parent clock)
  import         torch, transformers and, for openvino jobs, openvino (worker's phase_times_s)
  start, other   the rest of the worker's start phase: machine record, platform check
  resolve        finding the model files, or a synthetic build when the run made one
  reference      loading the processor, making the inputs, and the PyTorch CPU reference
                 (computed, or read from its cache)
  load           the PyTorch model, or reading the cached IR's metadata
  convert        PyTorch to OpenVINO IR (cache miss only)
  compile        OpenVINO compile_model and infer requests
  warm-up, measure, compare   as named (worker)
  result         the result line's encode, pipe and decode (parent clock)
  worker exit    from the result line to the end of the worker process
  storage        spool file and DuckDB transaction
  other          the rest: catalog fields, events, clock differences

Useful work is import, load, compile, convert, warm-up and measure, plus a
synthetic build in resolve. The harness overhead is the rest, and its goal is
under 5% of each job's wall time. After the runs, the script profiles the
worker's import step per platform with `python -X importtime`. `--quick` runs
tiny models of the same families with short measurements, for smoke tests.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

OVERHEAD_GOAL = 0.05
IMPORT_PROFILE_TIMEOUT_S = 600.0
IMPORT_PROFILE_PACKAGES = 8
USEFUL = ("import", "load", "compile", "convert", "warmup", "measure")
ROWS = (
    ("worker start", "worker_start"), ("import", "import"), ("start, other", "start_other"),
    ("resolve", "resolve"), ("reference", "reference"), ("load", "load"), ("convert", "convert"),
    ("compile", "compile"), ("warm-up", "warmup"), ("measure", "measure"), ("compare", "compare"),
    ("result", "result"), ("worker exit", "worker_exit"), ("storage", "storage"), ("other", "other"),
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="clip,blip", help="models of `vt-tui run --models` (default: clip,blip)")
    parser.add_argument("--hardware", default="cpu,openvino",
                        help="platforms of `vt-tui run --hardware` (default: cpu,openvino)")
    parser.add_argument("--runs", type=int, default=2, help="runs in the same data directory (default: 2)")
    parser.add_argument("--home", default=None,
                        help="data directory to run in (default: a new temporary one, so the first run is cold)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    parser.add_argument("--quick", action="store_true",
                        help="tiny models of the --models families, >= 5 iterations and 0.2 s each: "
                        "checks that the script works")
    parser.add_argument("--run-index", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs must be at least 1, got {args.runs}")
    return args


def cli_arguments(args: argparse.Namespace, db_path: Path) -> list[str]:
    """Return the `vt-tui run` arguments of this benchmark."""
    if args.quick:
        models = []
        for family in args.models.split(","):
            models += ["--model", str(common.quick_model(family.strip()))]
        models += ["--iterations", "5", "--min-seconds", "0.2"]
    else:
        models = ["--models", args.models]
    return ["run", *models, "--hardware", args.hardware, "--weights", "synthetic", "--db", str(db_path)]


def synthetic_builds_present(models: str) -> dict[str, bool]:
    """Return, per catalog model of `models`, whether its synthetic build already exists."""
    from vt_core import catalog
    from vt_core.launcher import expand_models

    present = {}
    for model_id in expand_models(models.split(",")):
        if catalog.lookup(model_id) is not None:
            present[model_id] = (catalog.synthetic_dir_for(model_id) / "config.json").is_file()
    return present


@dataclass
class CliRun:
    """One `vt-tui run` call: exit status, wall time, the launcher's timestamps and platform detection time."""

    status: int
    wall: float
    launcher: common.RecordingLauncher
    detection_s: float


def run_cli(arguments: list[str]) -> CliRun:
    """Run `vt-tui ARGUMENTS` in this process with the recording launcher and a timed platform detection."""
    import vt_core.launcher
    import vt_core.platforms
    from vt_core import cli

    detection_times: list[float] = []
    detect = vt_core.platforms.detect_in_subprocess

    def timed_detect(*args, **kwargs):
        started = time.monotonic()
        try:
            return detect(*args, **kwargs)
        finally:
            detection_times.append(time.monotonic() - started)

    original = vt_core.launcher.Launcher
    vt_core.launcher.Launcher = common.RecordingLauncher
    vt_core.platforms.detect_in_subprocess = timed_detect
    common.RecordingLauncher.instances.clear()
    started = time.monotonic()
    try:
        # The run's own summary goes to standard error, so standard output keeps only the figures.
        with contextlib.redirect_stdout(sys.stderr):
            status = cli.main(arguments)
    finally:
        vt_core.launcher.Launcher = original
        vt_core.platforms.detect_in_subprocess = detect
    wall = time.monotonic() - started
    if len(common.RecordingLauncher.instances) != 1:
        raise SystemExit(f"expected `vt-tui run` to create one launcher, it created "
                         f"{len(common.RecordingLauncher.instances)}")
    return CliRun(status, wall, common.RecordingLauncher.instances[0], sum(detection_times))


def event_time(times: common.JobTimes, kind: str, phase: str | None = None) -> float | None:
    for event in times.events:
        if event.kind == kind and (phase is None or event.phase == phase):
            return event.time
    return None


def job_wall(times: common.JobTimes) -> float:
    """Return a job's wall time from the launcher starting its worker to its `finished` event; 0 without a worker."""
    finished = event_time(times, "finished")
    if times.worker_launched is None or finished is None:
        return 0.0
    return finished - times.worker_launched


def breakdown(result, times: common.JobTimes, built_synthetic: bool) -> dict[str, float] | None:
    """Return the parts of one job's wall time in seconds, plus `wall`, `useful` and `overhead`.

    Return None for a job whose worker did not reach the `done` phase (failed,
    unavailable), because its parts are missing.
    """
    phases = result.phase_times_s
    launched = times.worker_launched
    finished = event_time(times, "finished")
    start_seen = event_time(times, "phase", "start")
    done_seen = event_time(times, "phase", "done")
    if None in (launched, finished, start_seen, done_seen, times.result_received, times.worker_exited,
                times.store_started, times.store_finished):
        return None
    parts = {
        "worker_start": start_seen - launched,
        "import": phases.get("import", 0.0),
        "start_other": phases.get("start", 0.0) - phases.get("import", 0.0),
        "result": times.result_received - done_seen,
        "worker_exit": times.worker_exited - times.result_received,
        "storage": times.store_finished - times.store_started,
    }
    for name in ("resolve", "reference", "load", "convert", "compile", "warmup", "measure"):
        parts[name] = phases.get(name, 0.0)
    parts["compare"] = phases.get("compare", 0.0) + phases.get("done", 0.0)
    wall = job_wall(times)
    parts["other"] = wall - sum(parts.values())
    useful = sum(parts[name] for name in USEFUL) + (parts["resolve"] if built_synthetic else 0.0)
    parts.update(wall=wall, useful=useful, overhead=wall - useful)
    return parts


def print_run(index: int, run: CliRun, built_before: dict[str, bool]) -> None:
    """Print one run's per-job table, cache hits and run-level figures."""
    launcher = run.launcher
    results = finished_results(launcher)
    seen_models: set[str] = set()
    columns = []
    skipped = []
    for result in results:
        built = built_before.get(result.model_id) is False and result.model_id not in seen_models
        seen_models.add(result.model_id)
        label = f"{result.model_id.split('/')[-1][:22]} {result.platform}"
        parts = breakdown(result, launcher.jobs[result.job_id], built)
        if parts is None:
            skipped.append(f"{label}: {result.status} ({result.error_type}), not split")
        else:
            columns.append((label, result, parts, built))

    print()
    print(f"run {index}: `vt-tui run` exit status {run.status}, wall {run.wall:.2f} s")
    for line in skipped:
        print(line)
    if not columns:
        return
    width = max(24, *(len(label) + 2 for label, *_ in columns))
    print(f"{'seconds':<14}" + "".join(f"{label:>{width}}" for label, *_ in columns) + f"{'all jobs':>12}")
    for title, key in ROWS + (("wall", "wall"), ("useful", "useful"), ("overhead", "overhead")):
        values = [parts[key] for _, _, parts, _ in columns]
        print(f"{title:<14}" + "".join(f"{value:>{width}.3f}" for value in values) + f"{sum(values):>12.3f}")
    shares = [parts["overhead"] / parts["wall"] for _, _, parts, _ in columns]
    total_wall = sum(parts["wall"] for _, _, parts, _ in columns)
    total_overhead = sum(parts["overhead"] for _, _, parts, _ in columns)
    print(f"{'overhead %':<14}" + "".join(f"{common.percent(share):>{width}}" for share in shares)
          + f"{common.percent(total_overhead / total_wall):>12}")

    print(f"{'median ms':<14}" + "".join(
        f"{common.ms(common.median(result.samples_s)) if result.samples_s else result.status:>{width}}"
        for _, result, _, _ in columns))
    print(f"{'samples':<14}" + "".join(f"{len(result.samples_s):>{width}}" for _, result, _, _ in columns))
    print(f"{'IR cache hit':<14}" + "".join(
        f"{str(result.extra.get('ir_cache_hit', '-')):>{width}}" for _, result, _, _ in columns))
    print(f"{'ref. cached':<14}" + "".join(
        f"{str((result.extra.get('reference') or {}).get('cache_hit', '-')):>{width}}" for _, result, _, _ in columns))
    print(f"{'built model':<14}" + "".join(f"{str(built):>{width}}" for *_, built in columns))

    jobs_span = launcher.run_finished - launcher.run_started
    outside = run.wall - jobs_span
    every_job = sum(job_wall(times) for times in launcher.jobs.values())
    print(f"run level: {run.wall:.2f} s = {jobs_span:.2f} s in the launcher ({every_job:.2f} s in jobs, "
          f"{jobs_span - every_job:.2f} s run record and events) + {outside:.2f} s outside it "
          f"(platform detection {run.detection_s:.2f} s; store, spool and the summary "
          f"{outside - run.detection_s:.2f} s)")
    for label, _, parts, _ in columns:
        verdict = "met" if parts["overhead"] / parts["wall"] < OVERHEAD_GOAL else "missed"
        print(f"overhead {label}: {common.percent(parts['overhead'] / parts['wall'])} of {parts['wall']:.2f} s "
              f"(goal < {OVERHEAD_GOAL:.0%}: {verdict})")
    sys.stdout.flush()


def import_profile(platform: str) -> tuple[float, list[tuple[str, float]]]:
    """Return the worker's import time for `platform` and its split by top-level package, in seconds.

    Runs the worker's own import step in a fresh interpreter under `python -X
    importtime` and sums each module's self time into its top-level package.
    importtime adds its own cost, so the total is a little above the job's import phase.
    """
    code = f"from vt_core.worker import _import_libraries; _import_libraries({platform!r})"
    completed = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
                               env=dict(os.environ), timeout=IMPORT_PROFILE_TIMEOUT_S, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"importing the {platform} worker's libraries failed:\n{completed.stderr[-3000:]}")
    packages: dict[str, float] = defaultdict(float)
    for line in completed.stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if not line.startswith("import time:") or len(fields) != 3 or not fields[0].strip().isdigit():
            continue
        packages[fields[2].strip().split(".")[0]] += int(fields[0]) / 1e6
    ranked = sorted(packages.items(), key=lambda item: item[1], reverse=True)
    return sum(packages.values()), ranked


def print_import_profiles(hardware: str) -> None:
    print()
    for platform in hardware.split(","):
        platform = platform.strip()
        common.progress(f"import profile: {platform} worker")
        total, ranked = import_profile(platform)
        top_packages = ranked[:IMPORT_PROFILE_PACKAGES]
        rest = total - sum(seconds for _, seconds in top_packages)
        print(f"import profile {platform} (python -X importtime, self time by package): {total:.2f} s = "
              + ", ".join(f"{name} {seconds:.2f}" for name, seconds in top_packages) + f", other {rest:.2f}")


def run_once(args: argparse.Namespace) -> int:
    """Run `vt-tui run` once in this process (a child of main) and print its table; return its exit status."""
    with common.data_home(args.home, temporary=False) as home:
        arguments = cli_arguments(args, home / "bench-overhead.duckdb")
        if args.run_index == 1:
            print("command: vt-tui " + " ".join(arguments))
        built_before = {} if args.quick else synthetic_builds_present(args.models)
        run = run_cli(arguments)
        print_run(args.run_index, run, built_before)
    return run.status


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.run_index is not None:
        return run_once(args)

    common.print_header("Harness overhead of `vt-tui run`, per job")
    exit_status = 0
    with common.data_home(args.home, temporary=not args.home, keep=args.keep) as home:
        print(f"data directory: {home}", flush=True)
        for index in range(1, args.runs + 1):
            common.progress(f"run {index}/{args.runs}")
            command = [sys.executable, str(Path(__file__).resolve()), "--run-index", str(index), "--home", str(home),
                       "--models", args.models, "--hardware", args.hardware]
            if args.quick:
                command.append("--quick")
            # The child's table goes straight to this process's standard output.
            completed = subprocess.run(command, check=False)
            if completed.returncode not in (0, 1):
                raise SystemExit(f"run {index} failed with status {completed.returncode}; its error is above")
            exit_status = max(exit_status, completed.returncode)
        print_import_profiles(args.hardware)
    print(f"\nload average at end: {common.load_text()}")
    return exit_status


def finished_results(launcher: common.RecordingLauncher) -> list:
    """Return the run's results in job order, taken from the launcher's `finished` events."""
    results = []
    for times in launcher.jobs.values():
        for event in times.events:
            if event.kind == "finished" and event.result is not None:
                results.append(event.result)
    return results


if __name__ == "__main__":
    sys.exit(main())
