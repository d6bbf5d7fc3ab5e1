"""The webgpu and webnn runner: PyTorch -> ONNX -> ONNX Runtime Web in headless Chromium.

Phases:
- load: the PyTorch model on the CPU (only to export it) and example inputs.
- convert: ONNX export, cached under `paths.converted_models_dir()/onnx`.
- compile: lay out the job folder, start the loopback server, open the page,
  create the ONNX Runtime Web sessions with the `webgpu` or `webnn` provider.
- warmup, measure: timed in the page with performance.now(); every sample
  comes back to Python.

The worker compares the outputs with its PyTorch CPU reference like on every
other platform.
"""

from __future__ import annotations

import gc
import logging
import os
import re
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from vt_core import paths
from vt_core.catalog import ResolvedModel
from vt_core.records import JobSpec, Settings
from vt_core.runners.base import PROGRESS_INTERVAL_S, ConversionError, PlatformUnavailableError, Reporter, Runner
from vt_core.runners.browser import probe as browser_probe
from vt_core.runners.browser import export, ortweb
from vt_core.runners.browser.chromium import ChromiumNotFound, chromium_executable
from vt_core.runners.browser.session import PageError, PageSession
from vt_core.tasks.base import ModelLoadError, Task

log = logging.getLogger(__name__)

MIB = float(1 << 20)

PAGE_TASKS = {"clip": "clip", "blip": "blip"}
"""Model family -> the inference routine of runner.mjs."""


OWNER_FILE = "owner.pid"


def job_folder_root() -> Path:
    """Return the parent of the per-job folders; next to the ONNX Runtime Web install so files hard-link."""
    return paths.data_dir() / "browser" / "jobs"


def new_job_workspace(job_id: str) -> tuple[Path, Path]:
    """Create `<root>/<job_id>/` and return (served folder, Chromium profile parent) inside it.

    The workspace records the worker's pid, and workspaces whose worker no
    longer runs (killed on timeout or cancel, so its cleanup never ran) are
    deleted first.
    """
    import psutil

    root = job_folder_root()
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.iterdir():
        try:
            owner = int((stale / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        if not psutil.pid_exists(owner):
            log.info("removing the workspace of a worker that no longer runs: %s", stale)
            shutil.rmtree(stale, ignore_errors=True)
    workspace = root / (job_id or f"job-{time.time_ns()}")
    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / OWNER_FILE).write_text(str(os.getpid()))
    return workspace / "served", workspace / "profiles"


class BrowserRunError(RuntimeError):
    """The page failed to create a session or to run; `error_type` is one of records.ERROR_TYPES."""

    error_type = "runtime_error"


# The worker classifies failures by exception type, so each error type the page
# can produce gets a class that derives from the type the worker maps to it.
class BrowserOutOfMemory(BrowserRunError, MemoryError):
    error_type = "out_of_memory"


class BrowserUnsupportedOp(BrowserRunError, NotImplementedError):
    error_type = "unsupported_op"


class BrowserModelLoadError(BrowserRunError, ModelLoadError):
    error_type = "load_error"


_ERROR_CLASSES: dict[str, type[BrowserRunError]] = {
    cls.error_type: cls for cls in (BrowserRunError, BrowserOutOfMemory, BrowserUnsupportedOp, BrowserModelLoadError)
}


_UNSUPPORTED = re.compile(
    r"could not find an implementation|not implemented|unsupported|is not supported|no kernel|"
    r"failed to find kernel|not support",
    re.IGNORECASE,
)
_OUT_OF_MEMORY = re.compile(
    r"out of memory|\boom\b|array buffer allocation failed|could not allocate memory|"
    r"memory access out of bounds|maximum call stack",
    re.IGNORECASE,
)
_LOAD = re.compile(r"protobuf|failed to load model|invalid model|can't create a session|load model", re.IGNORECASE)


def classify_page_error(error: PageError) -> str:
    """Return the error type for an error the page reported."""
    text = f"{error.name}: {error.message}"
    if _OUT_OF_MEMORY.search(text):
        return "out_of_memory"
    if _UNSUPPORTED.search(text):
        return "unsupported_op"
    if error.stage == "create_session" and _LOAD.search(text):
        return "load_error"
    return "runtime_error"


def _page_failure(error: PageError, action: str) -> BrowserRunError:
    cls = _ERROR_CLASSES[classify_page_error(error)]
    console = [line for line in error.console if "error" in line.lower()][-5:]
    detail = ("\nbrowser console:\n" + "\n".join(console)) if console else ""
    return cls(f"{action} failed in the page ({error.stage}): {error.name}: {error.message}{detail}")


class BrowserRunner(Runner):
    """Run a CLIP or BLIP model with ONNX Runtime Web's `webgpu` or `webnn` execution provider."""

    def __init__(self, platform: str):
        if platform not in ("webgpu", "webnn"):
            raise ValueError(f"platform {platform!r} is invalid for the browser runner; use webgpu or webnn")
        super().__init__(platform)
        self.provider = platform
        self.task: Task | None = None
        self.family: str | None = None
        self.settings: Settings | None = None
        self.torch_model: Any = None
        self.example_inputs: dict[str, np.ndarray] = {}
        self.exported: export.ExportedModel | None = None
        self.session: PageSession | None = None
        self.generation: dict[str, Any] | None = None
        self.webnn_device_type: str | None = None
        self.platform_entry: dict[str, Any] | None = None
        self.page_memory_mb: float | None = None
        self.workspace: Path | None = None

    # --- availability -------------------------------------------------------------

    def unavailable_reason(self, spec: JobSpec) -> str | None:
        try:
            ortweb.require_install()
        except ortweb.OrtWebNotInstalled as error:
            return str(error)
        try:
            chromium_executable()
        except ChromiumNotFound as error:
            return str(error)
        entries = {entry["name"]: entry for entry in browser_probe.detect()}
        entry = entries[self.platform]
        self.platform_entry = entry
        if not entry["available"]:
            return entry["reason"]
        device_ids = [device["id"] for device in entry["devices"]]
        if spec.device and spec.device not in device_ids:
            return f"device {spec.device!r} not found on {self.platform}; available: {', '.join(device_ids) or 'none'}"
        return None

    # --- preparation --------------------------------------------------------------

    def load(self, model: ResolvedModel, task: Task, spec: JobSpec, reporter: Reporter) -> None:
        if model.family not in PAGE_TASKS:
            from vt_core.worker import InvalidJobError

            raise InvalidJobError(
                f"model family {model.family!r} is not supported in the browser; supported: {', '.join(PAGE_TASKS)}",
            )
        self.task = task
        self.family = model.family
        self.settings = spec.settings
        if spec.settings.precision != "f32":
            self.extra["precision_note"] = f"requested {spec.settings.precision}; the browser runner exports and runs f32"
        self.torch_model = task.load_torch_model(model.path, "cpu")
        self.parameter_count = sum(parameter.numel() for parameter in self.torch_model.parameters())
        # Export traces with the job's own input shapes: the worker has just cached
        # the inputs it will pass to measure(), so this reads them back.
        from vt_core.tasks.reference import get_inputs

        self.example_inputs, _ = get_inputs(
            model, task, spec.settings, lambda: task.make_inputs(task.load_processor(model.path), spec.settings),
        )

    def convert(self, model: ResolvedModel, task: Task, spec: JobSpec, reporter: Reporter) -> None:
        import torch

        inputs = {name: torch.from_numpy(np.ascontiguousarray(array)) for name, array in self.example_inputs.items()}
        try:
            if self.family == "clip":
                self.exported = export.export_clip(self.torch_model, inputs)
            else:
                text_config = self.torch_model.config.text_config
                # BlipForConditionalGeneration.generate starts every caption from
                # the bos token alone and ends it at [SEP]; the task suppresses
                # [SEP] until max_new_tokens tokens exist.
                prompt = [int(text_config.bos_token_id)]
                self.generation = {
                    "promptIds": prompt,
                    "maxNewTokens": spec.settings.max_new_tokens,
                    "minNewTokens": spec.settings.max_new_tokens,
                    "eosTokenId": int(text_config.sep_token_id) if text_config.sep_token_id is not None else None,
                    "padTokenId": int(text_config.pad_token_id or 0),
                }
                self.exported = export.export_blip(self.torch_model, inputs["pixel_values"], torch.tensor([prompt]))
        except export.ExportError as error:
            raise ConversionError(str(error)) from error
        self.extra["onnx"] = {
            "opset": export.OPSET,
            "exporter": "torch.onnx.export (TorchScript, dynamo=False)",
            "graphs": self.exported.graphs,
            "cache_hit": self.exported.cached,
            "cache_folder": str(self.exported.folder),
            "export_time_s": self.exported.export_time_s,
            "generation_loop": "in the page, greedy, no key/value cache" if self.family == "blip" else None,
        }
        # The browser loads its own copy of the weights, so free PyTorch's.
        self.torch_model = None
        gc.collect()

    def compile(self, model: ResolvedModel, task: Task, spec: JobSpec, reporter: Reporter) -> None:
        install = ortweb.require_install()
        served, profiles = new_job_workspace(spec.job_id)
        self.workspace = served.parent
        self.session = PageSession(served, install, timeout_s=spec.settings.timeout_s, profile_parent=profiles)
        graphs = {role: self.exported.path(role) for role in self.exported.graphs}
        names = self.session.lay_out(self.provider, graphs)
        browser = self.session.open()

        probe = browser.call("probe", {"webnnDeviceTypes": list(browser_probe.WEBNN_DEVICE_TYPES)})
        self._record_platform(probe, spec, browser.browser_version, install.version)

        try:
            info = self.session.setup(
                provider=self.provider,
                task=PAGE_TASKS[self.family],
                graphs=names,
                device_type=self.webnn_device_type,
                generation=self.generation,
            )
        except PageError as error:
            if self.provider == "webnn" and error.name == "NotSupportedError":
                raise PlatformUnavailableError(f"WebNN context creation failed: {error.message}") from error
            raise _page_failure(error, "creating the ONNX Runtime Web session") from error
        self.extra.update(
            ort_web_version=info.ort_version,
            ort_web_bundle=ortweb.ENTRY_MODULES[self.provider],
            execution_provider=self.provider,
            session_create_s=info.session_load_s,
            cross_origin_isolated=info.cross_origin_isolated,
            wasm_threads=info.wasm_threads,
        )

    def _record_platform(self, probe: dict[str, Any], spec: JobSpec, browser_version: str, ort_version: str) -> None:
        self.extra["browser"] = {"name": "chromium", "version": browser_version, "user_agent": probe.get("user_agent")}
        if self.provider == "webgpu":
            gpu = probe.get("webgpu") or {}
            if not gpu.get("available"):
                raise PlatformUnavailableError(gpu.get("reason") or "the page found no WebGPU adapter")
            device = browser_probe.adapter_device(gpu["adapter"])
            self.device = device["id"]
            self.extra["adapter"] = {**device, "features": gpu["adapter"].get("features", [])}
            self.extra["device_name"] = device["name"]
            if device["kind"] == "cpu-emulation":
                self.extra["cpu_emulation"] = True
            return
        nn = probe.get("webnn") or {}
        states = nn.get("devices") or {}
        available = [name for name in browser_probe.WEBNN_DEVICE_TYPES if states.get(name, {}).get("available")]
        if spec.device:
            if spec.device not in available:
                reason = states.get(spec.device, {}).get("reason") or f"WebNN device type {spec.device!r} is not available"
                raise PlatformUnavailableError(reason)
            self.webnn_device_type = spec.device
        elif available:
            self.webnn_device_type = available[0]
        else:
            raise PlatformUnavailableError(nn.get("reason") or "the page could not create a WebNN context")
        self.device = self.webnn_device_type
        self.extra["webnn_device_type"] = self.webnn_device_type
        self.extra["device_name"] = f"WebNN {self.webnn_device_type}"

    # --- measurement ------------------------------------------------------------------

    def measure(
        self, inputs: dict[str, np.ndarray], settings: Settings, reporter: Reporter
    ) -> tuple[list[float], float, dict[str, np.ndarray]]:
        """Warm up and time in the page; return (samples_s, first_inference_s, outputs of the last run)."""
        if self.session is None:
            raise RuntimeError("measure() called before compile()")
        session = self.session
        try:
            session.set_inputs(inputs)

            reporter.phase("warmup")
            warmup_total = max(settings.warmup, 1)
            first = session.run_once()
            first_inference_s = float(first.elapsed_s or 0.0)
            warmup_elapsed = first_inference_s
            reporter.progress("warmup", 1, warmup_total, warmup_elapsed)
            for done in range(2, warmup_total + 1):
                warmup_elapsed += float(session.run_once().elapsed_s or 0.0)
                reporter.progress("warmup", done, warmup_total, warmup_elapsed)

            reporter.phase("measure")
            last_report = [0.0]

            def progress(samples: list[float], elapsed: float) -> None:
                now = time.perf_counter()
                if now - last_report[0] >= PROGRESS_INTERVAL_S:
                    reporter.progress("measure", len(samples), settings.iterations, elapsed, statistics.median(samples))
                    last_report[0] = now

            result = session.measure(settings.iterations, settings.min_seconds, progress)
            reporter.progress(
                "measure", len(result.samples_s), settings.iterations, result.elapsed_s, statistics.median(result.samples_s)
            )
            outputs = session.last_output().arrays
        except PageError as error:
            raise _page_failure(error, "inference") from error

        self.extra["page_timed_loop_s"] = result.elapsed_s
        memory = session.memory()
        self.extra["browser_memory"] = memory
        if memory.get("bytes") is not None:
            self.page_memory_mb = memory["bytes"] / MIB
            self.extra["peak_rss_method"] = (
                "browser: performance.measureUserAgentSpecificMemory after the timed loop (the page's JavaScript "
                "heap plus WebAssembly memory, which never shrinks; WebGPU buffers in the GPU process are excluded)"
            )
        else:
            self.extra["peak_rss_method"] = f"none: the browser exposed no memory figure ({memory.get('reason')})"
        return result.samples_s, first_inference_s, outputs

    def memory_stats(self) -> dict[str, float | None]:
        # Inference ran in Chromium, so the worker's own RSS (PyTorch loaded for
        # the export) does not measure it. Report the page's figure or None.
        return {"peak_rss_mb": self.page_memory_mb}

    def close(self) -> None:
        self.torch_model = None
        try:
            if self.session is not None:
                self.session.close()
                self.session = None
        finally:
            if self.workspace is not None:
                shutil.rmtree(self.workspace, ignore_errors=True)
                self.workspace = None
