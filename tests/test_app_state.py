"""The app's pure parts: run state folding, formatting, options, model references."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from vt_core.launcher import LauncherEvent
from vt_core.records import JobResult, JobSpec, Settings
from vt_tui import glyphs
from vt_tui.config import ConfigError, load_config
from vt_tui.data import age
from vt_tui.runstate import RunState
from vt_tui.services import catalog_models


def make_state(count: int = 2) -> RunState:
    settings = Settings(iterations=10, min_seconds=2.0)
    jobs = [JobSpec(model_ref=f"org/model-{i}", platform="cpu", settings=settings, job_id=f"job-{i}")
            for i in range(count)]
    return RunState.from_jobs(jobs, clock=lambda: 100.0)


def test_runstate_progress_and_eta():
    state = make_state()
    state.apply(LauncherEvent("started", job_id="job-0", phase="start", time=90.0))
    state.apply(LauncherEvent("phase", job_id="job-0", phase="measure", time=95.0))
    state.apply(LauncherEvent("progress", job_id="job-0", phase="measure", done=4, total=10, median_s=0.1,
                              time=96.0))
    row = state.jobs["job-0"]

    assert row.state == "running"
    assert row.elapsed(100.0) == pytest.approx(10.0)
    # 6 iterations left at 0.1 s = 0.6 s, but the 2 s minimum leaves 2 - (100 - 95) < 0: count wins.
    assert row.eta(100.0) == pytest.approx(0.6)
    assert 0 < row.fraction() < 1
    assert "run 0/2" in state.summary()


def test_runstate_eta_minimum_time_wins():
    state = make_state()
    state.apply(LauncherEvent("started", job_id="job-0", time=99.0))
    state.apply(LauncherEvent("phase", job_id="job-0", phase="measure", time=99.5))
    state.apply(LauncherEvent("progress", job_id="job-0", phase="measure", done=9, total=10, median_s=0.01,
                              time=99.9))

    assert state.jobs["job-0"].eta(100.0) == pytest.approx(1.5)


def test_runstate_finished_states():
    state = make_state()
    spec = JobSpec(model_ref="org/model-0", platform="cpu", job_id="job-0")
    passed = JobResult(job_id="job-0", run_id="", model_id="org/model-0", platform="cpu", status="pass",
                       samples_s=[0.3, 0.1, 0.2])
    cancelled = JobResult.failed(JobSpec(model_ref="org/model-1", platform="cpu", job_id="job-1"), "cancelled",
                                 "cancelled by the user")

    state.apply(LauncherEvent("finished", job_id="job-0", result=passed, stored=True, time=101.0))
    state.apply(LauncherEvent("finished", job_id="job-1", result=cancelled, stored=False, time=102.0))
    state.apply(LauncherEvent("run_finished", message="spooled", time=103.0))

    assert spec.job_id in state.jobs
    assert state.jobs["job-0"].state == "pass"
    assert state.jobs["job-0"].median_s == pytest.approx(0.2)
    assert state.jobs["job-1"].state == "cancelled"
    assert state.stored_count == 1
    assert state.finished and not state.active
    assert state.spool_message == "spooled"
    assert state.summary() == "run finished 2/2: 1 pass, 1 cancelled"


def test_runstate_log_keeps_tail():
    state = make_state(1)
    for number in range(2500):
        state.apply(LauncherEvent("log", job_id="job-0", message=f"line {number}"))

    assert state.log_total == 2500
    assert len(state.log) == 2000
    assert state.log[-1].endswith("line 2499")
    assert state.log[-1].startswith("[cpu model-0]")


def test_runstate_flood_is_cheap():
    state = make_state(1)
    state.apply(LauncherEvent("started", job_id="job-0"))
    for number in range(100_000):
        state.apply(LauncherEvent("progress", job_id="job-0", phase="measure", done=number, total=100_000,
                                  median_s=0.001))

    assert state.version == 100_001
    assert state.jobs["job-0"].done == 99_999


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "—"), (0.0000123, "12 µs"), (0.0123, "12.3 ms"), (1.5, "1.5 s"), (0.1, "100 ms")],
)
def test_seconds_format(value, text):
    assert glyphs.seconds(value) == text


@pytest.mark.parametrize(("value", "text"), [(151_277_313, "151M"), (1_234_567_890, "1.23B"), (950, "950"),
                                             (None, "—")])
def test_parameter_count_format(value, text):
    assert glyphs.count(value) == text


def test_states_distinct_without_colour():
    states = ("pass", "mismatch", "fail", "unavailable", "untested")
    unicode_glyphs = {glyphs.STATE_STYLES[s].glyph for s in states}
    ascii_glyphs = {glyphs.STATE_STYLES[s].ascii_glyph for s in states}

    assert len(unicode_glyphs) == 5
    assert len(ascii_glyphs) == 5
    assert all(g.isascii() for g in ascii_glyphs)


def test_fit_model_keeps_variant_suffix():
    base = glyphs.fit_model("Salesforce/blip-image-captioning-base", 16)
    large = glyphs.fit_model("Salesforce/blip-image-captioning-large", 16)

    assert len(base) == 16
    assert base != large
    assert base.endswith("captioning-base")
    assert glyphs.fit_model("org/short", 20) == "org/short"


def test_age_with_fixed_clock():
    now = dt.datetime(2025, 6, 2, 12, 0)

    assert age(now - dt.timedelta(seconds=30), now) == "30s ago"
    assert age(now - dt.timedelta(minutes=5), now) == "5m ago"
    assert age(now - dt.timedelta(hours=3), now) == "3h ago"
    assert age(now - dt.timedelta(days=4), now) == "4d ago"
    assert age(None, now) == "never"


def test_config_model_dirs_from_all_sources(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("VT_HOME", str(home))
    (home / "tui.json").write_text(json.dumps({"model_dirs": ["/srv/from-file"], "theme": "textual-light"}))
    monkeypatch.setenv("VT_MODEL_DIRS", "/srv/from-env")
    cli_dir = tmp_path / "cli"
    cli_dir.mkdir()

    config = load_config(["--db", str(tmp_path / "x.duckdb"), "--model-dir", str(cli_dir)])

    assert config.db_path == tmp_path / "x.duckdb"
    assert config.model_dirs == [cli_dir, Path("/srv/from-env"), Path("/srv/from-file")]
    assert config.theme == "textual-light"


def test_config_missing_model_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("VT_HOME", str(tmp_path))

    with pytest.raises(ConfigError, match="not found"):
        load_config(["--model-dir", str(tmp_path / "absent")])


def test_config_invalid_settings_file(tmp_path, monkeypatch):
    monkeypatch.setenv("VT_HOME", str(tmp_path))
    (tmp_path / "tui.json").write_text("{not json")

    with pytest.raises(ConfigError, match="tui.json is invalid"):
        load_config([])


def test_config_db_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("VT_HOME", str(tmp_path))
    monkeypatch.setenv("VT_DB", str(tmp_path / "env.duckdb"))

    assert load_config([]).db_path == tmp_path / "env.duckdb"


def test_model_reference_of_folder_only_model(monkeypatch):
    entries = [
        SimpleNamespace(model_id="openai/clip-vit-base-patch32", family="clip", task="t", sources=["cache"],
                        parameter_count=1, parameter_count_note="catalog figure", in_catalog=True,
                        local_path=None, cache_path="/hf/snap", synthetic_path=None),
        SimpleNamespace(model_id="vt-tiny/clip", family="clip", task="t", sources=["synthetic"],
                        parameter_count=None, parameter_count_note=None, in_catalog=False,
                        local_path=None, cache_path=None, synthetic_path="/models/tiny-clip"),
        SimpleNamespace(model_id="/models/my-clip", family="clip", task="t", sources=["local"],
                        parameter_count=5, parameter_count_note="counted", in_catalog=False,
                        local_path="/models/my-clip", cache_path=None, synthetic_path=None),
    ]
    monkeypatch.setattr("vt_core.catalog.list_models", lambda extra_dirs=(): entries)

    models = {m.model_id: m for m in catalog_models([])}

    assert models["openai/clip-vit-base-patch32"].reference == "openai/clip-vit-base-patch32"
    assert models["vt-tiny/clip"].reference == "/models/tiny-clip"
    assert models["/models/my-clip"].reference == "/models/my-clip"
    assert models["vt-tiny/clip"].sources == ("synthetic",)


@pytest.mark.parametrize(
    ("argv", "opens_app"),
    [([], True), (["--db", "x.duckdb"], True), (["--model-dir=/m"], True), (["hardware", "--json"], False)],
)
def test_entry_routes_app_options(monkeypatch, argv, opens_app):
    from vt_tui import entry

    calls: list[tuple[str, list[str]]] = []
    monkeypatch.setattr("sys.argv", ["vt-tui", *argv])
    monkeypatch.setattr("vt_tui.app.run_app", lambda args: calls.append(("app", list(args))) or 0)
    monkeypatch.setattr("vt_core.cli.main", lambda args: calls.append(("cli", list(args))) or 0)

    assert entry.main() == 0
    assert calls == [("app" if opens_app else "cli", argv)]
