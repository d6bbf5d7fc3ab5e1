"""Back-end runners, one per platform kind; `get_runner` picks and imports the right one.

Runner modules import their libraries (torch, openvino, the browser driver) only
when a job runs, and only in worker processes.
"""

from __future__ import annotations

import importlib

from vt_core.records import BROWSER_PLATFORMS, PLATFORMS, TORCH_PLATFORMS
from vt_core.runners.base import ConversionError, PlatformUnavailableError, Reporter, Runner


def get_runner(platform: str) -> Runner:
    """Return a new runner for `platform`; raise ValueError for an unknown platform.

    Browser platforms load `vt_core.runners.browser` and call its
    `get_runner(platform)` or `BrowserRunner(platform)`; when that module is
    absent this raises PlatformUnavailableError.
    """
    if platform in TORCH_PLATFORMS:
        from vt_core.runners.torch_runner import TorchRunner

        return TorchRunner(platform)
    if platform == "openvino":
        from vt_core.runners.openvino_runner import OpenVINORunner

        return OpenVINORunner(platform)
    if platform in BROWSER_PLATFORMS:
        try:
            browser = importlib.import_module("vt_core.runners.browser")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("vt_core.runners.browser"):
                raise PlatformUnavailableError("browser runner not installed") from exc
            raise
        factory = getattr(browser, "get_runner", None) or getattr(browser, "BrowserRunner", None)
        if factory is None:
            raise PlatformUnavailableError("browser runner not installed (vt_core.runners.browser has no BrowserRunner)")
        return factory(platform)
    raise ValueError(f"unknown platform {platform!r}; use one of {', '.join(PLATFORMS)}")


__all__ = ["ConversionError", "PlatformUnavailableError", "Reporter", "Runner", "get_runner"]
