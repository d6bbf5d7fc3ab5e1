"""The app process never imports torch, transformers or openvino, whatever the user does in it.

The app runs headless in a fresh interpreter. It visits every screen, detects
platforms, runs a tiny model through the launcher and exports the reports.
Then it prints which model libraries its own process loaded. Workers and the
detection subprocess load them, which is allowed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import REPO_ROOT
from tests.models import build_tiny_clip

pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from pathlib import Path

    from vt_tui.app import VtApp
    from vt_tui.config import AppConfig
    from vt_tui.services import AppStore, Services

    db, models, reports = (Path(p) for p in sys.argv[1:4])

    async def main():
        services = Services(store=AppStore(db), model_dirs=[models], reports_dir=lambda: reports)
        app = VtApp(AppConfig(db_path=db, model_dirs=[models], theme="textual-dark"), services=services)
        async with app.run_test(size=(100, 30)) as pilot:
            for key in ("5", "4", "3", "1"):
                await pilot.press(key)
                await pilot.pause(0.2)
            deadline = time.monotonic() + 120
            while app.platforms is None and app.platforms_problem is None and time.monotonic() < deadline:
                await pilot.pause(0.2)
            await pilot.press("slash", *"tiny", "enter", "space", "l")
            await pilot.pause(0.5)
            for name, value in (("iterations", "2"), ("min_seconds", "0"), ("warmup", "0")):
                app.screen.query_one(f"#setting-{name}").value = value
            await pilot.press("ctrl+r")
            deadline = time.monotonic() + 240
            while app.run_active and time.monotonic() < deadline:
                await pilot.pause(0.2)
            await pilot.press("3", "4", "e")
            deadline = time.monotonic() + 300
            while app._exporting and time.monotonic() < deadline:
                await pilot.pause(0.2)
            states = [row.state for row in app.run_state.jobs.values()]
        loaded = sorted(m for m in ("torch", "transformers", "openvino") if m in sys.modules)
        print("APP-REPORT " + json.dumps({"loaded": loaded, "states": states,
                                          "exported": len(list(reports.glob("*")))}))

    asyncio.run(main())
    """
)


def test_app_never_imports_model_libraries(tmp_path):
    models = tmp_path / "models"
    build_tiny_clip(models / "tiny-clip")
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "r.duckdb"), str(models), str(tmp_path / "reports")],
        capture_output=True, text=True, timeout=900, cwd=REPO_ROOT,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("APP-REPORT ")]
    assert lines, f"no report from the app process:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
    report = json.loads(lines[-1].removeprefix("APP-REPORT "))

    assert report["states"] == ["pass"]
    assert report["exported"] > 0
    assert report["loaded"] == []
