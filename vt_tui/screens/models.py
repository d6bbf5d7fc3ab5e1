"""Model browser: every known model with its latest state on each platform."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Input, Static

from vt_core.records import PLATFORMS
from vt_tui import glyphs
from vt_tui.data import ModelRow, ModelTable, RunRecord, age, load_history, shared_model_table
from vt_tui.screens.base import VtScreen
from vt_tui.widgets.tables import DetailsTable

PLATFORM_LABELS = {
    "cpu": "cpu", "cuda": "cuda", "rocm": "rocm", "mps": "mps", "openvino": "ov", "webgpu": "wgpu", "webnn": "wnn",
}
TASK_LABELS = {"zero-shot-image-classification": "zero-shot", "image-to-text": "caption"}
WIDE = 110
"""Terminal width from which the table adds the task, source and last-tested columns."""


def task_label(task: str | None) -> str:
    return TASK_LABELS.get(task or "", task or "—")


def source_label(sources: tuple[str, ...]) -> str:
    short = {"synthetic": "synth"}
    return "+".join(short.get(s, s) for s in sources) or "—"


class ModelsScreen(VtScreen):
    """List models; filter, inspect their run history, and pick them for a run."""

    SCREEN_NAME = "Models"
    HELP = (
        "Every model of the catalog, of the folders given with `--model-dir` and of the Hugging Face "
        "cache, with its latest state on each platform. *Source* says where weights are available: "
        "`cache` (Hugging Face cache), `local` (a folder), `synth` (a synthetic build with random "
        "weights exists). *Params* is the catalog figure until a run counts the loaded model."
    )
    BINDINGS = [
        Binding("slash", "filter", "Filter", key_display="/", tooltip="Filter models by id, family, task or source"),
        Binding("space", "toggle_select", "Select", tooltip="Mark the model for the launcher"),
        Binding("a", "select_all", "All", show=False, tooltip="Mark every listed model"),
        Binding("enter", "details", "Details", tooltip="Show the model's run history"),
        Binding("l", "launch", "Launch", tooltip="Open the launcher with the marked models"),
        Binding("r", "refresh", "Refresh", show=False, tooltip="Rescan model folders and reload states"),
        Binding("escape", "close", "Close", show=False, tooltip="Close the history pane or clear the filter"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.table_data: ModelTable | None = None
        self.shown_rows: list[ModelRow] = []
        self.detail_model: str | None = None
        self._wide: bool | None = None
        self._model_width = 30

    def compose_body(self) -> ComposeResult:
        yield Input(placeholder="filter: id, family, task or source", id="models-filter", compact=True)
        yield DetailsTable(id="models-table", cursor_type="row", zebra_stripes=True)
        with Vertical(id="models-detail"):
            yield Static(id="models-detail-title")
            yield DataTable(id="models-history", cursor_type="row")
        yield Static("Loading models …", id="models-status")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#models-filter").display = False
        self.query_one("#models-detail").display = False
        self.query_one("#models-table", DataTable).focus()

    def load(self, *, refresh: bool = False) -> None:
        services = self.vt.services
        version = self.vt.data_version
        self.load_in_thread(lambda: shared_model_table(services, version, refresh=refresh), self._show_table)
        if self.detail_model:
            self._load_history(self.detail_model)

    def on_resize(self) -> None:
        if self.table_data is not None:
            self._wide = None  # rebuild the columns for the new width
            self._render_rows()

    # -- table -------------------------------------------------------------

    def _show_table(self, table: ModelTable) -> None:
        self.table_data = table
        self._render_rows()

    def _render_rows(self) -> None:
        table = self.query_one("#models-table", DataTable)
        wide = self.size.width >= WIDE
        cursor_key = self._cursor_model()
        if wide != self._wide or not table.columns:
            self._wide = wide
            table.clear(columns=True)
            columns: list[tuple[str, str, int]] = [(" ", "mark", 1), ("Family", "family", 6)]
            if wide:
                columns += [("Task", "task", 9), ("Source", "source", 11)]
            columns.append(("Params", "params", 6))
            columns += [(PLATFORM_LABELS[p], p, len(PLATFORM_LABELS[p])) for p in PLATFORMS]
            if wide:
                columns.append(("Tested", "tested", 8))
            self._model_width = max(self.size.width - sum(w + 2 for _, _, w in columns) - 5, 16)
            columns.insert(1, ("Model", "model", self._model_width))
            for label, key, width in columns:
                table.add_column(label, key=key, width=width)
        else:
            table.clear()

        query = self.query_one("#models-filter", Input).value.strip().lower()
        rows = self.table_data.rows if self.table_data else []
        self.shown_rows = [row for row in rows if _matches(row, query)]
        now = self.vt.services.now()
        for row in self.shown_rows:
            cells: list[object] = [
                self._mark(row.model_id),
                glyphs.fit_model(row.model_id, self._model_width),
                row.family or "—",
            ]
            if wide:
                cells += [task_label(row.task), source_label(row.sources)]
            cells.append(Text(glyphs.count(row.parameter_count), justify="right"))
            cells += [glyphs.state_text(row.states.get(p, "untested"), word=False) for p in PLATFORMS]
            if wide:
                cells.append(age(row.last_tested, now))
            table.add_row(*cells, key=row.model_id)

        if cursor_key is not None and cursor_key in {row.model_id for row in self.shown_rows}:
            table.move_cursor(row=table.get_row_index(cursor_key))
        self._update_status()

    def _mark(self, model_id: str) -> Text:
        if model_id in self.vt.selected_models:
            return Text("*" if glyphs.ASCII else "●", style="bold cyan")
        return Text(" ")

    def _cursor_model(self) -> str | None:
        table = self.query_one("#models-table", DataTable)
        if not table.row_count:
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:
            return None

    def _update_status(self) -> None:
        status = self.query_one("#models-status", Static)
        total = len(self.table_data.rows) if self.table_data else 0
        text = Text()
        text.append(f"{len(self.shown_rows)} of {total} models", style="bold")
        selected = len(self.vt.selected_models)
        text.append(f" · {selected} marked" if selected else " · space marks models for a run")
        query = self.query_one("#models-filter", Input).value.strip()
        if query:
            text.append(f" · filter “{query}”")
        if self.table_data and self.table_data.catalog_problem:
            text.append(f"\n{self.table_data.catalog_problem}", style="yellow")
        status.update(text)

    def show_problem(self, message: str) -> None:
        super().show_problem(message)
        self.query_one("#models-status", Static).update(Text(message, style="bold red"))

    # -- filter --------------------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#models-filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#models-filter")
    def _filter_changed(self) -> None:
        if self.table_data is not None:
            self._render_rows()

    @on(Input.Submitted, "#models-filter")
    def _filter_done(self) -> None:
        box = self.query_one("#models-filter", Input)
        box.display = bool(box.value)
        self.query_one("#models-table", DataTable).focus()

    def action_close(self) -> None:
        box = self.query_one("#models-filter", Input)
        if box.has_focus:
            box.value = ""
            box.display = False
            self.query_one("#models-table", DataTable).focus()
        elif self.query_one("#models-detail").display:
            self.query_one("#models-detail").display = False
            self.detail_model = None
            self.query_one("#models-table", DataTable).focus()
        elif box.value:
            box.value = ""
            box.display = False

    # -- selection and details -----------------------------------------------

    def action_toggle_select(self) -> None:
        model = self._cursor_model()
        if model is None:
            return
        if model in self.vt.selected_models:
            self.vt.selected_models.discard(model)
        else:
            self.vt.selected_models.add(model)
        table = self.query_one("#models-table", DataTable)
        table.update_cell(model, "mark", self._mark(model))
        if table.cursor_row < table.row_count - 1:
            table.move_cursor(row=table.cursor_row + 1)
        self._update_status()

    def action_select_all(self) -> None:
        visible = {row.model_id for row in self.shown_rows}
        if visible <= self.vt.selected_models:
            self.vt.selected_models -= visible
        else:
            self.vt.selected_models |= visible
        self._render_rows()

    def action_details(self) -> None:
        model = self._cursor_model()
        if model is not None:
            self._open_details(model)

    @on(DataTable.RowSelected, "#models-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self._open_details(event.row_key.value)

    def _open_details(self, model_id: str) -> None:
        self.detail_model = model_id
        self.query_one("#models-detail").display = True
        row = next((r for r in self.shown_rows if r.model_id == model_id), None)
        title = Text()
        title.append(model_id, style="bold")
        if row is not None:
            count = glyphs.count(row.parameter_count)
            note = f" ({row.parameter_count_note})" if row.parameter_count_note else ""
            title.append(
                f"  {row.family or 'unknown family'} · {row.task or 'unknown task'} · "
                f"source {source_label(row.sources)} · {count} parameters{note}"
            )
        self.query_one("#models-detail-title", Static).update(title)
        history = self.query_one("#models-history", DataTable)
        history.clear(columns=True)
        # Fixed widths: the rows arrive from a worker, and auto widths would follow the first rows drawn.
        widths = {"When": 16, "Platform": 8, "State": 10, "Median": 8, "n": 4, "Source": 9}
        error_width = max(self.size.width - sum(w + 2 for w in widths.values()) - 5, 10)
        for label, width in (*widths.items(), ("Error", error_width)):
            history.add_column(label, key=label, width=width)
        history.add_row("loading …")
        self._load_history(model_id)

    def _load_history(self, model_id: str) -> None:
        store = self.vt.services.store
        self.load_in_thread(lambda: (model_id, load_history(store, model_id)), self._show_history, group="history")

    def _show_history(self, data: tuple[str, list[RunRecord]]) -> None:
        model_id, records = data
        if model_id != self.detail_model:
            return
        history = self.query_one("#models-history", DataTable)
        history.clear()
        if not records:
            history.add_row("no runs yet", "", "", "", "", "", "")
            return
        for record in records:
            when = record.timestamp.strftime("%Y-%m-%d %H:%M") if record.timestamp else "—"
            error = record.error_type or ""
            if record.error_message and record.state not in ("pass",):
                error = f"{error}: {record.error_message.splitlines()[0] if record.error_message else ''}"
            history.add_row(
                when, record.platform, glyphs.result_state_text(record.state, record.flag),
                glyphs.seconds(record.median_s),
                str(record.n or 0), record.weights_source or "—", error,
                key=record.result_id,
            )

    # -- navigation ------------------------------------------------------------

    def action_launch(self) -> None:
        if not self.vt.selected_models:
            model = self._cursor_model()
            if model is not None:
                self.vt.selected_models.add(model)
        self.app.switch_mode("launch")

    def action_refresh(self) -> None:
        self.stale = False
        self.load(refresh=True)


def _matches(row: ModelRow, query: str) -> bool:
    if not query:
        return True
    haystack = " ".join(
        [row.model_id, row.family or "", row.task or "", task_label(row.task), " ".join(row.sources)]
    ).lower()
    return all(word in haystack for word in query.split())
