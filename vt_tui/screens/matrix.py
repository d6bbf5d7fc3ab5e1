"""Compatibility matrix: models grouped by family against the seven platforms."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from vt_core.records import FAIL, MISMATCH, PASS, PLATFORMS
from vt_tui import glyphs
from vt_tui.data import ModelTable, age, group_by_family, shared_model_table
from vt_tui.screens.base import VtScreen
from vt_tui.screens.cell import CellScreen
from vt_tui.widgets.tables import DetailsTable

WIDE = 120
"""Terminal width from which cells show the state's word next to its glyph."""
FAMILY_PREFIX = "family:"


class MatrixScreen(VtScreen):
    """Show the latest state of every model on every platform; Enter opens a cell's runs."""

    SCREEN_NAME = "Matrix"
    HELP = (
        "Each cell is the latest state of a model on a platform: the newest pass, mismatch or fail "
        "result, else unavailable when the platform was absent on every machine that tried, else "
        "untested. Glyphs tell the states apart without colour. *tested* in the summary line counts "
        "pass, mismatch and fail. Enter on a cell lists its runs with errors, latency statistics "
        "and the output difference against the PyTorch CPU reference."
    )
    BINDINGS = [
        Binding("enter", "open_cell", "Runs", tooltip="Open the runs of the cell under the cursor"),
        Binding("r", "refresh", "Refresh", show=False, tooltip="Reload the matrix"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.table_data: ModelTable | None = None
        self._wide: bool | None = None

    def compose_body(self) -> ComposeResult:
        yield DetailsTable(id="matrix-table", cursor_type="cell")
        yield Static(id="matrix-summary")
        yield Static(glyphs.legend(), id="matrix-legend")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#matrix-table", DataTable).focus()
        self.query_one("#matrix-summary", Static).update("Loading the matrix …")

    def load(self) -> None:
        services = self.vt.services
        version = self.vt.data_version
        self.load_in_thread(lambda: shared_model_table(services, version), self._show)

    def on_resize(self) -> None:
        if self.table_data is not None:
            self._render_matrix()

    def _show(self, table: ModelTable) -> None:
        self.table_data = table
        self._render_matrix()

    def _render_matrix(self) -> None:
        table = self.query_one("#matrix-table", DataTable)
        wide = self.size.width >= WIDE
        cursor = table.cursor_coordinate
        self._wide = wide
        table.clear(columns=True)
        # A cell is the glyph, or on wide terminals the glyph and a word of up to 4 letters.
        widths = {p: max(len(p), 6 if wide else 1) for p in PLATFORMS}
        fixed = sum(w + 2 for w in widths.values()) + (13 if wide else 0)
        model_width = max(self.size.width - fixed - 5, 16)
        table.add_column("Model", key="model", width=model_width)
        for platform in PLATFORMS:
            table.add_column(platform, key=platform, width=widths[platform])
        if wide:
            table.add_column("Last tested", key="tested", width=11)

        rows = self.table_data.rows if self.table_data else []
        now = self.vt.services.now()
        for family, members in group_by_family(rows):
            blank = [""] * (len(PLATFORMS) + (1 if wide else 0))
            table.add_row(Text(family.upper(), style="bold underline"), *blank, key=FAMILY_PREFIX + family)
            for row in members:
                cells: list[object] = [_model_label(row.model_id, row.sources, model_width)]
                for platform in PLATFORMS:
                    cell = glyphs.state_text(row.states.get(platform, "untested"), word=wide)
                    cell.justify = "left" if wide else "center"
                    cells.append(cell)
                if wide:
                    cells.append(age(row.last_tested, now))
                table.add_row(*cells, key=row.model_id)
        if table.row_count:
            # Row 0 is a family heading; start on the first model's cpu cell.
            table.move_cursor(row=min(max(cursor.row, 1), table.row_count - 1), column=max(cursor.column, 1))
        self._update_summary()

    def _update_summary(self) -> None:
        rows = self.table_data.rows if self.table_data else []
        text = Text()
        if not rows:
            text.append("No models and no results yet. Run some with the launcher (2).", style="bold")
        else:
            parts = []
            for platform in PLATFORMS:
                states = [row.states.get(platform) for row in rows]
                tested = sum(1 for s in states if s in (PASS, MISMATCH, FAIL))
                passed = sum(1 for s in states if s == PASS)
                if tested:
                    parts.append(f"{platform} {passed}/{tested}")
            text.append("passed/tested: ", style="bold")
            text.append("  ".join(parts) if parts else "nothing tested yet")
            synthetic = [row for row in rows if row.sources == ("synthetic",)]
            if synthetic:
                text.append(f"\n{len(synthetic)} model(s) ran only with synthetic (random) weights: marked *",
                            style="dim")
        if self.table_data and self.table_data.catalog_problem:
            text.append(f"\n{self.table_data.catalog_problem}", style="yellow")
        self.query_one("#matrix-summary", Static).update(text)

    def show_problem(self, message: str) -> None:
        super().show_problem(message)
        self.query_one("#matrix-summary", Static).update(Text(message, style="bold red"))

    # -- cell details -------------------------------------------------------------

    @on(DataTable.CellSelected, "#matrix-table")
    def _cell_selected(self, event: DataTable.CellSelected) -> None:
        self._open(event.cell_key.row_key.value, event.cell_key.column_key.value)

    def action_open_cell(self) -> None:
        table = self.query_one("#matrix-table", DataTable)
        if not table.row_count:
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate)
        self._open(key.row_key.value, key.column_key.value)

    def _open(self, model_id: str | None, column: str | None) -> None:
        if not model_id or model_id.startswith(FAMILY_PREFIX):
            return
        if column not in PLATFORMS:
            self.notify("Move the cursor onto a platform column to open its runs.")
            return
        self.app.push_screen(CellScreen(model_id, column))

    def action_refresh(self) -> None:
        self.reload()


def _model_label(model_id: str, sources: tuple[str, ...], width: int) -> Text:
    synthetic = sources == ("synthetic",)
    label = Text(glyphs.fit_model(model_id, width - (2 if synthetic else 0)))
    if synthetic:
        label.append(" *", style="dim")
    return label
