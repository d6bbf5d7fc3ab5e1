"""WebGPU and WebNN: ONNX models in headless Chromium through ONNX Runtime Web.

`detect()` returns the webgpu and webnn platform entries. `BrowserRunner`
exports the model to ONNX, serves it with the page in assets/ from a loopback
server, and measures it in the page. Setup: `vt-tui setup browser` installs the
npm package onnxruntime-web; Chromium comes from the system.
"""

from __future__ import annotations

from typing import Any

from vt_core.runners.browser.probe import detect

__all__ = ["BrowserRunner", "detect"]


def __getattr__(name: str) -> Any:
    # The runner pulls in the Runner base class and the tasks; `detect()` alone
    # must stay cheap for the platform listing.
    if name == "BrowserRunner":
        from vt_core.runners.browser.runner import BrowserRunner

        return BrowserRunner
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
