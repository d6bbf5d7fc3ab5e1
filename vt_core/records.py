"""Records exchanged between the launcher, the worker and the store.

A job is one (model, platform, device, task, settings) measurement. The
launcher turns a `JobSpec` into a worker process, the worker streams events
(one JSON object per line) and ends with one `JobResult`, and the store writes
that result. Everything here is plain data that survives `json.dumps`, so the
same records travel over the worker pipe, into the spool file and into reports.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

PLATFORMS: tuple[str, ...] = ("cpu", "cuda", "rocm", "mps", "openvino", "webgpu", "webnn")
"""The seven platforms, in the column order of the compatibility matrix."""

TORCH_PLATFORMS: frozenset[str] = frozenset({"cpu", "cuda", "rocm", "mps"})
BROWSER_PLATFORMS: frozenset[str] = frozenset({"webgpu", "webnn"})

# States of one model on one platform.
PASS = "pass"
MISMATCH = "mismatch"
FAIL = "fail"
UNAVAILABLE = "unavailable"
UNTESTED = "untested"
STATES: tuple[str, ...] = (PASS, MISMATCH, FAIL, UNAVAILABLE, UNTESTED)

# Error types stored in `vision_text_results.error_type`.
ERROR_TYPES: dict[str, str] = {
    "timeout": "a phase ran past its time limit and the worker was killed",
    "crash": "the worker process died without reporting a result",
    "out_of_memory": "the worker ran out of host or device memory",
    "missing_dependency": "a Python package or runtime the platform needs is not installed",
    "unsupported_op": "the back end cannot run an operation of the model",
    "conversion_error": "exporting or converting the model for the back end failed",
    "load_error": "the model files exist but could not be loaded",
    "model_not_found": "the model reference resolves to no local directory, cache entry or synthetic build",
    "mismatch": "the run finished but its output differs from the PyTorch CPU reference",
    "cancelled": "the user cancelled the job",
    "unavailable": "the platform is not present on this machine",
    "invalid_settings": "the job settings are invalid for this model or platform",
    "runtime_error": "inference raised an error not covered by a more precise type",
}

# Worker phases, in the order a job goes through them.
PHASES: tuple[str, ...] = (
    "start", "resolve", "reference", "load", "convert", "compile", "warmup", "measure", "compare", "done",
)

WEIGHTS_CHOICES = ("auto", "synthetic")
PRECISIONS = ("f32", "f16", "bf16")


def utc_now() -> dt.datetime:
    """Return the current UTC time without tzinfo, the form stored in DuckDB TIMESTAMP columns."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass
class Settings:
    """Measurement settings shared by every job of a run."""

    iterations: int = 20
    """Minimum number of timed iterations."""
    min_seconds: float = 2.0
    """Minimum total time of the timed loop, in seconds; the loop runs until both minimums hold."""
    warmup: int = 3
    """Untimed iterations before measuring."""
    batch_size: int = 1
    timeout_s: float = 900.0
    """Time limit of each phase, in seconds."""
    precision: str = "f32"
    """OpenVINO inference precision: f32, f16 or bf16. Torch platforms always run f32."""
    weights: str = "auto"
    """`auto` uses a local directory or the Hugging Face cache; `synthetic` also allows a synthetic build."""
    max_new_tokens: int = 20
    """Tokens generated per caption (image-to-text); fixed so that runs compare."""
    threads: int | None = None
    """Intra-op threads for torch and OpenVINO; None keeps each library's default."""
    seed: int = 0

    def validate(self) -> None:
        """Raise ValueError naming the first invalid setting and its valid range."""
        if self.iterations < 1:
            raise ValueError(f"iterations must be at least 1, got {self.iterations}")
        if self.min_seconds < 0:
            raise ValueError(f"min_seconds must be zero or more, got {self.min_seconds}")
        if self.warmup < 0:
            raise ValueError(f"warmup must be zero or more, got {self.warmup}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.timeout_s <= 0:
            raise ValueError(f"timeout must be positive, got {self.timeout_s}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision {self.precision!r} is invalid; use one of {', '.join(PRECISIONS)}")
        if self.weights not in WEIGHTS_CHOICES:
            raise ValueError(f"weights {self.weights!r} is invalid; use one of {', '.join(WEIGHTS_CHOICES)}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be at least 1, got {self.threads}")


@dataclass
class JobSpec:
    """One job: what the worker process receives on its standard input as JSON."""

    model_ref: str
    """A catalog id, a Hugging Face id or a local directory."""
    platform: str
    device: str | None = None
    """Device within the platform (`cuda:0`, `GPU.1`); None picks the platform default."""
    task: str | None = None
    """None takes the model's default task from the catalog."""
    settings: Settings = field(default_factory=Settings)
    job_id: str = field(default_factory=new_id)
    """Also the id of the stored result, so ingesting it twice is a no-op."""
    run_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "JobSpec":
        data = dict(data)
        data["settings"] = Settings(**data.get("settings", {}))
        return cls(**data)


@dataclass
class JobResult:
    """The outcome of one job, whether it passed, failed or could not start.

    Latencies are in seconds. Memory figures are in MiB (2**20 bytes). `samples_s`
    contains every timed iteration in order; statistics are derived from it.
    """

    job_id: str
    run_id: str
    model_id: str
    platform: str
    status: str
    """pass, mismatch, fail or unavailable."""
    task: str | None = None
    model_family: str | None = None
    model_type: str | None = None
    """The transformers model_type (`clip`, `blip`)."""
    architecture: str | None = None
    """The transformers class that ran (`CLIPModel`, `BlipForConditionalGeneration`)."""
    device: str | None = None
    weights_source: str | None = None
    """local, cache or synthetic."""
    model_path: str | None = None
    parameter_count: int | None = None
    error_type: str | None = None
    error_message: str | None = None
    started_at: str | None = None
    """ISO 8601 UTC."""
    finished_at: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    samples_s: list[float] = field(default_factory=list)
    load_time_s: float | None = None
    convert_time_s: float | None = None
    first_inference_s: float | None = None
    phase_times_s: dict[str, float] = field(default_factory=dict)
    """Wall time of each worker phase (import, resolve, reference, load, convert, compile, warmup, measure, compare)."""
    peak_rss_mb: float | None = None
    """Peak resident memory during load and inference minus the worker's post-import baseline."""
    torch_max_allocated_mb: float | None = None
    torch_reserved_mb: float | None = None
    comparison: dict[str, Any] = field(default_factory=dict)
    """Output difference against the PyTorch CPU reference and the tolerances used."""
    output_summary: dict[str, Any] = field(default_factory=dict)
    """A readable digest of the output: top labels, generated captions."""
    machine: dict[str, Any] = field(default_factory=dict)
    """Host, OS, CPU, GPU and driver, library versions of the process that ran the job."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Platform-specific facts, such as the WebGPU adapter."""

    @property
    def success(self) -> bool:
        return self.status == PASS

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "JobResult":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def failed(cls, spec: JobSpec, error_type: str, message: str, *, status: str = FAIL, **known: Any) -> "JobResult":
        """Build the result of a job that did not produce a measurement."""
        now = utc_now().isoformat()
        values: dict[str, Any] = {
            "job_id": spec.job_id,
            "run_id": spec.run_id,
            "model_id": spec.model_ref,
            "platform": spec.platform,
            "device": spec.device,
            "task": spec.task,
            "status": status,
            "error_type": error_type,
            "error_message": message,
            "started_at": now,
            "finished_at": now,
            "settings": dataclasses.asdict(spec.settings),
        }
        values.update({k: v for k, v in known.items() if v is not None})
        return cls(**values)
