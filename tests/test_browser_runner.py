"""WebGPU and WebNN in real headless Chromium with ONNX Runtime Web.

These tests drive the system Chromium (VT_CHROMIUM or /usr/bin/chromium) and
the onnxruntime-web package that `vt-tui setup browser` installs. They skip only
when one of the two is missing; CI installs both
(`apt-get install -y chromium nodejs npm` then `vt-tui setup browser`).

On a machine without a GPU, Chromium's WebGPU adapter is SwiftShader, which
runs on the CPU; the tests check that it is labelled as CPU emulation. WebNN
has no backend in Debian's Chromium on Linux; the tests accept either outcome
and check that an unavailable WebNN carries the browser's own message.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vt_core.runners.browser import ortweb, probe
from vt_core.runners.browser.chromium import ChromiumNotFound, chromium_executable
from vt_core.runners.browser.session import PageError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from models import build_tiny_blip, build_tiny_clip  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]


def _missing_browser_parts() -> str | None:
    try:
        chromium_executable()
    except ChromiumNotFound as error:
        return f"Chromium is missing: {error}"
    if ortweb.find_install() is None:
        return f"onnxruntime-web is missing: run `{ortweb.SETUP_COMMAND}` (CI runs it before pytest)"
    return None


MISSING = _missing_browser_parts()
needs_browser = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


class RecordingReporter:
    """Collect what a runner reports, as the worker would send it to the parent."""

    def __init__(self) -> None:
        self.phases: list[str] = []
        self.progress_events: list[tuple] = []

    def phase(self, name: str) -> None:
        self.phases.append(name)

    def progress(self, phase, done, total, elapsed_s, median_s=None) -> None:
        self.progress_events.append((phase, done, total, elapsed_s, median_s))

    def log(self, message: str, level: str = "info") -> None:
        pass


# --- pure functions -----------------------------------------------------------------


def test_adapter_device_labels_swiftshader():
    device = probe.adapter_device(
        {"vendor": "google", "architecture": "swiftshader", "device": "", "description": "", "is_fallback_adapter": True}
    )
    assert device["id"] == "swiftshader-cpu-emulation"
    assert device["name"] == "webgpu (SwiftShader CPU emulation)"
    assert device["kind"] == "cpu-emulation"


def test_adapter_device_real_gpu():
    device = probe.adapter_device(
        {"vendor": "nvidia", "architecture": "blackwell", "device": "0x2b85", "description": "NVIDIA GeForce RTX 5090",
         "is_fallback_adapter": False}
    )
    assert device["id"] == "nvidia-blackwell"
    assert device["name"] == "NVIDIA GeForce RTX 5090"
    assert device["kind"] == "gpu"


def test_adapter_device_other_fallback_is_emulation():
    device = probe.adapter_device({"vendor": "mesa", "architecture": "llvmpipe", "is_fallback_adapter": True})
    assert device["kind"] == "cpu-emulation"


def test_platforms_without_runtime_name_setup_command():
    answer = {
        "ok": True,
        "browser_version": "156.0",
        "webgpu": {"available": True, "adapter": {"vendor": "google", "architecture": "swiftshader", "is_fallback_adapter": True}},
        "webnn": {"available": False, "reason": "WebNN is not supported on this platform.", "devices": {}},
    }
    webgpu, webnn = probe.platforms_from_probe(answer, None)
    assert webgpu["available"] is False
    assert ortweb.SETUP_COMMAND in webgpu["reason"]
    assert webgpu["devices"][0]["id"] == "swiftshader-cpu-emulation"
    assert webnn["reason"] == "WebNN is not supported on this platform."


def test_platforms_failed_probe_both_unavailable():
    answer = {"ok": False, "error": {"name": "missing_dependency", "message": "Chromium not found"}}
    entries = probe.platforms_from_probe(answer, None)
    assert [entry["name"] for entry in entries] == ["webgpu", "webnn"]
    assert all(entry["available"] is False for entry in entries)
    assert all(entry["reason"] == "Chromium not found" for entry in entries)


@pytest.mark.parametrize(
    ("name", "message", "stage", "expected"),
    [
        ("Error", "Could not find an implementation for GridSample(20) node with name ''", "create_session", "unsupported_op"),
        ("RangeError", "Array buffer allocation failed", "run", "out_of_memory"),
        ("Error", "failed to allocate a buffer: out of memory", "run", "out_of_memory"),
        ("Error", "Can't create a session. failed to load model: protobuf parsing failed", "create_session", "load_error"),
        ("Error", "GPUDevice was lost", "run", "runtime_error"),
    ],
)
def test_classify_page_error(name, message, stage, expected):
    from vt_core.runners.browser.runner import classify_page_error

    assert classify_page_error(PageError(stage, name, message)) == expected


def test_setup_without_npm_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv(ortweb.PREFIX_ENV, str(tmp_path / "prefix"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ortweb.SetupFailed) as caught:
        ortweb.install("1.31.1")
    assert "npm" in str(caught.value)
    assert "apt-get install -y nodejs npm" in str(caught.value)


def test_require_install_names_setup_command(tmp_path, monkeypatch):
    monkeypatch.setenv(ortweb.PREFIX_ENV, str(tmp_path / "empty"))
    with pytest.raises(ortweb.OrtWebNotInstalled) as caught:
        ortweb.require_install()
    assert ortweb.SETUP_COMMAND in str(caught.value)


def test_workspace_removes_dead_workers_folders():
    from vt_core.runners.browser.runner import OWNER_FILE, job_folder_root, new_job_workspace

    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    root = job_folder_root()
    stale = root / "stale-job"
    (stale / "served").mkdir(parents=True)
    (stale / OWNER_FILE).write_text(str(exited.pid))
    running = root / "running-job"
    running.mkdir(parents=True)
    (running / OWNER_FILE).write_text(str(os.getpid()))

    served, profiles = new_job_workspace("new-job")

    assert not stale.exists()
    assert running.exists()
    assert served.parent == root / "new-job"
    assert profiles.parent == root / "new-job"
    assert (root / "new-job" / OWNER_FILE).read_text() == str(os.getpid())
    shutil.rmtree(running)
    shutil.rmtree(root / "new-job")


def test_chromium_env_pointing_nowhere(tmp_path, monkeypatch):
    monkeypatch.setenv("VT_CHROMIUM", str(tmp_path / "no-chromium"))
    with pytest.raises(ChromiumNotFound) as caught:
        chromium_executable()
    assert "VT_CHROMIUM" in str(caught.value)
    answer = probe.probe_browser.__wrapped__()
    assert answer["ok"] is False
    assert "VT_CHROMIUM" in answer["error"]["message"]


def test_write_inputs_aligned_little_endian(tmp_path):
    from vt_core.runners.browser.session import INPUTS_DATA, INPUTS_MANIFEST, write_inputs

    tensors = {
        "pixel_values": np.arange(3 * 5, dtype=np.float32).reshape(1, 3, 5),
        "input_ids": np.array([[49406, 320, 49407]], dtype=np.int64),
        "as_float64": np.array([0.5, 1.5]),
    }
    write_inputs(tmp_path, tensors)
    manifest = json.loads((tmp_path / INPUTS_MANIFEST).read_text())
    data = (tmp_path / INPUTS_DATA).read_bytes()
    entries = {entry["name"]: entry for entry in manifest["tensors"]}
    assert manifest["data"] == INPUTS_DATA
    assert all(entry["offset"] % 8 == 0 for entry in entries.values())
    assert entries["as_float64"]["dtype"] == "float32"
    for name, array in tensors.items():
        entry = entries[name]
        count = int(np.prod(entry["dims"]))
        stored = np.frombuffer(data, dtype=np.dtype(entry["dtype"]).newbyteorder("<"), count=count, offset=entry["offset"])
        np.testing.assert_array_equal(stored.reshape(entry["dims"]), array.astype(entry["dtype"]))


def test_write_inputs_rejects_bool(tmp_path):
    from vt_core.runners.browser.session import write_inputs

    with pytest.raises(TypeError, match="mask"):
        write_inputs(tmp_path, {"mask": np.array([True, False])})


def test_export_clip_cached_by_content(tiny_clip):
    import torch

    from vt_core.records import Settings
    from vt_core.runners.browser import export
    from vt_core.tasks import get_task

    task = get_task("zero-shot-image-classification")
    model = task.load_torch_model(tiny_clip, "cpu")
    inputs = {
        name: torch.from_numpy(array)
        for name, array in task.make_inputs(task.load_processor(tiny_clip), Settings()).items()
    }

    first = export.export_clip(model, inputs)
    second = export.export_clip(model, inputs)
    with torch.no_grad():
        model.logit_scale.add_(0.5)
    changed = export.export_clip(model, inputs)

    assert first.path("model").is_file()
    assert second.cached is True
    assert second.folder == first.folder
    assert changed.key != first.key
    assert changed.folder != first.folder


# --- real Chromium ------------------------------------------------------------------


@needs_browser
def test_detect_webgpu_and_webnn():
    webgpu, webnn = probe.detect()
    assert webgpu["name"] == "webgpu"
    assert webgpu["versions"]["chromium"]
    assert webgpu["versions"]["onnxruntime-web"] == ortweb.find_install().version
    if webgpu["available"]:
        device = webgpu["devices"][0]
        if device["fallback_adapter"] or device["architecture"] == "swiftshader":
            assert device["kind"] == "cpu-emulation"
            assert "CPU emulation" in device["name"]
    else:
        assert webgpu["reason"]
    assert webnn["name"] == "webnn"
    if not webnn["available"]:
        # The reason quotes the browser's own error from navigator.ml.createContext().
        assert "createContext" in webnn["reason"] or "navigator.ml" in webnn["reason"]


@needs_browser
def test_detect_without_runtime(tmp_path, monkeypatch):
    monkeypatch.setenv(ortweb.PREFIX_ENV, str(tmp_path / "empty"))
    webgpu, webnn = probe.detect()
    assert webgpu["available"] is False
    assert webnn["available"] is False
    assert ortweb.SETUP_COMMAND in webgpu["reason"]
    assert webgpu["versions"]["onnxruntime-web"] is None


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> Path:
    return build_tiny_clip(tmp_path_factory.mktemp("tiny") / "clip")


@pytest.fixture(scope="module")
def tiny_blip(tmp_path_factory) -> Path:
    return build_tiny_blip(tmp_path_factory.mktemp("tiny") / "blip")


def _webgpu_available() -> bool:
    return MISSING is None and probe.detect()[0]["available"]


def _run_runner(model_dir: Path, platform: str, settings):
    """Prepare and measure with the runner directly; return (runner extras, samples, first, outputs, reference)."""
    from vt_core import catalog
    from vt_core.records import JobSpec
    from vt_core.runners import get_runner
    from vt_core.tasks import get_task
    from vt_core.tasks.base import numpy_outputs, torch_inputs

    model = catalog.resolve(str(model_dir))
    task = get_task(model.task)
    spec = JobSpec(model_ref=str(model_dir), platform=platform, settings=settings)
    reporter = RecordingReporter()
    runner = get_runner(platform)
    assert runner.unavailable_reason(spec) is None
    try:
        runner.prepare(model, task, spec, reporter)
        inputs = task.make_inputs(task.load_processor(model.path), settings)
        samples, first, outputs = runner.measure(inputs, settings, reporter)
        extra, device = dict(runner.extra), runner.device
    finally:
        runner.close()
    torch_model = task.load_torch_model(model.path, "cpu")
    reference = numpy_outputs(task.run_torch(torch_model, torch_inputs(inputs), settings))
    comparison = task.compare(reference, outputs, "f32")
    return extra, device, samples, first, comparison, reporter


@needs_browser
def test_runner_clip_webgpu_samples_and_comparison(tiny_clip):
    from vt_core.records import Settings

    if not _webgpu_available():
        pytest.skip(f"Chromium offers no WebGPU adapter here: {probe.detect()[0]['reason']}")
    settings = Settings(iterations=3, min_seconds=0.0, warmup=1)
    extra, device, samples, first, comparison, reporter = _run_runner(tiny_clip, "webgpu", settings)

    assert len(samples) >= 3
    assert all(sample > 0 for sample in samples)
    assert first > 0
    assert comparison["ok"], comparison
    assert comparison["max_abs_diff"] <= comparison["tolerance"]
    assert reporter.phases == ["load", "convert", "compile", "warmup", "measure"]
    assert extra["execution_provider"] == "webgpu"
    assert extra["ort_web_version"] == ortweb.find_install().version
    assert extra["adapter"]["id"] == device
    if extra["adapter"]["kind"] == "cpu-emulation":
        assert device in ("swiftshader-cpu-emulation", "fallback-cpu-emulation")
    assert extra["cross_origin_isolated"] is True
    assert extra["browser_memory"]["bytes"] is None or extra["browser_memory"]["bytes"] > 0
    # The job folder is deleted with the session.
    from vt_core.runners.browser.runner import job_folder_root

    assert not any(job_folder_root().iterdir())


# --- through the launcher, the worker process and DuckDB --------------------------------


@needs_browser
def test_worker_stores_webgpu_and_webnn(tiny_clip, tiny_blip, db_path):
    """CLIP and BLIP on webgpu and CLIP on webnn, each in a real worker, stored in DuckDB."""
    from vt_core.launcher import Launcher
    from vt_core.records import JobSpec, Settings
    from vt_core.store import Store

    settings = Settings(iterations=3, min_seconds=0.0, warmup=1, max_new_tokens=4)
    jobs = [
        JobSpec(model_ref=str(tiny_clip), platform="webgpu", settings=settings, run_id="browser-test"),
        JobSpec(model_ref=str(tiny_blip), platform="webgpu", settings=settings, run_id="browser-test"),
        JobSpec(model_ref=str(tiny_clip), platform="webnn", settings=settings, run_id="browser-test"),
    ]
    store = Store(db_path)
    # No platform_info: each worker decides availability itself, as on a machine
    # where detection has not run.
    results = asyncio.run(Launcher(store).run(jobs))
    clip_gpu, blip_gpu, clip_nn = results

    webgpu_entry = probe.detect()[0]
    if not webgpu_entry["available"]:
        pytest.skip(f"Chromium offers no WebGPU adapter here: {webgpu_entry['reason']}")

    assert clip_gpu.status == "pass", clip_gpu.error_message
    assert len(store.samples(clip_gpu.job_id)) == len(clip_gpu.samples_s) >= 3
    assert clip_gpu.comparison["ok"] is True
    assert clip_gpu.device == clip_gpu.extra["adapter"]["id"]
    assert clip_gpu.extra["execution_provider"] == "webgpu"
    assert clip_gpu.extra["onnx"]["opset"] >= 17

    # BLIP runs its greedy loop in the page. A different token is a mismatch that
    # names the position, and any other failure must carry a precise error type.
    assert blip_gpu.status in ("pass", "mismatch", "fail")
    if blip_gpu.status == "pass":
        assert blip_gpu.comparison["tokens_match"] is True
    elif blip_gpu.status == "mismatch":
        assert "first_difference" in blip_gpu.comparison
    else:
        assert blip_gpu.error_type in ("unsupported_op", "out_of_memory", "load_error", "conversion_error")

    if webgpu_entry["devices"][0]["kind"] == "cpu-emulation":
        assert clip_gpu.extra["adapter"]["name"] == "webgpu (SwiftShader CPU emulation)"

    webnn_entry = probe.detect()[1]
    if webnn_entry["available"]:
        assert clip_nn.status in ("pass", "mismatch"), clip_nn.error_message
    else:
        assert clip_nn.status == "unavailable"
        assert clip_nn.error_type == "unavailable"
        assert clip_nn.error_message == webnn_entry["reason"]

    with store.connect(read_only=True) as con:
        rows = con.execute(
            "SELECT hardware_platform, success, error_type, results, metadata FROM vision_text_results "
            "WHERE id = ?", [clip_gpu.job_id]
        ).fetchall()
        states = dict(con.execute(
            "SELECT result_id, state FROM result_details WHERE run_id = 'browser-test'"
        ).fetchall())
    assert len(rows) == 1
    platform, success, error_type, results_json, metadata_json = rows[0]
    assert (platform, success, error_type) == ("webgpu", True, None)
    assert json.loads(results_json)["comparison"]["max_abs_diff"] is not None
    stored_extra = json.loads(metadata_json)["extra"]
    assert stored_extra["adapter"]["id"] == clip_gpu.device
    assert stored_extra["ort_web_version"] == ortweb.find_install().version
    assert states[clip_nn.job_id] == clip_nn.status
    assert states[blip_gpu.job_id] == blip_gpu.status
