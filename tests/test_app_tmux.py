"""The installed `vt-tui` in a real terminal: tmux at 80x24 with TERM=linux, driven by keys alone.

It launches a run of a tiny model, waits for it, opens the matrix, exports
the reports and quits, reading the screen as text after each step.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.models import build_tiny_clip

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]

SESSION = "vt"


class Terminal:
    """A tmux server of its own with one 80x24 session running a command."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def tmux(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["tmux", "-L", self.socket, "-f", os.devnull, *args],
                              capture_output=True, text=True, timeout=30)

    def start(self, command: str) -> None:
        result = self.tmux("new-session", "-d", "-s", SESSION, "-x", "80", "-y", "24", command)
        assert result.returncode == 0, result.stderr
        self.tmux("set-option", "-t", SESSION, "status", "off")
        self.tmux("set-option", "-t", SESSION, "remain-on-exit", "off")

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.tmux("send-keys", "-t", SESSION, key)
            time.sleep(0.15)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", SESSION).stdout

    def alive(self) -> bool:
        return self.tmux("has-session", "-t", SESSION).returncode == 0

    def wait_for(self, condition, timeout_s: float, what: str) -> str:
        deadline = time.monotonic() + timeout_s
        while True:
            text = self.screen()
            if condition(text):
                return text
            assert time.monotonic() < deadline, f"timed out after {timeout_s} s waiting for {what}; screen:\n{text}"
            time.sleep(0.3)

    def close(self) -> None:
        self.tmux("kill-server")


def test_run_matrix_export_by_keys(tmp_path):
    models = tmp_path / "models"
    build_tiny_clip(models / "tiny-clip")
    home, db = tmp_path / "home", tmp_path / "results.duckdb"
    vt_tui = Path(sys.executable).with_name("vt-tui")
    assert vt_tui.exists(), "install the project first: pip install -e . --no-deps"
    # Textual draws on standard error, so neither stream is redirected.
    command = (
        f"env TERM=linux VT_HOME={home} HF_HUB_CACHE={tmp_path / 'hf'} "
        f"{vt_tui} --db {db} --model-dir {models}"
    )
    terminal = Terminal(f"vt-test-{os.getpid()}")
    terminal.start(command)
    try:
        first = terminal.wait_for(lambda s: "1 Models" in s and "of " in s, 60, "the model browser")
        assert "vt-tiny/clip" in first

        terminal.keys("/", "tiny", "Enter", "Space", "l")
        setup = terminal.wait_for(lambda s: "Platforms" in s and "detecting" not in s, 120, "platform detection")
        assert "1 model(s) x 1 platform(s)" in setup.replace("×", "x")

        terminal.keys("C-r")
        done = terminal.wait_for(lambda s: "run finished" in s, 300, "the run")
        assert "1 pass" in done

        terminal.keys("3")
        matrix = terminal.wait_for(lambda s: "passed/tested" in s, 60, "the matrix")
        row = next(line for line in matrix.splitlines() if "vt-tiny/clip" in line)
        assert row.split()[2] == "+", f"cpu cell of {row!r} is not the ASCII pass glyph"

        terminal.keys("e")
        terminal.wait_for(lambda s: "Wrote" in s, 300, "the export notification")
        written = {path.suffix for path in (home / "reports").iterdir()}
        assert {".md", ".json", ".csv", ".html"} <= written

        terminal.keys("q")
        deadline = time.monotonic() + 30
        while terminal.alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not terminal.alive(), "the app did not quit on q"
    finally:
        terminal.close()
