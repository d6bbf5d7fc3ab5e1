"""The worker process: runs ONE job and streams its events. Run as `python -m vt_core.worker`.

Protocol: the worker reads one `JobSpec` JSON object from standard input and
writes `vt_core.events` lines to its original standard output. At start it
duplicates that file descriptor for the protocol and points descriptor 1 at
standard error, so prints from torch, transformers or OpenVINO never corrupt the
protocol. It ends with exactly one `result` event holding `JobResult.to_dict()`
and exits 0, also for failed jobs. It exits 2 without a result only when
standard input is not a valid JobSpec.

Phases, in order: start, resolve, reference, load, convert, compile, warmup,
measure, compare, done. `result.phase_times_s` has the wall time of each, plus
`import` (importing torch, transformers and the platform library, inside start).

Memory: the baseline is the resident set size after the imports. Before the
measured model loads, the reference model is freed (gc, malloc_trim) and the peak
counter is reset by writing 5 to /proc/self/clear_refs (Linux 4.0+), so
`peak_rss_mb` = VmHWM after measuring minus the baseline, in MiB. Where the reset
is impossible, the peak falls back to getrusage's ru_maxrss, which also covers the
reference phase; result.extra["peak_rss_method"] names the method used.

Test hook: the environment variable VT_WORKER_FAULT="<phase>:<kind>" makes the
worker fail on entering <phase>, after reporting it. <kind> is `crash`
(os.abort(), no result), `hang` (sleeps until killed) or `oom` (raises
MemoryError, reported as out_of_memory). It exists so the launcher's timeout,
crash and out-of-memory handling can be tested with real processes.
"""

from __future__ import annotations

import ctypes
import dataclasses
import gc
import json
import os
import resource
import signal
import sys
import threading
import time
import traceback
from typing import Any, TextIO

from vt_core import catalog, events
from vt_core.records import MISMATCH, PASS, PHASES, PLATFORMS, UNAVAILABLE, JobResult, JobSpec, utc_now

FAULT_VARIABLE = "VT_WORKER_FAULT"
FAULT_KINDS = ("crash", "hang", "oom")

# Pip names of modules whose absence makes a platform unusable.
PIP_NAMES = {
    "torch": "torch (pick the build for this machine at https://pytorch.org)",
    "transformers": "transformers",
    "openvino": "openvino",
    "PIL": "pillow",
    "tokenizers": "tokenizers",
    "safetensors": "safetensors",
    "playwright": "playwright",
    "onnx": "onnx",
    "onnxruntime": "onnxruntime",
    "huggingface_hub": "huggingface_hub",
}

OOM_MARKERS = ("out of memory", "std::bad_alloc", "cannot allocate memory", "failed to allocate", "memory allocation failed")
UNSUPPORTED_MARKERS = (
    "not supported",
    "not implemented",
    "unsupported operation",
    "unsupported op",
    "no conversion rule",
)
BACKEND_PHASES = ("convert", "compile", "warmup", "measure")


class InvalidJobError(ValueError):
    """The job's settings, platform or task are invalid for this model."""


# --- protocol --------------------------------------------------------------------------


def take_protocol_stream() -> TextIO:
    """Return a stream on the original standard output and point descriptor 1 at standard error."""
    sys.stdout.flush()
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    return os.fdopen(protocol_fd, "w", buffering=1, encoding="utf-8")


class ProtocolReporter:
    """Writes protocol events and records the wall time of each phase."""

    def __init__(self, stream: TextIO, fault: str | None = None):
        self.stream = stream
        self.phase_times: dict[str, float] = {}
        self.current: str | None = None
        self._phase_started = time.perf_counter()
        self.fault_phase, self.fault_kind = self._parse_fault(fault)

    def _parse_fault(self, fault: str | None) -> tuple[str | None, str | None]:
        if not fault:
            return None, None
        phase, _, kind = fault.partition(":")
        if phase not in PHASES or kind not in FAULT_KINDS:
            self.log(
                f"ignoring {FAULT_VARIABLE}={fault!r}: expected <phase>:<kind> with a phase of "
                f"{', '.join(PHASES)} and a kind of {', '.join(FAULT_KINDS)}",
                level="warning",
            )
            return None, None
        return phase, kind

    def _send(self, event: str, **fields: Any) -> None:
        self.stream.write(events.encode(event, **fields))
        self.stream.flush()

    def close_phase(self) -> None:
        now = time.perf_counter()
        if self.current is not None:
            self.phase_times[self.current] = self.phase_times.get(self.current, 0.0) + now - self._phase_started
        self._phase_started = now

    def phase(self, name: str) -> None:
        self.close_phase()
        self.current = name
        self._send(events.PHASE, phase=name)
        if name == self.fault_phase:
            self._inject_fault(name)

    def progress(self, phase: str, done: int, total: int, elapsed_s: float, median_s: float | None = None) -> None:
        self._send(events.PROGRESS, phase=phase, done=done, total=total, elapsed_s=round(elapsed_s, 6), median_s=median_s)

    def log(self, message: str, level: str = "info") -> None:
        self._send(events.LOG, level=level, message=message)

    def result(self, result: JobResult) -> None:
        self._send(events.RESULT, result=result.to_dict())

    def _inject_fault(self, phase: str) -> None:
        self.log(f"{FAULT_VARIABLE}: injecting {self.fault_kind} in phase {phase}", level="warning")
        if self.fault_kind == "crash":
            os.abort()
        if self.fault_kind == "hang":
            while True:
                time.sleep(3600)
        raise MemoryError(f"{FAULT_VARIABLE} injected an out-of-memory error in phase {phase}")


# --- memory ----------------------------------------------------------------------------


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def rss_mib() -> float | None:
    """Return the current resident set size in MiB, or None where /proc is missing."""
    kib = _status_kib("VmRSS")
    if kib is not None:
        return kib / 1024
    try:
        import psutil

        return psutil.Process().memory_info().rss / (1 << 20)
    except ImportError:
        return None


def release_memory() -> None:
    """Collect garbage and return freed heap pages to the OS (glibc malloc_trim) where possible."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS through /proc/self/clear_refs; return False where impossible."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
    except OSError:
        return False
    return _status_kib("VmHWM") is not None


def peak_rss_mib(reset_worked: bool) -> float | None:
    if reset_worked:
        kib = _status_kib("VmHWM")
        if kib is not None:
            return kib / 1024
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is KiB on Linux and bytes on macOS.
    return maxrss / (1 << 20) if sys.platform == "darwin" else maxrss / 1024


# --- errors --------------------------------------------------------------------------------


def _exception_chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def error_text(exc: BaseException) -> str:
    """Return `Type: message` plus the innermost frame, the last lines of a Python traceback."""
    text = f"{type(exc).__name__}: {exc}"
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        text += f"\n  at {os.path.basename(last.filename)}:{last.lineno} in {last.name}"
    return text


def missing_dependency_message(exc: ImportError) -> str:
    name = (exc.name or "").split(".")[0] or "a required package"
    pip_name = PIP_NAMES.get(name, name)
    return f"Python package {name!r} is missing ({exc}); install it with `pip install {pip_name}`"


def classify(exc: BaseException, phase: str | None) -> tuple[str, str]:
    """Return (error_type, message) for an exception raised in `phase`."""
    from vt_core.runners.base import ConversionError
    from vt_core.tasks.base import ModelLoadError

    chain = _exception_chain(exc)
    text = error_text(exc)
    for item in chain:
        lowered = str(item).lower()
        if isinstance(item, MemoryError) or type(item).__name__ == "OutOfMemoryError":
            return "out_of_memory", text
        if any(marker in lowered for marker in OOM_MARKERS):
            return "out_of_memory", text
    if isinstance(exc, catalog.ModelNotFoundError):
        return "model_not_found", str(exc)
    if isinstance(exc, InvalidJobError):
        return "invalid_settings", str(exc)
    for item in chain:
        if isinstance(item, ImportError):
            return "missing_dependency", missing_dependency_message(item) + "\n" + text
    if isinstance(exc, catalog.ModelNotSupportedError):
        return "load_error", text
    if phase in BACKEND_PHASES:
        for item in chain:
            lowered = str(item).lower()
            if isinstance(item, NotImplementedError) or any(marker in lowered for marker in UNSUPPORTED_MARKERS):
                return "unsupported_op", text
    if any(isinstance(item, ConversionError) for item in chain) or phase == "convert":
        return "conversion_error", text
    if any(isinstance(item, ModelLoadError) for item in chain) or phase == "load":
        return "load_error", text
    return "runtime_error", text


# --- the job -------------------------------------------------------------------------------


def _import_libraries(platform: str) -> None:
    """Import the libraries every job needs, so their import time is not charged to a later phase."""
    import torch  # noqa: F401
    import transformers  # noqa: F401

    # transformers loads lazily; these pull in the modelling, processing and generation code.
    from transformers import AutoProcessor, GenerationConfig, PreTrainedModel  # noqa: F401

    if platform == "openvino":
        import openvino  # noqa: F401


class Job:
    """One job run inside this process."""

    def __init__(self, spec: JobSpec, reporter: ProtocolReporter):
        self.spec = spec
        self.reporter = reporter
        self.started_at = utc_now().isoformat()
        self.known: dict[str, Any] = {"started_at": self.started_at}
        self.extra: dict[str, Any] = {}
        self.runner = None

    def run(self) -> JobResult:
        """Run the job and return its result; every exception becomes a failed result."""
        from vt_core.runners import PlatformUnavailableError

        try:
            return self._run()
        except PlatformUnavailableError as exc:
            # A platform can turn out to be absent only once the runner starts (no WebGPU
            # adapter, no WebNN context): that is `unavailable`, not a failure.
            return self._result_unavailable(exc.reason)
        except Exception as exc:  # noqa: BLE001 - every failure must reach the parent as a result
            return self._failed(exc)
        finally:
            if self.runner is not None:
                try:
                    self.runner.close()
                except Exception as exc:  # noqa: BLE001 - closing must not replace the result
                    self.reporter.log(f"closing the runner failed: {error_text(exc)}", level="warning")

    def _check_job(self) -> None:
        from vt_core.tasks import TASKS

        try:
            self.spec.settings.validate()
        except ValueError as exc:
            raise InvalidJobError(f"invalid settings: {exc}") from exc
        if self.spec.platform not in PLATFORMS:
            raise InvalidJobError(f"platform {self.spec.platform!r} is invalid; use one of {', '.join(PLATFORMS)}")
        if self.spec.task is not None and self.spec.task not in TASKS:
            raise InvalidJobError(f"task {self.spec.task!r} is invalid; use one of {', '.join(TASKS)}")

    def _run(self) -> JobResult:
        from vt_core import machine
        from vt_core.runners import PlatformUnavailableError, get_runner
        from vt_core.tasks import get_task, task_for_family
        from vt_core.tasks.reference import get_inputs, get_reference

        spec, settings, reporter = self.spec, self.spec.settings, self.reporter
        reporter.phase("start")
        self._check_job()

        started = time.perf_counter()
        _import_libraries(spec.platform)
        self.known["phase_import_s"] = time.perf_counter() - started
        if settings.threads:
            import torch

            torch.set_num_threads(settings.threads)
        baseline = rss_mib()
        self.extra["baseline_rss_mb"] = baseline
        # The imported modules live as long as the worker. Freezing them means each later
        # gc.collect scans only what the job created (0.18 s less per collection here).
        gc.freeze()
        self.known["machine"] = machine.collect()

        try:
            self.runner = get_runner(spec.platform)
            reason = self.runner.unavailable_reason(spec)
        except PlatformUnavailableError as exc:
            reason = exc.reason
        if reason:
            return self._result_unavailable(reason)

        reporter.phase("resolve")
        model = catalog.resolve(spec.model_ref, settings.weights)
        self.known.update(
            model_id=model.model_id,
            model_family=model.family,
            model_type=model.model_type,
            architecture=model.architecture,
            weights_source=model.source,
            model_path=str(model.path),
        )
        task = get_task(spec.task) if spec.task else task_for_family(model.family)
        self.known["task"] = task.name
        if task.family != model.family:
            raise InvalidJobError(
                f"task {task.name!r} runs {task.family} models, but {model.model_id!r} is a {model.family} model; "
                f"omit the task or use {task_for_family(model.family).name!r}"
            )
        if model.architecture != task.architecture:
            raise InvalidJobError(
                f"{model.model_id!r} is a {model.architecture}; task {task.name!r} needs {task.architecture}"
            )

        reporter.phase("reference")
        # The processor is not kept: peak_rss_mb then excludes it whether or not the
        # inputs came from the cache, and captions load it again after measuring.
        inputs, inputs_info = get_inputs(
            model, task, settings, lambda: task.make_inputs(task.load_processor(model.path), settings),
        )
        self.extra["inputs"] = inputs_info
        reporter.log("inputs " + ("read from cache" if inputs_info["cache_hit"] else "built with the model's processor"))
        reference, reference_info = get_reference(model, task, inputs, settings)
        self.extra["reference"] = reference_info
        reporter.log("reference " + ("read from cache" if reference_info["cache_hit"] else "computed with PyTorch on CPU"))
        release_memory()
        reset_worked = reset_peak_rss()
        self.extra["peak_rss_method"] = (
            "VmHWM reset through /proc/self/clear_refs before loading"
            if reset_worked
            else "ru_maxrss of the whole worker (peak could not be reset; includes the reference phase)"
        )

        self.runner.prepare(model, task, spec, reporter)
        self.known["parameter_count"] = self.runner.parameter_count
        self.known["device"] = self.runner.device
        samples, first_inference_s, outputs = self.runner.measure(inputs, settings, reporter)
        peak = peak_rss_mib(reset_worked)
        if peak is not None and baseline is not None:
            self.known["peak_rss_mb"] = max(peak - baseline, 0.0)
        memory = self.runner.memory_stats()
        if "peak_rss_mb" in memory:
            # The runner's model ran outside this process (the browser runner): its figure, or None, replaces ours.
            self.known["peak_rss_mb"] = memory["peak_rss_mb"]

        reporter.phase("compare")
        comparison = task.compare(reference, outputs, self.runner.precision)
        tokenizer = getattr(task.load_processor(model.path), "tokenizer", None) if task.summary_uses_tokenizer else None
        summary = task.output_summary(outputs, tokenizer)
        status = PASS if comparison.get("ok") else MISMATCH

        reporter.phase("done")
        reporter.close_phase()
        self.extra.update(self.runner.extra)
        self.extra["precision"] = self.runner.precision
        return JobResult(
            job_id=spec.job_id,
            run_id=spec.run_id,
            model_id=model.model_id,
            platform=spec.platform,
            status=status,
            task=task.name,
            model_family=model.family,
            model_type=model.model_type,
            architecture=model.architecture,
            device=self.runner.device,
            weights_source=model.source,
            model_path=str(model.path),
            parameter_count=self.runner.parameter_count,
            error_type=None if status == PASS else "mismatch",
            error_message=None if status == PASS else comparison.get("reason", "output differs from the reference"),
            started_at=self.started_at,
            finished_at=utc_now().isoformat(),
            settings=dataclasses.asdict(settings),
            samples_s=samples,
            load_time_s=reporter.phase_times.get("load"),
            convert_time_s=reporter.phase_times.get("convert") if self.runner.has_convert_step else None,
            first_inference_s=first_inference_s,
            phase_times_s=self._phase_times(),
            peak_rss_mb=self.known.get("peak_rss_mb"),
            torch_max_allocated_mb=memory.get("torch_max_allocated_mb"),
            torch_reserved_mb=memory.get("torch_reserved_mb"),
            comparison=comparison,
            output_summary=summary,
            machine=self.known.get("machine", {}),
            extra=self.extra,
        )

    def _phase_times(self) -> dict[str, float]:
        times = dict(self.reporter.phase_times)
        if "phase_import_s" in self.known:
            times["import"] = self.known["phase_import_s"]
        return {name: round(value, 6) for name, value in times.items()}

    def _known_fields(self) -> dict[str, Any]:
        names = {field.name for field in dataclasses.fields(JobResult)}
        return {key: value for key, value in self.known.items() if key in names}

    def _result_unavailable(self, reason: str) -> JobResult:
        self.reporter.close_phase()
        return JobResult.failed(
            self.spec, "unavailable", reason, status=UNAVAILABLE,
            phase_times_s=self._phase_times(), extra=self.extra, **self._known_fields(),
        )

    def _failed(self, exc: Exception) -> JobResult:
        phase = self.reporter.current
        self.reporter.close_phase()
        error_type, message = classify(exc, phase)
        self.extra["traceback"] = "".join(traceback.format_exception(exc))
        self.extra["failed_phase"] = phase
        if self.runner is not None:
            self.extra.update(self.runner.extra)
        self.reporter.log(f"job failed in phase {phase}: {error_type}: {message.splitlines()[0]}", level="error")
        if "machine" not in self.known:
            from vt_core import machine

            self.known["machine"] = machine.collect()
        return JobResult.failed(
            self.spec, error_type, message,
            phase_times_s=self._phase_times(), extra=self.extra, **self._known_fields(),
        )


PARENT_CHECK_INTERVAL_S = 1.0


def exit_when_orphaned(interval_s: float = PARENT_CHECK_INTERVAL_S) -> None:
    """Kill this worker's process group once its parent is gone.

    The launcher starts each worker in a session of its own, so that a kill
    reaches a browser the worker started. Because of that isolation, a parent
    killed by a signal would leave the worker running. A daemon thread therefore
    polls the parent id and ends the group when the worker has been re-parented.
    """
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(interval_s)
            if os.getppid() != parent:
                try:
                    os.killpg(os.getpgrp(), signal.SIGKILL)
                finally:
                    os._exit(1)

    threading.Thread(target=watch, name="vt-parent-watch", daemon=True).start()


def main() -> int:
    protocol = take_protocol_stream()
    exit_when_orphaned()
    # Workers never touch the network: models come from local directories or the cache.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    reporter = ProtocolReporter(protocol, os.environ.get(FAULT_VARIABLE))
    raw = sys.stdin.read()
    try:
        spec = JobSpec.from_dict(json.loads(raw))
    except (json.JSONDecodeError, TypeError, KeyError, AttributeError, ValueError) as exc:
        reporter.log(f"invalid job spec on standard input ({type(exc).__name__}: {exc}); expected one JobSpec JSON object",
                     level="error")
        return 2
    result = Job(spec, reporter).run()
    reporter.result(result)
    return 0


def exit_without_shutdown(status: int) -> None:
    """Flush the output streams and end the process at once, skipping interpreter shutdown.

    With torch and transformers loaded, shutdown spends seconds in garbage
    collection (2 to 4 s per job against 0.1 s on a busy 2-core machine, measured
    with benchmarks/bench_overhead.py), and the launcher counts that time in the
    job. Job.run closes the runner before the result is sent; atexit handlers and
    object finalizers do not run.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    exit_without_shutdown(main())
