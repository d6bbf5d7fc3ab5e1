"""Launcher: pick models x platforms and settings, start a run, follow its jobs live."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.widgets import ContentSwitcher, DataTable, Input, Label, Log, Select, SelectionList, Static
from textual.widgets.selection_list import Selection

from vt_core.records import PLATFORMS, PRECISIONS, WEIGHTS_CHOICES, Settings
from vt_tui import glyphs
from vt_tui.data import ModelTable, shared_model_table
from vt_tui.runstate import RunState
from vt_tui.screens.base import VtScreen
from vt_tui.screens.dialogs import ConfirmScreen

WIDE = 110
"""Terminal width from which the job table has separate state, platform and elapsed columns."""
REDRAW_INTERVAL_S = 0.25
"""How often the job table redraws from the latest run state while this screen is in front."""

SETTING_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("iterations", "Iterations", "Minimum number of timed iterations"),
    ("min_seconds", "Min s", "Minimum seconds of the timed loop; it runs until both minimums hold"),
    ("warmup", "Warm-up", "Untimed iterations before measuring"),
    ("batch_size", "Batch", "Images per inference"),
    ("timeout_s", "Timeout s", "Time limit of each phase of a job, in seconds"),
)


class LaunchScreen(VtScreen):
    """Choose what to run, start it, and watch each job's phase, progress and latency."""

    SCREEN_NAME = "Launch"
    HELP = (
        "Tick models and platforms (space), adjust the settings and start with `ctrl+r`. Platforms "
        "that are not available on this machine are shown with the reason and cannot be ticked. "
        "Each job runs in its own worker process; its result is stored as soon as it finishes, so "
        "cancelling or quitting keeps what finished. The run continues while other screens are in "
        "front; the header shows its progress. ETA covers the measure phase: the larger of the "
        "iterations left times the running median and the minimum time left."
    )
    BINDINGS = [
        Binding("ctrl+r", "start_run", "Run", tooltip="Start the selected models x platforms"),
        Binding("v", "toggle_view", "Setup/Progress", tooltip="Switch between the settings and the live progress"),
        Binding("c", "cancel_job", "Cancel job", tooltip="Cancel the job under the cursor (asks first)"),
        Binding("x", "cancel_run", "Cancel run", tooltip="Cancel every unfinished job of the run (asks first)"),
        Binding("escape", "leave_input", "Lists", show=False, tooltip="Move the focus from a field to the lists"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.models: ModelTable | None = None
        self._drawn_version = -1
        self._drawn_log = 0
        self._state: RunState | None = None
        self._wide: bool | None = None
        self._job_model_width = 20
        self.chosen_platforms: set[str] = {"cpu"}
        """Ticked platforms, kept while detection refills the list."""

    def compose_body(self) -> ComposeResult:
        with ContentSwitcher(initial="launch-setup", id="launch-views"):
            with Vertical(id="launch-setup"):
                with Horizontal(id="launch-lists"):
                    with Vertical(id="launch-models-box"):
                        yield Label("Models", classes="section")
                        yield SelectionList[str](id="launch-models")
                        yield Input(placeholder="add a model: id or folder, then enter", id="launch-add",
                                    compact=True)
                    with Vertical(id="launch-platforms-box"):
                        yield Label("Platforms", classes="section")
                        yield SelectionList[str](id="launch-platforms")
                with Grid(id="launch-settings"):
                    defaults = Settings()
                    for name, label, tooltip in SETTING_FIELDS:
                        yield Label(label, classes="setting-label")
                        field = Input(str(getattr(defaults, name)), id=f"setting-{name}", compact=True)
                        field.tooltip = tooltip
                        yield field
                    yield Label("Precision", classes="setting-label")
                    yield Select([(p, p) for p in PRECISIONS], value=defaults.precision, allow_blank=False,
                                 id="setting-precision", compact=True)
                    yield Label("Weights", classes="setting-label")
                    yield Select([(w, w) for w in WEIGHTS_CHOICES], value=defaults.weights, allow_blank=False,
                                 id="setting-weights", compact=True)
                yield Static(id="launch-plan")
            with Vertical(id="launch-progress"):
                yield DataTable(id="launch-jobs", cursor_type="row")
                yield Log(id="launch-log", max_lines=2000)
                yield Static(id="launch-summary")

    def on_mount(self) -> None:
        super().on_mount()
        self._job_columns()
        self.watch(self.app, "platforms_version", self._fill_platforms, init=False)
        self.set_interval(REDRAW_INTERVAL_S, self._redraw)
        self._fill_platforms()
        self.query_one("#launch-models", SelectionList).focus()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.vt.ensure_platforms()
        self._sync_model_marks()
        if self.vt.run_state is not None and self.vt.run_state is not self._state:
            self._show_view("launch-progress")
        self.refresh_bindings()

    # -- models ---------------------------------------------------------------

    def load(self) -> None:
        services = self.vt.services
        version = self.vt.data_version
        self.load_in_thread(lambda: shared_model_table(services, version), self._fill_models)

    def _fill_models(self, table: ModelTable) -> None:
        self.models = table
        listing = self.query_one("#launch-models", SelectionList)
        known = {str(option.value) for option in listing.options}
        for row in table.rows:
            if row.model_id not in known:
                listing.add_option(Selection(Text(row.model_id), row.model_id, row.model_id in self.vt.selected_models))
        self._sync_model_marks()
        if table.catalog_problem:
            self.notify(table.catalog_problem, severity="warning")

    def _sync_model_marks(self) -> None:
        listing = self.query_one("#launch-models", SelectionList)
        known = {str(option.value) for option in listing.options}
        for model in sorted(self.vt.selected_models - known):
            listing.add_option(Selection(Text(model), model, True))
        with listing.prevent(SelectionList.SelectedChanged):
            for value in known:
                if value in self.vt.selected_models:
                    listing.select(value)
                else:
                    listing.deselect(value)
        self._update_plan()

    @on(SelectionList.SelectedChanged, "#launch-models")
    def _models_changed(self) -> None:
        listing = self.query_one("#launch-models", SelectionList)
        self.vt.selected_models = set(listing.selected)
        self._update_plan()

    @on(SelectionList.SelectedChanged, "#launch-platforms")
    def _platforms_changed(self) -> None:
        listing = self.query_one("#launch-platforms", SelectionList)
        enabled = {str(option.value) for option in listing.options if not option.disabled}
        self.chosen_platforms = (self.chosen_platforms - enabled) | set(listing.selected)
        self._update_plan()

    @on(Input.Submitted, "#launch-add")
    def _add_model(self, event: Input.Submitted) -> None:
        reference = event.value.strip()
        if not reference:
            return
        listing = self.query_one("#launch-models", SelectionList)
        if reference not in {str(option.value) for option in listing.options}:
            listing.add_option(Selection(Text(reference), reference, True))
        else:
            listing.select(reference)
        self.vt.selected_models.add(reference)
        event.input.value = ""
        self._update_plan()

    # -- platforms --------------------------------------------------------------

    def _fill_platforms(self, _version: int = 0) -> None:
        listing = self.query_one("#launch-platforms", SelectionList)
        chosen = self.chosen_platforms
        listing.clear_options()
        info = {p["name"]: p for p in (self.vt.platforms or [])}
        for platform in PLATFORMS:
            details = info.get(platform)
            if self.vt.platforms is None:
                if self.vt.platforms_problem:
                    # Without detection the launcher and the worker still decide, and the result gives the reason.
                    prompt = Text(f"{platform:<9}", style="bold").append("availability unknown", style="yellow")
                    listing.add_option(Selection(prompt, platform, platform in chosen))
                else:
                    prompt = Text(f"{platform:<9}", style="dim").append("detecting …", style="dim")
                    listing.add_option(Selection(prompt, platform, False, disabled=True))
                continue
            if details is None or not details.get("available"):
                reason = (details or {}).get("reason") or "not detected on this machine"
                prompt = Text(f"{platform:<9}", style="dim")
                prompt.append(f"{glyphs.glyph('unavailable')} {reason}", style="dim")
                listing.add_option(Selection(prompt, platform, False, disabled=True))
                continue
            devices = details.get("devices") or []
            names = ", ".join(str(d.get("name") or d.get("id")) for d in devices[:2])
            prompt = Text(f"{platform:<9}", style="bold").append(names)
            listing.add_option(Selection(prompt, platform, platform in chosen))
        self._update_plan()

    # -- plan and start ---------------------------------------------------------

    def _update_plan(self) -> None:
        models = self.query_one("#launch-models", SelectionList).selected
        platforms = self.query_one("#launch-platforms", SelectionList).selected
        text = Text()
        text.append(f"{len(models)} model(s) × {len(platforms)} platform(s) = {len(models) * len(platforms)} job(s)",
                    style="bold")
        if self.vt.run_active:
            text.append(" · a run is active; v shows its progress")
        elif models and platforms:
            text.append(" · ctrl+r starts the run")
        if self.vt.platforms_problem:
            text.append(f"\n{self.vt.platforms_problem}", style="yellow")
        self.query_one("#launch-plan", Static).update(text)

    def read_settings(self) -> Settings:
        """Return the settings of the form; raise ValueError naming the first invalid field."""
        values: dict[str, object] = {}
        for name, label, _tooltip in SETTING_FIELDS:
            raw = self.query_one(f"#setting-{name}", Input).value.strip()
            kind = float if name in ("min_seconds", "timeout_s") else int
            try:
                values[name] = kind(raw)
            except ValueError:
                expected = "a number" if kind is float else "a whole number"
                raise ValueError(f"{label} {raw!r} is invalid; enter {expected}") from None
        values["precision"] = self.query_one("#setting-precision", Select).value
        values["weights"] = self.query_one("#setting-weights", Select).value
        settings = Settings(**values)
        settings.validate()
        return settings

    def action_start_run(self) -> None:
        references = {row.model_id: row.reference or row.model_id for row in (self.models.rows if self.models else [])}
        models = [references.get(model, model) for model in self.query_one("#launch-models", SelectionList).selected]
        platforms = list(self.query_one("#launch-platforms", SelectionList).selected)
        try:
            settings = self.read_settings()
            state = self.vt.start_run(models, platforms, settings)
        except (ValueError, ImportError) as error:
            self.notify(f"Run not started: {error}", severity="error", timeout=10)
            return
        self._attach_run(state)
        self._show_view("launch-progress")
        self.query_one("#launch-jobs", DataTable).focus()

    def _attach_run(self, state: RunState) -> None:
        self._state = state
        self._drawn_version = -1
        self._drawn_log = 0
        self.query_one("#launch-log", Log).clear()
        self._job_columns()
        self._redraw()

    # -- progress ---------------------------------------------------------------

    def _redraw(self) -> None:
        state = self.vt.run_state
        if state is None:
            return
        if state is not self._state:
            self._attach_run(state)
            return
        if not self.is_current:
            return
        running = any(row.state == "running" for row in state.jobs.values())
        if state.version == self._drawn_version and not running:
            return
        self._drawn_version = state.version
        now = state.clock()
        jobs = self.query_one("#launch-jobs", DataTable)
        for row in state.jobs.values():
            for key, value in self._cells(row, now).items():
                jobs.update_cell(row.job_id, key, value)
        new_lines = state.log_total - self._drawn_log
        if new_lines > 0:
            lines = list(state.log)[-min(new_lines, len(state.log)):]
            self.query_one("#launch-log", Log).write_lines(lines)
            self._drawn_log = state.log_total
        self._update_summary(state)
        self.refresh_bindings()

    def _job_columns(self) -> None:
        """Lay out the job table for the current width and fill it from the run state."""
        jobs = self.query_one("#launch-jobs", DataTable)
        wide = self.size.width >= WIDE
        self._wide = wide
        jobs.clear(columns=True)
        if wide:
            columns = [("State", "state", 11), ("Model", "model", 0), ("Platform", "platform", 8),
                       ("Phase", "phase", 16), ("Progress", "progress", 16), ("Elapsed", "elapsed", 7),
                       ("ETA", "eta", 7), ("Median", "median", 8)]
        else:
            # Narrow terminals: the state is its glyph, and the platform joins the model.
            columns = [("", "state", 1), ("Job", "model", 0), ("Phase", "phase", 8), ("Progress", "progress", 11),
                       ("Time", "elapsed", 5), ("ETA", "eta", 5), ("Median", "median", 8)]
        fixed = sum(width + 2 for _label, _key, width in columns if width)
        self._job_model_width = max(self.size.width - fixed - 5, 12)
        for label, key, width in columns:
            jobs.add_column(label, key=key, width=width or self._job_model_width)
        state = self.vt.run_state
        if state is not None:
            for row in state.jobs.values():
                jobs.add_row(*self._cells(row, state.clock()).values(), key=row.job_id)

    def on_resize(self) -> None:
        if (self.size.width >= WIDE) != self._wide:
            self._job_columns()

    def _cells(self, row, now: float) -> dict[str, object]:
        bar_width = 8 if self._wide else 5
        progress = Text(glyphs.bar(row.fraction(), bar_width))
        if row.phase == "measure" and row.total and row.active:
            progress.append(f" {row.done or 0}/{row.total}")
        phase = row.phase or "—"
        if row.state in ("fail", "cancelled", "mismatch") and row.error_type:
            phase = row.error_type
        if self._wide:
            state, model = glyphs.state_text(row.state), glyphs.fit_model(row.model, self._job_model_width)
            platform = {"platform": row.platform}
        else:
            state = glyphs.state_text(row.state, word=False)
            name = glyphs.fit_model(row.model, max(self._job_model_width - len(row.platform) - 1, 6))
            model, platform = f"{row.platform} {name}", {}
        return {
            "state": state, "model": model, **platform, "phase": phase, "progress": progress,
            "elapsed": glyphs.duration(row.elapsed(now)), "eta": glyphs.duration(row.eta(now)),
            "median": glyphs.seconds(row.median_s),
        }

    def _update_summary(self, state: RunState) -> None:
        text = Text(state.summary(), style="bold")
        selected = self._cursor_job()
        if selected is not None:
            row = state.jobs[selected]
            if row.message and not row.active:
                text.append(f"\n{row.model} on {row.platform}: {row.message.splitlines()[0][:200]}",
                            style="red" if row.state == "fail" else "")
        if state.spool_message:
            text.append(f"\n{state.spool_message}", style="yellow")
        self.query_one("#launch-summary", Static).update(text)

    @on(DataTable.RowHighlighted, "#launch-jobs")
    def _job_highlighted(self) -> None:
        if self.vt.run_state is not None:
            self._update_summary(self.vt.run_state)

    def _cursor_job(self) -> str | None:
        jobs = self.query_one("#launch-jobs", DataTable)
        if not jobs.row_count:
            return None
        return jobs.coordinate_to_cell_key(jobs.cursor_coordinate).row_key.value

    # -- views and cancelling ------------------------------------------------------

    def _show_view(self, view: str) -> None:
        self.query_one("#launch-views", ContentSwitcher).current = view
        self.refresh_bindings()
        if view == "launch-setup":
            self._update_plan()

    @property
    def view(self) -> str:
        return self.query_one("#launch-views", ContentSwitcher).current or "launch-setup"

    def action_toggle_view(self) -> None:
        if self.view == "launch-setup":
            if self.vt.run_state is None:
                self.notify("No run yet: tick models and platforms, then press ctrl+r.")
                return
            self._show_view("launch-progress")
            self.query_one("#launch-jobs", DataTable).focus()
        else:
            self._show_view("launch-setup")
            self.query_one("#launch-models", SelectionList).focus()

    def action_leave_input(self) -> None:
        if self.view == "launch-setup":
            self.query_one("#launch-models", SelectionList).focus()

    def action_cancel_job(self) -> None:
        state = self.vt.run_state
        job_id = self._cursor_job()
        if state is None or job_id is None or not state.jobs[job_id].active:
            self.notify("The job under the cursor is not running or queued.", severity="warning")
            return
        row = state.jobs[job_id]

        def answer(confirmed: bool | None) -> None:
            if confirmed:
                self.vt.cancel_job(job_id)

        self.app.push_screen(
            ConfirmScreen("Cancel job", f"Cancel {row.model} on {row.platform}? It is stored as cancelled.",
                          confirm="Cancel job", cancel="Keep"),
            answer,
        )

    def action_cancel_run(self) -> None:
        state = self.vt.run_state
        if state is None or not state.active:
            self.notify("No run is active.", severity="warning")
            return
        left = sum(1 for row in state.jobs.values() if row.active)

        def answer(confirmed: bool | None) -> None:
            if confirmed:
                self.vt.cancel_run()

        self.app.push_screen(
            ConfirmScreen("Cancel run", f"Cancel the {left} unfinished job(s)? Finished results stay stored.",
                          confirm="Cancel run", cancel="Keep"),
            answer,
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "start_run":
            return self.view == "launch-setup" and not self.vt.run_active
        if action in ("cancel_job", "cancel_run"):
            return self.view == "launch-progress" and self.vt.run_active
        if action == "toggle_view":
            return self.vt.run_state is not None
        return True
