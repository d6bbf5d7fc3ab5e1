"""Detect WebGPU and WebNN by asking headless Chromium.

One browser launch covers both platforms: the probe page requests a WebGPU
adapter and tries `navigator.ml.createContext()` for each WebNN device type.
Chromium's SwiftShader adapter runs WebGPU on the CPU; it is reported with
kind `cpu-emulation` and the device id `swiftshader-cpu-emulation` so results
never pass it off as a GPU.
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
import re
from pathlib import Path
from typing import Any

from vt_core.runners.browser import ortweb

log = logging.getLogger(__name__)

ASSETS_DIR = Path(__file__).with_name("assets")
WEBNN_DEVICE_TYPES = ("gpu", "npu", "cpu")
"""Probed WebNN device types, in the order a job without a device picks from."""

SWIFTSHADER_DEVICE_ID = "swiftshader-cpu-emulation"
SWIFTSHADER_LABEL = "webgpu (SwiftShader CPU emulation)"

PROBE_TIMEOUT_S = 90.0


def _playwright_version() -> str | None:
    try:
        return importlib.metadata.version("playwright")
    except importlib.metadata.PackageNotFoundError:
        return None


@functools.lru_cache(maxsize=1)
def probe_browser(timeout_s: float = PROBE_TIMEOUT_S) -> dict[str, Any]:
    """Launch Chromium once, run the page's probe, and return its result plus `browser_version`.

    Returns `{"ok": False, "error": {...}}` instead of raising when the browser
    cannot start, so detection always produces a platform entry.
    """
    from vt_core.runners.browser.chromium import ChromiumNotFound, open_runner_page
    from vt_core.runners.browser.server import JobFileServer

    if _playwright_version() is None:
        return {"ok": False, "error": {"name": "missing_dependency", "message":
                "the playwright Python package is not installed; run `pip install playwright` "
                "(no browser download is needed: vt-tui uses the system Chromium)"}}
    try:
        with JobFileServer(ASSETS_DIR) as server, open_runner_page(server.url("index.html"), timeout_s=timeout_s) as browser:
            answer = browser.call("probe", {"webnnDeviceTypes": list(WEBNN_DEVICE_TYPES)})
            answer["browser_version"] = browser.browser_version
            answer["executable"] = browser.executable
            return answer
    except ChromiumNotFound as error:
        return {"ok": False, "error": {"name": "missing_dependency", "message": str(error)}}
    except Exception as error:  # Playwright raises its own Error and TimeoutError types
        log.warning("the browser probe failed: %s", error)
        return {"ok": False, "error": {"name": type(error).__name__, "message": f"launching Chromium for the probe failed: {error}"}}


def adapter_device(adapter: dict[str, Any]) -> dict[str, Any]:
    """Describe a WebGPU adapter as a platform device, labelling SwiftShader as CPU emulation."""
    emulated = bool(adapter.get("is_fallback_adapter")) or adapter.get("architecture") == "swiftshader"
    if emulated:
        device_id = SWIFTSHADER_DEVICE_ID if adapter.get("architecture") == "swiftshader" else "fallback-cpu-emulation"
        name = SWIFTSHADER_LABEL if device_id == SWIFTSHADER_DEVICE_ID else "webgpu (fallback adapter, CPU emulation)"
    else:
        parts = [adapter.get("vendor"), adapter.get("architecture")]
        device_id = re.sub(r"[^a-z0-9]+", "-", "-".join(p for p in parts if p).lower()).strip("-") or "gpu"
        name = adapter.get("description") or " ".join(p for p in parts if p) or "WebGPU adapter"
    return {
        "id": device_id,
        "name": name,
        "kind": "cpu-emulation" if emulated else "gpu",
        "vendor": adapter.get("vendor") or None,
        "architecture": adapter.get("architecture") or None,
        "device": adapter.get("device") or None,
        "description": adapter.get("description") or None,
        "fallback_adapter": bool(adapter.get("is_fallback_adapter")),
    }


def _versions(probe: dict[str, Any], install: ortweb.OrtWebInstall | None) -> dict[str, str | None]:
    return {
        "chromium": probe.get("browser_version"),
        "onnxruntime-web": install.version if install else None,
        "playwright": _playwright_version(),
    }


def platforms_from_probe(probe: dict[str, Any], install: ortweb.OrtWebInstall | None) -> list[dict[str, Any]]:
    """Turn a probe result into the webgpu and webnn platform entries."""
    versions = _versions(probe, install)
    if not probe.get("ok"):
        reason = probe.get("error", {}).get("message", "the browser probe failed")
        return [
            {"name": name, "available": False, "reason": reason, "devices": [], "versions": versions}
            for name in ("webgpu", "webnn")
        ]

    missing_runtime = None if install else (
        f"ONNX Runtime Web is not installed; run `{ortweb.SETUP_COMMAND}` (needs Node.js and npm)"
    )

    gpu = probe["webgpu"]
    gpu_devices = [adapter_device(gpu["adapter"])] if gpu.get("available") else []
    webgpu = {
        "name": "webgpu",
        "available": bool(gpu.get("available")) and install is not None,
        "reason": gpu.get("reason") or missing_runtime,
        "devices": gpu_devices,
        "versions": versions,
    }

    nn = probe["webnn"]
    nn_devices = [
        {"id": device_type, "name": f"WebNN {device_type}", "kind": device_type}
        for device_type, state in (nn.get("devices") or {}).items()
        if state.get("available")
    ]
    webnn = {
        "name": "webnn",
        "available": bool(nn.get("available")) and install is not None,
        "reason": nn.get("reason") or missing_runtime,
        "devices": nn_devices,
        "versions": versions,
    }
    return [webgpu, webnn]


def detect() -> list[dict[str, Any]]:
    """Return the webgpu and webnn platform entries (name, available, reason, devices, versions)."""
    return platforms_from_probe(probe_browser(), ortweb.find_install())
