"""One job's browser session: the served folder, the Chromium page, and the calls into it.

`PageSession` lays out a private folder with the page, the ONNX Runtime Web
files, the exported graphs and the input tensors. It serves the folder from a
loopback server, opens it in headless Chromium and calls `window.vtRunner`. Files are
hard-linked when the folder shares a file system with the caches and copied
otherwise, because the server refuses symlinks that leave the folder. The
folder, the server and the browser all go away in `close()`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vt_core.runners.browser import ortweb
from vt_core.runners.browser.chromium import BrowserPage, open_runner_page
from vt_core.runners.browser.server import JobFileServer

log = logging.getLogger(__name__)

ASSETS_DIR = Path(__file__).with_name("assets")
INPUTS_MANIFEST = "inputs.json"
INPUTS_DATA = "inputs.bin"

MEASURE_CHUNK_MS = 500.0
"""Maximum time the page spends timing before it returns samples, so progress can be reported."""
MEMORY_TIMEOUT_MS = 5000


class PageError(Exception):
    """The page reported an error; `name` and `stage` are the browser's."""

    def __init__(self, stage: str, name: str, message: str, console: list[str] | None = None) -> None:
        super().__init__(f"{stage}: {name}: {message}")
        self.stage = stage
        self.name = name
        self.message = message
        self.console = console or []


@dataclass
class PageOutput:
    arrays: dict[str, np.ndarray]
    """Output name -> array, named like the task's reference outputs."""
    elapsed_s: float | None = None


@dataclass
class MeasureResult:
    samples_s: list[float]
    elapsed_s: float
    """Sum of the page's timed stretches; round trips to Python between stretches are excluded."""


@dataclass
class SetupInfo:
    ort_version: str | None
    session_load_s: dict[str, float]
    import_s: float
    cross_origin_isolated: bool
    wasm_threads: int | None
    io: dict[str, Any] = field(default_factory=dict)


def _place(source: Path, target: Path) -> None:
    """Hard-link `source` to `target`, or copy it when linking is not possible."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def write_inputs(folder: Path, tensors: dict[str, np.ndarray]) -> None:
    """Write tensors as one little-endian binary file plus a JSON manifest for the page."""
    entries = []
    offset = 0
    with (folder / INPUTS_DATA).open("wb") as handle:
        for name, value in tensors.items():
            array = np.ascontiguousarray(value)
            if array.dtype == np.float64:
                array = array.astype(np.float32)
            if array.dtype not in (np.float32, np.int64, np.int32):
                raise TypeError(f"input {name} has dtype {array.dtype}; the page accepts float32, int64 and int32")
            data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
            handle.write(data)
            # Typed arrays need offsets aligned to their element size; 8 covers all three.
            padding = (-len(data)) % 8
            handle.write(b"\x00" * padding)
            entries.append({"name": name, "dtype": str(array.dtype), "dims": list(array.shape), "offset": offset})
            offset += len(data) + padding
    manifest = {"data": INPUTS_DATA, "tensors": entries}
    (folder / INPUTS_MANIFEST).write_text(json.dumps(manifest))


class PageSession:
    """Serve a job folder and drive the runner page in headless Chromium."""

    def __init__(self, folder: Path, install: ortweb.OrtWebInstall, *, timeout_s: float = 900.0,
                 profile_parent: Path | None = None) -> None:
        self.folder = folder
        self.profile_parent = profile_parent
        self.install = install
        self.timeout_s = timeout_s
        self._stack = contextlib.ExitStack()
        self.server: JobFileServer | None = None
        self.browser: BrowserPage | None = None
        self.setup_info: SetupInfo | None = None

    # -- folder -----------------------------------------------------------------

    def lay_out(self, provider: str, graphs: dict[str, Path]) -> dict[str, str]:
        """Fill the folder with the page, the runtime and the graphs; return graph role -> file name."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for asset in ASSETS_DIR.iterdir():
            if asset.is_file():
                shutil.copyfile(asset, self.folder / asset.name)
        runtime = self.folder / "ort"
        runtime.mkdir(exist_ok=True)
        for path in self.install.runtime_files(provider):
            _place(path, runtime / path.name)
        names = {}
        for role, path in graphs.items():
            name = f"{role}.onnx"
            _place(path, self.folder / name)
            names[role] = name
        return names

    # -- browser ----------------------------------------------------------------

    def open(self) -> BrowserPage:
        """Start the server and open the page; call once after `lay_out`."""
        self.server = self._stack.enter_context(JobFileServer(self.folder))
        self.browser = self._stack.enter_context(
            open_runner_page(self.server.url("index.html"), timeout_s=self.timeout_s, profile_parent=self.profile_parent)
        )
        return self.browser

    def _call(self, function: str, argument: Any = None) -> dict[str, Any]:
        if self.browser is None:
            raise RuntimeError("the page is not open; call open() first")
        answer = self.browser.call(function, argument)
        if not answer.get("ok"):
            error = answer.get("error") or {}
            raise PageError(
                error.get("stage", function), error.get("name", "Error"), error.get("message", "unknown error"),
                list(self.browser.console),
            )
        return answer

    def setup(self, *, provider: str, task: str, graphs: dict[str, str], device_type: str | None = None,
              generation: dict[str, Any] | None = None) -> SetupInfo:
        """Import ONNX Runtime Web in the page and create one inference session per graph."""
        if self.server is None:
            raise RuntimeError("the page is not open; call open() first")
        answer = self._call("setup", {
            "ortModule": self.server.url(f"ort/{ortweb.ENTRY_MODULES[provider]}"),
            "wasmPaths": self.server.url("ort/"),
            "provider": provider,
            "deviceType": device_type,
            "task": task,
            "models": {role: self.server.url(name) for role, name in graphs.items()},
            "generation": generation,
        })
        self.setup_info = SetupInfo(
            ort_version=answer.get("ort_version"),
            session_load_s={k: v / 1000.0 for k, v in answer.get("session_ms", {}).items()},
            import_s=answer.get("import_ms", 0.0) / 1000.0,
            cross_origin_isolated=bool(answer.get("cross_origin_isolated")),
            wasm_threads=answer.get("wasm_threads"),
            io=answer.get("io", {}),
        )
        return self.setup_info

    def set_inputs(self, inputs: dict[str, np.ndarray]) -> None:
        """Write the input tensors into the folder and load them in the page."""
        if self.server is None:
            raise RuntimeError("the page is not open; call open() first")
        write_inputs(self.folder, inputs)
        self._call("setInputs", {"manifest": self.server.url(INPUTS_MANIFEST)})

    def run_once(self) -> PageOutput:
        """Run one inference and return its outputs with the page-measured time."""
        answer = self._call("runOnce")
        return PageOutput(_to_arrays(answer["outputs"]), answer["elapsed_ms"] / 1000.0)

    def last_output(self) -> PageOutput:
        """Return the outputs of the latest inference, timed or not."""
        answer = self._call("lastOutput")
        return PageOutput(_to_arrays(answer["outputs"]))

    def measure(self, iterations: int, min_seconds: float,
                progress: Callable[[list[float], float], None] | None = None) -> MeasureResult:
        """Time inferences in the page until there are `iterations` samples and `min_seconds` of timed work.

        The page times each inference with performance.now() and returns after
        about MEASURE_CHUNK_MS so `progress(samples_s, elapsed_s)` can run.
        """
        samples: list[float] = []
        elapsed = 0.0
        while len(samples) < iterations or elapsed < min_seconds:
            if len(samples) < iterations:
                count, max_ms = iterations - len(samples), MEASURE_CHUNK_MS
            else:
                count, max_ms = 1_000_000, min(MEASURE_CHUNK_MS, (min_seconds - elapsed) * 1000.0)
            answer = self._call("timeIterations", {"count": count, "maxMs": max_ms})
            samples.extend(ms / 1000.0 for ms in answer["samples_ms"])
            elapsed += answer["elapsed_ms"] / 1000.0
            if progress is not None:
                progress(samples, elapsed)
        return MeasureResult(samples, elapsed)

    def memory(self) -> dict[str, Any]:
        """Return the page's memory as measured by the browser, with its source.

        `bytes` comes from performance.measureUserAgentSpecificMemory (JavaScript
        heap plus WebAssembly memory of the page; WebGPU buffers live in the GPU
        process and are not included); None when the browser does not expose it.
        """
        memory: dict[str, Any] = {"bytes": None, "source": None}
        try:
            answer = self._call("measureMemory", {"timeoutMs": MEMORY_TIMEOUT_MS})
        except PageError as error:
            memory["reason"] = str(error)
            return memory
        if answer.get("bytes") is not None:
            memory.update(bytes=int(answer["bytes"]), source="performance.measureUserAgentSpecificMemory",
                          breakdown=answer.get("breakdown"))
        else:
            memory["reason"] = answer.get("reason")
        if self.browser is not None:
            try:
                metrics = self.browser.cdp_metrics()
                memory["cdp_js_heap_used_bytes"] = metrics.get("JSHeapUsedSize")
                memory["cdp_js_heap_total_bytes"] = metrics.get("JSHeapTotalSize")
            except Exception as error:  # CDP is best effort; Playwright raises its own Error
                log.debug("CDP Performance.getMetrics failed: %s", error)
        return memory

    def console(self) -> list[str]:
        return list(self.browser.console) if self.browser else []

    def close(self) -> None:
        """Close the browser, stop the server and delete the folder."""
        try:
            if self.browser is not None:
                with contextlib.suppress(Exception):
                    self.browser.call("release")
            self._stack.close()
        finally:
            self.browser = None
            self.server = None
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> "PageSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _to_arrays(outputs: dict[str, Any]) -> dict[str, np.ndarray]:
    return {
        name: np.asarray(tensor["data"], dtype=np.dtype(tensor.get("dtype") or "float32")).reshape(tensor["dims"])
        for name, tensor in outputs.items()
    }
