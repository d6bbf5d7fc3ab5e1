"""The machine record stored with every result: host, OS, CPU, GPU and library versions.

Versions come from package metadata, so collecting them imports nothing. The GPU
name comes from torch only when torch is already imported (in a worker);
otherwise from nvidia-smi or rocm-smi when they are on PATH.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
from typing import Any

BROWSER_COMMANDS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TOOL_TIMEOUT_S = 10.0


def package_version(name: str) -> str | None:
    """Return the installed version of distribution `name`, or None when it is not installed."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


@functools.lru_cache(maxsize=1)
def cpu_name() -> str:
    """Return the CPU model name (from /proc/cpuinfo on Linux, sysctl on macOS)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if sys.platform == "darwin":
        output = _run(["sysctl", "-n", "machdep.cpu.brand_string"])
        if output:
            return output.strip()
    return platform.processor() or platform.machine() or "unknown"


def physical_cores() -> int | None:
    try:
        import psutil

        return psutil.cpu_count(logical=False)
    except ImportError:
        return None


def memory_total_mb() -> float | None:
    try:
        import psutil

        return round(psutil.virtual_memory().total / (1 << 20), 1)
    except ImportError:
        pass
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 20), 1)
    except (ValueError, OSError, AttributeError):
        return None


def _run(command: list[str]) -> str | None:
    if shutil.which(command[0]) is None:
        return None
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout if completed.returncode == 0 else None


@functools.lru_cache(maxsize=1)
def nvidia_smi_gpus() -> list[dict[str, Any]]:
    """Return [{name, driver, memory_total_mb}] from nvidia-smi, or [] without it."""
    output = _run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader,nounits"])
    gpus = []
    for line in (output or "").splitlines():
        parts = [part.strip() for part in line.split(",")]
        if len(parts) >= 3:
            try:
                memory = float(parts[2])
            except ValueError:
                memory = None
            gpus.append({"name": parts[0], "driver": parts[1], "memory_total_mb": memory})
    return gpus


@functools.lru_cache(maxsize=1)
def rocm_smi_gpus() -> list[dict[str, Any]]:
    """Return [{name, driver}] from rocm-smi, or [] without it."""
    output = _run(["rocm-smi", "--showproductname", "--showdriverversion", "--json"])
    if not output:
        return []
    try:
        data = json.loads(output)
    except json.JSONDecodeError:
        return []
    driver = (data.get("system") or {}).get("Driver version")
    gpus = []
    for key, card in data.items():
        if key.startswith("card") and isinstance(card, dict):
            name = card.get("Card Series") or card.get("Card series") or card.get("Card model") or key
            gpus.append({"name": name, "driver": driver})
    return gpus


def _gpu_from_torch() -> tuple[str | None, str | None]:
    torch = sys.modules.get("torch")
    if torch is None:
        return None, None
    try:
        if not torch.cuda.is_available():
            return None, None
        name = torch.cuda.get_device_name(0)
    except Exception:  # noqa: BLE001 - a broken driver must not stop the record
        return None, None
    driver = None
    if getattr(torch.version, "hip", None):
        smi = rocm_smi_gpus()
        driver = smi[0]["driver"] if smi else f"HIP {torch.version.hip}"
    else:
        smi = nvidia_smi_gpus()
        driver = smi[0]["driver"] if smi else None
    return name, driver


@functools.lru_cache(maxsize=1)
def browser_version() -> str | None:
    """Return the version line of the first Chromium or Chrome on PATH, or None."""
    for command in BROWSER_COMMANDS:
        output = _run([command, "--version"])
        if output:
            return output.strip().splitlines()[-1]
    return None


def collect() -> dict[str, Any]:
    """Return the machine record of this process's host."""
    gpu_name, gpu_driver = _gpu_from_torch()
    if gpu_name is None:
        for gpus in (nvidia_smi_gpus(), rocm_smi_gpus()):
            if gpus:
                gpu_name, gpu_driver = gpus[0]["name"], gpus[0]["driver"]
                break
    return {
        "hostname": socket.gethostname(),
        "os": platform.platform(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "memory_total_mb": memory_total_mb(),
        "gpu_name": gpu_name,
        "gpu_driver": gpu_driver,
        "python_version": platform.python_version(),
        "torch_version": package_version("torch"),
        "transformers_version": package_version("transformers"),
        "openvino_version": package_version("openvino"),
        "browser_version": browser_version(),
    }
