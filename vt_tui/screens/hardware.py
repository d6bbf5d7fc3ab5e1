"""Hardware panel: the seven platforms as detected on this machine, with devices and versions."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from vt_core.records import PLATFORMS
from vt_tui import glyphs
from vt_tui.screens.base import VtScreen


class HardwareScreen(VtScreen):
    """List the platforms detection found; the lower pane shows devices and versions in full."""

    SCREEN_NAME = "Hardware"
    HELP = (
        "Detection runs `vt_core.platforms` in a separate process, so this app never imports torch, "
        "OpenVINO or a browser itself. A platform that is not available shows the reason; the "
        "launcher cannot choose it."
    )
    BINDINGS = [Binding("r", "redetect", "Detect again", tooltip="Run platform detection again")]

    def compose_body(self) -> ComposeResult:
        yield DataTable(id="hardware-table", cursor_type="row")
        with VerticalScroll(id="hardware-detail"):
            yield Static("Detecting platforms …", id="hardware-detail-text")

    def on_mount(self) -> None:
        super().on_mount()
        self._columns()
        self.query_one("#hardware-table", DataTable).focus()
        self.watch(self.app, "platforms_version", self._show, init=False)

    def _columns(self) -> None:
        table = self.query_one("#hardware-table", DataTable)
        table.clear(columns=True)
        table.add_column("Platform", key="platform", width=8)
        table.add_column("State", key="state", width=13)
        table.add_column("Devices or reason", key="devices", width=max(self.size.width - 33, 20))

    def on_resize(self) -> None:
        self._columns()
        self._show()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        if self.vt.platforms is None and not self.vt.platforms_problem:
            self.vt.ensure_platforms()
        self._show()

    def action_redetect(self) -> None:
        if self.vt.detecting:
            return
        self.query_one("#hardware-detail-text", Static).update("Detecting platforms …")
        self.vt.ensure_platforms(refresh=True)

    def _show(self, _version: int = 0) -> None:
        table = self.query_one("#hardware-table", DataTable)
        table.clear()
        if self.vt.platforms is None:
            message = self.vt.platforms_problem or "Detecting platforms …"
            style = "bold red" if self.vt.platforms_problem else ""
            self.query_one("#hardware-detail-text", Static).update(Text(message, style=style))
            return
        info = {p.get("name"): p for p in self.vt.platforms}
        for platform in PLATFORMS:
            details = info.get(platform, {"name": platform, "available": False, "reason": "not reported by detection"})
            available = bool(details.get("available"))
            state = glyphs.state_text("pass" if available else "unavailable", word=False)
            state.append(" available" if available else " unavailable")
            if available:
                devices = details.get("devices") or []
                summary = ", ".join(_device_name(d) for d in devices) or "—"
            else:
                summary = details.get("reason") or "—"
            table.add_row(platform, state, summary, key=platform)
        self._detail(self._cursor_platform())

    def _cursor_platform(self) -> str:
        table = self.query_one("#hardware-table", DataTable)
        if not table.row_count:
            return PLATFORMS[0]
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    @on(DataTable.RowHighlighted, "#hardware-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._detail(event.row_key.value)

    def _detail(self, platform: str) -> None:
        info = {p.get("name"): p for p in (self.vt.platforms or [])}
        details = info.get(platform)
        if details is None:
            self.query_one("#hardware-detail-text", Static).update(f"{platform}: not reported by detection")
            return
        self.query_one("#hardware-detail-text", Static).update(render_platform(details))


def _device_name(device: dict[str, Any]) -> str:
    name = device.get("name") or device.get("id") or "device"
    ident = device.get("id")
    return f"{name} ({ident})" if ident and ident != name else str(name)


def render_platform(details: dict[str, Any]) -> Group:
    """Return every detected fact about one platform."""
    parts: list[object] = []
    title = Text(str(details.get("name")), style="bold")
    title.append("  available" if details.get("available") else "  unavailable",
                 style="green" if details.get("available") else "blue")
    parts.append(title)
    if details.get("reason"):
        parts.append(Text(f"reason: {details['reason']}"))

    for device in details.get("devices") or []:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column()
        for key, value in device.items():
            grid.add_row(str(key), _value(value))
        parts.append(Text(f"\ndevice {device.get('id', '')}", style="bold underline"))
        parts.append(grid)

    versions = details.get("versions") or {}
    if versions:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column()
        for key, value in versions.items():
            grid.add_row(str(key), _value(value))
        parts.append(Text("\nversions", style="bold underline"))
        parts.append(grid)

    extra = {k: v for k, v in details.items() if k not in ("name", "available", "reason", "devices", "versions")}
    if extra:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column()
        for key, value in extra.items():
            grid.add_row(str(key), _value(value))
        parts.append(Text("\nother", style="bold underline"))
        parts.append(grid)
    return Group(*parts)


def _value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    return str(value)
