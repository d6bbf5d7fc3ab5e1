"""Launcher: real worker processes that crash, hang, miss a package or name an unknown model."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from models import tiny_clip_dir  # noqa: F401
from vt_core.launcher import Launcher, LauncherEvent, plan_jobs
from vt_core.records import JobSpec, Settings
from vt_core.store import Store

FAST = dict(iterations=3, min_seconds=0.0, warmup=1)


def job(model: str, platform: str = "cpu", **settings) -> JobSpec:
    return JobSpec(model_ref=model, platform=platform, settings=Settings(**{**FAST, **settings}), run_id="run-t")


def shadow_package(folder: Path, name: str) -> Path:
    """Write a package `name` that fails to import the way an absent package does."""
    package = folder / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        f"raise ModuleNotFoundError(\"No module named '{name}'\", name={name!r})\n"
    )
    return folder


def test_failures_stored_while_others_finish(tiny_clip_dir, db_path, tmp_path):
    shadow = shadow_package(tmp_path / "shadow", "openvino")
    jobs = {
        "ok": job(str(tiny_clip_dir)),
        "crash": job(str(tiny_clip_dir)),
        "timeout": job(str(tiny_clip_dir), timeout_s=4.0),
        "unknown": job("no-such-org/no-such-model"),
        "missing": job(str(tiny_clip_dir), "openvino"),
    }
    extra_env = {
        jobs["crash"].job_id: {"VT_WORKER_FAULT": "load:crash"},
        jobs["timeout"].job_id: {"VT_WORKER_FAULT": "warmup:hang"},
        jobs["missing"].job_id: {"PYTHONPATH": str(shadow)},
    }
    store = Store(db_path)
    seen: list[LauncherEvent] = []
    launcher = Launcher(store, job_env=lambda spec: extra_env.get(spec.job_id, {}))
    results = asyncio.run(launcher.run(list(jobs.values()), seen.append))
    by_name = {name: results[i] for i, name in enumerate(jobs)}

    assert by_name["ok"].status == "pass"
    assert len(by_name["ok"].samples_s) >= 3
    assert by_name["crash"].error_type == "crash"
    assert "SIGABRT" in by_name["crash"].error_message
    assert by_name["timeout"].error_type == "timeout"
    assert "phase 'warmup' ran past its limit of 4 s" in by_name["timeout"].error_message
    assert by_name["unknown"].error_type == "model_not_found"
    assert "no-such-org/no-such-model" in by_name["unknown"].error_message
    assert by_name["missing"].error_type == "missing_dependency"
    assert "openvino" in by_name["missing"].error_message

    con = duckdb.connect(str(db_path), read_only=True)
    stored = dict(con.execute("SELECT id, COALESCE(error_type, 'none') FROM vision_text_results").fetchall())
    messages = dict(con.execute("SELECT result_id, error_message FROM result_details").fetchall())
    con.close()
    expected = {"ok": "none", "crash": "crash", "timeout": "timeout", "unknown": "model_not_found",
                "missing": "missing_dependency"}
    assert {name: stored[jobs[name].job_id] for name in jobs} == expected
    assert "ran past its limit" in messages[jobs["timeout"].job_id]

    finished = [e.job_id for e in seen if e.kind == "finished"]
    assert sorted(finished) == sorted(j.job_id for j in jobs.values())
    assert all(e.stored for e in seen if e.kind == "finished")
    assert any(e.kind == "progress" and e.median_s for e in seen)


def test_cancel_kills_running_job(tiny_clip_dir, db_path):
    running = job(str(tiny_clip_dir))
    queued = job(str(tiny_clip_dir))
    launcher = Launcher(Store(db_path), job_env=lambda spec: {"VT_WORKER_FAULT": "measure:hang"})

    def on_event(event: LauncherEvent) -> None:
        if event.kind == "phase" and event.phase == "measure":
            launcher.cancel()

    results = asyncio.run(launcher.run([running, queued], on_event))
    assert [r.error_type for r in results] == ["cancelled", "cancelled"]
    assert "during phase 'measure'" in results[0].error_message
    assert results[1].error_message == "cancelled before it started"
    assert Store(db_path).result_count() == 2


def test_unavailable_platform_skips_worker(db_path):
    platform_info = [{"name": "cuda", "available": False, "reason": "no NVIDIA driver"}]
    jobs = plan_jobs(["clip"], ["cuda"], Settings(**FAST))
    results = asyncio.run(Launcher(Store(db_path)).run(jobs, platform_info=platform_info))
    assert results[0].status == "unavailable"
    assert results[0].model_id == "openai/clip-vit-base-patch32"
    assert results[0].model_family == "clip"
    assert "no NVIDIA driver" in results[0].error_message


def test_plan_rejects_unknown_platform():
    with pytest.raises(ValueError, match="unknown platform\\(s\\) tpu"):
        plan_jobs(["clip"], ["tpu"])


def run_cli(*argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vt_core.cli", *argv], capture_output=True, text=True, timeout=600,
        env={**os.environ, **(env or {})},
    )


def test_locked_database_run_spools_then_ingests_once(tiny_clip_dir, db_path):
    Store(db_path).result_count()
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, sys
            con = duckdb.connect({str(db_path)!r})
            con.execute("CREATE TABLE IF NOT EXISTS holder_marker (x INTEGER)")
            print("locked", flush=True)
            sys.stdin.readline()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        first = run_cli("run", "--model", str(tiny_clip_dir), "--hardware", "cpu", "--db", str(db_path),
                        "--iterations", "3", "--min-seconds", "0", "--warmup", "1")
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=60)

    assert first.returncode == 0, first.stderr
    assert "locked by another process" in first.stderr
    assert "pass" in first.stdout

    second = run_cli("run", "--model", str(tiny_clip_dir), "--hardware", "cuda", "--db", str(db_path))
    assert second.returncode == 0, second.stderr
    assert "ingested 1 result(s) left in the spool" in second.stderr
    third = run_cli("db", "--ingest-spool", "--db", str(db_path))
    assert third.returncode == 0, third.stderr
    assert "ingested 0 result(s)" in third.stdout

    con = duckdb.connect(str(db_path), read_only=True)
    rows = con.execute("SELECT hardware_platform, success FROM vision_text_results ORDER BY 1").fetchall()
    orphans = con.execute(
        "SELECT COUNT(*) FROM result_details d LEFT JOIN runs r USING (run_id) WHERE r.run_id IS NULL"
    ).fetchone()[0]
    con.close()
    assert rows == [("cpu", True), ("cuda", False)]
    assert orphans == 0
    assert "Waiting in the spool" in first.stdout


def test_cli_run_json_and_exit_status(tiny_clip_dir, db_path):
    completed = run_cli("run", "--model", str(tiny_clip_dir), "--model", "no-such-org/missing",
                        "--hardware", "cpu", "--db", str(db_path), "--json",
                        "--iterations", "3", "--min-seconds", "0", "--warmup", "1")
    assert completed.returncode == 1
    results = json.loads(completed.stdout)
    assert [r["status"] for r in results] == ["pass", "fail"]
    assert results[1]["error_type"] == "model_not_found"


def test_cli_run_prints_full_errors(db_path):
    completed = run_cli("run", "--model", "openai/clip-vit-base-patch16", "--hardware", "cpu", "--db", str(db_path))
    assert completed.returncode == 1
    assert "Errors:" in completed.stdout
    assert "--weights synthetic" in completed.stdout
    assert "vt-tui db --generate-matrix" in completed.stdout


def test_cli_locked_database_is_clear_error(db_path):
    Store(db_path).result_count()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, sys; c = duckdb.connect({str(db_path)!r}); print('locked', flush=True); sys.stdin.readline()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        completed = run_cli("db", "--list-models", "--db", str(db_path))
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=60)
    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr
    assert "vt-tui: error: database" in completed.stderr
    assert "locked by another process" in completed.stderr


def test_cli_rejects_invalid_settings(db_path):
    completed = run_cli("run", "--model", "clip", "--iterations", "0", "--db", str(db_path))
    assert completed.returncode == 2
    assert "iterations must be at least 1, got 0" in completed.stderr
    completed = run_cli("run", "--hardware", "cpu,tpu", "--db", str(db_path))
    assert completed.returncode == 2
    assert "unknown platform tpu" in completed.stderr


def process_alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def test_worker_dies_with_killed_parent(tiny_clip_dir, tmp_path):
    parent = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import asyncio
            from vt_core.launcher import Launcher
            from vt_core.records import JobSpec, Settings

            launcher = Launcher(None, job_env=lambda spec: {{"VT_WORKER_FAULT": "measure:hang"}})
            spec = JobSpec(model_ref={str(tiny_clip_dir)!r}, platform="cpu", settings=Settings(warmup=0))

            def on_event(event):
                if event.kind == "phase" and event.phase == "measure":
                    print(launcher._processes[event.job_id].pid, flush=True)

            asyncio.run(launcher.run([spec], on_event))
        """)],
        stdout=subprocess.PIPE, text=True,
    )
    worker_pid = int(parent.stdout.readline())
    assert process_alive(worker_pid)

    parent.kill()
    parent.wait(timeout=30)
    for _ in range(100):
        if not process_alive(worker_pid):
            break
        time.sleep(0.1)
    assert not process_alive(worker_pid)
