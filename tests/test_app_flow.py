"""The main flow on a real tiny model: select, launch on cpu, watch it finish, read the results, export.

Jobs run in real worker processes and results land in a real DuckDB file;
a tiny synthetic CLIP keeps each job to seconds.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input

from tests.app_seed import PLATFORMS_FIXED, settle
from tests.models import TINY_CLIP_ID, build_tiny_clip
from vt_core.store import Store
from vt_tui.app import VtApp
from vt_tui.config import AppConfig
from vt_tui.screens.dialogs import ConfirmScreen
from vt_tui.services import AppStore, Services

pytestmark = pytest.mark.slow

RUN_TIMEOUT_S = 240


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    build_tiny_clip(folder / "tiny-clip")
    return folder


def make_app(db: Path, models_dir: Path, reports: Path, **services) -> VtApp:
    store = AppStore(db)
    return VtApp(
        AppConfig(db_path=db, model_dirs=[models_dir], theme="textual-dark"),
        services=Services(store=store, model_dirs=[models_dir], reports_dir=lambda: reports, **services),
    )


def set_fast_settings(app: VtApp) -> None:
    for name, value in (("iterations", "5"), ("min_seconds", "0.2"), ("warmup", "1")):
        app.screen.query_one(f"#setting-{name}", Input).value = value


async def wait_for(pilot, condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout_s} s waiting for {what}"
        await pilot.pause(0.1)


async def test_select_launch_matrix_stats_export(tmp_path, models_dir, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    db, reports = tmp_path / "results.duckdb", tmp_path / "reports"
    app = make_app(db, models_dir, reports)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"tiny", "enter", "space", "l")
        await wait_for(pilot, lambda: app.platforms is not None or app.platforms_problem, 120, "detection")
        await settle(pilot)

        assert app.platforms_problem is None
        set_fast_settings(app)
        await pilot.press("ctrl+r")
        await pilot.pause()

        assert app.run_active
        assert "run 0/1" in app.run_status
        jobs = app.screen.query_one("#launch-jobs", DataTable)
        job_id = next(iter(app.run_state.jobs))
        phases_seen: set[str] = set()

        def finished() -> bool:
            phases_seen.add(str(jobs.get_cell(job_id, "phase")))
            return not app.run_active

        await wait_for(pilot, finished, RUN_TIMEOUT_S, "the run")
        await settle(pilot)
        row = next(iter(app.run_state.jobs.values()))

        assert row.state == "pass", row.message
        assert row.stored is True
        assert row.fraction() == 1.0
        assert jobs.get_cell(job_id, "state").plain.startswith("✓")
        # A tiny model can warm up and measure between two polls, so the table shows
        # an early phase live, and the run log shows that measure ran.
        assert phases_seen - {"—", "done"}
        assert any(line.endswith("] phase measure") for line in app.run_state.log)
        assert app.run_status == ""

        await pilot.press("3")
        await settle(pilot)
        matrix = app.screen.query_one("#matrix-table", DataTable)

        assert matrix.get_cell(TINY_CLIP_ID, "cpu").plain == "✓"

        await pilot.press("4")
        await settle(pilot)
        stats = {(r.model_id, r.platform): r for r in app.screen.data.rows}

        assert stats[(TINY_CLIP_ID, "cpu")].n >= 5
        assert stats[(TINY_CLIP_ID, "cpu")].median_s > 0

        await pilot.press("e")
        await wait_for(pilot, lambda: not app._exporting, 300, "the export")

    written = sorted(p.suffix for p in reports.iterdir())
    assert {".md", ".json", ".csv", ".html"} <= set(written)
    assert Store(db).result_count() == 1


async def test_quit_during_run_keeps_finished(tmp_path, models_dir, monkeypatch):
    # Detection is fixed here (the flow above runs the real one); cpu and openvino exist on every test machine.
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    db = tmp_path / "results.duckdb"
    app = make_app(db, models_dir, tmp_path / "reports", detect_platforms=lambda: PLATFORMS_FIXED)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"tiny", "enter", "space", "l")
        await settle(pilot)
        await pilot.click("#launch-platforms")
        platforms = app.screen.query_one("#launch-platforms")
        platforms.select("openvino")
        set_fast_settings(app)
        await pilot.press("ctrl+r")
        jobs = list(app.run_state.jobs.values())

        assert [job.platform for job in jobs] == ["cpu", "openvino"]

        await wait_for(pilot, lambda: not jobs[0].active, RUN_TIMEOUT_S, "the cpu job")

        assert jobs[1].active, "the openvino job finished too early for this test"

        await pilot.press("q")
        await pilot.pause()

        assert isinstance(app.screen, ConfirmScreen)

        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running, 60, "the app to quit")

    results = {r.platform: r for r in Store(db).latest_states()}
    assert results["cpu"].state == "pass"
    assert app.run_state.jobs[jobs[1].job_id].state == "cancelled"
    assert app.return_code == 0
