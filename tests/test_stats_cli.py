"""Tests of `vt-tui stats` against real DuckDB files built with Store.ingest."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vt_core.cli import main
from vt_core.records import JobResult
from vt_core.store import Store

START = dt.datetime(2025, 5, 1, 9, 0)
RUNS = 10


def build_database(path: Path, *, step_at: int | None) -> Path:
    """Store RUNS runs of one CLIP job with 30 samples each; latency rises 25% from run `step_at`."""
    rng = np.random.default_rng(21)
    results = []
    for index in range(RUNS):
        level = 0.03 * (1.25 if step_at is not None and index >= step_at else 1.0)
        results.append(JobResult(
            job_id=f"job-{index}", run_id=f"run-{index}", model_id="openai/clip-vit-base-patch32",
            platform="cpu", status="pass", device="cpu", weights_source="synthetic",
            settings={"batch_size": 1, "precision": "f32"},
            samples_s=[float(v) for v in level * rng.lognormal(0.0, 0.04, 30)],
            peak_rss_mb=600.0, parameter_count=151_000_000 + index,
            finished_at=(START + dt.timedelta(hours=index)).isoformat(),
        ))
    Store(path).ingest(results)
    return path


@pytest.fixture
def regressed_db(tmp_path: Path) -> Path:
    return build_database(tmp_path / "regressed.duckdb", step_at=7)


@pytest.fixture
def steady_db(tmp_path: Path) -> Path:
    return build_database(tmp_path / "steady.duckdb", step_at=None)


def test_regressions_exit_1(regressed_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--regressions", "--db", str(regressed_db)]) == 1
    output = capsys.readouterr().out
    assert "openai/clip-vit-base-patch32" in output
    assert "run-7" in output
    assert "1 regression(s) found" in output


def test_regressions_exit_0_without(steady_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--regressions", "--db", str(steady_db)]) == 0
    assert "No regressions found." in capsys.readouterr().out


def test_regressions_json_parses(regressed_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--regressions", "--json", "--db", str(regressed_db)]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert payload["regression_count"] == 1
    assert payload["threshold"] == 0.05
    assert payload["alpha"] == 0.05
    (item,) = payload["changes"]
    assert item["kind"] == "latency"
    assert item["direction"] == "regression"
    assert item["run_id"] == "run-7"
    assert item["timestamp"] == (START + dt.timedelta(hours=7)).isoformat()
    assert item["relative_change"] == pytest.approx(0.25, abs=0.03)
    assert item["p_value"] < 0.05


def test_regressions_since_after_step(regressed_db: Path) -> None:
    assert main(["stats", "--regressions", "--since", "2025-05-01T16:30", "--db", str(regressed_db)]) == 0
    assert main(["stats", "--regressions", "--since", "2025-05-01", "--db", str(regressed_db)]) == 1


def test_regressions_threshold_option(regressed_db: Path) -> None:
    assert main(["stats", "--regressions", "--threshold", "0.3", "--db", str(regressed_db)]) == 0
    assert main(["stats", "--regressions", "--alpha", "0.01", "--db", str(regressed_db)]) == 1


def test_since_invalid_date_named(regressed_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["stats", "--regressions", "--since", "2025-13-40", "--db", str(regressed_db)])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "'2025-13-40'" in error
    assert "YYYY-MM-DD" in error


@pytest.mark.parametrize(("option", "value"), [("--threshold", "-0.1"), ("--alpha", "1.5"), ("--alpha", "abc")])
def test_invalid_numbers_named(regressed_db: Path, option: str, value: str,
                               capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["stats", "--regressions", option, value, "--db", str(regressed_db)])
    assert exit_info.value.code == 2
    assert repr(value) in capsys.readouterr().err


def test_missing_database_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere.duckdb"
    assert main(["stats", "--regressions", "--db", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err
    assert not missing.exists()


def test_option_of_other_action_rejected(regressed_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--summary", "--threshold", "0.1", "--db", str(regressed_db)]) == 2
    assert "--threshold applies only with --regressions" in capsys.readouterr().err


def test_summary_table(regressed_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--db", str(regressed_db)]) == 0
    output = capsys.readouterr().out
    assert "95% CI OF MEDIAN" in output
    assert "openai/clip-vit-base-patch32" in output
    assert "order statistics" in output


def test_summary_json_parses(regressed_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--summary", "--latest-only", "--json", "--db", str(regressed_db)]) == 0
    payload = json.loads(capsys.readouterr().out)
    (group,) = payload["groups"]
    assert group["n"] == 30
    assert group["run_count"] == 1
    assert group["median_ci_low_s"] <= group["median_s"] <= group["median_ci_high_s"]
    assert "median_ci" in payload["methods"]


def test_correlations_json_parses(regressed_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--correlations", "--json", "--db", str(regressed_db)]) == 0
    payload = json.loads(capsys.readouterr().out)
    pairs = {(c["x"], c["y"], c["method"]) for c in payload["correlations"]}
    assert ("parameter_count", "latency_s", "spearman") in pairs
    assert set(payload["methods"]) >= {"pearson", "spearman"}


def test_console_script_exit_status(regressed_db: Path, steady_db: Path) -> None:
    """The installed entry point, in its own process, returns the status CI gets."""
    command = [sys.executable, "-m", "vt_tui.entry", "stats", "--regressions", "--db"]
    regressed = subprocess.run([*command, str(regressed_db)], capture_output=True, text=True, timeout=120)
    steady = subprocess.run([*command, str(steady_db)], capture_output=True, text=True, timeout=120)
    assert regressed.returncode == 1, regressed.stderr
    assert steady.returncode == 0, steady.stderr
