"""The one-line header: the five main screens with their keys, the run status and the database."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import RenderResult
from textual.widget import Widget

NAV: tuple[tuple[str, str, str], ...] = (
    ("1", "models", "Models"),
    ("2", "launch", "Launch"),
    ("3", "matrix", "Matrix"),
    ("4", "stats", "Stats"),
    ("5", "hardware", "Hardware"),
)


class AppHeader(Widget):
    """Show the screens (current one highlighted), the run status and the database file.

    The run status comes from the app's `run_status` reactive, so every
    screen's header shows an active run, whichever screen is in front.
    Clicking a screen's name switches to it.
    """

    DEFAULT_CSS = """
    AppHeader {
        dock: top;
        height: 1;
        background: $panel;
        color: $foreground;
    }
    """

    def __init__(self, screen_title: str) -> None:
        super().__init__()
        self.screen_title = screen_title
        self._spans: list[tuple[int, int, str]] = []

    def on_mount(self) -> None:
        self.watch(self.app, "run_status", self._refresh_status, init=False)

    def _refresh_status(self, _value: str) -> None:
        self.refresh()

    def render(self) -> RenderResult:
        width = self.size.width
        current = getattr(self.app, "current_mode", "")
        on_main_screen = any(title == self.screen_title for _key, _mode, title in NAV)

        left = Text()
        left.append(" vt-tui ", style="bold")
        self._spans = []
        for key, mode, title in NAV:
            start = left.cell_len
            active = mode == current
            style = ""
            if active:
                style = "bold reverse" if on_main_screen else "bold"
            left.append(f" {key} {title} ", style=style)
            self._spans.append((start, left.cell_len, mode))
        if not on_main_screen:
            left.append(f"› {self.screen_title} ", style="bold")

        right = Text()
        status = getattr(self.app, "run_status", "")
        if status:
            right.append("* " if getattr(self.app, "ascii", False) else "● ", style="bold green")
            right.append(status, style="bold")
            right.append(" ")
        db_label = getattr(self.app, "db_label", "")
        if db_label and left.cell_len + right.cell_len + len(db_label) + 2 <= width:
            right.append(" " + db_label + " ", style="dim")

        space = width - left.cell_len - right.cell_len
        if space < 1:
            # Narrow terminals keep the run status and shorten it rather than the screen names.
            room = max(width - left.cell_len - 1, 0)
            right.truncate(room, overflow="ellipsis")
            space = max(width - left.cell_len - right.cell_len, 0)
        return left + Text(" " * space) + right

    def on_click(self, event: events.Click) -> None:
        for start, end, mode in self._spans:
            if start <= event.x < end:
                self.app.run_action(f"show_screen('{mode}')")
                return
