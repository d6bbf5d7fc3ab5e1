"""A results database with known contents for the report, figure and browser tests.

`build_known_db` writes JobResult objects through `Store.ingest` (the real write
path) and returns the store with the samples it wrote, so tests can recompute
every statistic with numpy and scipy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vt_core.records import JobResult
from vt_core.store import Store

CLIP = "openai/clip-vit-base-patch32"
BLIP = "Salesforce/blip-image-captioning-base"
SIGLIP = "google/siglip-base-patch16-224"
MOCK = "legacy/mock-clip"
EVIL = "<script>window.__vtInjected=1</script>|evil*"
EVIL_ERROR = '<img src=x onerror="window.__vtInjected=2"><script>window.__vtInjected=3</script>'
ZERO_SHOT = "zero-shot-image-classification"
CAPTION = "image-to-text"

MACHINE_A = {"hostname": "box-a", "os": "Linux", "cpu": "Xeon 8480", "gpu_name": "H100", "gpu_driver": "550"}
MACHINE_B = {"hostname": "box-b", "os": "Linux", "cpu": "EPYC 9654", "gpu_name": "MI300X", "gpu_driver": "6.2"}


@dataclass
class KnownDb:
    store: Store
    samples: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    """Pooled samples per (model_id, platform) of each timed group, in seconds."""


def _result(number: int, model_id: str, family: str, task: str, platform: str, status: str, day: int, *,
            samples: list[float] | None = None, machine: dict | None = None, weights: str = "local",
            error_type: str | None = None, error_message: str | None = None, extra: dict | None = None,
            device: str | None = None, memory_mb: float | None = None) -> JobResult:
    return JobResult(
        job_id=f"job-{number:03d}", run_id=f"run-{day}", model_id=model_id, platform=platform, status=status,
        task=task, model_family=family, model_type=family, device=device or platform, weights_source=weights,
        error_type=error_type, error_message=error_message, samples_s=list(samples or []),
        started_at=f"2025-03-{day:02d}T09:{number % 60:02d}:00", finished_at=f"2025-03-{day:02d}T10:{number % 60:02d}:00",
        settings={"precision": "f32", "batch_size": 1}, machine=dict(machine or MACHINE_A), extra=dict(extra or {}),
        peak_rss_mb=memory_mb,
    )


def build_known_db(folder: Path) -> KnownDb:
    """Write the known results to `folder / "results.duckdb"`.

    Expected latest states (rows x platforms, the rest untested):
      CLIP:   cpu pass, cuda fail, rocm pass (box-b, while box-a only reports unavailable),
              openvino mismatch, webgpu unavailable. An earlier openvino pass is the only
              openvino run with timings.
      BLIP:   cpu pass (synthetic weights), openvino fail
      SigLIP: cpu pass (one sample)
      EVIL:   cpu fail with an error text full of markup, webnn pass
      MOCK:   cpu pass from a mock legacy run, shown only with include_flagged
    """
    rng = np.random.default_rng(42)
    store = Store(folder / "results.duckdb")
    known = KnownDb(store)

    clip_cpu_1 = list(rng.normal(0.020, 0.002, 10))
    clip_cpu_2 = list(rng.normal(0.021, 0.002, 12))
    clip_ov = list(rng.normal(0.012, 0.001, 8))
    clip_rocm = list(rng.normal(0.004, 0.0005, 5))
    blip_cpu = list(rng.normal(0.300, 0.020, 15))
    evil_webnn = list(rng.normal(0.030, 0.003, 6))
    known.samples = {
        (CLIP, "cpu"): clip_cpu_1 + clip_cpu_2,
        (CLIP, "openvino"): clip_ov,
        (CLIP, "rocm"): clip_rocm,
        (BLIP, "cpu"): blip_cpu,
        (SIGLIP, "cpu"): [0.05],
        (EVIL, "webnn"): evil_webnn,
    }

    results = [
        _result(1, CLIP, "clip", ZERO_SHOT, "cpu", "fail", 1, error_type="crash", error_message="worker died"),
        _result(2, CLIP, "clip", ZERO_SHOT, "cpu", "pass", 2, samples=clip_cpu_1, memory_mb=410.0),
        _result(3, CLIP, "clip", ZERO_SHOT, "cpu", "pass", 3, samples=clip_cpu_2, memory_mb=450.0),
        _result(4, CLIP, "clip", ZERO_SHOT, "cuda", "fail", 3, error_type="out_of_memory",
                error_message="CUDA out of memory", device="cuda:0"),
        _result(5, CLIP, "clip", ZERO_SHOT, "openvino", "mismatch", 3, samples=list(rng.normal(0.011, 0.001, 8)),
                device="CPU", error_type="mismatch", error_message="max abs diff 0.31 > 0.001"),
        _result(14, CLIP, "clip", ZERO_SHOT, "openvino", "pass", 2, samples=clip_ov, device="CPU"),
        _result(6, CLIP, "clip", ZERO_SHOT, "webgpu", "unavailable", 3, error_type="unavailable",
                error_message="no GPU adapter"),
        _result(7, CLIP, "clip", ZERO_SHOT, "rocm", "pass", 2, samples=clip_rocm, machine=MACHINE_B, device="cuda:0"),
        _result(8, CLIP, "clip", ZERO_SHOT, "rocm", "unavailable", 4, error_type="unavailable",
                error_message="torch.version.hip is not set"),
        _result(9, BLIP, "blip", CAPTION, "cpu", "pass", 3, samples=blip_cpu, weights="synthetic"),
        _result(10, BLIP, "blip", CAPTION, "openvino", "fail", 3, weights="synthetic", device="CPU",
                error_type="conversion_error", error_message="unsupported op aten::foo"),
        _result(11, SIGLIP, "siglip", ZERO_SHOT, "cpu", "pass", 3, samples=[0.05]),
        _result(12, EVIL, "clip", ZERO_SHOT, "cpu", "fail", 3, error_type="load_error", error_message=EVIL_ERROR),
        _result(15, EVIL, "clip", ZERO_SHOT, "webnn", "pass", 3, samples=evil_webnn),
        _result(13, MOCK, "clip", ZERO_SHOT, "cpu", "pass", 1, samples=[0.001, 0.001], extra={"is_mock": True}),
    ]
    assert store.ingest(results) == len(results)
    return known
