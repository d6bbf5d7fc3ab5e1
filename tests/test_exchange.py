"""Export to Parquet and merge: databases from two machines, idempotence, newer states and foreign shapes."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.conftest import CORPUS_DIR
from vt_core.cli import db as db_cli
from vt_core.records import JobResult
from vt_core.store import Store, machine_id_of
from vt_core.store.exchange import EXPORT_TABLES, export_parquet, merge
from vt_core.store.legacy import import_results

MACHINE_A = {"hostname": "gpu-box-a", "os": "Linux", "cpu": "AMD EPYC 7763", "gpu_name": "NVIDIA A100",
             "gpu_driver": "550.54", "python_version": "3.11.7", "torch_version": "2.13.0"}
MACHINE_B = {"hostname": "laptop-b", "os": "Linux", "cpu": "Intel Core i7-1360P", "python_version": "3.11.7",
             "torch_version": "2.13.0", "openvino_version": "2026.4"}


def make_result(job_id: str, model_id: str, platform: str, status: str, finished_at: str, machine: dict,
                samples: list[float] | None = None) -> JobResult:
    failed = status != "pass"
    return JobResult(
        job_id=job_id, run_id=f"run-{machine['hostname']}", model_id=model_id, platform=platform, status=status,
        task="zero-shot-image-classification", model_family="clip", model_type="clip", architecture="CLIPModel",
        device=platform, weights_source="synthetic", started_at=finished_at, finished_at=finished_at,
        error_type="runtime_error" if failed else None, error_message="inference raised" if failed else None,
        settings={"batch_size": 1, "precision": "f32"},
        samples_s=[] if failed else (samples or [0.02, 0.021, 0.019]), machine=machine,
    )


def run_db(*argv: str) -> int:
    """Run `vt-tui db ARGV` through the real argument parser and return its exit status."""
    parser = argparse.ArgumentParser(prog="vt-tui")
    db_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(["db", *argv])
    return args.handler(args)


def counts(path: Path) -> dict[str, int]:
    con = duckdb.connect(str(path), read_only=True)
    found = {table: con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in EXPORT_TABLES}
    con.close()
    return found


@pytest.fixture
def two_machines(tmp_path: Path) -> tuple[Path, Path]:
    """Return databases written on two machines: A ran clip-a on cuda and cpu, B ran clip-a and clip-b on openvino."""
    path_a, path_b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    store_a, store_b = Store(path_a), Store(path_b)
    store_a.store_result(make_result("a1", "org/clip-a", "cuda", "pass", "2026-03-01T10:00:00", MACHINE_A,
                                     [0.004, 0.0041, 0.0039, 0.004]))
    store_a.store_result(make_result("a2", "org/clip-a", "cpu", "pass", "2026-03-01T10:05:00", MACHINE_A))
    store_b.ingest([
        make_result("b1", "org/clip-a", "openvino", "pass", "2026-03-02T09:00:00", MACHINE_B, [0.011, 0.012]),
        make_result("b2", "org/clip-b", "openvino", "fail", "2026-03-02T09:10:00", MACHINE_B),
    ])
    return path_a, path_b


def test_merge_two_machines_matrix(two_machines, capsys):
    path_a, path_b = two_machines
    status = run_db("--db", str(path_a), "--merge", str(path_b))
    assert status == 0
    assert "2 new result(s), 0 already present" in capsys.readouterr().out

    store = Store(path_a)
    matrix = store.matrix()
    assert matrix["org/clip-a"]["states"]["cuda"] == "pass"
    assert matrix["org/clip-a"]["states"]["cpu"] == "pass"
    assert matrix["org/clip-a"]["states"]["openvino"] == "pass"
    assert matrix["org/clip-b"]["states"]["openvino"] == "fail"

    con = duckdb.connect(str(path_a), read_only=True)
    machine_of = dict(con.execute("SELECT result_id, machine_id FROM result_details").fetchall())
    hosts = dict(con.execute("SELECT machine_id, hostname FROM machines").fetchall())
    compat = dict(con.execute("SELECT model_id, openvino FROM model_compatibility").fetchall())
    con.close()
    assert machine_of["a1"] == machine_id_of(MACHINE_A)
    assert machine_of["b1"] == machine_id_of(MACHINE_B)
    assert hosts == {machine_id_of(MACHINE_A): "gpu-box-a", machine_id_of(MACHINE_B): "laptop-b"}
    assert compat == {"org/clip-a": True, "org/clip-b": False}
    assert store.samples("b1") == [0.011, 0.012]
    assert store.samples("a1") == [0.004, 0.0041, 0.0039, 0.004]


def test_merge_again_adds_nothing(two_machines):
    path_a, path_b = two_machines
    first = merge(Store(path_a), path_b)
    after_first = counts(path_a)
    second = merge(Store(path_a), path_b)
    assert first.added["vision_text_results"] == 2
    assert second.added == {table: 0 for table in first.added}
    assert second.already_present == 2
    assert second.models_refreshed == 0
    assert counts(path_a) == after_first


def test_merge_keeps_newer_state(tmp_path):
    newer, older = tmp_path / "newer.duckdb", tmp_path / "older.duckdb"
    Store(newer).ingest([make_result("n1", "org/clip-a", "cpu", "pass", "2026-05-01T12:00:00", MACHINE_A)])
    Store(older).ingest([make_result("o1", "org/clip-a", "cpu", "fail", "2026-04-01T12:00:00", MACHINE_B)])

    merge(Store(newer), older)
    assert Store(newer).matrix()["org/clip-a"]["states"]["cpu"] == "pass"
    con = duckdb.connect(str(newer), read_only=True)
    assert con.execute("SELECT cpu FROM model_compatibility WHERE model_id = 'org/clip-a'").fetchone() == (True,)
    assert con.execute("SELECT COUNT(*) FROM vision_text_results").fetchone() == (2,)
    con.close()

    # The other direction brings the newer pass into the database that only knew the old failure.
    merge(Store(older), newer)
    assert Store(older).matrix()["org/clip-a"]["states"]["cpu"] == "pass"


def test_export_manifest_and_files(two_machines, tmp_path, capsys):
    path_a, _ = two_machines
    export_dir = tmp_path / "export"
    assert run_db("--db", str(path_a), "--export", str(export_dir)) == 0
    assert "exported" in capsys.readouterr().out
    manifest = json.loads((export_dir / "manifest.json").read_text())
    assert manifest["format"] == "vt-tui-parquet-export"
    assert manifest["schema_version"] == 1
    assert set(manifest["tables"]) == set(EXPORT_TABLES)
    assert manifest["tables"]["vision_text_results"]["rows"] == 2
    assert manifest["tables"]["samples"]["rows"] == 7
    con = duckdb.connect()
    for table, entry in manifest["tables"].items():
        parquet = str(export_dir / entry["file"])
        assert con.execute("SELECT COUNT(*) FROM read_parquet(?)", [parquet]).fetchone()[0] == entry["rows"]
    con.close()


def test_parquet_merge_round_trip(two_machines, tmp_path):
    path_a, path_b = two_machines
    merge(Store(path_a), path_b)
    export_dir = tmp_path / "export"
    export_parquet(Store(path_a), export_dir)

    fresh = Store(tmp_path / "fresh.duckdb")
    report = merge(fresh, export_dir)
    assert report.source_kind == "parquet"
    assert report.added["vision_text_results"] == 4
    assert report.added["samples"] == 9
    assert report.added["machines"] == 2
    assert fresh.matrix() == Store(path_a).matrix()
    assert fresh.samples("b1") == [0.011, 0.012]
    assert merge(fresh, export_dir).added["vision_text_results"] == 0
    assert counts(tmp_path / "fresh.duckdb") == counts(path_a)


def test_export_into_nonempty_folder(two_machines, tmp_path, capsys):
    path_a, _ = two_machines
    folder = tmp_path / "busy"
    folder.mkdir()
    (folder / "keep.txt").write_text("other work")
    assert run_db("--db", str(path_a), "--export", str(folder)) == 2
    assert "is not an empty folder" in capsys.readouterr().err
    assert [p.name for p in folder.iterdir()] == ["keep.txt"]


def test_export_missing_database(tmp_path, capsys):
    assert run_db("--db", str(tmp_path / "none.duckdb"), "--export", str(tmp_path / "out")) == 2
    assert "not found" in capsys.readouterr().err


@pytest.mark.skipif(not CORPUS_DIR.is_dir(), reason=f"the older framework's result files are not at {CORPUS_DIR}")
def test_merge_carries_imported_files(two_machines, tmp_path):
    path_a, path_b = two_machines
    folder = tmp_path / "legacy"
    folder.mkdir()
    shutil.copy(CORPUS_DIR / "test__hardware_test_results__clip_cpu_test.json", folder)
    import_results(Store(path_b), folder)
    merge(Store(path_a), path_b)
    # The merge copied the imported_files row, so importing the file here adds nothing.
    report = import_results(Store(path_a), folder)
    assert report.files[0].outcome == "skipped"
    assert "already imported" in report.files[0].reason


OLDER_FRAMEWORK_SCHEMA = [
    """CREATE TABLE vision_text_results (id INTEGER, model_id VARCHAR, model_type VARCHAR, task VARCHAR,
       hardware_platform VARCHAR, timestamp TIMESTAMP, success BOOLEAN, error_type VARCHAR,
       avg_inference_time DOUBLE, memory_usage_mb DOUBLE, results JSON, metadata JSON)""",
    """CREATE TABLE model_compatibility (model_family VARCHAR PRIMARY KEY, cpu_support BOOLEAN,
       cuda_support BOOLEAN, openvino_support BOOLEAN, notes VARCHAR)""",
    "INSERT INTO model_compatibility VALUES ('clip', TRUE, TRUE, FALSE, 'from the older framework')",
]


def test_merge_rejects_foreign_source(two_machines, tmp_path, capsys):
    path_a, _ = two_machines
    foreign = tmp_path / "older.duckdb"
    con = duckdb.connect(str(foreign))
    for statement in OLDER_FRAMEWORK_SCHEMA:
        con.execute(statement)
    con.close()
    before = counts(path_a)

    assert run_db("--db", str(path_a), "--merge", str(foreign)) == 2
    error = capsys.readouterr().err
    assert f"{foreign} is not a vt-tui database: its table model_compatibility has columns" in error
    assert "--import-results" in error
    assert counts(path_a) == before


def test_merge_rejects_unversioned_source(two_machines, tmp_path, capsys):
    path_a, path_b = two_machines
    copy = tmp_path / "unversioned.duckdb"
    shutil.copy(path_b, copy)
    con = duckdb.connect(str(copy))
    con.execute("DROP TABLE vt_schema_version")
    con.close()
    assert run_db("--db", str(path_a), "--merge", str(copy)) == 2
    assert "has no vt_schema_version table" in capsys.readouterr().err


def test_merge_rejects_newer_export(two_machines, tmp_path, capsys):
    path_a, path_b = two_machines
    export_dir = tmp_path / "export"
    export_parquet(Store(path_b), export_dir)
    manifest = json.loads((export_dir / "manifest.json").read_text())
    manifest["schema_version"] = 99
    (export_dir / "manifest.json").write_text(json.dumps(manifest))
    before = counts(path_a)
    assert run_db("--db", str(path_a), "--merge", str(export_dir)) == 2
    assert "schema version 99, newer than" in capsys.readouterr().err
    assert counts(path_a) == before


def test_merge_rejects_folder_without_manifest(two_machines, tmp_path, capsys):
    path_a, _ = two_machines
    folder = tmp_path / "parquet"
    folder.mkdir()
    assert run_db("--db", str(path_a), "--merge", str(folder)) == 2
    assert "has no manifest.json" in capsys.readouterr().err


def test_merge_rejects_non_database(two_machines, tmp_path, capsys):
    path_a, _ = two_machines
    text = tmp_path / "notes.duckdb"
    text.write_text("this is not a database\n" * 100)
    assert run_db("--db", str(path_a), "--merge", str(text)) == 2
    assert "is not a DuckDB database" in capsys.readouterr().err


def test_merge_rejects_itself(two_machines, capsys):
    path_a, _ = two_machines
    assert run_db("--db", str(path_a), "--merge", str(path_a)) == 2
    assert "is the target database itself" in capsys.readouterr().err


def test_merge_into_foreign_target(two_machines, tmp_path, capsys):
    _, path_b = two_machines
    target = tmp_path / "older.duckdb"
    con = duckdb.connect(str(target))
    for statement in OLDER_FRAMEWORK_SCHEMA:
        con.execute(statement)
    con.close()
    assert run_db("--db", str(target), "--merge", str(path_b)) == 2
    assert "table model_compatibility exists with columns" in capsys.readouterr().err
    con = duckdb.connect(str(target), read_only=True)
    assert con.execute("SELECT notes FROM model_compatibility").fetchall() == [("from the older framework",)]
    con.close()
