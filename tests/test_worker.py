"""The worker as a real child process: protocol, phases, results, errors and the fault hook."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from models import TINY_BLIP_ID, TINY_CLIP_ID, tiny_blip_dir, tiny_clip_dir  # noqa: F401
from vt_core import catalog, events
from vt_core.records import PHASES, Settings
from vt_core.tasks import get_task
from vt_core.tasks.reference import get_inputs

FAST_SETTINGS = {"iterations": 3, "min_seconds": 0.0, "warmup": 1, "batch_size": 2, "max_new_tokens": 5}
WORKER_TIMEOUT_S = 300
BLIP_TASK = get_task("image-to-text")


@dataclass
class WorkerRun:
    returncode: int
    events: list[dict[str, Any]]
    stderr: str
    result: dict[str, Any] | None = None
    phases: list[str] = field(default_factory=list)


def run_worker(spec: dict[str, Any] | str, env: dict[str, str] | None = None) -> WorkerRun:
    """Run `python -m vt_core.worker` on one spec; every stdout line must be a protocol event."""
    stdin = spec if isinstance(spec, str) else json.dumps(spec)
    completed = subprocess.run(
        [sys.executable, "-m", "vt_core.worker"],
        input=stdin, capture_output=True, text=True, timeout=WORKER_TIMEOUT_S,
        env={**os.environ, **(env or {})},
    )
    decoded = []
    for line in completed.stdout.splitlines():
        event = events.decode(line)
        assert event is not None, f"non-protocol line on the worker's stdout: {line!r}"
        decoded.append(event)
    results = [event["result"] for event in decoded if event["event"] == events.RESULT]
    assert len(results) <= 1, "more than one result event"
    if results:
        assert decoded[-1]["event"] == events.RESULT, "the result is not the last event"
    return WorkerRun(
        returncode=completed.returncode,
        events=decoded,
        stderr=completed.stderr,
        result=results[0] if results else None,
        phases=[event["phase"] for event in decoded if event["event"] == events.PHASE],
    )


def job(model_ref: str, platform: str, **settings: Any) -> dict[str, Any]:
    return {"model_ref": model_ref, "platform": platform, "settings": {**FAST_SETTINGS, **settings}}


def assert_passed(run: WorkerRun) -> dict[str, Any]:
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.result is not None, run.stderr[-2000:]
    result = run.result
    assert result["status"] == "pass", (result["error_type"], result["error_message"], result["extra"].get("traceback"))
    assert run.phases == list(PHASES)
    assert len(result["samples_s"]) >= FAST_SETTINGS["iterations"]
    assert result["first_inference_s"] > 0
    assert set(result["phase_times_s"]) == set(PHASES) | {"import"}
    assert result["peak_rss_mb"] is not None and result["peak_rss_mb"] > 0
    assert result["machine"]["cpu"]
    assert result["comparison"]["ok"]
    return result


# --- passing jobs ------------------------------------------------------------------------------


def test_tiny_clip_on_cpu(tiny_clip_dir: Path):
    run = run_worker(job(str(tiny_clip_dir), "cpu", iterations=4))
    result = assert_passed(run)
    assert result["model_id"] == TINY_CLIP_ID
    assert result["weights_source"] == "synthetic"
    assert result["task"] == "zero-shot-image-classification"
    assert result["architecture"] == "CLIPModel"
    assert result["device"] == "cpu"
    assert result["parameter_count"] == catalog.read_marker(tiny_clip_dir)["parameter_count"]
    assert result["comparison"]["max_abs_diff"] == 0.0
    assert result["comparison"]["top1_agreement"] == 1.0
    assert len(result["output_summary"]["images"]) == 2
    assert result["extra"]["peak_rss_method"].startswith("VmHWM")
    measure = [event for event in run.events if event["event"] == events.PROGRESS and event["phase"] == "measure"]
    assert measure[-1]["done"] >= 4
    assert measure[-1]["total"] == 4
    assert measure[-1]["median_s"] > 0


def test_tiny_clip_on_openvino_reuses_ir(tiny_clip_dir: Path):
    first = assert_passed(run_worker(job(str(tiny_clip_dir), "openvino", seed=3)))
    assert first["device"] == "CPU"
    assert first["comparison"]["max_abs_diff"] <= first["comparison"]["tolerance"]
    assert first["extra"]["inference_precision"] == "f32"
    second = assert_passed(run_worker(job(str(tiny_clip_dir), "openvino", seed=3)))
    assert not first["extra"]["ir_cache_hit"]
    assert second["extra"]["ir_cache_hit"]
    assert second["extra"]["reference"]["cache_hit"]
    assert second["extra"]["inputs"]["cache_hit"]
    assert second["convert_time_s"] < 0.5
    assert second["parameter_count"] == first["parameter_count"]


def test_tiny_blip_on_cpu(tiny_blip_dir: Path):
    result = assert_passed(run_worker(job(str(tiny_blip_dir), "cpu")))
    assert result["model_id"] == TINY_BLIP_ID
    assert result["task"] == "image-to-text"
    assert result["comparison"]["tokens_match"]
    captions = result["output_summary"]["captions"]
    assert len(captions) == 2
    assert len(captions[0]["token_ids"]) == FAST_SETTINGS["max_new_tokens"]


def test_tiny_blip_on_openvino(tiny_blip_dir: Path):
    # Cache the job's inputs first: the worker then loads the processor only for the caption text.
    settings = Settings(**{k: v for k, v in FAST_SETTINGS.items() if k in ("batch_size", "max_new_tokens")})
    get_inputs(catalog.resolve(str(tiny_blip_dir)), BLIP_TASK, settings,
               lambda: BLIP_TASK.make_inputs(BLIP_TASK.load_processor(tiny_blip_dir), settings))

    result = assert_passed(run_worker(job(str(tiny_blip_dir), "openvino")))
    assert result["extra"]["inputs"]["cache_hit"]
    assert result["output_summary"]["captions"][0]["caption"] is not None
    assert result["comparison"]["tokens_match"]
    assert result["comparison"]["max_abs_diff"] < 1e-3
    assert result["extra"]["decoder_mode"].startswith("KV cache")


# --- failed jobs -------------------------------------------------------------------------------------


def test_unknown_model_not_found():
    run = run_worker(job("nobody/no-such-model", "cpu"))
    assert run.returncode == 0
    assert run.result["status"] == "fail"
    assert run.result["error_type"] == "model_not_found"
    assert "nobody/no-such-model" in run.result["error_message"]


def test_catalog_model_needs_synthetic_flag(tmp_path: Path):
    run = run_worker(job("openai/clip-vit-base-patch32", "cpu"), env={"HF_HUB_CACHE": str(tmp_path)})
    assert run.result["error_type"] == "model_not_found"
    assert "--weights synthetic" in run.result["error_message"]


def test_cuda_unavailable_here(tiny_clip_dir: Path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    run = run_worker(job(str(tiny_clip_dir), "cuda"))
    assert run.returncode == 0
    assert run.result["status"] == "unavailable"
    assert run.result["error_type"] == "unavailable"
    assert "CUDA" in run.result["error_message"]
    assert run.result["machine"]["cpu"]


def test_invalid_settings_rejected(tiny_clip_dir: Path):
    run = run_worker(job(str(tiny_clip_dir), "cpu", iterations=0))
    assert run.result["error_type"] == "invalid_settings"
    assert "iterations must be at least 1" in run.result["error_message"]


def test_wrong_task_for_family(tiny_clip_dir: Path):
    spec = job(str(tiny_clip_dir), "cpu")
    spec["task"] = "image-to-text"
    run = run_worker(spec)
    assert run.result["error_type"] == "invalid_settings"
    assert "clip model" in run.result["error_message"]


def test_invalid_spec_exits_2():
    run = run_worker("not json")
    assert run.returncode == 2
    assert run.result is None
    assert run.events[-1]["event"] == events.LOG
    assert "invalid job spec" in run.events[-1]["message"]


# --- fault hook ----------------------------------------------------------------------------------------


def test_fault_oom_reported(tiny_clip_dir: Path):
    run = run_worker(job(str(tiny_clip_dir), "cpu"), env={"VT_WORKER_FAULT": "resolve:oom"})
    assert run.returncode == 0
    assert run.result["error_type"] == "out_of_memory"
    assert run.result["extra"]["failed_phase"] == "resolve"
    assert "MemoryError" in run.result["extra"]["traceback"]


def test_fault_crash_leaves_no_result(tiny_clip_dir: Path):
    run = run_worker(job(str(tiny_clip_dir), "cpu"), env={"VT_WORKER_FAULT": "start:crash"})
    assert run.returncode == -signal.SIGABRT
    assert run.result is None
    assert run.phases == ["start"]


def test_fault_hang_blocks_in_phase(tiny_clip_dir: Path):
    process = subprocess.Popen(
        [sys.executable, "-m", "vt_core.worker"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "VT_WORKER_FAULT": "start:hang"},
    )
    try:
        process.stdin.write(json.dumps(job(str(tiny_clip_dir), "cpu")))
        process.stdin.close()
        first = events.decode(process.stdout.readline())
        assert first == {"event": "phase", "phase": "start"}
        time.sleep(1.0)
        assert process.poll() is None
    finally:
        process.kill()
        process.wait(timeout=30)


def test_invalid_fault_value_ignored(tiny_clip_dir: Path):
    run = run_worker(job(str(tiny_clip_dir), "cpu", iterations=0), env={"VT_WORKER_FAULT": "nowhere:crash"})
    assert run.result["error_type"] == "invalid_settings"
    warnings = [event for event in run.events if event["event"] == events.LOG and event["level"] == "warning"]
    assert "ignoring VT_WORKER_FAULT" in warnings[0]["message"]
