"""Legacy import: the older framework's real result files, bad files, re-imports and a foreign schema."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import CORPUS_DIR
from vt_core.cli import db as db_cli
from vt_core.store import Store
from vt_core.store.legacy import import_results
from vt_core.store.legacy_formats import detect_family, parse_timestamp, platform_of

needs_corpus = pytest.mark.skipif(
    not CORPUS_DIR.is_dir(), reason=f"the older framework's result files are not at {CORPUS_DIR}"
)

BERT_CUDA = "test__skills__collected_results__bert_test_bert-base-uncased_20250301_165412.json"
BERT_MISSING_DEPS = "test__skills__collected_results__hf_bert_base_uncased_test_results.json"
GPT2_PLAIN = "test__skills__collected_results__test_gpt2_cpu-cuda-openvino_20250301_173022.json"
CLIP_FLAT = "test__skills__collected_results__hf_clip_test_results__b379841d1.json"
XCLIP_FLAT = "test__skills__collected_results__hf_xclip_test_results__b379841d1.json"
CLIP_WRAPPER = "test__performance_results__hf_clip_performance_20250227_195402.json"
CLIP_HARDWARE = "test__hardware_test_results__clip_cpu_test.json"
CLIP_WEBNN = "test__web_platform_results__clip_webnn_20250306_232104__result.json"
WEBGPU_BATCH = "test__web_platform_results__all_models_webgpu_20250305_193352.json"
WEBGPU_SINGLE = "test__web_platform_results__clip_webgpu_20250305_193343__result.json"
BENCHMARK_SUITE = "test__benchmark_results__20250302_201142__benchmark_results__79800fbd5.json"
FUNCTIONALITY = "test__benchmark_results__20250302_201142__functionality__model_functionality_20250302_201220__79800fbd5.json"
LLAVA_FAILED = "test__skills__collected_results__hf_llava_onevision_llava-onevision-base_20250301_200139.json"

SKIPPED_REASONS = {
    "test__performance_results__performance_test_skills_hf_clip_20250228_004210.json": "only the console output",
    "test__skills__collected_results__hf_clip_test_results__7c95c5eca.json": "no model id",
    "test__skills__collected_results__simple_test_bert-base-uncased_20250301_172519.json": "names no device",
}


def run_db(*argv: str) -> int:
    """Run `vt-tui db ARGV` through the real argument parser and return its exit status."""
    parser = argparse.ArgumentParser(prog="vt-tui")
    db_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(["db", *argv])
    return args.handler(args)


def copy_corpus(names: list[str], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(CORPUS_DIR / name, folder / name)
    return folder


def rows_of(db_path: Path, source_name: str) -> list[dict]:
    """Return the stored results imported from one corpus file, with their details, ordered by platform."""
    con = duckdb.connect(str(db_path), read_only=True)
    cursor = con.execute(
        """
        SELECT r.id, r.model_id, r.model_type, r.task, r.hardware_platform, r.timestamp, r.success, r.error_type,
               r.avg_inference_time, d.state, d.model_family, d.architecture, d.weights_source, d.n_samples,
               d.mean_s, d.load_time_s, d.throughput_per_s, d.is_mock, d.is_simulated, d.error_message,
               d.source_file, r.results, r.metadata,
               (SELECT COUNT(*) FROM samples s WHERE s.result_id = r.id) AS sample_rows
        FROM vision_text_results r JOIN result_details d ON d.result_id = r.id
        WHERE d.source_file LIKE '%' || ?
        ORDER BY r.hardware_platform, r.avg_inference_time NULLS LAST, r.id
        """,
        [source_name],
    )
    names = [c[0] for c in cursor.description]
    rows = [dict(zip(names, row)) for row in cursor.fetchall()]
    con.close()
    for row in rows:
        row["results"] = json.loads(row["results"])
        row["metadata"] = json.loads(row["metadata"])
    return rows


def table_counts(db_path: Path) -> dict[str, int]:
    con = duckdb.connect(str(db_path), read_only=True)
    counts = {
        table: con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        for table in ("vision_text_results", "result_details", "samples", "model_compatibility", "imported_files")
    }
    con.close()
    return counts


@pytest.fixture(scope="module")
def corpus_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """Return a database with the whole corpus imported, and the import report."""
    if not CORPUS_DIR.is_dir():
        pytest.skip(f"the older framework's result files are not at {CORPUS_DIR}")
    path = tmp_path_factory.mktemp("corpus") / "results.duckdb"
    report = import_results(Store(path), CORPUS_DIR)
    return path, report


# -- the corpus ------------------------------------------------------------------


@needs_corpus
def test_corpus_every_file_accounted(corpus_db):
    _, report = corpus_db
    json_files = sorted(p.name for p in CORPUS_DIR.glob("*.json"))
    assert sorted(f.path for f in report.files) == json_files
    assert report.count("failed") == 0
    skipped = {f.path: f.reason for f in report.files if f.outcome == "skipped"}
    assert set(skipped) == set(SKIPPED_REASONS)
    for name, fragment in SKIPPED_REASONS.items():
        assert fragment in skipped[name]
    for item in report.files:
        if item.outcome == "imported":
            assert item.rows + item.already_stored > 0, item.path


@needs_corpus
def test_corpus_reimport_adds_nothing(corpus_db, capsys):
    db_path, first = corpus_db
    before = table_counts(db_path)
    assert before["vision_text_results"] == first.rows
    status = run_db("--db", str(db_path), "--import-results", str(CORPUS_DIR))
    output = capsys.readouterr().out
    assert status == 0
    assert "0 imported (0 new result rows)" in output
    assert output.count("already imported") == first.count("imported")
    assert table_counts(db_path) == before


@needs_corpus
def test_results_by_method_values(corpus_db):
    rows = rows_of(corpus_db[0], BERT_CUDA)
    assert len(rows) == 2
    for row in rows:
        assert row["model_id"] == "bert-base-uncased"
        assert row["hardware_platform"] == "cuda"
        assert row["success"] is True
        assert row["state"] == "pass"
        assert row["task"] == "fill-mask"
        assert row["architecture"] == "BertForMaskedLM"
        assert row["model_family"] == "bert"
        assert row["weights_source"] == "legacy"
        assert str(row["timestamp"]) == "2025-03-01 16:54:12.692089"
        assert row["n_samples"] == 0
        assert row["sample_rows"] == 0
        assert row["is_mock"] is False
        assert row["metadata"]["extra"]["legacy_variant"] == "results_by_method"
    from_pretrained, pipeline = rows
    assert pipeline["avg_inference_time"] == pytest.approx(0.010031302769978842)
    assert pipeline["mean_s"] == pytest.approx(0.010031302769978842)
    assert pipeline["load_time_s"] == pytest.approx(40.948771238327026)
    assert pipeline["results"]["legacy_summary"] == {
        "avg_s": 0.010031302769978842, "min_s": 0.009520530700683594, "max_s": 0.01102447509765625, "num_runs": 3,
    }
    assert from_pretrained["avg_inference_time"] == pytest.approx(0.008558114369710287)
    assert from_pretrained["load_time_s"] == pytest.approx(0.6707127094268799)


@needs_corpus
def test_results_by_method_failure(corpus_db):
    rows = rows_of(corpus_db[0], BERT_MISSING_DEPS)
    assert len(rows) == 2
    for row in rows:
        assert row["hardware_platform"] == "cuda"
        assert row["success"] is False
        assert row["state"] == "fail"
        assert row["error_type"] == "missing_dependency"
        assert row["error_message"] == "Missing dependencies: tokenizers>=0.11.0, sentencepiece"
        assert row["avg_inference_time"] is None


@needs_corpus
def test_plain_success_placeholders_flagged(corpus_db):
    rows = rows_of(corpus_db[0], GPT2_PLAIN)
    assert [r["hardware_platform"] for r in rows] == ["cpu", "cpu", "cuda", "cuda", "openvino"]
    assert [r["avg_inference_time"] for r in rows] == [0.2, 0.3, 0.05, 0.08, 0.15]
    assert all(r["model_id"] == "gpt2" and r["model_family"] == "gpt2" for r in rows)
    assert all(r["state"] == "pass" for r in rows)
    # min and max are exactly 0.9 and 1.1 times the average: generated figures, not measurements.
    assert all(r["is_mock"] for r in rows)
    assert "placeholder" in rows[0]["metadata"]["extra"]["mock_evidence"]
    assert rows[-1]["load_time_s"] == 0.5


@needs_corpus
def test_flat_clip_values(corpus_db):
    rows = {r["hardware_platform"]: r for r in rows_of(corpus_db[0], CLIP_FLAT)}
    assert set(rows) == {"cpu", "cuda", "openvino", "mps"}
    assert {p: r["state"] for p, r in rows.items()} == {
        "cpu": "pass", "cuda": "pass", "openvino": "pass", "mps": "unavailable",
    }
    assert all(r["model_id"] == "openai/clip-vit-base-patch16" for r in rows.values())
    assert all(r["model_family"] == "clip" and r["model_type"] == "clip" for r in rows.values())
    # metadata.timestamp is the epoch 1740806078.0930548.
    assert str(rows["cpu"]["timestamp"]) == "2025-03-01 05:14:38.093055"
    assert rows["cuda"]["avg_inference_time"] == pytest.approx(0.007719278335571289)
    assert rows["cpu"]["avg_inference_time"] is None
    assert rows["mps"]["error_type"] == "unavailable"
    assert rows["mps"]["error_message"] == "Apple Silicon not available"
    assert not any(r["is_mock"] or r["is_simulated"] for r in rows.values())


@needs_corpus
def test_flat_mock_and_failure(corpus_db):
    rows = {r["hardware_platform"]: r for r in rows_of(corpus_db[0], XCLIP_FLAT)}
    assert rows["cpu"]["is_mock"] is True
    assert rows["cuda"]["is_mock"] is True
    assert rows["openvino"]["state"] == "fail"
    assert "unexpected keyword argument 'video'" in rows["openvino"]["error_message"]
    assert rows["openvino"]["is_mock"] is False


@needs_corpus
def test_performance_wrapper_values(corpus_db):
    rows = {r["hardware_platform"]: r for r in rows_of(corpus_db[0], CLIP_WRAPPER)}
    assert set(rows) == {"cpu", "cuda", "openvino", "mps"}
    assert all(r["model_id"] == "hf_clip" for r in rows.values())
    assert str(rows["cpu"]["timestamp"]) == "2025-02-27 19:54:02.279963"
    assert rows["cuda"]["state"] == "fail"
    assert rows["cuda"]["error_type"] == "load_error"
    assert "Failed CUDA initialization" in rows["cuda"]["error_message"]
    assert rows["cuda"]["avg_inference_time"] == pytest.approx(0.10049200057983398)


@needs_corpus
def test_hardware_test_values(corpus_db):
    (row,) = rows_of(corpus_db[0], CLIP_HARDWARE)
    assert row["model_id"] == "openai/clip-vit-base-patch32"
    assert row["hardware_platform"] == "cpu"
    assert row["state"] == "pass"
    assert row["architecture"] == "CLIPModel"
    assert row["avg_inference_time"] == pytest.approx(1.202348232269287)
    assert row["sample_rows"] == 0
    assert str(row["timestamp"]) == "2025-03-05 19:33:43.226534"


@needs_corpus
def test_web_result_simulated(corpus_db):
    db_path = corpus_db[0]
    (row,) = rows_of(db_path, CLIP_WEBNN)
    assert row["hardware_platform"] == "webnn"
    assert row["model_id"] == "openai/clip-vit-base-patch32"
    assert row["state"] == "pass"
    assert row["is_simulated"] is True
    assert row["avg_inference_time"] == pytest.approx(0.12)
    assert row["load_time_s"] == pytest.approx(0.35)
    assert row["throughput_per_s"] == pytest.approx(66.66666666666667)

    store = Store(db_path)
    clip = "openai/clip-vit-base-patch32"
    assert store.matrix()[clip]["states"]["webnn"] == "untested"
    assert store.matrix(include_flagged=True)[clip]["states"]["webnn"] == "pass"


@needs_corpus
def test_web_single_result_counted_once(corpus_db):
    report = corpus_db[1]
    single = next(f for f in report.files if f.path == WEBGPU_SINGLE)
    batch = next(f for f in report.files if f.path == WEBGPU_BATCH)
    # The single result is a copy of one entry of the batch written at the same moment.
    assert batch.rows == 10
    assert single.rows == 0
    assert single.already_stored == 1


@needs_corpus
def test_functionality_suite_values(corpus_db):
    db_path, report = corpus_db
    suite = next(f for f in report.files if f.path == BENCHMARK_SUITE)
    alone = next(f for f in report.files if f.path == FUNCTIONALITY)
    # The suite's cuda section repeats its cpu section, and the functionality file repeats both.
    assert (suite.rows, suite.already_stored) == (26, 13)
    assert (alone.rows, alone.already_stored) == (0, 13)
    rows = rows_of(db_path, BENCHMARK_SUITE)
    by_key = {(r["model_id"], r["hardware_platform"]): r for r in rows}
    assert by_key[("openai/clip-vit-base-patch32", "cpu")]["state"] == "fail"
    assert "no attribute 'run_tests'" in by_key[("openai/clip-vit-base-patch32", "cpu")]["error_message"]
    assert by_key[("facebook/detr-resnet-50", "cpu")]["state"] == "pass"
    assert by_key[("facebook/detr-resnet-50", "cpu")]["is_simulated"] is False
    # The suite lists openvino under simulated_hardware.
    assert all(r["is_simulated"] for r in rows if r["hardware_platform"] == "openvino")
    # The console output names the checkpoint that ran, which differs from the suite's plan.
    assert ("TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T", "cpu") in by_key
    assert by_key[("TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T", "cpu")]["is_mock"] is True


@needs_corpus
def test_failed_load_family(corpus_db):
    rows = rows_of(corpus_db[0], LLAVA_FAILED)
    assert len(rows) == 2
    for row in rows:
        assert row["model_family"] == "llava"
        assert row["model_type"] == "llava_onevision"
        assert row["error_type"] == "model_not_found"
        assert row["metadata"]["extra"]["legacy_error_type"] == "other"


@needs_corpus
def test_corpus_compatibility_consistent(corpus_db):
    db_path = corpus_db[0]
    con = duckdb.connect(str(db_path), read_only=True)
    compat = {r[0]: r for r in con.execute(
        "SELECT model_id, cpu, cuda, openvino, webnn FROM model_compatibility").fetchall()}
    con.close()
    # Latest real results: cuda passes (16:54, 16:57), cpu fails in the suite of 2025-03-02.
    assert compat["bert-base-uncased"][1:] == (False, True, None, None)
    assert compat["openai/clip-vit-base-patch32"][1] is True
    matrix = Store(db_path).matrix()
    assert matrix["bert-base-uncased"]["states"]["cpu"] == "fail"
    assert matrix["bert-base-uncased"]["states"]["cuda"] == "pass"


@needs_corpus
def test_cli_import_loads_no_model_library(tmp_path):
    script = (
        "import json, sys\n"
        "from vt_core.cli import main\n"
        f"status = main(['db', '--db', {str(tmp_path / 'r.duckdb')!r}, '--import-results', {str(CORPUS_DIR)!r}, "
        "'--json'])\n"
        "loaded = sorted(m for m in ('torch', 'transformers', 'openvino', 'textual') if m in sys.modules)\n"
        "print('LOADED ' + json.dumps({'status': status, 'loaded': loaded}))\n"
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                               cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    marker = completed.stdout.rindex("LOADED ")
    report = json.loads(completed.stdout[:marker])
    outcome = json.loads(completed.stdout[marker + len("LOADED "):])
    assert outcome == {"status": 0, "loaded": []}
    assert report["totals"]["imported"] == 24
    assert report["totals"]["failed"] == 0


# -- identity ----------------------------------------------------------------------


@needs_corpus
def test_copy_under_other_name_adds_nothing(tmp_path, db_path):
    first = copy_corpus([CLIP_FLAT], tmp_path / "a")
    assert import_results(Store(db_path), first).rows == 4
    renamed = tmp_path / "b"
    renamed.mkdir()
    shutil.copy(CORPUS_DIR / CLIP_FLAT, renamed / "renamed.json")
    report = import_results(Store(db_path), renamed)
    assert report.files[0].outcome == "skipped"
    assert "already imported" in report.files[0].reason
    assert Store(db_path).result_count() == 4


@needs_corpus
def test_reformatted_copy_adds_nothing(tmp_path, db_path):
    copy_corpus([CLIP_FLAT], tmp_path / "a")
    assert import_results(Store(db_path), tmp_path / "a").rows == 4
    document = json.loads((CORPUS_DIR / CLIP_FLAT).read_text())
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "compact.json").write_text(json.dumps(document, separators=(",", ":")))
    report = import_results(Store(db_path), tmp_path / "b")
    assert report.files[0].outcome == "imported"
    assert report.files[0].rows == 0
    assert report.files[0].already_stored == 4
    assert Store(db_path).result_count() == 4


@needs_corpus
def test_platform_from_content_not_path(tmp_path, db_path):
    folder = tmp_path / "cuda_results"
    folder.mkdir()
    shutil.copy(CORPUS_DIR / CLIP_WEBNN, folder / "cpu_test.json")
    import_results(Store(db_path), folder)
    (row,) = rows_of(db_path, "cpu_test.json")
    assert row["hardware_platform"] == "webnn"


@needs_corpus
def test_recursive_finds_subfolders(tmp_path, db_path, capsys):
    copy_corpus([CLIP_HARDWARE], tmp_path / "top" / "nested")
    assert run_db("--db", str(db_path), "--import-results", str(tmp_path / "top")) == 1
    assert "add --recursive" in capsys.readouterr().err
    assert run_db("--db", str(db_path), "--import-results", str(tmp_path / "top"), "--recursive") == 0
    assert "nested/" + CLIP_HARDWARE in capsys.readouterr().out
    assert Store(db_path).result_count() == 1


# -- bad input ---------------------------------------------------------------------


@pytest.fixture
def seeded_db(tmp_path: Path, db_path: Path) -> Path:
    """Return a database that already holds results, to check that bad files leave them intact."""
    if not CORPUS_DIR.is_dir():
        pytest.skip(f"the older framework's result files are not at {CORPUS_DIR}")
    import_results(Store(db_path), copy_corpus([BERT_CUDA, CLIP_FLAT], tmp_path / "seed"))
    return db_path


def import_one(tmp_path: Path, db_path: Path, name: str, content: bytes, capsys) -> tuple[int, dict]:
    folder = tmp_path / "incoming"
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(content)
    status = run_db("--db", str(db_path), "--import-results", str(folder), "--json")
    report = json.loads(capsys.readouterr().out)
    entry = next(f for f in report["files"] if f["path"] == name)
    return status, entry


def test_invalid_json_names_line_and_column(tmp_path, seeded_db, capsys):
    before = table_counts(seeded_db)
    content = b'{\n  "results": {\n    "cpu": {"success": true},\n  }\n}\n'
    status, entry = import_one(tmp_path, seeded_db, "broken.json", content, capsys)
    assert status == 1
    assert entry["outcome"] == "failed"
    assert entry["reason"].startswith("invalid JSON at line 4, column 3:")
    assert table_counts(seeded_db) == before


def test_merge_conflict_markers_rejected(tmp_path, seeded_db, capsys):
    before = table_counts(seeded_db)
    original = (CORPUS_DIR / CLIP_HARDWARE).read_text()
    content = f"<<<<<<< HEAD\n{original}=======\n{original}>>>>>>> feature\n".encode()
    status, entry = import_one(tmp_path, seeded_db, "conflict.json", content, capsys)
    assert status == 1
    assert entry["outcome"] == "failed"
    assert "merge-conflict marker '<<<<<<<' at line 1" in entry["reason"]
    assert table_counts(seeded_db) == before


def test_empty_file_skipped(tmp_path, seeded_db, capsys):
    before = table_counts(seeded_db)
    status, entry = import_one(tmp_path, seeded_db, "empty.json", b"  \n", capsys)
    assert status == 0
    assert entry["outcome"] == "skipped"
    assert entry["reason"] == "the file is empty"
    assert table_counts(seeded_db) == before


def test_invalid_utf8_rejected(tmp_path, seeded_db, capsys):
    status, entry = import_one(tmp_path, seeded_db, "latin1.json", '{"model": "caf\xe9"}'.encode("latin-1"), capsys)
    assert status == 1
    assert "not UTF-8" in entry["reason"]


def test_unknown_layout_skipped(tmp_path, seeded_db, capsys):
    before = table_counts(seeded_db)
    content = json.dumps({"name": "some-package", "version": "1.0.0", "dependencies": {}}).encode()
    status, entry = import_one(tmp_path, seeded_db, "package.json", content, capsys)
    assert status == 0
    assert entry["outcome"] == "skipped"
    assert "no known result layout" in entry["reason"]
    assert "dependencies" in entry["reason"]
    assert table_counts(seeded_db) == before


def test_bad_file_does_not_stop_others(tmp_path, db_path, capsys):
    if not CORPUS_DIR.is_dir():
        pytest.skip(f"the older framework's result files are not at {CORPUS_DIR}")
    folder = copy_corpus([CLIP_HARDWARE, CLIP_WEBNN], tmp_path / "mixed")
    (folder / "a_broken.json").write_text('{"results": ')
    status = run_db("--db", str(db_path), "--import-results", str(folder))
    output = capsys.readouterr().out
    assert status == 1
    assert "failed    a_broken.json: invalid JSON at line 1, column 13" in output
    assert "3 file(s): 2 imported (2 new result rows), 0 skipped, 1 failed" in output
    assert Store(db_path).result_count() == 2


def test_large_file_imports(tmp_path, db_path):
    # A functionality run whose console output makes the file 50 MB, as verbose test logs do.
    log_line = "INFO transformers: loading weights shard for the test model, nothing unusual here\n"
    output = log_line * (100_000 // len(log_line))
    tests = [
        {"model": f"model_{i}", "hardware": "cpu" if i % 2 else "openvino", "success": i % 3 != 0,
         "return_code": 0 if i % 3 else 1, "stdout": f"Testing model: org/model-{i}\n" + output,
         "stderr": "" if i % 3 else "Traceback ...\nRuntimeError: shape mismatch"}
        for i in range(500)
    ]
    document = {"stats": {"timestamp": "20250302_201220"}, "detailed_results": tests}
    folder = tmp_path / "large"
    folder.mkdir()
    path = folder / "large.json"
    path.write_text(json.dumps(document))
    assert path.stat().st_size > 50 * 10**6

    started = time.perf_counter()
    report = import_results(Store(db_path), folder)
    seconds = time.perf_counter() - started
    assert report.files[0].outcome == "imported"
    assert report.files[0].rows == 500
    assert seconds < 120
    con = duckdb.connect(str(db_path), read_only=True)
    longest = con.execute("SELECT MAX(LENGTH(metadata::VARCHAR)) FROM vision_text_results").fetchone()[0]
    failed = con.execute("SELECT COUNT(*) FROM vision_text_results WHERE error_type = 'runtime_error'").fetchone()[0]
    con.close()
    # Console output is cut to a few kilobytes per result instead of copying 100 KB into each row.
    assert longest < 20_000
    assert failed == 167


def test_folder_without_json(tmp_path, seeded_db, capsys):
    before = table_counts(seeded_db)
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "README.txt").write_text("no results here")
    status = run_db("--db", str(seeded_db), "--import-results", str(folder))
    captured = capsys.readouterr()
    assert status == 1
    assert f"no .json files found in {folder}" in captured.err
    assert "0 file(s)" in captured.out
    assert table_counts(seeded_db) == before


def test_missing_folder(tmp_path, db_path, capsys):
    status = run_db("--db", str(db_path), "--import-results", str(tmp_path / "absent"))
    assert status == 2
    assert "folder not found" in capsys.readouterr().err


OLDER_COMPATIBILITY_TABLE = """
CREATE TABLE model_compatibility (
    model_family VARCHAR PRIMARY KEY, cpu_support BOOLEAN, cuda_support BOOLEAN,
    openvino_support BOOLEAN, notes VARCHAR
)
"""


@needs_corpus
@pytest.mark.parametrize("statement, table", [
    (OLDER_COMPATIBILITY_TABLE, "model_compatibility"),
    ("CREATE TABLE vision_text_results (id INTEGER, model VARCHAR, platform VARCHAR, latency_ms DOUBLE)",
     "vision_text_results"),
])
def test_foreign_table_shape_rejected(tmp_path, db_path, capsys, statement, table):
    con = duckdb.connect(str(db_path))
    con.execute(statement)
    con.execute(f"INSERT INTO {table} VALUES (1, TRUE, FALSE, NULL, 'kept')"
                if table == "model_compatibility" else f"INSERT INTO {table} VALUES (1, 'clip', 'cpu', 12.5)")
    before = con.execute(f"SELECT * FROM {table}").fetchall()
    con.close()

    status = run_db("--db", str(db_path), "--import-results", str(copy_corpus([CLIP_FLAT], tmp_path / "in")))
    error = capsys.readouterr().err
    assert status == 2
    assert f"table {table} exists with columns" in error
    assert f"ALTER TABLE {table} RENAME TO {table}_legacy" in error

    con = duckdb.connect(str(db_path), read_only=True)
    assert con.execute(f"SELECT * FROM {table}").fetchall() == before
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    con.close()
    assert tables == {table}


# -- units -------------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [
    (1740806078.0930548, "2025-03-01T05:14:38.093055"),
    ("2025-03-01T16:54:12.692089", "2025-03-01T16:54:12.692089"),
    ("2025-04-10T00:00:00Z", "2025-04-10T00:00:00"),
    ("2025-04-10T02:00:00+02:00", "2025-04-10T00:00:00"),
    ("20250302_201220", "2025-03-02T20:12:20"),
    ("yesterday", None),
    (True, None),
    (None, None),
])
def test_parse_timestamp_forms(value, expected):
    assert parse_timestamp(value) == expected


@pytest.mark.parametrize("names, family", [
    (("openai/clip-vit-base-patch32",), "clip"),
    (("microsoft/xclip-base-patch32",), "xclip"),
    (("Salesforce/blip-image-captioning-base",), "blip"),
    (("state-spaces/mamba2-1.4b", None, "Mamba2Model"), "mamba"),
    (("llava-onevision-base", None, "LlavaOnevisionModel"), "llava"),
    (("gpt2",), "gpt2"),
    (("distilbert-base-uncased", "distilbert"), "distilbert"),
    (("org/custom-checkpoint", None, "FalconForCausalLM"), "falcon"),
    (("org/custom-checkpoint",), "custom"),
])
def test_detect_family_cases(names, family):
    assert detect_family(*names) == family


@pytest.mark.parametrize("name, platform", [
    ("cuda:0", "cuda"), ("CPU", "cpu"), ("apple", "mps"), ("OpenVINO", "openvino"), ("qualcomm", None), (3, None),
])
def test_platform_of_names(name, platform):
    assert platform_of(name) == platform
