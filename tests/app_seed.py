"""Seeded results for the app's tests and snapshots: fixed timestamps, seeded samples, fixed platforms.

Results go through `Store.ingest`, the same path real runs take, so every
derived table (details, samples, compatibility) is the store's own work.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np

from vt_core.records import JobResult
from vt_core.store import Store

NOW = dt.datetime(2025, 6, 2, 12, 0, 0)
"""The fixed clock of the snapshots; seeded results are some hours or days before it."""

CLIP_B32 = "openai/clip-vit-base-patch32"
CLIP_B16 = "openai/clip-vit-base-patch16"
BLIP_BASE = "Salesforce/blip-image-captioning-base"

MACHINE = {
    "hostname": "bench-01", "os": "Linux 6.8", "cpu": "Test CPU 8-core", "cpu_count": 8,
    "memory_total_mb": 32768.0, "python_version": "3.11.7", "torch_version": "2.13.0",
}

PLATFORMS_FIXED: list[dict[str, Any]] = [
    {"name": "cpu", "available": True, "reason": None,
     "devices": [{"id": "cpu", "name": "Test CPU 8-core", "cores": 8}], "versions": {"torch": "2.13.0"}},
    {"name": "cuda", "available": False, "reason": "torch.cuda.is_available() is False", "devices": [],
     "versions": {"torch": "2.13.0"}},
    {"name": "rocm", "available": False, "reason": "torch is not a ROCm build (torch.version.hip is None)",
     "devices": [], "versions": {}},
    {"name": "mps", "available": False, "reason": "not a macOS machine", "devices": [], "versions": {}},
    {"name": "openvino", "available": True, "reason": None,
     "devices": [{"id": "CPU", "name": "Test CPU 8-core (OpenVINO)"}], "versions": {"openvino": "2026.4"}},
    {"name": "webgpu", "available": False, "reason": "the browser returned no GPU adapter", "devices": [],
     "versions": {"chromium": "140.0"}},
    {"name": "webnn", "available": False, "reason": "the browser has no WebNN ML context", "devices": [],
     "versions": {"chromium": "140.0"}},
]
"""A detection result that does not depend on the machine the tests run on."""


def _result(index: int, model: str, platform: str, status: str, when: dt.datetime, *, median_s: float = 0.05,
            n: int = 30, family: str = "clip", task: str = "zero-shot-image-classification",
            error_type: str | None = None, error_message: str | None = None, seed: int = 0,
            source: str = "synthetic", comparison: dict[str, Any] | None = None) -> JobResult:
    rng = np.random.default_rng(seed)
    samples = [] if status in ("fail", "unavailable") else list(median_s * (1 + 0.05 * rng.standard_normal(n)))
    return JobResult(
        job_id=f"seed-{index:04d}", run_id=f"run-{when:%m%d%H}", model_id=model, platform=platform,
        status=status, task=task, model_family=family, model_type=family,
        architecture="CLIPModel" if family == "clip" else "BlipForConditionalGeneration",
        device="CPU" if platform == "openvino" else "cpu", weights_source=source,
        parameter_count=151_277_313 if family == "clip" else 247_414_076,
        error_type=error_type, error_message=error_message,
        started_at=(when - dt.timedelta(minutes=2)).isoformat(), finished_at=when.isoformat(),
        settings={"iterations": n, "batch_size": 1, "precision": "f32", "warmup": 3},
        samples_s=[float(s) for s in samples], load_time_s=1.25 if samples else None,
        first_inference_s=median_s * 3 if samples else None, peak_rss_mb=612.0 if samples else None,
        comparison=comparison or ({"max_abs_diff": 2.4e-6, "top1_agreement": 1.0, "ok": True} if samples else {}),
        output_summary={"top_labels": ["a photo of a cat"]} if samples else {}, machine=MACHINE,
    )


def seeded_results() -> list[JobResult]:
    """Return a small history: passes, a mismatch, a failure, an unavailable platform and a regression."""
    day = dt.timedelta(days=1)
    results: list[JobResult] = []
    index = 0
    # Five cpu runs of CLIP B/32; the last one is 20% slower, a regression.
    for step, median in enumerate((0.050, 0.051, 0.049, 0.050, 0.060)):
        index += 1
        results.append(_result(index, CLIP_B32, "cpu", "pass", NOW - (5 - step) * day, median_s=median, seed=index))
    index += 1
    results.append(_result(index, CLIP_B32, "openvino", "mismatch", NOW - 3 * dt.timedelta(hours=1),
                           median_s=0.021, error_type="mismatch", seed=index,
                           error_message="logits differ from the PyTorch CPU reference: max abs diff 0.041 > 1e-4",
                           comparison={"max_abs_diff": 0.041, "top1_agreement": 0.75, "ok": False}))
    index += 1
    results.append(_result(index, CLIP_B32, "cuda", "unavailable", NOW - 2 * day, error_type="unavailable",
                           error_message="cuda is not available: torch.cuda.is_available() is False"))
    index += 1
    results.append(_result(index, CLIP_B16, "cpu", "pass", NOW - 2 * dt.timedelta(hours=1), median_s=0.11,
                           seed=index))
    index += 1
    results.append(_result(index, CLIP_B16, "openvino", "pass", NOW - dt.timedelta(hours=1), median_s=0.045,
                           seed=index))
    index += 1
    results.append(_result(index, BLIP_BASE, "cpu", "pass", NOW - dt.timedelta(minutes=30), median_s=0.42,
                           family="blip", task="image-to-text", seed=index, n=12,
                           comparison={"tokens_match": True, "fraction_matching": 1.0, "ok": True}))
    index += 1
    results.append(_result(index, BLIP_BASE, "openvino", "fail", NOW - dt.timedelta(minutes=20), family="blip",
                           task="image-to-text", error_type="conversion_error",
                           error_message="Traceback (most recent call last):\n  File \"convert.py\", line 1\n"
                                         "RuntimeError: openvino.convert_model failed on aten::scaled_dot_product"))
    return results


def simulated_legacy_result() -> JobResult:
    """Return a BLIP cpu pass imported from the older framework and flagged simulated, newer than the seeded ones."""
    result = _result(900, BLIP_BASE, "cpu", "pass", NOW, family="blip", task="image-to-text", source="legacy")
    # Legacy results carry no per-iteration samples or reference comparison, and this one has no load time or memory.
    result.job_id = "legacy-0001"
    result.samples_s, result.load_time_s, result.first_inference_s, result.peak_rss_mb = [], None, None, None
    result.comparison, result.output_summary = {}, {}
    result.extra = {"is_simulated": True, "source_file": "old/blip_cpu.json"}
    return result


def seed_database(path: Path) -> Store:
    """Create a database at `path` holding `seeded_results()`; return its Store."""
    store = Store(path)
    store.ingest(seeded_results())
    return store


def seeded_app(db_path: Path, *, reports_dir: Path | None = None, theme: str | None = "textual-dark",
               **options: Any):
    """Return the app over `db_path` with fixed platforms, a fixed clock and a fixed theme.

    The theme is fixed because the automatic choice follows TERM and COLORTERM.

    The model list is the real catalog. Callers point HF_HUB_CACHE and VT_HOME
    at empty folders, so no cache or synthetic build of this machine shows.
    """
    from vt_tui.app import VtApp
    from vt_tui.config import AppConfig
    from vt_tui.services import AppStore, Services

    services = Services(
        store=AppStore(db_path, **options), detect_platforms=lambda: PLATFORMS_FIXED, now=lambda: NOW,
        reports_dir=(lambda: reports_dir) if reports_dir else None,
    )
    return VtApp(AppConfig(db_path=db_path, theme=theme), services=services)


async def settle(pilot, rounds: int = 20) -> None:
    """Wait until the app's workers are done and the screen has caught up.

    A screen starts its loads on the events that follow a key press, so the
    app counts as settled only after two rounds in a row without a running
    worker. A newer load cancels an older one of the same group, so cancelled
    workers are expected; a failed worker raises. A run is not waited for.
    """
    from textual.worker import WorkerCancelled

    quiet = 0
    for _ in range(rounds):
        await pilot.pause(0.05)
        pending = [w for w in pilot.app.workers if not w.is_finished and w.group != "run"]
        if not pending:
            quiet += 1
            if quiet == 2:
                break
            continue
        quiet = 0
        for worker in pending:
            try:
                await worker.wait()
            except WorkerCancelled:
                pass
    await pilot.pause()
