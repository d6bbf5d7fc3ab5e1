"""The vt-tui Textual app: model browser, launcher, matrix, statistics, hardware.

Each main screen is a mode (`1`-`5` switch between them), so a screen keeps
its state while another is in front, and a run started on the launcher keeps
going while the user looks at the matrix. The app owns the run (an async
worker around `vt_core.launcher.Launcher`), the platform detection and the
report export; screens read the database in thread workers.

This process never imports torch, transformers or openvino: the launcher runs
each job in a worker process.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive
from textual.worker import Worker, WorkerState

from vt_core.records import Settings
from vt_core.store import DatabaseLockedError
from vt_tui import glyphs
from vt_tui.commands import ScreenActionsProvider
from vt_tui.config import AppConfig, ConfigError, load_config, read_settings_file, settings_path
from vt_tui.runstate import RunState
from vt_tui.screens.dialogs import ConfirmScreen, HelpScreen
from vt_tui.screens.hardware import HardwareScreen
from vt_tui.screens.launch import LaunchScreen
from vt_tui.screens.matrix import MatrixScreen
from vt_tui.screens.models import ModelsScreen
from vt_tui.screens.stats import StatsScreen
from vt_tui.services import AppStore, FeatureMissing, Services

log = logging.getLogger(__name__)

SCREENS_IN_ORDER: tuple[tuple[str, str], ...] = (
    ("models", "Models"),
    ("launch", "Launch"),
    ("matrix", "Matrix"),
    ("stats", "Stats"),
    ("hardware", "Hardware"),
)

STATUS_INTERVAL_S = 0.5
"""How often the header and the data of other screens catch up with a run."""

THEME_PAIRS = {"textual-dark": "textual-light", "ansi-dark": "ansi-light"}


class VtApp(App[int]):
    """Browse models, launch runs, and read the results of vt-tui's database."""

    CSS_PATH = "app.tcss"
    TITLE = "vt-tui"
    MODES = {
        "models": ModelsScreen,
        "launch": LaunchScreen,
        "matrix": MatrixScreen,
        "stats": StatsScreen,
        "hardware": HardwareScreen,
    }
    DEFAULT_MODE = "models"
    COMMANDS = App.COMMANDS | {ScreenActionsProvider}
    BINDINGS = [
        Binding("1", "show_screen('models')", "Models", show=False, id="vt.models", tooltip="Model browser"),
        Binding("2", "show_screen('launch')", "Launch", show=False, id="vt.launch", tooltip="Test launcher"),
        Binding("3", "show_screen('matrix')", "Matrix", show=False, id="vt.matrix", tooltip="Compatibility matrix"),
        Binding("4", "show_screen('stats')", "Stats", show=False, id="vt.stats", tooltip="Statistics and charts"),
        Binding("5", "show_screen('hardware')", "Hardware", show=False, id="vt.hardware",
                tooltip="Detected platforms, devices and versions"),
        Binding("e", "export", "Export", id="vt.export", tooltip="Write the full report set to the reports folder"),
        Binding("question_mark", "help", "Help", key_display="?", id="vt.help", tooltip="Keys of this screen"),
        Binding("ctrl+t", "toggle_theme", "Light/dark", show=False, id="vt.theme",
                tooltip="Switch between the light and the dark theme"),
        Binding("q", "quit", "Quit", id="vt.quit", tooltip="Quit; asks first while a run is active"),
    ]

    run_status: reactive[str] = reactive("")
    """One line about the active or last run for the header; empty before the first run."""
    data_version: reactive[int] = reactive(0)
    """Bumped when stored results change; screens reload their data when it moves."""
    platforms_version: reactive[int] = reactive(0)
    """Bumped when platform detection finishes."""

    def __init__(self, config: AppConfig, *, services: Services | None = None,
                 launcher_factory: Any = None) -> None:
        super().__init__()
        self.config = config
        self.services = services or Services(store=AppStore(config.db_path), model_dirs=list(config.model_dirs))
        self.ascii = glyphs.ASCII
        self.db_label = Path(self.services.store.path).name
        """File name of the database, for the header; messages give the full path."""
        self.selected_models: set[str] = set()
        """Models marked in the browser; the launcher starts with them checked."""

        self.platforms: list[dict[str, Any]] | None = None
        self.platforms_problem: str | None = None
        self._detecting = False

        self.run_state: RunState | None = None
        self.launcher: Any = None
        self._launcher_factory = launcher_factory
        self._run_worker: Worker | None = None
        self._seen_version = -1
        self._seen_stored = 0
        self._quit_after_run = False
        self._exporting = False

    # -- start-up ----------------------------------------------------------

    def on_mount(self) -> None:
        self.theme = self._initial_theme()
        keymap = self._user_keymap()
        if keymap:
            self.set_keymap(keymap)
        self.set_interval(STATUS_INTERVAL_S, self._follow_run)
        self._follow_run()
        self._ingest_spool()

    def _initial_theme(self) -> str:
        if self.config.theme:
            if self.config.theme in self.available_themes:
                return self.config.theme
            self.notify(f"theme {self.config.theme!r} not found; using the default", severity="warning")
        if self.console.color_system in ("standard", "windows"):
            # A 16-colour terminal (TERM=linux): the ANSI theme uses its palette instead of
            # RGB colours that would be rounded to the nearest of 16.
            return "ansi-dark"
        return "textual-dark"

    def _user_keymap(self) -> dict[str, str]:
        try:
            keymap = read_settings_file(settings_path()).get("keymap", {})
        except ConfigError as error:
            self.notify(str(error), severity="error")
            return {}
        return {str(k): str(v) for k, v in keymap.items()} if isinstance(keymap, dict) else {}

    @work(thread=True, group="spool", exit_on_error=False)
    def _ingest_spool(self) -> None:
        """Move results that waited in the spool (the database was locked last time) into DuckDB."""
        from vt_core import paths

        if not paths.spool_dir(self.services.store.path).exists():
            return
        try:
            status = self.services.store.ingest_spool()
        except DatabaseLockedError as error:
            self.call_from_thread(self.notify, f"Spooled results not written: {error}", severity="warning")
            return
        if status.ingested:
            self.call_from_thread(self._results_changed)
            self.call_from_thread(self.notify, f"Wrote {status.ingested} spooled result(s) to the database")
        if status.message:
            self.call_from_thread(self.notify, status.message, severity="warning", timeout=15)

    # -- screens -----------------------------------------------------------

    def action_show_screen(self, mode: str) -> None:
        """Bring a main screen to the front; each keeps its own state and dialogs."""
        if self.current_mode == mode and len(self.screen_stack) == 1:
            return
        self.switch_mode(mode)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.screen))

    def action_toggle_theme(self) -> None:
        pairs = {**THEME_PAIRS, **{light: dark for dark, light in THEME_PAIRS.items()}}
        current = self.theme
        if current in pairs:
            self.theme = pairs[current]
        else:
            self.theme = "textual-light" if self.current_theme.dark else "textual-dark"

    # -- platforms ---------------------------------------------------------

    def ensure_platforms(self, *, refresh: bool = False) -> None:
        """Start platform detection unless it ran or is running; screens watch `platforms_version`."""
        if self._detecting or (self.platforms is not None and not refresh):
            return
        self._detecting = True
        self._detect()

    @work(thread=True, group="detect", exit_on_error=False)
    def _detect(self) -> None:
        try:
            platforms, problem = self.services.detect_platforms(), None
        except FeatureMissing as error:
            platforms, problem = None, str(error)
        except Exception as error:
            log.exception("platform detection failed")
            platforms, problem = None, f"platform detection failed: {error}"
        self.call_from_thread(self._detected, platforms, problem)

    def _detected(self, platforms: list[dict[str, Any]] | None, problem: str | None) -> None:
        self._detecting = False
        self.platforms = platforms
        self.platforms_problem = problem
        self.platforms_version += 1

    @property
    def detecting(self) -> bool:
        return self._detecting

    # -- runs --------------------------------------------------------------

    @property
    def run_active(self) -> bool:
        return self.run_state is not None and self.run_state.active

    def start_run(self, models: Sequence[str], platforms: Sequence[str], settings: Settings) -> RunState:
        """Plan and start a run; raise ValueError for an invalid selection or settings."""
        if self.run_active:
            raise ValueError("a run is active; wait for it to finish or cancel it first")
        if not models:
            raise ValueError("no model selected; tick at least one model")
        if not platforms:
            raise ValueError("no platform selected; tick at least one available platform")
        from vt_core.launcher import Launcher, plan_jobs

        jobs = plan_jobs(list(models), list(platforms), settings)
        factory = self._launcher_factory or Launcher
        self.launcher = factory(store=self.services.store, concurrency=1, command="vt-tui app")
        self.run_state = RunState.from_jobs(jobs)
        self._seen_stored = 0
        self._run_worker = self.run_worker(
            self._run(jobs), group="run", exclusive=True, exit_on_error=False, name="run"
        )
        self._follow_run()
        return self.run_state

    async def _run(self, jobs: list) -> None:
        state = self.run_state
        await self.launcher.run(jobs, on_event=state.apply, platform_info=self.platforms)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self._run_worker:
            return
        if event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            self._run_ended(event.worker)

    def _run_ended(self, worker: Worker) -> None:
        state = self.run_state
        if state is not None and not state.finished:
            # The launcher raised before its `run_finished` event: close the run so the UI unlocks.
            state.finished = True
            state.version += 1
            state.add_log(None, f"run stopped: {worker.error}")
        if worker.state == WorkerState.ERROR:
            log.error("run failed: %s", worker.error)
            self.notify(f"Run failed: {worker.error}", severity="error", timeout=15)
        elif state is not None:
            counts = state.counts()
            summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
            self.notify(f"Run finished: {summary}", title="Launcher")
            if state.spool_message:
                self.notify(state.spool_message, severity="warning", timeout=15)
        self._follow_run()
        self._results_changed()
        if self._quit_after_run:
            self.exit(0)

    def cancel_job(self, job_id: str) -> None:
        if self.launcher is not None and self.run_active:
            self.launcher.cancel(job_id)

    def cancel_run(self) -> None:
        if self.launcher is not None and self.run_active:
            self.launcher.cancel()

    def _follow_run(self) -> None:
        """Catch up with the run: header status, and a data reload when results were stored."""
        state = self.run_state
        if state is None or state.version == self._seen_version:
            return
        self._seen_version = state.version
        self.run_status = state.summary() if state.active else ""
        if state.stored_count != self._seen_stored:
            self._seen_stored = state.stored_count
            self._results_changed()

    def _results_changed(self) -> None:
        self.data_version += 1

    # -- export ------------------------------------------------------------

    def action_export(self) -> None:
        if self._exporting:
            self.notify("An export is already running.", severity="warning")
            return
        self._exporting = True
        self.notify(f"Exporting reports to {self.services.output_dir()} …", title="Export")
        self._export()

    @work(thread=True, group="export", exit_on_error=False)
    def _export(self) -> None:
        output_dir = self.services.output_dir()
        try:
            files = self.services.export_reports(self.services.store, output_dir)
        except (FeatureMissing, DatabaseLockedError) as error:
            self.call_from_thread(self._exported, None, str(error))
            return
        except Exception as error:
            log.exception("export failed")
            self.call_from_thread(self._exported, None, f"export to {output_dir} failed: {error}")
            return
        self.call_from_thread(self._exported, files, None)

    def _exported(self, files: list[Path] | None, problem: str | None) -> None:
        self._exporting = False
        self.last_export = files
        if problem:
            self.notify(problem, title="Export failed", severity="error", timeout=15)
            return
        files = files or []
        folders = sorted({str(path.parent) for path in files}) or [str(self.services.output_dir())]
        names = "\n".join(path.name for path in files[:6])
        more = f"\n… and {len(files) - 6} more" if len(files) > 6 else ""
        self.notify(f"Wrote {len(files)} file(s) to {', '.join(folders)}\n{names}{more}",
                    title="Export", timeout=15)

    # -- quit --------------------------------------------------------------

    async def action_quit(self) -> None:
        if not self.run_active:
            self.exit(0)
            return
        left = sum(1 for row in self.run_state.jobs.values() if row.active)
        question = (
            f"A run is active with {left} job(s) not finished. Quit and cancel them? "
            "Results of finished jobs are already stored."
        )
        self.push_screen(ConfirmScreen("Quit during a run", question, confirm="Quit"), self._quit_answer)

    def _quit_answer(self, confirmed: bool | None) -> None:
        if not confirmed:
            return
        if not self.run_active:
            self.exit(0)
            return
        self._quit_after_run = True
        self.notify("Cancelling the run, then quitting …")
        self.cancel_run()


def run_app(argv: Sequence[str] | None = None) -> int:
    """Open the app; return its exit status (2 for an invalid option)."""
    try:
        config = load_config(argv)
    except ConfigError as error:
        print(f"vt-tui: error: {error}", file=sys.stderr)
        return 2
    app = VtApp(config)
    try:
        result = app.run()
    finally:
        # An app that stopped on an error leaves no worker processes behind.
        app.cancel_run()
    return int(result or app.return_code or 0)
