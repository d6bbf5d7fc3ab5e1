"""Shared fixtures: an isolated data directory for the whole test session.

Every test session gets its own VT_HOME, so synthetic builds, converted models,
references and databases never touch the user's data directory, and worker
processes inherit the same location through the environment.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
CORPUS_DIR = REPO_ROOT.parent / "shared" / "corpus" / "original_results"


@pytest.fixture(scope="session", autouse=True)
def vt_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = Path(os.environ.get("VT_TEST_HOME") or tmp_path_factory.mktemp("vt_home"))
    os.environ["VT_HOME"] = str(home)
    os.environ.pop("VT_DB", None)
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    return home


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Return the path of a fresh, not yet created results database."""
    return tmp_path / "results.duckdb"
