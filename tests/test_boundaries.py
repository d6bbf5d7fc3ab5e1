"""Import boundaries: the core never loads Textual, the parent never loads model libraries."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO_ROOT
from models import tiny_clip_dir  # noqa: F401

MODEL_LIBRARIES = ("torch", "transformers", "openvino")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_source_never_imports_textual():
    offenders = [
        str(path.relative_to(REPO_ROOT))
        for path in sorted((REPO_ROOT / "vt_core").rglob("*.py"))
        if {"textual", "textual_plotext", "vt_tui"} & imported_modules(path)
    ]
    assert offenders == []


def parent_modules_after(argv: list[str], tmp_path: Path) -> dict:
    """Run the CLI in a fresh interpreter and return its exit status and loaded model libraries."""
    script = (
        "import json, sys\n"
        "from vt_core.cli import main\n"
        f"status = main({argv!r})\n"
        f"loaded = sorted(m for m in {MODEL_LIBRARIES!r} if m in sys.modules)\n"
        "textual = 'textual' in sys.modules\n"
        "print('BOUNDARY ' + json.dumps({'status': status, 'loaded': loaded, 'textual': textual}))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("BOUNDARY ")]
    assert lines, f"no report from the CLI process:\n{completed.stdout}\n{completed.stderr}"
    return json.loads(lines[-1].removeprefix("BOUNDARY "))


@pytest.mark.parametrize("argv", [["hardware", "--json"], ["db", "--list-models"]])
def test_cli_parent_loads_no_model_library(argv, tmp_path):
    report = parent_modules_after([*argv, *(["--db", str(tmp_path / "r.duckdb")] if argv[0] == "db" else [])],
                                  tmp_path)
    assert report["status"] == 0
    assert report["loaded"] == []
    assert report["textual"] is False


def test_cli_run_parent_loads_no_model_library(tiny_clip_dir, tmp_path):
    report = parent_modules_after(
        ["run", "--model", str(tiny_clip_dir), "--hardware", "cpu", "--db", str(tmp_path / "r.duckdb"),
         "--iterations", "2", "--min-seconds", "0", "--warmup", "0"],
        tmp_path,
    )
    assert report["status"] == 0
    assert report["loaded"] == []
    assert report["textual"] is False
