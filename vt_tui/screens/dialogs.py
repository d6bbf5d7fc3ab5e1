"""Modal dialogs: a yes/no confirmation and the help screen."""

from __future__ import annotations

from rich.console import Group
from rich.markdown import Markdown as RichMarkdown
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Label, Static

from vt_tui import glyphs


class ConfirmScreen(ModalScreen[bool]):
    """Ask a yes/no question; dismiss with True for yes."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, title: str, question: str, *, confirm: str = "Yes", cancel: str = "No") -> None:
        super().__init__()
        self.title_text = title
        self.question = question
        self.confirm_label = confirm
        self.cancel_label = cancel

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.title_text, id="dialog-title")
            yield Static(self.question, id="dialog-question")
            with Horizontal(id="dialog-buttons"):
                yield Button(f"{self.confirm_label} (y)", variant="error", id="yes")
                yield Button(f"{self.cancel_label} (n)", variant="primary", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed, "#yes")
    def _yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#no")
    def _no(self) -> None:
        self.dismiss(False)

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class HelpScreen(ModalScreen[None]):
    """Show what the screen below does, its keys, the app's keys and the state legend."""

    BINDINGS = [Binding("escape,question_mark,q", "close", "Close")]

    def __init__(self, under: Screen) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(self._content(), id="help-text")
            yield Label("escape closes this help", id="help-hint")

    def _content(self) -> Group:
        name = getattr(self.under, "SCREEN_NAME", "") or "vt-tui"
        parts: list[object] = [Text(name, style="bold underline")]
        text = getattr(self.under, "HELP", "")
        if text:
            parts.append(RichMarkdown(text))

        own = [_binding(b) for b in getattr(type(self.under), "BINDINGS", [])]
        parts.append(Text("\nKeys on this screen", style="bold"))
        parts.append(self._keys([b for b in own if b.description]) if own else Text("none", style="dim"))
        parts.append(Text("\nKeys everywhere", style="bold"))
        everywhere = [_binding(b) for b in getattr(type(self.app), "BINDINGS", [])]
        rows = [(self.app.get_key_display(b), b.tooltip or b.description) for b in everywhere if b.description]
        rows.append(("ctrl+p", "Command palette: every action of this screen and the app"))
        parts.append(self._grid(rows))
        parts.append(Text("\nStates", style="bold"))
        parts.append(glyphs.legend())
        return Group(*parts)

    def _keys(self, bindings: list[Binding]) -> Table:
        rows = []
        for binding in bindings:
            keys = ", ".join(self.app.get_key_display(Binding(key, binding.action)) for key in binding.key.split(","))
            rows.append((keys, binding.tooltip or binding.description))
        return self._grid(rows)

    @staticmethod
    def _grid(rows: list[tuple[str, str]]) -> Table:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column()
        for key, text in rows:
            grid.add_row(key, text)
        return grid

    def action_close(self) -> None:
        self.dismiss(None)


def _binding(item: Binding | tuple) -> Binding:
    return item if isinstance(item, Binding) else Binding(*item)
