"""Detection of the seven platforms and their devices.

`detect()` runs in the current process and imports torch and openvino. Only
workers and this module's command line call it. The parent process (CLI, app)
calls `detect_in_subprocess()`, which runs `python -m vt_core.platforms --json`
and parses its output. A missing library is a reason for `available: false`,
never a crash.

Each platform is a dict:
    {"name": "cuda", "available": false, "reason": "...",
     "devices": [{"id": "cuda:0", "name": "...", ...}], "versions": {"torch": "..."}}

webgpu and webnn come from `vt_core.runners.browser.detect()`, which returns a
dict mapping "webgpu" and "webnn" to dicts of the same shape (a list of such
dicts with a "name" key is accepted too).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
from typing import Any

from vt_core import machine
from vt_core.records import BROWSER_PLATFORMS, PLATFORMS

MIB = float(1 << 20)
DETECT_TIMEOUT_S = 120.0


def _info(name: str, available: bool, reason: str | None = None, devices=None, versions=None, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "available": available,
        "reason": None if available else (reason or "not available"),
        "devices": devices or [],
        "versions": versions or {},
        **extra,
    }


def _import_torch():
    """Return the torch module, or a reason string when it cannot be imported."""
    try:
        import torch
    except ImportError as exc:
        return f"torch is not installed ({exc}); install the build for this machine from https://pytorch.org"
    return torch


def detect_cpu() -> dict[str, Any]:
    device = {
        "id": "cpu",
        "name": machine.cpu_name(),
        "logical_cores": os.cpu_count(),
        "physical_cores": machine.physical_cores(),
        "memory_total_mb": machine.memory_total_mb(),
    }
    versions = {"torch": machine.package_version("torch")}
    torch = _import_torch()
    if isinstance(torch, str):
        return _info("cpu", False, torch, [device], versions)
    device["torch_threads"] = torch.get_num_threads()
    return _info("cpu", True, devices=[device], versions=versions)


def _torch_gpu_devices(torch, platform_name: str) -> list[dict[str, Any]]:
    smi = machine.rocm_smi_gpus() if platform_name == "rocm" else machine.nvidia_smi_gpus()
    devices = []
    for index in range(torch.cuda.device_count()):
        properties = torch.cuda.get_device_properties(index)
        device = {
            "id": f"cuda:{index}",
            "name": torch.cuda.get_device_name(index),
            "memory_total_mb": round(properties.total_memory / MIB, 1),
        }
        if platform_name == "cuda":
            device["compute_capability"] = f"{properties.major}.{properties.minor}"
        if index < len(smi):
            device["driver"] = smi[index]["driver"]
        devices.append(device)
    return devices


def detect_cuda() -> dict[str, Any]:
    torch = _import_torch()
    if isinstance(torch, str):
        return _info("cuda", False, torch)
    versions = {"torch": torch.__version__, "cuda": torch.version.cuda}
    if not torch.version.cuda:
        return _info("cuda", False, f"this torch build ({torch.__version__}) has no CUDA support", versions=versions)
    if not torch.cuda.is_available():
        return _info(
            "cuda", False, "torch has CUDA support but sees no CUDA device (no driver, or CUDA_VISIBLE_DEVICES hides them)",
            versions=versions,
        )
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    versions["cudnn"] = cudnn
    return _info("cuda", True, devices=_torch_gpu_devices(torch, "cuda"), versions=versions)


def detect_rocm() -> dict[str, Any]:
    torch = _import_torch()
    if isinstance(torch, str):
        return _info("rocm", False, torch)
    hip = getattr(torch.version, "hip", None)
    versions = {"torch": torch.__version__, "hip": hip}
    if not hip:
        return _info("rocm", False, f"this torch build ({torch.__version__}) has no ROCm (HIP) support", versions=versions)
    if not torch.cuda.is_available() or torch.cuda.device_count() == 0:
        return _info("rocm", False, "torch has ROCm support but sees no AMD GPU (check the amdgpu driver and HIP_VISIBLE_DEVICES)",
                     versions=versions)
    return _info("rocm", True, devices=_torch_gpu_devices(torch, "rocm"), versions=versions)


def detect_mps() -> dict[str, Any]:
    torch = _import_torch()
    if isinstance(torch, str):
        return _info("mps", False, torch)
    versions = {"torch": torch.__version__}
    mps = getattr(torch.backends, "mps", None)
    if sys.platform != "darwin":
        return _info("mps", False, f"MPS needs macOS on Apple silicon; this is {sys.platform}", versions=versions)
    if mps is None or not mps.is_built():
        return _info("mps", False, f"this torch build ({torch.__version__}) has no MPS support", versions=versions)
    if not mps.is_available():
        return _info("mps", False, "torch has MPS support but no Metal device is available (macOS 12.3 or later needed)",
                     versions=versions)
    return _info("mps", True, devices=[{"id": "mps", "name": machine.cpu_name()}], versions=versions)


def detect_openvino() -> dict[str, Any]:
    try:
        import openvino
    except ImportError as exc:
        return _info("openvino", False, f"openvino is not installed ({exc}); run `pip install openvino`")
    versions = {"openvino": openvino.get_version()}
    try:
        core = openvino.Core()
        names = list(core.available_devices)
    except RuntimeError as exc:
        return _info("openvino", False, f"OpenVINO could not list devices: {exc}", versions=versions)
    devices = []
    for name in names:
        device: dict[str, Any] = {"id": name}
        try:
            device["name"] = core.get_property(name, "FULL_DEVICE_NAME")
        except RuntimeError as exc:
            device["name"] = None
            device["error"] = str(exc)
        devices.append(device)
    if not devices:
        return _info("openvino", False, "OpenVINO lists no device (CPU, GPU or NPU plugin)", versions=versions)
    return _info("openvino", True, devices=devices, versions=versions)


def _normalise_browser(name: str, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        return _info(name, False, f"browser detection returned no entry for {name}")
    info = _info(
        name,
        bool(raw.get("available")),
        raw.get("reason"),
        raw.get("devices"),
        raw.get("versions"),
    )
    for key, value in raw.items():
        info.setdefault(key, value)
    return info


def detect_browser() -> dict[str, dict[str, Any]]:
    """Return the webgpu and webnn entries from the browser runner, or unavailable ones with the reason."""
    try:
        browser = importlib.import_module("vt_core.runners.browser")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("vt_core.runners.browser"):
            reason = "browser runner not installed"
        else:
            reason = f"browser runner needs a missing package: {exc.name} (pip install {exc.name})"
        return {name: _info(name, False, reason) for name in sorted(BROWSER_PLATFORMS)}
    if not hasattr(browser, "detect"):
        return {name: _info(name, False, "browser runner not installed") for name in sorted(BROWSER_PLATFORMS)}
    try:
        raw = browser.detect()
    except Exception as exc:  # noqa: BLE001 - any browser failure makes both platforms unavailable
        reason = f"browser detection failed: {type(exc).__name__}: {exc}"
        return {name: _info(name, False, reason) for name in sorted(BROWSER_PLATFORMS)}
    if isinstance(raw, list):
        raw = {item.get("name"): item for item in raw if isinstance(item, dict)}
    if not isinstance(raw, dict):
        raw = {}
    return {name: _normalise_browser(name, raw.get(name)) for name in sorted(BROWSER_PLATFORMS)}


DETECTORS = {
    "cpu": detect_cpu,
    "cuda": detect_cuda,
    "rocm": detect_rocm,
    "mps": detect_mps,
    "openvino": detect_openvino,
}


def detect_platform(name: str) -> dict[str, Any]:
    """Return the entry of one platform, detected in this process; raise ValueError for an unknown name."""
    if name in BROWSER_PLATFORMS:
        return detect_browser()[name]
    try:
        detector = DETECTORS[name]
    except KeyError:
        raise ValueError(f"unknown platform {name!r}; use one of {', '.join(PLATFORMS)}") from None
    try:
        return detector()
    except Exception as exc:  # noqa: BLE001 - a detector bug must not hide the other platforms
        return _info(name, False, f"detection failed: {type(exc).__name__}: {exc}")


def detect(names: tuple[str, ...] | list[str] = PLATFORMS) -> list[dict[str, Any]]:
    """Return the entries of `names` (all seven by default) in matrix order, detected in this process."""
    unknown = [name for name in names if name not in PLATFORMS]
    if unknown:
        raise ValueError(f"unknown platform {unknown[0]!r}; use one of {', '.join(PLATFORMS)}")
    browser = detect_browser() if any(name in BROWSER_PLATFORMS for name in names) else {}
    return [browser[name] if name in BROWSER_PLATFORMS else detect_platform(name) for name in PLATFORMS if name in names]


def detect_in_subprocess(timeout: float = DETECT_TIMEOUT_S, names: tuple[str, ...] | list[str] = PLATFORMS) -> list[dict[str, Any]]:
    """Run detection in a child Python process and return its entries.

    The parent never imports torch this way. When the child fails or times out,
    every platform is returned unavailable with that reason.
    """
    command = [sys.executable, "-m", "vt_core.platforms", "--json", "--platforms", ",".join(names)]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    except subprocess.TimeoutExpired:
        return [_info(name, False, f"platform detection timed out after {timeout:g} s") for name in names]
    except OSError as exc:
        return [_info(name, False, f"platform detection failed to start: {exc}") for name in names]
    if completed.returncode == 0:
        lines = [line for line in completed.stdout.splitlines() if line.strip()]
        try:
            return json.loads(lines[-1])
        except (IndexError, json.JSONDecodeError):
            pass
    tail = (completed.stderr or completed.stdout).strip().splitlines()[-1:] or ["no output"]
    return [_info(name, False, f"platform detection failed (exit code {completed.returncode}): {tail[0]}") for name in names]


def _format_table(entries: list[dict[str, Any]]) -> str:
    lines = []
    for entry in entries:
        status = "available" if entry["available"] else f"unavailable: {entry['reason']}"
        lines.append(f"{entry['name']:<9} {status}")
        for device in entry["devices"]:
            lines.append(f"          {device.get('id')}: {device.get('name')}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vt_core.platforms", description="Detect vt-tui's platforms and devices.")
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    parser.add_argument("--platforms", default=",".join(PLATFORMS), help="comma-separated platforms to detect (default: all)")
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.platforms.split(",") if name.strip()]
    try:
        entries = detect(names)
    except ValueError as exc:
        parser.error(str(exc))
    # Library warnings may go to stdout; keep the JSON on its own last line.
    sys.stdout.write(("\n" + json.dumps(entries) if args.json else _format_table(entries)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
