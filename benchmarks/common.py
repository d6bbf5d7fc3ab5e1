"""Shared helpers of the timing benchmarks: data directory, quick models, statistics, machine line.

The scripts bench_fidelity_cpu.py, bench_fidelity_openvino.py, bench_overhead.py
and bench_noise.py import this module by its file name, so each one runs as
`python benchmarks/<script>.py` from the repository root or elsewhere.

`RecordingLauncher` is the real `vt_core.launcher.Launcher` with hooks that
only take timestamps: every `LauncherEvent` the caller receives, when each
worker starts and exits, when its result line arrives, and how long storing
each result takes.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]

# Worker processes import vt_core too, so PYTHONPATH names this checkout, and a
# checkout without `pip install -e .` works like an installed one.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
os.environ["PYTHONPATH"] = os.pathsep.join(
    part for part in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if part
)

from vt_core import events  # noqa: E402
from vt_core.launcher import Launcher, LauncherEvent  # noqa: E402
from vt_core.records import JobResult, JobSpec  # noqa: E402

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0

CLIP_ID = "openai/clip-vit-base-patch32"
BLIP_ID = "Salesforce/blip-image-captioning-base"

QUICK_CLIP_ID = "vt-bench/quick-clip"
QUICK_BLIP_ID = "vt-bench/quick-blip"

# --quick models: the real layer types and tokenizer layout at a tiny size, so a
# build takes about a second and one inference milliseconds. CLIP keeps its
# 77-token text length.
_QUICK_VISION = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "image_size": 32,
    "patch_size": 8,
    "projection_dim": 16,
}
QUICK_OVERRIDES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "clip": (CLIP_ID, QUICK_CLIP_ID, {
        "projection_dim": 16,
        "text_config": {"vocab_size": 1024, "hidden_size": 32, "intermediate_size": 64,
                        "num_hidden_layers": 2, "num_attention_heads": 2, "projection_dim": 16},
        "vision_config": dict(_QUICK_VISION),
    }),
    # bos ([DEC]) is the second-to-last id of the vocabulary, as 30522 is at full size.
    "blip": (BLIP_ID, QUICK_BLIP_ID, {
        "projection_dim": 16,
        "image_text_hidden_size": 16,
        "text_config": {"vocab_size": 1024, "bos_token_id": 1022, "hidden_size": 32, "intermediate_size": 64,
                        "num_hidden_layers": 2, "num_attention_heads": 2, "max_position_embeddings": 64,
                        "projection_dim": 16},
        "vision_config": dict(_QUICK_VISION),
    }),
}


# --- data directory and models -------------------------------------------------------------


@contextlib.contextmanager
def data_home(path: str | None, *, temporary: bool, keep: bool = False) -> Iterator[Path]:
    """Point VT_HOME at `path`, at a new temporary folder, or leave it as is; restore it afterwards.

    With `temporary` and no `path`, the folder (synthetic builds, converted
    models, references, databases) is deleted on exit unless `keep` is set.
    """
    from vt_core import paths

    previous = os.environ.get("VT_HOME")
    created: Path | None = None
    if path:
        os.environ["VT_HOME"] = str(Path(path).expanduser().resolve())
    elif temporary:
        created = Path(tempfile.mkdtemp(prefix="vt-bench-home-"))
        os.environ["VT_HOME"] = str(created)
    try:
        yield paths.data_dir()
    finally:
        if previous is None:
            os.environ.pop("VT_HOME", None)
        else:
            os.environ["VT_HOME"] = previous
        if created is not None:
            if keep:
                print(f"kept the data directory {created}", file=sys.stderr)
            else:
                shutil.rmtree(created, ignore_errors=True)


def quick_model(family: str) -> Path:
    """Build (or reuse) the --quick model of `family` under the current data directory; return its folder."""
    from vt_core import catalog, paths

    try:
        base_id, label, overrides = QUICK_OVERRIDES[family]
    except KeyError:
        raise ValueError(f"no quick model for family {family!r}; use one of {', '.join(QUICK_OVERRIDES)}") from None
    target = paths.cache_dir() / "bench-quick" / family
    return catalog.build_synthetic(base_id, target, overrides, label=label)


def model_reference(requested: str | None, quick: bool) -> str:
    """Return the CLIP model to benchmark: `requested`, else the quick CLIP with --quick, else openai/clip-vit-base-patch32."""
    if requested:
        return requested
    if quick:
        return str(quick_model("clip"))
    return CLIP_ID


def resolve_model(reference: str) -> Any:
    """Resolve a model reference like `vt-tui run --weights synthetic` does, building it when needed."""
    from vt_core import catalog

    return catalog.resolve(reference, "synthetic")


# --- statistics ----------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("median of an empty sequence; the job produced no samples")
    return statistics.median(values)


@dataclass
class Spread:
    """Spread of a set of figures (medians of repeated jobs, usually)."""

    count: int
    minimum: float
    maximum: float
    median: float
    mean: float
    relative_range: float
    """(max - min) / median."""
    cv: float
    """Sample standard deviation / mean; NaN for fewer than two figures."""


def spread(values: Sequence[float]) -> Spread:
    values = list(values)
    middle = median(values)
    mean = statistics.fmean(values)
    cv = statistics.stdev(values) / mean if len(values) > 1 and mean else math.nan
    return Spread(len(values), min(values), max(values), middle, mean, (max(values) - min(values)) / middle, cv)


def percent(fraction: float) -> str:
    return "n/a" if math.isnan(fraction) else f"{fraction * 100:.1f}%"


def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.2f}"


def bootstrap_ratio_interval(medians_a: Sequence[float], medians_b: Sequence[float],
                             resamples: int = BOOTSTRAP_RESAMPLES) -> tuple[float, float]:
    """Return the 95% percentile-bootstrap interval of median(A) / median(B) over resampled rounds.

    Rounds are resampled as (A, B) pairs, because the two sides of a round ran
    one after the other under the same machine load.
    """
    generator = random.Random(BOOTSTRAP_SEED)
    count = len(medians_a)
    ratios = []
    for _ in range(resamples):
        picks = [generator.randrange(count) for _ in range(count)]
        ratios.append(median([medians_a[i] for i in picks]) / median([medians_b[i] for i in picks]))
    ratios.sort()
    return ratios[int(0.025 * resamples)], ratios[int(0.975 * resamples) - 1]


def print_ratios(medians_a: Sequence[float], medians_b: Sequence[float], tolerance: float) -> None:
    """Print the paired per-round ratios, the ratio of the medians of round medians with its interval, and the load."""
    paired = spread([a / b for a, b in zip(medians_a, medians_b)])
    print(f"paired per-round A/B: median {paired.median:.4f}, min {paired.minimum:.4f}, max {paired.maximum:.4f}")
    spread_a = spread(medians_a)
    spread_b = spread(medians_b)
    print(f"round medians, coefficient of variation: A {percent(spread_a.cv)}, B {percent(spread_b.cv)}")
    ratio = median(medians_a) / median(medians_b)
    verdict = "met" if abs(ratio - 1.0) <= tolerance else "missed"
    low, high = bootstrap_ratio_interval(medians_a, medians_b)
    print(f"ratio of medians A/B (medians of round medians): {ratio:.4f}, 95% bootstrap interval "
          f"[{low:.4f}, {high:.4f}] (goal 1 +- {tolerance:.0%}: {verdict})")
    print(f"load average at end: {load_text()}")


# --- machine -------------------------------------------------------------------------------


def load_average() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except OSError:
        return None


def load_text() -> str:
    load = load_average()
    return "unknown" if load is None else "{:.2f} {:.2f} {:.2f}".format(*load)


def machine_lines() -> list[str]:
    """Return lines naming the CPU, core count, OS, library versions and the current load average."""
    from vt_core import machine

    versions = ", ".join(
        f"{name} {machine.package_version(name) or 'missing'}" for name in ("torch", "transformers", "openvino")
    )
    return [
        f"machine: {machine.cpu_name()}, {os.cpu_count()} logical cores, "
        f"{machine.memory_total_mb() or 0:.0f} MiB, {platform.platform()}",
        f"versions: python {platform.python_version()}, {versions}",
        f"load average (1, 5, 15 min) at start: {load_text()}",
    ]


def print_header(title: str) -> None:
    print(title)
    print(f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}")
    for line in machine_lines():
        print(line)
    sys.stdout.flush()


# --- running jobs -------------------------------------------------------------------------


@dataclass
class JobTimes:
    """Parent-side timestamps of one job, in time.monotonic() seconds."""

    events: list[LauncherEvent] = field(default_factory=list)
    worker_launched: float | None = None
    """When the launcher began starting the worker process."""
    worker_exited: float | None = None
    """When the worker's output streams closed and it exited."""
    result_received: float | None = None
    store_started: float | None = None
    store_finished: float | None = None


class RecordingLauncher(Launcher):
    """The real launcher, recording when each event, result line, worker exit and store call happened."""

    instances: list["RecordingLauncher"] = []
    """Every launcher created, so a caller that patches it into `vt-tui run` can read its timestamps."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.jobs: dict[str, JobTimes] = {}
        self.run_started: float | None = None
        self.run_finished: float | None = None
        RecordingLauncher.instances.append(self)

    def _times(self, job_id: str) -> JobTimes:
        return self.jobs.setdefault(job_id, JobTimes())

    async def run(self, jobs, on_event=None, **kwargs):  # type: ignore[override]
        forward = on_event or (lambda event: None)

        def record(event: LauncherEvent) -> None:
            if event.job_id is not None and event.kind != "log":
                self._times(event.job_id).events.append(event)
            forward(event)

        self.run_started = time.monotonic()
        try:
            return await super().run(jobs, record, **kwargs)
        finally:
            self.run_finished = time.monotonic()

    async def _run_worker(self, job, emit):  # type: ignore[override]
        times = self._times(job.job_id)
        times.worker_launched = time.monotonic()
        try:
            return await super()._run_worker(job, emit)
        finally:
            times.worker_exited = time.monotonic()

    def _relay(self, job, event, state, emit, started):  # type: ignore[override]
        if event.get("event") == events.RESULT:
            self._times(job.job_id).result_received = time.monotonic()
        return super()._relay(job, event, state, emit, started)

    async def _store(self, result: JobResult) -> bool:
        times = self._times(result.job_id)
        times.store_started = time.monotonic()
        try:
            return await super()._store(result)
        finally:
            times.store_finished = time.monotonic()


def run_jobs(jobs: Sequence[JobSpec], store: Any = None) -> tuple[list[JobResult], RecordingLauncher]:
    """Run `jobs` one at a time through the real launcher and return their results and timestamps."""
    import asyncio

    launcher = RecordingLauncher(store)
    results = asyncio.run(launcher.run(list(jobs)))
    return results, launcher


def require_pass(result: JobResult) -> JobResult:
    """Return `result`, or exit with its error when the job did not pass."""
    if result.status != "pass" or not result.samples_s:
        message = (result.error_message or "").strip()
        raise SystemExit(
            f"job {result.model_id} on {result.platform} ended {result.status} "
            f"({result.error_type}): {message}\nfix the job above before benchmarking it"
        )
    return result


def progress(message: str) -> None:
    """Print a progress line on standard error, where it stays out of the figures."""
    print(f"[{time.strftime('%H:%M:%S')} load {load_text()}] {message}", file=sys.stderr, flush=True)
