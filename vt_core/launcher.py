"""Asynchronous job scheduler: one fresh worker process per job.

`plan_jobs` expands models x platforms into `JobSpec`s. `Launcher.run` starts a
`python -m vt_core.worker` process per job (one at a time unless `concurrency`
says otherwise), feeds it the spec on standard input, turns its JSON-lines
events into `LauncherEvent`s for the caller, enforces a time limit on every
phase, and kills the worker's whole process group on timeout or cancel. Each
finished job's result is stored at once (spool, then DuckDB), so a run that
stops half-way keeps what finished.

This module runs in the parent process and never imports torch, transformers
or openvino.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from vt_core import events
from vt_core.records import PLATFORMS, UNAVAILABLE, JobResult, JobSpec, Settings, new_id, utc_now
from vt_core.store import DatabaseLockedError, Store

log = logging.getLogger(__name__)

STDERR_TAIL_LINES = 40
"""Lines of worker standard error kept for the message of a crashed job."""

STREAM_LIMIT_BYTES = 64 * 1024 * 1024
"""Maximum length of one protocol line; a result with many samples is one long line."""

WATCHDOG_INTERVAL_S = 0.2

START_PHASE_MIN_LIMIT_S = 300.0
"""Lowest time limit of the `start` phase (interpreter start and importing torch,
transformers and openvino), which a busy machine can stretch past a short job limit."""


@dataclass
class LauncherEvent:
    """A progress event for the launcher's caller (app screen or CLI progress bar)."""

    kind: str
    """queued, started, phase, progress, log, finished or run_finished."""
    job_id: str | None = None
    phase: str | None = None
    done: int | None = None
    total: int | None = None
    elapsed_s: float | None = None
    """Seconds since the job started (progress) or the phase's own elapsed time reported by the worker."""
    median_s: float | None = None
    """Running median latency of the measure phase, in seconds."""
    message: str | None = None
    result: JobResult | None = None
    stored: bool | None = None
    """For `finished`: True when the result is in DuckDB, False when it waits in the spool."""
    time: float = field(default_factory=time.monotonic)


EventCallback = Callable[[LauncherEvent], None]


def expand_models(models: Iterable[str]) -> list[str]:
    """Replace family names (`clip`, `blip`) by the family's default model; keep other references."""
    from vt_core import catalog

    expanded: list[str] = []
    for reference in models:
        reference = reference.strip()
        if not reference:
            continue
        try:
            expanded.append(catalog.family_default(reference))
        except ValueError:
            expanded.append(reference)
    return list(dict.fromkeys(expanded))


def plan_jobs(models: Sequence[str], platforms: Sequence[str], settings: Settings | None = None, *,
              run_id: str | None = None) -> list[JobSpec]:
    """Return one JobSpec per (model, platform), models first, platforms in matrix order.

    Family names expand to their default model. Platforms absent on this machine
    still get a job, and `Launcher.run` records it as `unavailable` without
    starting a worker when it is given the detection results.
    """
    settings = settings or Settings()
    settings.validate()
    unknown = [p for p in platforms if p not in PLATFORMS]
    if unknown:
        raise ValueError(f"unknown platform(s) {', '.join(unknown)}; use one or more of {', '.join(PLATFORMS)}")
    run_id = run_id or new_id()
    ordered_platforms = [p for p in PLATFORMS if p in set(platforms)]
    return [
        JobSpec(model_ref=model, platform=platform, settings=settings, run_id=run_id)
        for model in expand_models(models)
        for platform in ordered_platforms
    ]


class Launcher:
    """Run jobs in worker processes and store each result as it finishes."""

    def __init__(self, store: Store | None, *, concurrency: int = 1, python: str | None = None,
                 env: dict[str, str] | None = None, command: str = "",
                 job_env: Callable[[JobSpec], dict[str, str]] | None = None) -> None:
        """Set up a launcher.

        `env` replaces the environment of every worker (default: this process's);
        `job_env` returns extra variables for one job, such as CUDA_VISIBLE_DEVICES.
        """
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.store = store
        self.concurrency = concurrency
        self.python = python or sys.executable
        self.env = env
        self.command = command
        self.job_env = job_env
        self._processes: dict[str, asyncio.subprocess.Process] = {}
        self._cancelled: set[str] = set()
        self._cancel_all = False
        self.spool_message: str | None = None
        """Set when results could not reach DuckDB and wait in the spool."""

    def cancel(self, job_id: str | None = None) -> None:
        """Cancel one job, or every queued and running job when `job_id` is None."""
        if job_id is None:
            self._cancel_all = True
            targets = list(self._processes)
        else:
            self._cancelled.add(job_id)
            targets = [job_id] if job_id in self._processes else []
        for target in targets:
            self._cancelled.add(target)
            _kill_group(self._processes[target])

    def is_cancelled(self, job_id: str) -> bool:
        return self._cancel_all or job_id in self._cancelled

    async def run(self, jobs: Sequence[JobSpec], on_event: EventCallback | None = None, *,
                  platform_info: Sequence[dict[str, Any]] | None = None) -> list[JobResult]:
        """Run `jobs` and return their results in job order.

        `platform_info` (detection output) lets the launcher record jobs on absent
        platforms as `unavailable` without starting a worker.
        """
        emit = on_event or (lambda event: None)
        unavailable = {
            info["name"]: info.get("reason") or "not available on this machine"
            for info in (platform_info or [])
            if not info.get("available")
        }
        started_at = utc_now()
        run_ids = {job.run_id for job in jobs}
        for job in jobs:
            emit(LauncherEvent("queued", job_id=job.job_id))

        semaphore = asyncio.Semaphore(self.concurrency)

        async def run_one(job: JobSpec) -> JobResult:
            async with semaphore:
                if self.is_cancelled(job.job_id):
                    result = JobResult.failed(job, "cancelled", "cancelled before it started")
                elif job.platform in unavailable:
                    result = JobResult.failed(
                        job, "unavailable", f"{job.platform} is not available: {unavailable[job.platform]}",
                        status=UNAVAILABLE,
                    )
                else:
                    result = await self._run_worker(job, emit)
                _fill_catalog_fields(result)
                stored = await self._store(result)
                emit(LauncherEvent("finished", job_id=job.job_id, result=result, stored=stored,
                                   message=result.error_message))
                return result

        results = await asyncio.gather(*(run_one(job) for job in jobs))

        if self.store is not None:
            for run_id in run_ids:
                await self._record_run(run_id, started_at, jobs)
        emit(LauncherEvent("run_finished", message=self.spool_message))
        return list(results)

    async def _store(self, result: JobResult) -> bool:
        if self.store is None:
            return False
        try:
            stored = await asyncio.to_thread(self.store.store_result, result)
        except DatabaseLockedError as error:
            stored = False
            self.spool_message = str(error)
        if not stored:
            self.spool_message = (
                f"results wait in {self.store.path.name}.spool because the database {self.store.path} is "
                "locked by another process; they are written on the next run or with `vt-tui db --ingest-spool`"
            )
            log.warning("result %s left in the spool: %s", result.job_id, self.spool_message)
        return stored

    async def _record_run(self, run_id: str, started_at: Any, jobs: Sequence[JobSpec]) -> None:
        own = [job for job in jobs if job.run_id == run_id]
        settings = own[0].settings.__dict__ if own else {}
        try:
            await asyncio.to_thread(
                self.store.record_run, run_id, started_at=started_at, finished_at=utc_now(),
                command=self.command, settings=dict(settings), job_count=len(own),
            )
        except DatabaseLockedError as error:
            log.warning("run %s not recorded: %s", run_id, error)

    async def _run_worker(self, job: JobSpec, emit: EventCallback) -> JobResult:
        """Start one worker, relay its events, enforce phase time limits; return its result."""
        env = dict(os.environ if self.env is None else self.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        env["HF_HUB_OFFLINE"] = "1"
        env["TRANSFORMERS_OFFLINE"] = "1"
        if self.job_env is not None:
            env.update(self.job_env(job))
        started = time.monotonic()
        try:
            process = await asyncio.create_subprocess_exec(
                self.python, "-m", "vt_core.worker",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                env=env, start_new_session=True, limit=STREAM_LIMIT_BYTES,
            )
        except OSError as error:
            return JobResult.failed(job, "crash", f"could not start the worker with {self.python}: {error}")

        self._processes[job.job_id] = process
        emit(LauncherEvent("started", job_id=job.job_id, phase="start"))
        state = _WorkerState(phase="start", phase_started=started)
        stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)

        try:
            process.stdin.write(json.dumps(job.to_dict()).encode() + b"\n")
            await process.stdin.drain()
            process.stdin.close()
        except (BrokenPipeError, ConnectionResetError):
            pass

        async def read_stdout() -> None:
            while True:
                line = await process.stdout.readline()
                if not line:
                    return
                event = events.decode(line.decode("utf-8", errors="replace"))
                if event is None:
                    continue
                self._relay(job, event, state, emit, started)

        async def read_stderr() -> None:
            while True:
                line = await process.stderr.readline()
                if not line:
                    return
                text = line.decode("utf-8", errors="replace").rstrip()
                if text:
                    stderr_tail.append(text)
                    emit(LauncherEvent("log", job_id=job.job_id, message=text))

        async def watchdog() -> None:
            if self.is_cancelled(job.job_id):
                _kill_group(process)
                return
            while process.returncode is None:
                await asyncio.sleep(WATCHDOG_INTERVAL_S)
                if self.is_cancelled(job.job_id):
                    _kill_group(process)
                    return
                limit = job.settings.timeout_s
                if state.phase == "start":
                    limit = max(limit, START_PHASE_MIN_LIMIT_S)
                if state.result is None and time.monotonic() - state.phase_started > limit:
                    state.timed_out_phase = state.phase
                    state.timed_out_limit_s = limit
                    _kill_group(process)
                    return

        readers = asyncio.gather(read_stdout(), read_stderr())
        guard = asyncio.create_task(watchdog())
        try:
            await readers
            await process.wait()
        finally:
            # Also reached when the caller's task is cancelled (Ctrl-C in the CLI, the app
            # quitting): the worker must not outlive the launcher as an orphan.
            _kill_group(process)
            guard.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await guard
            self._processes.pop(job.job_id, None)

        return self._outcome(job, process.returncode, state, stderr_tail)

    def _relay(self, job: JobSpec, event: dict[str, Any], state: "_WorkerState", emit: EventCallback,
               started: float) -> None:
        kind = event.get("event")
        if kind == events.PHASE:
            state.phase = str(event.get("phase"))
            state.phase_started = time.monotonic()
            emit(LauncherEvent("phase", job_id=job.job_id, phase=state.phase,
                               elapsed_s=time.monotonic() - started))
        elif kind == events.PROGRESS:
            # Progress counts as activity only for the report, not for the phase limit:
            # a phase that loops forever must still time out.
            emit(LauncherEvent(
                "progress", job_id=job.job_id, phase=event.get("phase", state.phase),
                done=event.get("done"), total=event.get("total"), median_s=event.get("median_s"),
                elapsed_s=time.monotonic() - started,
            ))
        elif kind == events.LOG:
            emit(LauncherEvent("log", job_id=job.job_id, message=str(event.get("message", ""))))
        elif kind == events.RESULT:
            try:
                state.result = JobResult.from_dict(event["result"])
            except (KeyError, TypeError) as error:
                state.protocol_error = f"invalid result event from the worker: {error}"

    def _outcome(self, job: JobSpec, returncode: int | None, state: "_WorkerState",
                 stderr_tail: deque[str]) -> JobResult:
        tail = "\n".join(stderr_tail)
        if state.result is not None:
            return state.result
        if self.is_cancelled(job.job_id):
            return JobResult.failed(job, "cancelled", f"cancelled by the user during phase '{state.phase}'")
        if state.timed_out_phase is not None:
            return JobResult.failed(
                job, "timeout",
                f"phase '{state.timed_out_phase}' ran past its limit of {state.timed_out_limit_s:g} s; "
                "the worker was killed. Raise the limit with --timeout SECONDS.",
            )
        if state.protocol_error:
            return JobResult.failed(job, "crash", f"{state.protocol_error}\n{tail}".strip())

        if returncode is not None and returncode < 0:
            signal_number = -returncode
            try:
                signal_name = signal.Signals(signal_number).name
            except ValueError:
                signal_name = f"signal {signal_number}"
            if signal_number == signal.SIGKILL:
                reason = (f"the worker was killed by {signal_name} during phase '{state.phase}', "
                          "most often by the kernel's out-of-memory killer")
                error_type = "out_of_memory" if _oom_in(tail) else "crash"
            else:
                reason = f"the worker died from {signal_name} during phase '{state.phase}'"
                error_type = "crash"
        else:
            reason = f"the worker exited with status {returncode} during phase '{state.phase}' without a result"
            error_type = "out_of_memory" if _oom_in(tail) else "crash"
        message = reason + (f"\nlast worker output:\n{tail}" if tail else "")
        return JobResult.failed(job, error_type, message)


@dataclass
class _WorkerState:
    phase: str
    phase_started: float
    result: JobResult | None = None
    timed_out_phase: str | None = None
    timed_out_limit_s: float | None = None
    protocol_error: str | None = None


def _oom_in(text: str) -> bool:
    lowered = text.lower()
    return "memoryerror" in lowered or "out of memory" in lowered


def _kill_group(process: asyncio.subprocess.Process) -> None:
    """Kill the worker and everything it started (a browser, a compiler) in one signal."""
    if process.returncode is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            process.kill()


def _fill_catalog_fields(result: JobResult) -> None:
    """Fill model id, family, type and task of a result the worker did not write itself.

    A local directory or cached model resolves without loading it, so a timed-out
    or unavailable job carries the same model id as the jobs that ran.
    """
    if result.model_family and result.task and result.model_type:
        return
    from vt_core import catalog

    try:
        resolved = catalog.resolve(result.model_id, weights="auto")
    except (LookupError, ValueError, OSError):
        resolved = None
    if resolved is not None:
        result.model_id = resolved.model_id
        result.weights_source = result.weights_source or resolved.source
        result.model_path = result.model_path or str(resolved.path)
        info = resolved
    else:
        info = catalog.lookup(result.model_id)
    if info is None:
        return
    result.model_family = result.model_family or getattr(info, "family", None)
    result.model_type = result.model_type or getattr(info, "model_type", None)
    result.task = result.task or getattr(info, "task", None)
    result.architecture = result.architecture or getattr(info, "architecture", None)


__all__ = ["Launcher", "LauncherEvent", "plan_jobs", "expand_models"]
