"""`vt-tui run`: measure models on platforms and store every result.

Exit status: 0 when every job passed or its platform is merely unavailable,
1 when a job failed or its output did not match the reference, 2 for invalid
options.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import textwrap
import time
from typing import Any, TextIO

from vt_core.records import MISMATCH, FAIL, PASS, PLATFORMS, PRECISIONS, UNAVAILABLE, WEIGHTS_CHOICES, JobResult, Settings

DEFAULT_MODELS = "clip,blip"
DEFAULT_HARDWARE = "cpu"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    defaults = Settings()
    parser = subparsers.add_parser(
        "run", help="run models on platforms and store the results",
        description="Run each model on each platform in its own worker process, compare its output "
        "with the PyTorch CPU reference, and store every result in DuckDB.",
    )
    parser.add_argument("--models", default=None, metavar="LIST",
                        help=f"comma-separated families or model ids (default: {DEFAULT_MODELS}); "
                        "a family name runs its default model")
    parser.add_argument("--model", action="append", default=[], metavar="ID",
                        help="a model id or local directory; repeat for several")
    hardware = parser.add_mutually_exclusive_group()
    hardware.add_argument("--hardware", default=None, metavar="LIST",
                          help=f"comma-separated platforms from {', '.join(PLATFORMS)} (default: {DEFAULT_HARDWARE})")
    hardware.add_argument("--all-hardware", action="store_true",
                          help="all seven platforms; absent ones are stored as unavailable")
    parser.add_argument("--weights", choices=WEIGHTS_CHOICES, default=defaults.weights,
                        help="auto: local directory or Hugging Face cache only; synthetic: also build the "
                        "real architecture with random weights when no weights are found (default: auto)")
    parser.add_argument("--iterations", type=int, default=defaults.iterations, metavar="N",
                        help=f"minimum timed iterations per job (default: {defaults.iterations})")
    parser.add_argument("--min-seconds", type=float, default=defaults.min_seconds, metavar="S",
                        help=f"minimum seconds of timed iterations per job (default: {defaults.min_seconds:g})")
    parser.add_argument("--warmup", type=int, default=defaults.warmup, metavar="N",
                        help=f"untimed warm-up iterations (default: {defaults.warmup})")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size, metavar="N",
                        help=f"images per inference (default: {defaults.batch_size})")
    parser.add_argument("--timeout", type=float, default=defaults.timeout_s, metavar="S",
                        help=f"time limit of each job phase in seconds (default: {defaults.timeout_s:g})")
    parser.add_argument("--precision", choices=PRECISIONS, default=defaults.precision,
                        help="OpenVINO inference precision (default: f32); torch platforms run f32")
    parser.add_argument("--max-new-tokens", type=int, default=defaults.max_new_tokens, metavar="N",
                        help=f"tokens generated per caption (default: {defaults.max_new_tokens})")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="intra-op threads for torch and OpenVINO (default: each library's own)")
    parser.add_argument("--concurrency", type=int, default=1, metavar="N",
                        help="jobs running at the same time (default: 1, which keeps timings clean)")
    parser.add_argument("--db", default=None, metavar="PATH",
                        help="results database (default: VT_DB, else the user data directory)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON on standard output")
    parser.add_argument("--vision-text", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--store-results", action="store_true", help=argparse.SUPPRESS)
    parser.set_defaults(handler=run)


def parse_list(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def settings_from_args(args: argparse.Namespace) -> Settings:
    from vt_core.cli import UsageError

    settings = Settings(
        iterations=args.iterations, min_seconds=args.min_seconds, warmup=args.warmup,
        batch_size=args.batch_size, timeout_s=args.timeout, precision=args.precision,
        weights=args.weights, max_new_tokens=args.max_new_tokens, threads=args.threads,
    )
    try:
        settings.validate()
    except ValueError as error:
        raise UsageError(str(error)) from error
    return settings


def run(args: argparse.Namespace) -> int:
    from vt_core.cli import UsageError
    from vt_core.launcher import Launcher, plan_jobs
    from vt_core.store import DatabaseLockedError, Store

    settings = settings_from_args(args)
    models = parse_list(args.models) + list(args.model)
    if not models:
        models = parse_list(DEFAULT_MODELS)
    platforms = list(PLATFORMS) if args.all_hardware else parse_list(args.hardware or DEFAULT_HARDWARE)
    unknown = [p for p in platforms if p not in PLATFORMS]
    if unknown:
        raise UsageError(f"unknown platform {', '.join(unknown)}; use one or more of {', '.join(PLATFORMS)}")
    if args.concurrency < 1:
        raise UsageError(f"--concurrency must be at least 1, got {args.concurrency}")

    store = Store(args.db)
    try:
        pending = store.ingest_spool()
    except DatabaseLockedError as error:
        print(f"warning: {error}", file=sys.stderr)
        pending = None
    if pending and pending.ingested:
        print(f"ingested {pending.ingested} result(s) left in the spool by an earlier run", file=sys.stderr)

    from vt_core import platforms as platform_detection

    print("detecting platforms...", file=sys.stderr)
    # Detect only the requested platforms: webgpu and webnn detection starts Chromium (about 4 s on 2 cores).
    platform_info = platform_detection.detect_in_subprocess(names=platforms)
    try:
        jobs = plan_jobs(models, platforms, settings)
    except ValueError as error:
        raise UsageError(str(error)) from error

    progress = ProgressPrinter(jobs, sys.stderr)
    launcher = Launcher(store, concurrency=args.concurrency, command="vt-tui " + " ".join(sys.argv[1:]))
    started = time.monotonic()
    results = asyncio.run(launcher.run(jobs, progress.on_event, platform_info=platform_info))
    progress.close()

    if args.json:
        json.dump([r.to_dict() for r in results], sys.stdout, indent=2, default=str)
        print()
    else:
        print(format_summary(results, time.monotonic() - started, store.path, spooled=bool(launcher.spool_message)))
        if not launcher.spool_message:
            print()
            print(matrix_markdown(store, {r.model_id for r in results}))
    if launcher.spool_message:
        print(f"warning: {launcher.spool_message}", file=sys.stderr)

    failed = [r for r in results if r.status in (FAIL, MISMATCH)]
    return 1 if failed else 0


def matrix_markdown(store, model_ids: set[str]) -> str:
    """Return the compatibility matrix of `model_ids` as Markdown, with states from the whole database."""
    from vt_core.reports.common import EmptyDatabaseError
    from vt_core.reports.matrix import build_matrix, render_markdown

    try:
        report = build_matrix(store)
    except EmptyDatabaseError as error:
        return str(error)
    report.rows = [row for row in report.rows if row.model_id in model_ids]
    return render_markdown(report) + "\nThe matrix of every stored model: vt-tui db --generate-matrix"


def format_summary(results: list[JobResult], wall_s: float, db_path: Any, *, spooled: bool = False) -> str:
    """Render one line per job with state and median latency, the full errors, then the totals."""
    from vt_core.stats import summarize

    lines = [f"{'model':<42} {'platform':<9} {'state':<11} {'median':>10}  {'source':<9} error type"]
    errors: list[str] = []
    for result in results:
        summary = summarize(result.samples_s)
        median = f"{summary['median_s'] * 1000:.2f} ms" if summary["median_s"] is not None else "-"
        error_type = result.error_type if result.status != PASS else ""
        lines.append(
            f"{result.model_id[:42]:<42} {result.platform:<9} {result.status:<11} {median:>10}  "
            f"{(result.weights_source or '-'):<9} {error_type or ''}"
        )
        if result.status in (FAIL, MISMATCH) and result.error_message:
            errors.append(f"{result.model_id} on {result.platform} ({result.error_type}):\n"
                          + textwrap.indent(result.error_message.strip(), "  "))

    if errors:
        lines.append("")
        lines.append("Errors:")
        lines.extend(errors)
    counts = {state: sum(1 for r in results if r.status == state) for state in (PASS, MISMATCH, FAIL, UNAVAILABLE)}
    where = f"Waiting in the spool of {db_path}." if spooled else f"Stored in {db_path}."
    lines.append("")
    lines.append(
        f"{len(results)} job(s) in {wall_s:.1f} s: " + ", ".join(f"{n} {state}" for state, n in counts.items())
        + f". {where}"
    )
    return "\n".join(lines)


class ProgressPrinter:
    """Show job, phase and iteration progress on standard error.

    On a terminal one status line is redrawn in place; otherwise each phase
    change is a line of its own, so logs stay readable.
    """

    def __init__(self, jobs: list, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.jobs = {job.job_id: job for job in jobs}
        self.order = [job.job_id for job in jobs]
        self.finished = 0
        self.started_at: dict[str, float] = {}
        self._last_draw = 0.0
        self._line_open = False

    def _label(self, job_id: str) -> str:
        job = self.jobs[job_id]
        position = self.order.index(job_id) + 1
        return f"[{position}/{len(self.order)}] {job.model_ref} on {job.platform}"

    def on_event(self, event) -> None:
        if event.job_id is None or event.job_id not in self.jobs:
            return
        if event.kind == "started":
            self.started_at[event.job_id] = event.time
        elapsed = event.time - self.started_at.get(event.job_id, event.time)

        if event.kind == "phase":
            self._status(f"{self._label(event.job_id)}: {event.phase}", elapsed, permanent=not self.tty)
        elif event.kind == "progress" and self.tty:
            median = f" median {event.median_s * 1000:.2f} ms" if event.median_s else ""
            bar = _bar(event.done or 0, event.total or 1)
            self._status(f"{self._label(event.job_id)}: {event.phase} {bar} {event.done}/{event.total}{median}",
                         elapsed, throttle=True)
        elif event.kind == "finished":
            self.finished += 1
            result = event.result
            detail = ""
            if result.status == PASS and result.samples_s:
                detail = f" median {statistics.median(result.samples_s) * 1000:.2f} ms"
            elif result.error_type:
                detail = f" ({result.error_type})"
            self._status(f"{self._label(event.job_id)}: {result.status}{detail}", elapsed, permanent=True)

    def _status(self, text: str, elapsed: float, *, permanent: bool = False, throttle: bool = False) -> None:
        now = time.monotonic()
        if throttle and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        line = f"{text}  {elapsed:6.1f} s"
        if self.tty:
            self.stream.write("\r\033[K" + line + ("\n" if permanent else ""))
            self._line_open = not permanent
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._line_open:
            self.stream.write("\n")
            self.stream.flush()


def _bar(done: int, total: int, width: int = 20) -> str:
    filled = min(width, int(width * done / max(total, 1)))
    return "[" + "#" * filled + "." * (width - filled) + "]"
