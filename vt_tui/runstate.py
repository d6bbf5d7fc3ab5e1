"""Live state of one run, folded from launcher events.

The launcher calls `RunState.apply` for every event, which can be hundreds a
second while a fast model measures. `apply` only updates plain fields and
bumps `version`. The screens redraw from the latest state on a timer, so a
flood of progress events costs one redraw per tick, not one per event.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from vt_core.records import PHASES, UNAVAILABLE, JobSpec

LOG_LINES = 2000
"""Worker output lines kept for the log pane; older lines are dropped."""

RUNNING = "running"
QUEUED = "queued"
CANCELLED = "cancelled"


@dataclass
class JobRow:
    """Progress of one job, as the progress table shows it."""

    job_id: str
    model: str
    platform: str
    state: str = QUEUED
    """queued, running, then the result state (pass, mismatch, fail, unavailable) or cancelled."""
    phase: str | None = None
    done: int | None = None
    total: int | None = None
    started: float | None = None
    """Monotonic time of the `started` event."""
    finished: float | None = None
    measure_started: float | None = None
    median_s: float | None = None
    min_seconds: float = 0.0
    message: str | None = None
    error_type: str | None = None
    stored: bool | None = None

    @property
    def active(self) -> bool:
        return self.state in (QUEUED, RUNNING)

    def fraction(self) -> float:
        """Return the job's progress in [0, 1]: phases count equally, and measure counts its iterations."""
        if not self.active:
            return 1.0
        if self.phase is None or self.phase not in PHASES:
            return 0.0
        index = PHASES.index(self.phase)
        within = 0.0
        if self.phase == "measure" and self.total:
            within = min((self.done or 0) / self.total, 1.0)
        return (index + within) / (len(PHASES) - 1)

    def elapsed(self, now: float) -> float | None:
        if self.started is None:
            return None
        return (self.finished or now) - self.started

    def eta(self, now: float) -> float | None:
        """Return the seconds left in the measure phase, or None outside it.

        The timed loop runs until both the minimum iteration count and the
        minimum time hold, so the estimate is the larger of the two.
        """
        if self.phase != "measure" or not self.active or self.median_s is None or self.total is None:
            return None
        by_count = max(self.total - (self.done or 0), 0) * self.median_s
        by_time = 0.0
        if self.measure_started is not None:
            by_time = max(self.min_seconds - (now - self.measure_started), 0.0)
        return max(by_count, by_time)


@dataclass
class RunState:
    """Jobs of one run and the tail of their worker output."""

    jobs: dict[str, JobRow]
    clock: Callable[[], float] = time.monotonic
    version: int = 0
    """Bumped on every applied event; a redraw timer compares it with the version it drew."""
    log: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    log_total: int = 0
    """Lines ever appended, so the log pane can append only the new ones."""
    finished: bool = False
    stored_count: int = 0
    spool_message: str | None = None
    started: float = 0.0

    @classmethod
    def from_jobs(cls, jobs: Sequence[JobSpec], clock: Callable[[], float] = time.monotonic) -> "RunState":
        rows = {
            job.job_id: JobRow(job.job_id, job.model_ref, job.platform, min_seconds=job.settings.min_seconds)
            for job in jobs
        }
        return cls(jobs=rows, clock=clock, started=clock())

    # -- events ------------------------------------------------------------

    def apply(self, event: Any) -> None:
        """Fold one `LauncherEvent` into the state."""
        self.version += 1
        if event.kind == "run_finished":
            self.finished = True
            self.spool_message = event.message
            return
        row = self.jobs.get(event.job_id) if event.job_id else None
        if event.kind == "log":
            self.add_log(row, event.message or "")
            return
        if row is None:
            return

        if event.kind == "started":
            row.state = RUNNING
            row.started = event.time
            row.phase = event.phase or "start"
        elif event.kind == "phase":
            row.phase = event.phase
            if event.phase == "measure":
                row.measure_started = event.time
            self.add_log(row, f"phase {event.phase}")
        elif event.kind == "progress":
            row.phase = event.phase or row.phase
            row.done = event.done
            row.total = event.total
            if event.median_s is not None:
                row.median_s = event.median_s
            if row.phase == "measure" and row.measure_started is None:
                row.measure_started = event.time
        elif event.kind == "finished":
            self._finish(row, event)

    def _finish(self, row: JobRow, event: Any) -> None:
        result = event.result
        row.finished = event.time
        if row.started is None:
            # Jobs that never started a worker (unavailable, cancelled while queued).
            row.started = event.time
        row.stored = event.stored
        if event.stored:
            self.stored_count += 1

        if result is None:
            row.state = "fail"
            row.message = event.message
            return
        row.error_type = result.error_type
        row.message = result.error_message
        if result.error_type == "cancelled":
            row.state = CANCELLED
        else:
            row.state = result.status if result.status else "fail"
        if result.samples_s:
            ordered = sorted(result.samples_s)
            middle = len(ordered) // 2
            row.median_s = (
                ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
            )
        row.phase = "done"

        summary = f"finished: {row.state}"
        if result.error_type and row.state != UNAVAILABLE:
            summary += f" ({result.error_type})"
        if event.stored is False:
            summary += ", result waits in the spool"
        self.add_log(row, summary)

    def add_log(self, row: JobRow | None, message: str) -> None:
        prefix = f"[{row.platform} {_short(row.model)}] " if row else ""
        for line in message.splitlines() or [""]:
            self.log.append(prefix + line)
            self.log_total += 1

    # -- summaries ---------------------------------------------------------

    @property
    def active(self) -> bool:
        return not self.finished

    def counts(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for row in self.jobs.values():
            totals[row.state] = totals.get(row.state, 0) + 1
        return totals

    def done_count(self) -> int:
        return sum(1 for row in self.jobs.values() if not row.active)

    def summary(self) -> str:
        """Return a short status such as `run 2/5 · cpu clip-vit-base-patch32 measure`."""
        total = len(self.jobs)
        done = self.done_count()
        if self.finished:
            counts = self.counts()
            parts = [f"{counts[s]} {s}" for s in ("pass", "mismatch", "fail", "unavailable", CANCELLED) if counts.get(s)]
            return f"run finished {done}/{total}: " + ", ".join(parts)
        running = [row for row in self.jobs.values() if row.state == RUNNING]
        text = f"run {done}/{total}"
        if running:
            row = running[0]
            text += f" · {row.platform} {_short(row.model)} {row.phase or ''}".rstrip()
        return text


def _short(model: str) -> str:
    """Return the last path component of a model reference."""
    return model.rstrip("/").rsplit("/", 1)[-1]
