"""The runner interface: prepare a model on one back end, run it, and time it.

A runner goes through `prepare` (phases load, convert, compile) and `measure`
(phases warmup, measure). `measure` contains the timing rules shared by every
back end, so a subclass only implements how to load, convert, compile and run once. The
browser runner times inside the page and overrides `measure` as a whole.

Timing rules:
- The first inference after compile is timed on its own (`first_inference_s`)
  and counts as the first warm-up iteration; it is never a sample.
- The other warm-up iterations are untimed.
- The timed loop runs until at least `settings.iterations` samples AND at least
  `settings.min_seconds` seconds; every sample is kept.
- Each sample is time.perf_counter() around one `infer` call followed by
  `synchronize()`, so asynchronous GPU work is inside the sample.
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Protocol

import numpy as np

from vt_core.catalog import ResolvedModel
from vt_core.records import JobSpec, Settings
from vt_core.tasks.base import Task

PROGRESS_INTERVAL_S = 0.1
"""Minimum time between two progress events of one loop."""


class PlatformUnavailableError(RuntimeError):
    """The platform or device of the job is not present on this machine."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ConversionError(RuntimeError):
    """Exporting or converting the model for the back end failed."""


class Reporter(Protocol):
    """Sink for a runner's phases, progress and log lines (the worker sends them to the parent)."""

    def phase(self, name: str) -> None: ...

    def progress(self, phase: str, done: int, total: int, elapsed_s: float, median_s: float | None = None) -> None: ...

    def log(self, message: str, level: str = "info") -> None: ...


class Runner:
    """Runs one job's model on one platform. Subclasses implement load, convert, compile and infer."""

    platform: str = ""
    has_convert_step: bool = True
    """False where the model runs as loaded; the result then has no convert_time_s."""

    def __init__(self, platform: str):
        self.platform = platform
        self.device: str | None = None
        self.parameter_count: int | None = None
        self.precision = "f32"
        """Precision that actually ran; the comparison tolerance follows it."""
        self.extra: dict[str, Any] = {}
        """Back-end facts for result.extra (cache hits, device names)."""

    # --- availability -------------------------------------------------------------

    def unavailable_reason(self, spec: JobSpec) -> str | None:
        """Return why the job's platform or device is absent here, or None when it can run."""
        return None

    # --- preparation --------------------------------------------------------------

    def prepare(self, model: ResolvedModel, task: Task, spec: JobSpec, reporter: Reporter) -> None:
        """Load, convert and compile `model` for `task`, reporting each phase."""
        reporter.phase("load")
        self.load(model, task, spec, reporter)
        reporter.phase("convert")
        self.convert(model, task, spec, reporter)
        reporter.phase("compile")
        self.compile(model, task, spec, reporter)

    def load(self, model: ResolvedModel, task: Task, spec: JobSpec, reporter: Reporter) -> None:
        raise NotImplementedError

    def convert(self, model: ResolvedModel, task: Task, spec: JobSpec, reporter: Reporter) -> None:
        """Convert the loaded model for the back end; a no-op where the back end runs it as loaded."""

    def compile(self, model: ResolvedModel, task: Task, spec: JobSpec, reporter: Reporter) -> None:
        """Compile the converted model for the device; a no-op where the back end has no compile step."""

    # --- inference ------------------------------------------------------------------

    def place_inputs(self, inputs: dict[str, np.ndarray]) -> Any:
        """Return `inputs` in the form `infer` takes (torch tensors on the device, numpy arrays)."""
        return inputs

    def infer(self, inputs: Any) -> Any:
        """Run the model once on placed inputs and return its raw outputs."""
        raise NotImplementedError

    def outputs_to_numpy(self, outputs: Any) -> dict[str, np.ndarray]:
        """Return raw outputs of `infer` as numpy arrays named like the task's reference."""
        return outputs

    def synchronize(self) -> None:
        """Wait for queued device work; a no-op on synchronous back ends."""

    def memory_stats(self) -> dict[str, float]:
        """Return device memory figures in MiB (`torch_max_allocated_mb`, `torch_reserved_mb`), if any.

        A runner whose model runs outside the worker process returns `peak_rss_mb`
        too (a figure or None), which replaces the worker's own RSS measurement.
        """
        return {}

    def close(self) -> None:
        """Release the model and device resources."""

    def measure(
        self, inputs: dict[str, np.ndarray], settings: Settings, reporter: Reporter
    ) -> tuple[list[float], float, dict[str, np.ndarray]]:
        """Warm up, then time the loop; return (samples_s, first_inference_s, outputs of the last run)."""
        placed = self.place_inputs(inputs)

        reporter.phase("warmup")
        warmup_total = max(settings.warmup, 1)
        started = time.perf_counter()
        outputs = self.infer(placed)
        self.synchronize()
        first_inference_s = time.perf_counter() - started
        reporter.progress("warmup", 1, warmup_total, first_inference_s)
        for done in range(2, warmup_total + 1):
            outputs = self.infer(placed)
            self.synchronize()
            reporter.progress("warmup", done, warmup_total, time.perf_counter() - started)

        reporter.phase("measure")
        samples: list[float] = []
        loop_start = time.perf_counter()
        last_report = loop_start
        while True:
            before = time.perf_counter()
            outputs = self.infer(placed)
            self.synchronize()
            after = time.perf_counter()
            samples.append(after - before)
            elapsed = after - loop_start
            finished = len(samples) >= settings.iterations and elapsed >= settings.min_seconds
            if finished or after - last_report >= PROGRESS_INTERVAL_S:
                reporter.progress("measure", len(samples), settings.iterations, elapsed, statistics.median(samples))
                last_report = after
            if finished:
                break
        return samples, first_inference_s, self.outputs_to_numpy(outputs)
