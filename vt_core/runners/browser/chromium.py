"""Launch the system Chromium headless through Playwright and open the runner page.

Playwright never downloads a browser here: the executable comes from
`VT_CHROMIUM`, else `/usr/bin/chromium`, else the first of `chromium`,
`chromium-browser` or `google-chrome` on PATH. Each launch gets a fresh
user-data-dir that is deleted on close, so no state leaks between jobs.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CHROMIUM_ENV = "VT_CHROMIUM"
EXTRA_FLAGS_ENV = "VT_CHROMIUM_FLAGS"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
_PATH_NAMES = ("chromium", "chromium-browser", "google-chrome")

CHROMIUM_FLAGS: tuple[str, ...] = (
    "--no-sandbox",
    "--headless",
    "--no-first-run",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
    # WebGPU is behind this flag on Linux. Without a usable Vulkan GPU, Chromium
    # returns its SwiftShader fallback adapter, which runs on the CPU.
    "--enable-unsafe-webgpu",
    # Vulkan lets WebGPU reach a real GPU on Linux. WebMachineLearningNeuralNetwork
    # exposes navigator.ml; whether createContext() succeeds depends on the build.
    "--enable-features=Vulkan,WebMachineLearningNeuralNetwork",
    # Makes performance.measureUserAgentSpecificMemory() resolve at once. Without
    # it the promise waits for a garbage collection: 10 s on an idle Chromium 156 page.
    "--enable-blink-features=ForceEagerMeasureMemory",
)

PAGE_READY_TIMEOUT_MS = 60_000


class ChromiumNotFound(Exception):
    """No Chromium executable at the configured path."""


def chromium_executable() -> Path:
    """Return the Chromium executable to launch, or raise ChromiumNotFound saying how to get one."""
    configured = os.environ.get(CHROMIUM_ENV)
    if configured:
        path = Path(configured).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ChromiumNotFound(
                f"{CHROMIUM_ENV}={configured} is not an executable file; point it at a Chromium binary or unset it"
            )
        return path
    if Path(DEFAULT_CHROMIUM).is_file():
        return Path(DEFAULT_CHROMIUM)
    for name in _PATH_NAMES:
        found = shutil.which(name)
        if found:
            return Path(found)
    raise ChromiumNotFound(
        f"Chromium not found at {DEFAULT_CHROMIUM} or on PATH; install it (Debian/Ubuntu: "
        f"`apt-get install -y chromium`) or set {CHROMIUM_ENV} to its path"
    )


def chromium_flags() -> list[str]:
    """Return the launch flags: the fixed set plus any from `VT_CHROMIUM_FLAGS` (shell-quoted)."""
    return [*CHROMIUM_FLAGS, *shlex.split(os.environ.get(EXTRA_FLAGS_ENV, ""))]


@dataclass
class BrowserPage:
    """An open runner page and what is needed to call into it."""

    page: Any
    """playwright.sync_api.Page."""
    context: Any
    """playwright.sync_api.BrowserContext."""
    browser_version: str
    executable: str
    flags: list[str]
    console: list[str]
    """Console messages and page errors, oldest first (capped), for error reports."""

    def call(self, function: str, argument: Any = None) -> dict[str, Any]:
        """Call `window.vtRunner.<function>(argument)` in the page and return its JSON result.

        Playwright's evaluate has no time limit; the launcher's phase timeout
        kills the worker, and Chromium with it, when a call hangs.
        """
        return self.page.evaluate(f"(argument) => window.vtRunner.{function}(argument)", argument)

    def cdp_metrics(self) -> dict[str, float]:
        """Return Chrome DevTools Protocol `Performance.getMetrics` as a name -> value mapping."""
        session = self.context.new_cdp_session(self.page)
        try:
            session.send("Performance.enable")
            metrics = session.send("Performance.getMetrics")["metrics"]
        finally:
            session.detach()
        return {metric["name"]: float(metric["value"]) for metric in metrics}


_CONSOLE_LIMIT = 200


@contextmanager
def _profile_dir(parent: Path | None) -> Iterator[str]:
    if parent is None:
        with tempfile.TemporaryDirectory(prefix="vt-chromium-") as path:
            yield path
        return
    parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="profile-", dir=parent))
    try:
        yield str(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def open_runner_page(url: str, *, timeout_s: float = 120.0, profile_parent: Path | None = None) -> Iterator[BrowserPage]:
    """Launch Chromium, open the runner page at `url` and yield it once `window.vtRunner` exists.

    The fresh user-data-dir goes under `profile_parent` (default: the system
    temporary folder) and is deleted on exit. Raises ChromiumNotFound before
    starting anything when no browser is installed. Playwright errors (launch
    failure, timeout) propagate.
    """
    from playwright.sync_api import sync_playwright

    executable = chromium_executable()
    flags = chromium_flags()
    console: list[str] = []

    def remember(line: str) -> None:
        if len(console) < _CONSOLE_LIMIT:
            console.append(line)

    with _profile_dir(profile_parent) as user_data_dir, sync_playwright() as playwright:
        log.info("launching %s %s", executable, " ".join(flags))
        context = playwright.chromium.launch_persistent_context(
            user_data_dir,
            executable_path=str(executable),
            headless=True,
            args=flags,
            timeout=timeout_s * 1000,
        )
        try:
            version = context.browser.version if context.browser is not None else ""
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(timeout_s * 1000)
            page.on("console", lambda message: remember(f"console.{message.type}: {message.text}"))
            page.on("pageerror", lambda error: remember(f"pageerror: {error}"))
            page.goto(url)
            page.wait_for_function("window.vtRunner !== undefined", timeout=PAGE_READY_TIMEOUT_MS)
            yield BrowserPage(page, context, version or _version_from_page(page), str(executable), flags, console)
        finally:
            context.close()


def _version_from_page(page: Any) -> str:
    user_agent = str(page.evaluate("navigator.userAgent"))
    for token in user_agent.split():
        if token.startswith(("HeadlessChrome/", "Chrome/")):
            return token.split("/", 1)[1]
    return ""
