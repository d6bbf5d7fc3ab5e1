"""Compatibility matrix and performance report, checked against a database with known results."""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import re

import numpy as np
import pytest
from scipy import stats as scipy_stats

from reports_fixtures import BLIP, CLIP, EVIL, EVIL_ERROR, MOCK, SIGLIP, ZERO_SHOT, build_known_db
from vt_core import reports
from vt_core.records import PLATFORMS, JobResult
from vt_core.reports import common
from vt_core.reports.matrix import render_csv as matrix_csv
from vt_core.reports.matrix import render_markdown as matrix_markdown
from vt_core.reports.performance import render_csv as performance_csv
from vt_core.stats import summarize
from vt_core.store import Store
from vt_core.store.legacy import import_results


@pytest.fixture()
def known(tmp_path, monkeypatch):
    monkeypatch.setenv("VT_HOME", str(tmp_path / "home"))
    return build_known_db(tmp_path)


def cli_args(db, output_dir, *, include_flagged=False, as_json=False):
    return argparse.Namespace(db=str(db), output_dir=str(output_dir), include_flagged=include_flagged, json=as_json)


def row_of(report, model_id):
    matches = [row for row in report.rows if row.model_id == model_id]
    assert len(matches) == 1, f"expected one row for {model_id}, found {len(matches)}"
    return matches[0]


def group_of(report, model_id, platform):
    matches = [g for g in report.groups if g["model_id"] == model_id and g["platform"] == platform]
    assert len(matches) == 1, f"expected one group for {model_id} on {platform}, found {len(matches)}"
    return matches[0]


# -- matrix ---------------------------------------------------------------------

def test_matrix_latest_states(known):
    report = reports.build_matrix(known.store)

    clip = row_of(report, CLIP)
    assert clip.states == {
        "cpu": "pass", "cuda": "fail", "rocm": "pass", "mps": "untested",
        "openvino": "mismatch", "webgpu": "unavailable", "webnn": "untested",
    }
    assert clip.task == ZERO_SHOT
    assert clip.error_types["cuda"] == "out_of_memory"
    assert row_of(report, BLIP).states["openvino"] == "fail"
    assert row_of(report, SIGLIP).states["cpu"] == "pass"
    assert row_of(report, EVIL).states["cpu"] == "fail"


def test_matrix_groups_by_family(known):
    report = reports.build_matrix(known.store)

    families = [(family, [row.model_id for row in rows]) for family, rows in report.families()]
    assert families == [("blip", [BLIP]), ("clip", [EVIL, CLIP]), ("siglip", [SIGLIP])]

    text = matrix_markdown(report)
    assert "## BLIP" in text
    assert "## CLIP" in text
    assert "## siglip" in text
    assert "| Model | Task | cpu | cuda | rocm | mps | openvino | webgpu | webnn | Last Tested | Weights |" in text


def test_matrix_last_tested_ignores_unavailable(known):
    report = reports.build_matrix(known.store)

    # rocm's newest result (day 4) is `unavailable`; the newest tested cell is from day 3.
    assert common.fmt_time(row_of(report, CLIP).last_tested) == "2025-03-03 10:05:00"


def test_matrix_summary_counts(known):
    summary = reports.build_matrix(known.store).to_dict()["summary"]

    # cpu rows: CLIP pass, BLIP pass, SigLIP pass, EVIL fail.
    assert summary["cpu"]["pass"] == 3
    assert summary["cpu"]["tested"] == 4
    assert summary["cpu"]["pass_rate_percent"] == pytest.approx(75.0)
    assert summary["openvino"]["tested"] == 2
    assert summary["openvino"]["mismatch"] == 1
    assert summary["openvino"]["pass_rate_percent"] == 0.0
    assert summary["rocm"]["pass_rate_percent"] == 100.0
    assert summary["webgpu"]["unavailable"] == 1
    assert summary["webgpu"]["tested"] == 0
    assert summary["webgpu"]["pass_rate_percent"] is None
    assert summary["mps"]["untested"] == 4


def test_matrix_summary_markdown(known):
    text = matrix_markdown(reports.build_matrix(known.store))

    assert "| cpu | 3 / 4 | 75.0% | 0 | 1 | 0 | 0 |" in text
    assert "| webgpu | 0 / 0 | n/a | 0 | 0 | 1 | 3 |" in text
    assert "tested = pass + mismatch + fail" in text


def test_matrix_cells_have_glyph_and_word(known):
    text = matrix_markdown(reports.build_matrix(known.store))
    clip_line = next(line for line in text.splitlines() if line.startswith(f"| {CLIP} "))

    for label in ("✓ pass", "✗ fail", "≠ mismatch", "⊘ unavailable", "· untested"):
        assert label in clip_line


def test_matrix_marks_synthetic_weights(known):
    report = reports.build_matrix(known.store)

    assert row_of(report, BLIP).weights_label == "synthetic"
    assert row_of(report, CLIP).weights_label == "local"
    text = matrix_markdown(report)
    blip_line = next(line for line in text.splitlines() if line.startswith(f"| {BLIP} "))
    assert blip_line.rstrip().endswith("| synthetic |")
    assert "synthetic: the model ran with random weights" in text


def test_matrix_excludes_flagged_by_default(known):
    report = reports.build_matrix(known.store)

    assert MOCK not in [row.model_id for row in report.rows]
    assert report.excluded_flagged == 1
    assert "1 result(s) from mock or simulated runs are excluded" in matrix_markdown(report)


def test_matrix_includes_flagged_on_request(known):
    report = reports.build_matrix(known.store, include_flagged=True)

    mock = row_of(report, MOCK)
    assert mock.states["cpu"] == "pass"
    assert mock.flagged["cpu"] is True
    assert "✓ pass†" in matrix_markdown(report)
    assert report.to_dict()["summary"]["cpu"]["tested"] == 5


def test_matrix_failures_section(known):
    text = matrix_markdown(reports.build_matrix(known.store))

    assert "## Failures and mismatches" in text
    assert "| out\\_of\\_memory | CUDA out of memory |" in text


def test_matrix_escapes_markup(known):
    text = matrix_markdown(reports.build_matrix(known.store))

    assert "<script>" not in text
    assert "<img" not in text
    evil_line = next(line for line in text.splitlines() if "window.\\_\\_vtInjected=1" in line and "untested" in line)
    assert "&lt;script&gt;" in evil_line
    # The `|` inside the id is escaped, so the row keeps its 11 cells (12 unescaped separators).
    assert len(re.findall(r"(?<!\\)\|", evil_line)) == len(PLATFORMS) + 5


def test_matrix_csv_round_trip(known):
    rows = list(csv.DictReader(io.StringIO(matrix_csv(reports.build_matrix(known.store)))))

    by_model = {row["model_id"]: row for row in rows}
    assert by_model[EVIL]["cpu"] == "fail"
    assert by_model[CLIP]["openvino"] == "mismatch"
    assert by_model[BLIP]["weights_sources"] == "synthetic"
    assert by_model[BLIP]["family"] == "BLIP"


def test_matrix_json_is_complete(known):
    data = json.loads(common.json_string(reports.build_matrix(known.store).to_dict()))

    assert data["platforms"] == list(PLATFORMS)
    assert data["tested_definition"].startswith("tested = pass + mismatch + fail")
    clip_family = next(f for f in data["families"] if f["family"] == "clip")
    evil = next(r for r in clip_family["rows"] if r["model_id"] == EVIL)
    assert evil["error_messages"]["cpu"] == EVIL_ERROR
    assert data["weights_sources"] == {"local": 3, "synthetic": 1}


# -- performance ----------------------------------------------------------------

def test_performance_pools_samples(known):
    report = reports.build_performance(known.store)
    group = group_of(report, CLIP, "cpu")
    samples = np.array(known.samples[(CLIP, "cpu")])

    assert group["runs"] == 2
    assert group["n"] == 22
    assert group["median_s"] == pytest.approx(np.median(samples), rel=1e-12)
    assert group["mean_s"] == pytest.approx(samples.mean(), rel=1e-12)
    assert group["p90_s"] == pytest.approx(np.percentile(samples, 90), rel=1e-12)
    assert group["stdev_s"] == pytest.approx(samples.std(ddof=1), rel=1e-9)
    assert group["throughput_per_s"] == pytest.approx(22 / samples.sum(), rel=1e-12)
    assert group["peak_memory_mb"] == 450.0


def test_performance_mean_ci_matches_scipy(known):
    group = group_of(reports.build_performance(known.store), CLIP, "cpu")
    samples = np.array(known.samples[(CLIP, "cpu")])

    low, high = scipy_stats.t.interval(0.95, len(samples) - 1, loc=samples.mean(), scale=scipy_stats.sem(samples))
    assert group["mean_ci_low_s"] == pytest.approx(low, rel=1e-9)
    assert group["mean_ci_high_s"] == pytest.approx(high, rel=1e-9)
    pooled = summarize(list(samples))
    assert group["mean_ci_low_s"] == pytest.approx(pooled["ci95_low_s"], rel=1e-9)


@pytest.mark.parametrize(("model_id", "platform"), [(CLIP, "cpu"), (CLIP, "openvino"), (BLIP, "cpu")])
def test_performance_median_ci_matches_scipy(known, model_id, platform):
    group = group_of(reports.build_performance(known.store), model_id, platform)
    samples = np.array(known.samples[(model_id, platform)])

    interval = scipy_stats.quantile_test(samples, q=np.median(samples), p=0.5).confidence_interval(0.95)
    assert group["median_ci_low_s"] == pytest.approx(interval.low, rel=1e-12)
    assert group["median_ci_high_s"] == pytest.approx(interval.high, rel=1e-12)


def test_performance_small_samples_have_no_interval(known):
    report = reports.build_performance(known.store)

    rocm = group_of(report, CLIP, "rocm")
    assert rocm["n"] == 5
    assert rocm["median_ci_low_s"] is None
    assert rocm["mean_ci_low_s"] is not None
    siglip = group_of(report, SIGLIP, "cpu")
    assert siglip["n"] == 1
    assert siglip["mean_ci_low_s"] is None
    assert siglip["stdev_s"] is None
    assert siglip["median_s"] == pytest.approx(0.05)


def test_performance_group_details(known):
    report = reports.build_performance(known.store)

    openvino = group_of(report, CLIP, "openvino")
    assert openvino["runs"] == 1
    assert openvino["n"] == len(known.samples[(CLIP, "openvino")])
    assert openvino["device"] == "CPU"
    rocm = group_of(report, CLIP, "rocm")
    assert rocm["hostname"] == "box-b"
    assert rocm["gpu_name"] == "MI300X"
    blip = group_of(report, BLIP, "cpu")
    assert blip["weights_source"] == "synthetic"
    assert blip["family"] == "blip"
    assert not [g for g in report.groups if g["platform"] in ("cuda", "webgpu")]


def test_performance_platform_summary(known):
    report = reports.build_performance(known.store)
    rollups = {r.platform: r for r in report.platform_summary()}

    cpu_medians = [group_of(report, m, "cpu")["median_s"] for m in (CLIP, BLIP, SIGLIP)]
    assert rollups["cpu"].geomean_median_s == pytest.approx(math.exp(np.mean(np.log(cpu_medians))))
    assert rollups["cpu"].weights_sources == ["local", "synthetic"]
    # openvino and cpu share model, task, precision, batch, weights and host for CLIP only.
    expected = group_of(report, CLIP, "cpu")["median_s"] / group_of(report, CLIP, "openvino")["median_s"]
    assert rollups["openvino"].speedup_vs_cpu == pytest.approx(expected)
    assert rollups["openvino"].speedup_pairs == 1
    # rocm ran on another host, so it has no cpu pair.
    assert rollups["rocm"].speedup_vs_cpu is None


def test_performance_csv_quotes_fields(known, tmp_path):
    text = performance_csv(reports.build_performance(known.store, include_flagged=True))
    rows = list(csv.DictReader(io.StringIO(text)))

    cpu = next(r for r in rows if r["model_id"] == CLIP and r["platform"] == "cpu")
    assert cpu["cpu"] == "Xeon 8480"
    assert int(cpu["n"]) == 22
    assert float(cpu["median_s"]) == pytest.approx(np.median(known.samples[(CLIP, "cpu")]))
    assert any(r["model_id"] == MOCK for r in rows)


def test_performance_without_timed_results(tmp_path, monkeypatch):
    monkeypatch.setenv("VT_HOME", str(tmp_path / "home"))
    store = Store(tmp_path / "failed.duckdb")
    store.ingest([JobResult(job_id="only", run_id="r", model_id=CLIP, platform="cpu", status="fail",
                            error_type="crash", finished_at="2025-03-01T10:00:00")])

    report = reports.build_performance(store)

    assert report.groups == []
    assert "No timed results" in reports.render_performance_markdown(report)


def test_performance_lists_legacy_average_apart(tmp_path, monkeypatch):
    monkeypatch.setenv("VT_HOME", str(tmp_path / "home"))
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "clip_cpu_test.json").write_text(json.dumps({
        "results": {"cpu": {"init": "Success", "execution_time": 1.25, "implementation_type": "REAL_CPU",
                            "success": True}},
        "metadata": {"model_id": CLIP, "timestamp": "2025-03-05T19:33:43"},
    }))
    store = Store(tmp_path / "legacy.duckdb")
    import_results(store, legacy)

    report = reports.build_performance(store)
    group = group_of(report, CLIP, "cpu")
    markdown = reports.render_performance_markdown(report)
    row = next(r for r in csv.DictReader(io.StringIO(performance_csv(report))) if r["model_id"] == CLIP)

    assert group["n"] == 0
    assert group["mean_s"] is None
    assert group["runs_without_samples"] == 1
    assert group["unsampled_mean_s"] == pytest.approx(1.25)
    assert "## Results without samples" in markdown
    assert "| 1 | 1250.00 |" in markdown
    assert float(row["unsampled_mean_s"]) == pytest.approx(1.25)


def test_performance_measured_groups_have_no_unsampled_runs(known):
    report = reports.build_performance(known.store)

    assert all(g["runs_without_samples"] == 0 for g in report.groups)
    assert "## Results without samples" not in reports.render_performance_markdown(report)


# -- files and CLI ---------------------------------------------------------------

def test_report_names_never_collide(known, tmp_path):
    output = tmp_path / "out"
    output.mkdir()
    report = reports.build_matrix(known.store)

    first = reports.write_matrix(report, output)
    second = reports.write_matrix(report, output)

    assert set(first).isdisjoint(second)
    assert all(path.exists() for path in first + second)
    assert sorted(p.suffix for p in first) == [".csv", ".json", ".md"]
    assert not list(output.glob(".*.tmp"))


def test_cli_generate_matrix_output(known, tmp_path, capsys):
    output = tmp_path / "out"

    status = reports.cli_generate_matrix(cli_args(known.store.path, output))

    captured = capsys.readouterr()
    assert status == 0
    assert captured.out.startswith("# Compatibility matrix")
    written = [line.removeprefix("wrote ") for line in captured.err.splitlines()]
    assert len(written) == 3
    assert all(path.startswith(str(output)) for path in written)
    assert sorted(p.name for p in output.iterdir()) == sorted(path.rsplit("/", 1)[1] for path in written)


def test_cli_performance_report_json(known, tmp_path, capsys):
    status = reports.cli_performance_report(cli_args(known.store.path, tmp_path / "out", as_json=True))

    data = json.loads(capsys.readouterr().out)
    assert status == 0
    assert data["kind"] == "performance_report"
    assert data["averaging"].startswith("Per-platform figures: the geometric mean")
    assert len(data["groups"]) == 6


@pytest.mark.parametrize("command", [reports.cli_generate_matrix, reports.cli_performance_report])
def test_cli_empty_database(tmp_path, monkeypatch, capsys, command):
    monkeypatch.setenv("VT_HOME", str(tmp_path / "home"))
    db = tmp_path / "missing.duckdb"

    status = command(cli_args(db, tmp_path / "out"))

    err = capsys.readouterr().err
    assert status == 1
    assert f"no results in DB {db}; run `vt-tui run ...` or import with `vt-tui db --import-results DIR`" in err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_db_command_generate_matrix(known, tmp_path, capsys):
    from vt_core.cli import main

    status = main(["db", "--generate-matrix", "--db", str(known.store.path), "--output-dir", str(tmp_path / "out")])

    captured = capsys.readouterr()
    assert status == 0
    assert "| cpu | 3 / 4 | 75.0% | 0 | 1 | 0 | 0 |" in captured.out
    assert len(list((tmp_path / "out").iterdir())) == 3


def test_db_command_empty_database(tmp_path, capsys):
    from vt_core.cli import main

    status = main(["db", "--performance-report", "--db", str(tmp_path / "none.duckdb")])

    assert status == 1
    assert "no results in DB" in capsys.readouterr().err


def test_cli_only_flagged_results(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VT_HOME", str(tmp_path / "home"))
    store = Store(tmp_path / "mock.duckdb")
    store.ingest([JobResult(job_id="m", run_id="r", model_id=MOCK, platform="cpu", status="pass",
                            samples_s=[0.1, 0.1], extra={"is_mock": True}, finished_at="2025-03-01T10:00:00")])

    status = reports.cli_generate_matrix(cli_args(store.path, tmp_path / "out"))

    assert status == 1
    assert "add --include-flagged" in capsys.readouterr().err
    assert reports.cli_generate_matrix(cli_args(store.path, tmp_path / "out", include_flagged=True)) == 0


def test_cli_output_dir_is_a_file(known, tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("")

    status = reports.cli_generate_matrix(cli_args(known.store.path, target))

    assert status == 1
    assert f"output path {target} is not a folder" in capsys.readouterr().err


# -- escaping helpers --------------------------------------------------------------

def test_md_cell_escapes_markup():
    assert common.md_cell("a|b") == "a\\|b"
    assert common.md_cell("<b>x</b>") == "&lt;b&gt;x&lt;/b&gt;"
    assert common.md_cell("[link](javascript:x)") == "\\[link\\](javascript:x)"
    assert common.md_cell("two\nlines") == "two lines"
    assert common.md_cell(None) == ""


def test_csv_text_neutralizes_formulas():
    assert common.csv_text("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert common.csv_text("-1+2") == "'-1+2"
    assert common.csv_text(-1.5) == -1.5
    assert common.csv_text("openai/clip") == "openai/clip"


def test_performance_agrees_with_stats_package(known):
    from vt_core.stats import group_statistics

    mine = group_of(reports.build_performance(known.store), CLIP, "cpu")
    theirs = next(g for g in group_statistics(known.store) if g.model_id == CLIP and g.platform == "cpu")

    assert mine["n"] == theirs.n
    assert mine["median_s"] == pytest.approx(theirs.median_s, rel=1e-12)
    assert mine["median_ci_low_s"] == pytest.approx(theirs.median_ci_low_s, rel=1e-12)
    assert mine["median_ci_high_s"] == pytest.approx(theirs.median_ci_high_s, rel=1e-12)
    assert mine["median_ci_coverage"] == pytest.approx(theirs.median_ci_coverage)
    assert mine["mean_ci_low_s"] == pytest.approx(theirs.mean_ci_low_s, rel=1e-9)
