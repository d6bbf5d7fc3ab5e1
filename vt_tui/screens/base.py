"""Base class of the main screens: header, footer, data reloads in thread workers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from vt_core.store import DatabaseLockedError
from vt_tui.services import FeatureMissing
from vt_tui.widgets.header import AppHeader

if TYPE_CHECKING:
    from vt_tui.app import VtApp

log = logging.getLogger(__name__)

T = TypeVar("T")


class VtScreen(Screen):
    """A main screen: reloads its data in a thread worker when results change.

    Subclasses implement `compose_body` and `load`; `load` calls
    `load_in_thread(fetch, apply)`, where `fetch` runs in a thread and `apply`
    runs on the UI thread with its result.
    """

    SCREEN_NAME = ""
    HELP = ""
    """Markdown shown on the help screen above the key list."""

    def __init__(self) -> None:
        super().__init__()
        self.stale = True

    @property
    def vt(self) -> "VtApp":
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield AppHeader(self.SCREEN_NAME)
        yield from self.compose_body()
        yield Footer(compact=True)

    def compose_body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.watch(self.app, "data_version", self._on_data_changed, init=False)

    def on_screen_resume(self) -> None:
        if self.stale:
            self.reload()

    def _on_data_changed(self, _version: int) -> None:
        if self.is_current:
            self.reload()
        else:
            self.stale = True

    def reload(self) -> None:
        self.stale = False
        self.load()

    def load(self) -> None:
        """Start loading this screen's data; the default loads nothing."""

    def load_in_thread(self, fetch: Callable[[], T], apply: Callable[[T], None], *, group: str = "load",
                       on_problem: Callable[[str], None] | None = None) -> None:
        """Run `fetch` in a thread worker, then `apply(result)` on the UI thread.

        A locked database, a missing vt_core part or a failed query goes to
        `on_problem` (default `show_problem`) instead of crashing the app. A
        newer load of the same group cancels an older one that has not finished.
        """
        problem = on_problem or self.show_problem

        def work() -> None:
            try:
                data = fetch()
            except DatabaseLockedError as error:
                self._deliver(problem, f"Database locked: {error}")
                return
            except FeatureMissing as error:
                self._deliver(problem, str(error))
                return
            except Exception as error:
                log.exception("loading %s (%s) failed", self.SCREEN_NAME, group)
                self._deliver(problem, f"Loading {self.SCREEN_NAME.lower()} failed: {error}")
                return
            self._deliver(apply, data)

        self.run_worker(work, thread=True, exclusive=True, group=f"{self.SCREEN_NAME}-{group}", exit_on_error=False)

    def _deliver(self, callback: Callable[..., Any], *args: Any) -> None:
        try:
            self.app.call_from_thread(callback, *args)
        except RuntimeError:
            # The app closed while the worker ran; nothing is left to update.
            log.debug("dropped a result of %s: app not running", self.SCREEN_NAME)

    def show_problem(self, message: str) -> None:
        """Tell the user why data is missing; subclasses also show it in place."""
        self.notify(message, title=self.SCREEN_NAME, severity="error", timeout=10)
