"""Store: schema, idempotent ingest, spool recovery and a locked database."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import duckdb
import pytest

from vt_core import paths
from vt_core.records import JobResult
from vt_core.store import DatabaseLockedError, Store
from vt_core.store.schema import (
    MODEL_COMPATIBILITY_COLUMNS, VISION_TEXT_RESULTS_COLUMNS, SchemaError, table_columns,
)

LEGACY_QUERIES = {
    "averages": """
        SELECT model_id, model_type, hardware_platform,
               AVG(avg_inference_time) AS avg_time, COUNT(*) AS test_count
        FROM vision_text_results WHERE success = TRUE
        GROUP BY model_id, model_type, hardware_platform
        ORDER BY model_type, avg_time
    """,
    "failures": """
        SELECT model_id, model_type, COUNT(*) AS failed_count,
               STRING_AGG(DISTINCT error_type, ', ') AS error_types
        FROM vision_text_results WHERE success = FALSE
        GROUP BY model_id, model_type ORDER BY failed_count DESC
    """,
}


def make_result(job_id: str, platform: str = "cpu", status: str = "pass", *, model_id: str = "org/tiny-clip",
                finished_at: str = "2026-01-02T03:04:05", samples: list[float] | None = None,
                hostname: str = "host-a", error_type: str | None = None) -> JobResult:
    return JobResult(
        job_id=job_id, run_id="run-1", model_id=model_id, platform=platform, status=status,
        task="zero-shot-image-classification", model_family="clip", model_type="clip",
        architecture="CLIPModel", weights_source="synthetic", device="cpu",
        error_type=error_type, error_message=f"{error_type} happened" if error_type else None,
        started_at=finished_at, finished_at=finished_at,
        settings={"batch_size": 1, "precision": "f32"},
        samples_s=[0.010, 0.012, 0.011, 0.013] if samples is None else samples,
        peak_rss_mb=120.5, machine={"hostname": hostname, "os": "Linux", "cpu": "test cpu"},
        comparison={"max_abs_diff": 0.0, "top1_agreement": 1.0},
    )


def test_schema_has_exact_shared_columns(db_path):
    store = Store(db_path)
    store.ingest([make_result("a")])
    con = duckdb.connect(str(db_path), read_only=True)
    assert tuple(table_columns(con, "vision_text_results")) == VISION_TEXT_RESULTS_COLUMNS
    assert tuple(table_columns(con, "model_compatibility")) == MODEL_COMPATIBILITY_COLUMNS
    con.close()


def test_ingest_is_idempotent_by_id(db_path):
    store = Store(db_path)
    assert store.ingest([make_result("a"), make_result("b", "openvino")]) == 2
    assert store.ingest([make_result("a"), make_result("b", "openvino")]) == 0
    assert store.result_count() == 2
    assert store.samples("a") == [0.010, 0.012, 0.011, 0.013]


def test_legacy_queries_return_rows(db_path):
    store = Store(db_path)
    store.ingest([
        make_result("p1", samples=[0.02, 0.02]),
        make_result("p2", "openvino", samples=[0.01, 0.01]),
        make_result("f1", "openvino", "fail", samples=[], error_type="crash"),
    ])
    con = duckdb.connect(str(db_path), read_only=True)
    averages = con.execute(LEGACY_QUERIES["averages"]).fetchall()
    failures = con.execute(LEGACY_QUERIES["failures"]).fetchall()
    con.close()
    assert averages == [("org/tiny-clip", "clip", "openvino", pytest.approx(0.01), 1),
                        ("org/tiny-clip", "clip", "cpu", pytest.approx(0.02), 1)]
    assert failures == [("org/tiny-clip", "clip", 1, "crash")]


def test_compatibility_uses_latest_tested_state(db_path):
    store = Store(db_path)
    store.ingest([
        make_result("old", "openvino", "fail", finished_at="2026-01-01T00:00:00", error_type="crash"),
        make_result("new", "openvino", "pass", finished_at="2026-01-03T00:00:00"),
        make_result("gone", "cuda", "unavailable", finished_at="2026-01-04T00:00:00", samples=[]),
        make_result("wrong", "cpu", "mismatch", finished_at="2026-01-02T00:00:00", error_type="mismatch"),
    ])
    states = store.matrix()["org/tiny-clip"]["states"]
    assert states["openvino"] == "pass"
    assert states["cuda"] == "unavailable"
    assert states["cpu"] == "mismatch"
    assert states["webgpu"] == "untested"

    con = duckdb.connect(str(db_path), read_only=True)
    row = con.execute("SELECT cpu, cuda, openvino, webgpu FROM model_compatibility").fetchone()
    con.close()
    assert row == (False, None, True, None)


def test_unavailable_never_hides_a_result(db_path):
    store = Store(db_path)
    store.ingest([
        make_result("ran", "openvino", "pass", finished_at="2026-01-01T00:00:00", hostname="box-a"),
        make_result("absent", "openvino", "unavailable", finished_at="2026-02-01T00:00:00",
                    hostname="box-b", samples=[]),
    ])
    assert store.matrix()["org/tiny-clip"]["states"]["openvino"] == "pass"


def test_spool_survives_crash_before_ingest(db_path):
    store = Store(db_path)
    store.spool_append(make_result("spooled"))
    assert store.result_count() == 0

    status = Store(db_path).ingest_spool()
    assert status.ingested == 1
    assert status.pending == 0
    assert not list(paths.spool_dir(db_path).glob("*.jsonl"))
    assert Store(db_path).ingest_spool().ingested == 0
    assert Store(db_path).result_count() == 1


def test_spool_keeps_results_while_locked(db_path):
    Store(db_path).ingest([make_result("first")])
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, sys, time
            con = duckdb.connect({str(db_path)!r})
            print("locked", flush=True)
            sys.stdin.readline()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        store = Store(db_path, lock_retries=2, lock_retry_delay_s=0.05)
        assert store.store_result(make_result("second")) is False
        with pytest.raises(DatabaseLockedError, match="locked by another process"):
            store.result_count()
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=30)

    status = Store(db_path).ingest_spool()
    assert status.ingested == 1
    assert Store(db_path).ingest_spool().ingested == 0
    assert Store(db_path).result_count() == 2


def test_foreign_compatibility_table_is_rejected(db_path):
    con = duckdb.connect(str(db_path))
    con.execute("CREATE TABLE model_compatibility (model_family VARCHAR PRIMARY KEY, cpu BOOLEAN)")
    con.execute("INSERT INTO model_compatibility VALUES ('clip', TRUE)")
    con.close()

    with pytest.raises(SchemaError, match="model_compatibility exists with columns"):
        Store(db_path).ingest([make_result("a")])

    con = duckdb.connect(str(db_path), read_only=True)
    assert con.execute("SELECT * FROM model_compatibility").fetchall() == [("clip", True)]
    con.close()


def test_reading_missing_database_is_empty(tmp_path):
    store = Store(tmp_path / "absent.duckdb")
    assert store.result_count() == 0
    assert store.matrix() == {}
    assert not (tmp_path / "absent.duckdb").exists()
