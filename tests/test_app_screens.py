"""Each screen on a seeded database, driven by keys through Textual's pilot."""

from __future__ import annotations

import io
import subprocess
import sys
import time

import pytest
from rich.console import Console
from textual.widgets import DataTable, Input, SelectionList, Static

from tests.app_seed import (BLIP_BASE, CLIP_B16, CLIP_B32, seed_database, seeded_app, settle,
                            simulated_legacy_result)
from vt_core.store import Store
from vt_tui.screens.cell import CellScreen
from vt_tui.screens.dialogs import ConfirmScreen, HelpScreen


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Point the catalog at an empty Hugging Face cache and data folder; return a seeded database path."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("VT_HOME", str(tmp_path / "home"))
    db = tmp_path / "results.duckdb"
    seed_database(db)
    return db


def cell_text(table: DataTable, row_key: str, column_key: str) -> str:
    value = table.get_cell(row_key, column_key)
    return value.plain if hasattr(value, "plain") else str(value)


def static_text(widget: Static) -> str:
    """Return the text a Static shows, whatever renderable it holds."""
    console = Console(width=200, color_system=None, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


async def open_cell(pilot, model: str, column: int) -> None:
    """Open the matrix screen and the runs of one of its cells."""
    await pilot.press("3")
    await settle(pilot)
    table = pilot.app.screen.query_one("#matrix-table", DataTable)
    keys = [row.value for row in table.rows]
    table.move_cursor(row=keys.index(model), column=column)
    await pilot.press("enter")
    await settle(pilot)


async def test_models_lists_catalog_and_states(isolated):
    app = seeded_app(isolated)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#models-table", DataTable)
        keys = [row.value for row in table.rows]

        assert CLIP_B32 in keys
        assert "openai/clip-vit-large-patch14" in keys
        assert cell_text(table, CLIP_B32, "cpu") == "✓"
        assert cell_text(table, CLIP_B32, "openvino") == "≠"
        assert cell_text(table, CLIP_B32, "cuda") == "–"
        assert cell_text(table, BLIP_BASE, "openvino") == "✗"
        assert cell_text(table, "openai/clip-vit-large-patch14", "cpu") == "·"
        assert cell_text(table, CLIP_B32, "params") == "151M"


async def test_models_filter_detail_select(isolated):
    app = seeded_app(isolated)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"blip base", "enter")
        table = app.screen.query_one("#models-table", DataTable)

        assert [row.value for row in table.rows] == [BLIP_BASE]

        await pilot.press("space")
        assert app.selected_models == {BLIP_BASE}

        await pilot.press("enter")
        await settle(pilot)
        history = app.screen.query_one("#models-history", DataTable)
        states = [cell_text(history, row.value, history.ordered_columns[2].key) for row in history.rows]

        assert app.screen.query_one("#models-detail").display
        assert sorted(states) == ["✓ pass", "✗ fail"]

        await pilot.press("escape")
        assert not app.screen.query_one("#models-detail").display


async def test_history_marks_simulated_legacy_result(isolated):
    Store(isolated).ingest([simulated_legacy_result()])
    app = seeded_app(isolated)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"blip base", "enter", "enter")
        await settle(pilot)
        history = app.screen.query_one("#models-history", DataTable)
        states = [cell_text(history, row.value, history.ordered_columns[2].key) for row in history.rows]

        assert sorted(states) == ["✓ pass", "✓ sim", "✗ fail"]

        await open_cell(pilot, BLIP_BASE, 1)
        runs = app.screen.query_one("#cell-runs", DataTable)
        detail = static_text(app.screen.query_one("#cell-detail-text", Static))

        assert cell_text(runs, "legacy-0001", "State") == "✓ sim"
        assert "pass (simulated)" in detail
        assert "The older framework simulated this result instead of measuring it" in detail


async def test_launch_lists_unavailable_platforms_disabled(isolated):
    app = seeded_app(isolated)
    app.selected_models.add(CLIP_B16)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        platforms = app.screen.query_one("#launch-platforms", SelectionList)
        options = {str(o.value): o for o in platforms.options}
        models = app.screen.query_one("#launch-models", SelectionList)

        assert not options["cpu"].disabled
        assert not options["openvino"].disabled
        assert options["cuda"].disabled
        assert "torch.cuda.is_available() is False" in options["cuda"].prompt.plain
        assert platforms.selected == ["cpu"]
        assert models.selected == [CLIP_B16]
        assert "1 job(s)" in static_text(app.screen.query_one("#launch-plan", Static))


async def test_launch_rejects_invalid_setting(isolated):
    app = seeded_app(isolated)
    app.selected_models.add(CLIP_B16)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        app.screen.query_one("#setting-iterations", Input).value = "zero"
        await pilot.press("ctrl+r")
        await pilot.pause()

        assert app.run_state is None
        messages = [n.message for n in app._notifications]
        assert any("Iterations 'zero' is invalid; enter a whole number" in m for m in messages)

        app.screen.query_one("#setting-iterations", Input).value = "0"
        await pilot.press("ctrl+r")
        await pilot.pause()

        assert app.run_state is None
        assert any("iterations must be at least 1, got 0" in n.message for n in app._notifications)


async def test_matrix_states_and_cell_runs(isolated):
    app = seeded_app(isolated)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("3")
        await settle(pilot)
        table = app.screen.query_one("#matrix-table", DataTable)
        keys = [row.value for row in table.rows]

        assert keys[0] == "family:clip"
        assert keys.index("family:blip") > keys.index(CLIP_B32)
        assert cell_text(table, CLIP_B32, "openvino") == "≠ diff"
        assert cell_text(table, BLIP_BASE, "openvino") == "✗ fail"
        assert cell_text(table, CLIP_B32, "cuda") == "– n/a"
        assert "cpu 3/3" in static_text(app.screen.query_one("#matrix-summary", Static))

        table.move_cursor(row=keys.index(BLIP_BASE), column=5)
        await pilot.press("enter")
        await settle(pilot)

        assert isinstance(app.screen, CellScreen)
        detail = static_text(app.screen.query_one("#cell-detail-text", Static))
        assert "conversion_error" in detail
        assert "openvino.convert_model failed on aten::scaled_dot_product" in detail
        assert "Traceback (most recent call last)" in detail

        await pilot.press("escape")
        assert not isinstance(app.screen, CellScreen)


async def test_cell_runs_show_statistics_and_comparison(isolated):
    app = seeded_app(isolated)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_cell(pilot, CLIP_B32, 5)
        detail = static_text(app.screen.query_one("#cell-detail-text", Static))

        assert "mismatch" in detail
        assert "max abs diff" in detail
        assert "0.041" in detail
        assert "top-1 agreement" in detail
        assert "75.0%" in detail
        assert "95% CI of mean" in detail
        assert "p99" in detail


async def test_stats_rows_regression_and_charts(isolated):
    app = seeded_app(isolated)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        screen = app.screen
        rows = {(r.model_id, r.platform): r for r in screen.data.rows}

        assert rows[(CLIP_B32, "cpu")].regression == "+19%"
        assert rows[(CLIP_B16, "cpu")].regression is None
        assert rows[(CLIP_B32, "cpu")].n == 30
        assert rows[(BLIP_BASE, "cpu")].n == 12
        assert "regression(s) flagged" in static_text(screen.query_one("#stats-note", Static))
        # All three charts are shown side by side at 160 columns and drew data.
        assert all(screen.query_one(f"#chart-{name}").display for name in ("bars", "time", "histogram"))

        table = screen.query_one("#stats-table", DataTable)
        keys = [(r.model_id, r.platform) for r in screen.data.rows]
        table.move_cursor(row=keys.index((CLIP_B32, "cpu")))
        await settle(pilot)

        assert screen._chart_key == (CLIP_B32, "cpu", rows[(CLIP_B32, "cpu")].settings_key)

        await pilot.press("p")
        await settle(pilot)
        pooled = {(r.model_id, r.platform): r for r in screen.data.rows}

        assert pooled[(CLIP_B32, "cpu")].n == 150
        assert pooled[(CLIP_B32, "cpu")].runs == 5


async def test_stats_narrow_shows_one_chart(isolated):
    app = seeded_app(isolated)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        screen = app.screen

        assert [n for n in ("bars", "time", "histogram") if screen.query_one(f"#chart-{n}").display] == ["bars"]

        await pilot.press("h")
        assert [n for n in ("bars", "time", "histogram") if screen.query_one(f"#chart-{n}").display] == ["histogram"]


async def test_hardware_lists_platforms(isolated):
    app = seeded_app(isolated)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        table = app.screen.query_one("#hardware-table", DataTable)

        assert [row.value for row in table.rows] == ["cpu", "cuda", "rocm", "mps", "openvino", "webgpu", "webnn"]
        assert "unavailable" in cell_text(table, "webnn", "state")
        assert "no WebNN ML context" in cell_text(table, "webnn", "devices")
        assert "2.13.0" in static_text(app.screen.query_one("#hardware-detail-text", Static))


async def test_help_lists_screen_keys(isolated):
    app = seeded_app(isolated)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

        assert isinstance(app.screen, HelpScreen)
        text = static_text(app.screen.query_one("#help-text", Static))
        assert "Open the runs of the cell under the cursor" in text
        assert "Write the full report set" in text

        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_palette_offers_screen_actions(isolated):
    from vt_tui.commands import ScreenActionsProvider

    app = seeded_app(isolated)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        provider = ScreenActionsProvider(app.screen)
        names = [name for name, _help, _callback in provider._commands()]

        for expected in ("Bars", "Over time", "Histogram", "Latest/all", "Export", "Help", "Quit", "Models",
                         "Launch", "Matrix", "Stats", "Hardware", "Light/dark"):
            assert expected in names

        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"histogram")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause()

        assert app.screen.chart == "histogram"


async def test_theme_toggle(isolated):
    app = seeded_app(isolated)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.theme == "textual-dark"

        await pilot.press("ctrl+t")
        assert app.theme == "textual-light"

        await pilot.press("ctrl+t")
        assert app.theme == "textual-dark"


@pytest.mark.parametrize(
    ("term", "colorterm", "theme"),
    [("linux", "", "ansi-dark"), ("xterm-256color", "truecolor", "textual-dark")],
)
async def test_theme_follows_terminal_colours(isolated, monkeypatch, term, colorterm, theme):
    monkeypatch.setenv("TERM", term)
    monkeypatch.setenv("COLORTERM", colorterm)
    app = seeded_app(isolated, theme=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()

        assert app.theme == theme


async def test_quit_without_run_exits(isolated):
    app = seeded_app(isolated)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("q")
        await pilot.pause()

        assert app.return_code == 0


async def test_locked_database_is_a_message(isolated, tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('locked', flush=True); time.sleep(60)",
         str(isolated)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        app = seeded_app(isolated, lock_retries=1, lock_retry_delay_s=0.01)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            status = static_text(app.screen.query_one("#models-status", Static))

            assert "Database locked" in status
            assert "is locked by another process" in status
            assert app.is_running
    finally:
        holder.kill()
        holder.wait()
