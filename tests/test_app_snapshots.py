"""SVG snapshots of every screen at 80x24 and 160x48, on seeded results with a fixed clock.

Update after an intended change with `pytest tests/test_app_snapshots.py --snapshot-update`
and review the SVG files under tests/__snapshots__/.
"""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from tests.app_seed import (BLIP_BASE, CLIP_B16, CLIP_B32, seed_database, seeded_app, settle,
                            simulated_legacy_result)
from vt_core.launcher import LauncherEvent
from vt_core.records import JobResult, JobSpec, Settings
from vt_core.store import Store
from vt_tui.runstate import RunState

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]


@pytest.fixture
def db(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("VT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VT_ASCII", "0")
    path = tmp_path / "results.duckdb"
    seed_database(path)
    return path


def keys(*presses: str):
    async def run_before(pilot) -> None:
        await settle(pilot)
        for press in presses:
            await pilot.press(press)
            await settle(pilot)

    return run_before


def seeded_run() -> RunState:
    """Return a run in progress built from fixed events: one job done, one measuring, one queued."""
    settings = Settings(iterations=20, min_seconds=2.0)
    specs = [JobSpec(model_ref=m, platform="cpu", settings=settings, job_id=f"job-{i}", run_id="run-1")
             for i, m in enumerate((CLIP_B32, CLIP_B16, BLIP_BASE))]
    state = RunState.from_jobs(specs, clock=lambda: 160.0)
    events = [
        LauncherEvent("queued", job_id="job-0", time=100.0),
        LauncherEvent("started", job_id="job-0", phase="start", time=100.0),
        LauncherEvent("log", job_id="job-0", message="resolved openai/clip-vit-base-patch32 (synthetic)"),
        LauncherEvent("phase", job_id="job-0", phase="measure", time=120.0),
        LauncherEvent("finished", job_id="job-0", stored=True, time=130.0, result=JobResult(
            job_id="job-0", run_id="run-1", model_id=CLIP_B32, platform="cpu", status="pass",
            samples_s=[0.05, 0.051, 0.049])),
        LauncherEvent("started", job_id="job-1", phase="start", time=131.0),
        LauncherEvent("phase", job_id="job-1", phase="load", time=135.0),
        LauncherEvent("log", job_id="job-1", message="Loading weights: 100%"),
        LauncherEvent("phase", job_id="job-1", phase="measure", time=150.0),
        LauncherEvent("progress", job_id="job-1", phase="measure", done=12, total=20, median_s=0.11, time=159.0),
    ]
    for event in events:
        state.apply(event)
    return state


@pytest.mark.parametrize("size", SIZES)
def test_models_screen(snap_compare, db, size):
    assert snap_compare(seeded_app(db), terminal_size=size, run_before=keys())


@pytest.mark.parametrize("size", SIZES)
def test_models_filter_and_history(snap_compare, db, size):
    presses = ("slash", *"clip", "enter", "space", "enter")
    assert snap_compare(seeded_app(db), terminal_size=size, run_before=keys(*presses))


@pytest.mark.parametrize("size", SIZES)
def test_launch_setup(snap_compare, db, size):
    app = seeded_app(db)
    app.selected_models.add(CLIP_B32)
    assert snap_compare(app, terminal_size=size, run_before=keys("2"))


@pytest.mark.parametrize("size", SIZES)
def test_launch_progress(snap_compare, db, size):
    app = seeded_app(db)
    app.run_state = seeded_run()

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        await pilot.pause(0.6)  # one redraw tick of the job table and of the header

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_matrix_screen(snap_compare, db, size):
    assert snap_compare(seeded_app(db), terminal_size=size, run_before=keys("3"))


def open_cell(model: str, column: int):
    """Return a run_before that opens the runs of one matrix cell."""
    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        table = pilot.app.screen.query_one("#matrix-table", DataTable)
        row = [r.value for r in table.rows].index(model)
        table.move_cursor(row=row, column=column)
        await pilot.press("enter")
        await settle(pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_cell_runs(snap_compare, db, size):
    assert snap_compare(seeded_app(db), terminal_size=size, run_before=open_cell(CLIP_B32, 5))


@pytest.mark.parametrize("size", SIZES)
def test_cell_runs_simulated_legacy(snap_compare, db, size):
    Store(db).ingest([simulated_legacy_result()])

    assert snap_compare(seeded_app(db), terminal_size=size, run_before=open_cell(BLIP_BASE, 1))


@pytest.mark.parametrize("size", SIZES)
def test_stats_screen(snap_compare, db, size):
    assert snap_compare(seeded_app(db), terminal_size=size, run_before=keys("4", "down", "down", "down"))


@pytest.mark.parametrize("size", SIZES)
def test_stats_histogram(snap_compare, db, size):
    assert snap_compare(seeded_app(db), terminal_size=size, run_before=keys("4", "h"))


@pytest.mark.parametrize("size", SIZES)
def test_hardware_screen(snap_compare, db, size):
    assert snap_compare(seeded_app(db), terminal_size=size, run_before=keys("5"))


@pytest.mark.parametrize("size", SIZES)
def test_help_screen(snap_compare, db, size):
    assert snap_compare(seeded_app(db), terminal_size=size, run_before=keys("3", "question_mark"))


@pytest.mark.parametrize("size", SIZES)
def test_quit_confirmation(snap_compare, db, size):
    app = seeded_app(db)
    app.run_state = seeded_run()
    assert snap_compare(app, terminal_size=size, run_before=keys("q"))


@pytest.mark.parametrize("size", SIZES)
def test_matrix_light_theme(snap_compare, db, size):
    assert snap_compare(seeded_app(db, theme="textual-light"), terminal_size=size, run_before=keys("3"))


@pytest.mark.parametrize("size", SIZES)
def test_matrix_sixteen_colours(snap_compare, db, size, monkeypatch):
    # What TERM=linux gets: the ANSI theme and ASCII glyphs.
    monkeypatch.setattr("vt_tui.glyphs.ASCII", True)
    assert snap_compare(seeded_app(db, theme="ansi-dark"), terminal_size=size, run_before=keys("3"))


@pytest.mark.parametrize("size", SIZES)
def test_stats_sixteen_colours(snap_compare, db, size, monkeypatch):
    monkeypatch.setattr("vt_tui.glyphs.ASCII", True)
    assert snap_compare(seeded_app(db, theme="ansi-dark"), terminal_size=size, run_before=keys("4"))
