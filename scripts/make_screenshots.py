"""Make SVG screenshots of every screen of the app from real results.

Usage:
    python scripts/make_screenshots.py [--output screenshots] [--size 120x34] [--db PATH]

The script builds the tests' tiny synthetic CLIP and BLIP (real layer types,
random weights). It stores real results with `vt-tui run` on every platform,
twice so the charts have a history; absent platforms are stored as
unavailable. Then it opens the app headless on that database, drives it by
keys, starts one more run from the launcher for the progress screen, and saves
one SVG per screen. Nothing in the pictures is staged: the figures are this
machine's.
With `--db`, an existing database is used and no results are generated.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

RUN_SETTINGS = ["--iterations", "10", "--min-seconds", "0.5", "--warmup", "2", "--max-new-tokens", "8"]


def build_models(folder: Path) -> list[Path]:
    from tests.models import build_tiny_blip, build_tiny_clip

    return [build_tiny_clip(folder / "tiny-clip"), build_tiny_blip(folder / "tiny-blip")]


def store_results(db: Path, models: list[Path], rounds: int) -> None:
    """Run every model on every platform `rounds` times with the real command line."""
    vt_tui = Path(sys.executable).with_name("vt-tui")
    command = [str(vt_tui), "run", "--all-hardware", "--db", str(db), *RUN_SETTINGS]
    for model in models:
        command += ["--model", str(model)]
    for round_number in range(1, rounds + 1):
        print(f"vt-tui run, round {round_number} of {rounds} …", flush=True)
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


async def wait(pilot, condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}")
        await pilot.pause(0.1)


async def settle(pilot) -> None:
    """Wait until two rounds in a row pass without a running worker (a run is not waited for)."""
    from textual.worker import WorkerCancelled

    quiet = 0
    for _ in range(40):
        await pilot.pause(0.05)
        pending = [w for w in pilot.app.workers if not w.is_finished and w.group != "run"]
        if not pending:
            quiet += 1
            if quiet == 2:
                break
            continue
        quiet = 0
        for worker in pending:
            try:
                await worker.wait()
            except WorkerCancelled:
                pass
    await pilot.pause(0.3)


async def shoot(db: Path, models_dir: Path, output: Path, size: tuple[int, int]) -> list[Path]:
    from textual.widgets import DataTable, Input

    from vt_core.records import PLATFORMS
    from vt_tui.app import VtApp
    from vt_tui.config import AppConfig
    from vt_tui.services import AppStore, Services

    written: list[Path] = []
    app = VtApp(AppConfig(db_path=db, model_dirs=[models_dir], theme="textual-dark"),
                services=Services(store=AppStore(db), model_dirs=[models_dir]))

    def save(name: str) -> None:
        path = output / f"{name}.svg"
        app.save_screenshot(filename=path.name, path=str(output))
        written.append(path)
        print(f"wrote {path}", flush=True)

    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        save("models")

        await pilot.press("slash", *"tiny clip", "enter", "enter")
        await settle(pilot)
        save("models-history")

        await pilot.press("escape", "space", "l")
        await wait(pilot, lambda: app.platforms is not None or app.platforms_problem, 120, "detection")
        await settle(pilot)
        for name, value in (("iterations", "60"), ("min_seconds", "4"), ("warmup", "2")):
            app.screen.query_one(f"#setting-{name}", Input).value = value
        await settle(pilot)
        save("launch-setup")

        await pilot.press("ctrl+r")
        await wait(pilot, lambda: any(r.phase == "measure" and (r.done or 0) > 5 for r in app.run_state.jobs.values()),
                   240, "a job measuring")
        await pilot.pause(0.6)
        save("launch-progress")
        await wait(pilot, lambda: not app.run_active, 600, "the run")
        await settle(pilot)

        await pilot.press("3")
        await settle(pilot)
        save("matrix")

        table = app.screen.query_one("#matrix-table", DataTable)
        keys = [row.value for row in table.rows]
        tested = next((k for k in keys if k.startswith("vt-tiny/clip")), keys[-1])
        table.move_cursor(row=keys.index(tested), column=1 + PLATFORMS.index("openvino"))
        await pilot.press("enter")
        await settle(pilot)
        save("matrix-cell-runs")
        await pilot.press("escape")

        await pilot.press("4")
        await settle(pilot)
        save("statistics")

        await pilot.press("5")
        await settle(pilot)
        save("hardware")

        await pilot.press("question_mark")
        await settle(pilot)
        save("help")
        await pilot.press("escape")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "screenshots", help="folder for the SVG files")
    parser.add_argument("--size", default="120x34", help="terminal size COLUMNSxROWS (default 120x34)")
    parser.add_argument("--db", type=Path, default=None, help="use this database instead of generating one")
    parser.add_argument("--rounds", type=int, default=2, help="`vt-tui run` rounds before the screenshots (default 2)")
    args = parser.parse_args(argv)

    try:
        columns, rows = (int(part) for part in args.size.lower().split("x"))
    except ValueError:
        parser.error(f"--size {args.size!r} is invalid; use COLUMNSxROWS, for example 120x34")

    workdir = Path(tempfile.mkdtemp(prefix="vt-screenshots-"))
    os.environ["VT_HOME"] = str(workdir / "home")
    models_dir = workdir / "models"
    models = build_models(models_dir)
    db = args.db or workdir / "results.duckdb"
    if args.db is None:
        store_results(db, models, args.rounds)

    args.output.mkdir(parents=True, exist_ok=True)
    written = asyncio.run(shoot(db, models_dir, args.output, (columns, rows)))
    print(f"{len(written)} screenshots in {args.output}; database {db}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
