"""Readers for the result files of the older test framework.

The older framework wrote JSON in many layouts, one per script and version.
`parse_document` recognises each known layout (a *variant*) and turns every
test in the document into a `LegacyTest`: one model on one platform, with its
outcome and the figures the file contains. Nothing here touches the database.

Variants, by the name stored in `result.extra["legacy_variant"]`:

- `results_by_method`: `results.pipeline_<device>`, `results.from_pretrained_<device>`
  and `results.openvino`, each with `<kind>_success` or a plain `success`,
  `<kind>_avg_time`, min/max/load times and `<kind>_error_type`; plus
  `performance`, `hardware` and `metadata` (model, task, class, ISO timestamp).
- `flat`: CLIP-style keys `cpu_init`, `cuda_handler`, `openvino_init`, ... at the
  top level, `metadata.test_model` and an epoch timestamp; `status` contains the
  same keys in a smaller variant.
- `performance_wrapper`: `{metadata, results}` with the flat form inside.
- `performance_suite`: `results["skills/test_hf_x.py"].performance_metrics.<platform>`.
- `hardware_test`: `results.cpu` with `success` and `execution_time`.
- `web_platform`: one browser result (`model_name`, `platform`, `status`,
  `metrics`), or a list of them under `results`.
- `functionality`: `detailed_results` of test scripts run per platform, alone or
  inside a benchmark suite (`functionality_verification.<platform>`).

Legacy figures stay what they were: an average time becomes a one-value
summary, never invented samples. Mock and simulated runs are flagged, not
dropped, so reports can leave them out.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from vt_core.records import FAIL, PASS, UNAVAILABLE, JobResult

PLATFORM_ALIASES: dict[str, str] = {
    "cpu": "cpu", "cuda": "cuda", "gpu": "cuda", "rocm": "rocm", "amd": "rocm", "hip": "rocm",
    "mps": "mps", "apple": "mps", "openvino": "openvino", "webgpu": "webgpu", "webnn": "webnn",
}
"""Platform names the older framework used, mapped to vt-tui's platforms."""

UNSUPPORTED_PLATFORMS = frozenset({"qualcomm", "qnn", "samsung", "mediatek"})
"""Platforms the older framework tested that vt-tui has no column for; their tests are reported and skipped."""

FLAT_PREFIXES = tuple(sorted(set(PLATFORM_ALIASES) | UNSUPPORTED_PLATFORMS, key=len, reverse=True))

KNOWN_FAMILIES: tuple[tuple[str, str], ...] = (
    ("xclip", r"x-?clip"),
    ("clip", r"clip"),
    ("blip", r"blip"),
    ("llava", r"llava"),
    ("mamba", r"mamba"),
    ("wav2vec2", r"wav2vec2"),
    ("gpt2", r"gpt-?2"),
    ("bert", r"(?<![a-z])bert"),
    ("clap", r"clap"),
    ("whisper", r"whisper"),
    ("t5", r"(?<![a-z0-9])t5(?![0-9])"),
    ("vit", r"(?<![a-z])vit(?![a-z])"),
    ("detr", r"detr"),
    ("llama", r"llama"),
    ("qwen", r"qwen"),
)
"""(family, pattern) pairs tried in order on the model id, type and class; more specific names come first."""
KNOWN_FAMILY_NAMES = frozenset(family for family, _ in KNOWN_FAMILIES)

LEGACY_ERROR_TYPES = {
    "none": None,
    "missing_dependency": "missing_dependency",
    "timeout": "timeout",
    "out_of_memory": "out_of_memory",
    "oom": "out_of_memory",
    "cuda_error": "runtime_error",
}

ERROR_PATTERNS: tuple[tuple[str, str], ...] = (
    ("model_not_found", r"not a valid model identifier|Repository Not Found|does not appear to have a file"),
    ("missing_dependency", r"Missing dependencies|ModuleNotFoundError|No module named|ImportError"),
    ("out_of_memory", r"out of memory|OutOfMemory"),
    ("timeout", r"timed out|Timeout"),
    ("load_error", r"initiali[sz]ation|Error loading|Failed to load"),
)
"""Patterns that map an error text of the older framework to a vt-tui error type; others become runtime_error."""

MOCK_PATTERN = re.compile(r"\bmock(?:ed)?\b", re.IGNORECASE)
SIMULATION_PATTERN = re.compile(r"simulat", re.IGNORECASE)
RAW_STRING_LIMIT = 2000
"""Characters kept of each long string (console output, tracebacks) in the stored raw test."""


class NotAResultFile(Exception):
    """The document has none of the layouts of the older framework's result files."""


class NoTestResults(Exception):
    """The document is a result file but contains no test that can be imported."""


@dataclass
class LegacySummary:
    """Timing figures the older framework reported for one test, in seconds."""

    avg_s: float | None = None
    min_s: float | None = None
    max_s: float | None = None
    num_runs: int | None = None
    throughput_per_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class LegacyTest:
    """One test of a legacy file, ready to store."""

    key: str
    """Location of the test in the file, such as `results.pipeline_cuda`."""
    result: JobResult
    summary: LegacySummary = field(default_factory=LegacySummary)


@dataclass
class ParsedDocument:
    """The tests found in one legacy document and the reasons for the tests left out."""

    variant: str
    tests: list[LegacyTest] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Tests or sections not imported, each with the reason."""


# -- helpers -------------------------------------------------------------------


def result_id(identity: Any) -> str:
    """Return the result id of a legacy test: a hash of the test's own content.

    Hashing the test rather than the file makes a test that the older framework
    copied into several files (a single browser result and the batch that contains
    it, a functionality run and the benchmark suite around it) one row.
    """
    canonical = json.dumps(identity, sort_keys=True, default=str, separators=(",", ":"))
    return "legacy-" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


def parse_timestamp(value: Any) -> str | None:
    """Return an ISO 8601 time for an epoch number, an ISO string or `YYYYMMDD_HHMMSS`, else None.

    Epoch numbers become UTC. ISO strings with an offset are converted to UTC;
    naive ones are kept as they are.
    """
    # NOTE: the older framework wrote naive local times without saying which zone, so naive
    # ISO strings and `YYYYMMDD_HHMMSS` stamps are stored unchanged and may be off by the zone offset.
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or value <= 0:
            return None
        seconds = value / 1000 if value > 1e11 else value
        return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).replace(tzinfo=None).isoformat()
    if not isinstance(value, str):
        return None
    text = value.strip()
    if re.fullmatch(r"\d{8}_\d{6}", text):
        return dt.datetime.strptime(text, "%Y%m%d_%H%M%S").isoformat()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return parse_timestamp(float(text))
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed.isoformat()


def platform_of(name: Any) -> str | None:
    """Return the vt-tui platform for a device or platform name (`cuda:0`, `CPU`, `apple`), else None."""
    if not isinstance(name, str):
        return None
    base = name.strip().lower().split(":")[0].split(" ")[0]
    return PLATFORM_ALIASES.get(base)


def model_type_from_class(class_name: Any) -> str | None:
    """Return a transformers-style model type from a class name: `LlavaOnevisionModel` -> `llava_onevision`."""
    if not isinstance(class_name, str) or not class_name:
        return None
    stem = re.sub(r"(For[A-Z].*|Model|LMHeadModel)$", "", class_name) or class_name
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", stem).lower()


def detect_family(model_id: Any, model_type: Any = None, architecture: Any = None, legacy_key: Any = None) -> str | None:
    """Return the family of a model: the first known family matched by its id, type, class or legacy key.

    The id comes first because some files pair a checkpoint with the type of the
    test that loaded it. A model of no known family gets a readable name of its
    own: the first word of its model type, else of its class, else of its id.
    """
    names = [n.lower() for n in (model_id, model_type, architecture, legacy_key) if isinstance(n, str) and n]
    for name in names:
        for family, pattern in KNOWN_FAMILIES:
            if re.search(pattern, name):
                return family
    for name in (model_type, model_type_from_class(architecture), model_id, legacy_key):
        if isinstance(name, str) and name:
            word = re.split(r"[-_/. ]+", name.lower().split("/")[-1])[0]
            if word:
                return word
    return None


def classify_error(message: str | None, legacy_type: str | None = None) -> str:
    """Return the vt-tui error type of a legacy failure from its recorded type or its message."""
    if legacy_type:
        mapped = LEGACY_ERROR_TYPES.get(legacy_type.lower(), "")
        if mapped:
            return mapped
    for error_type, pattern in ERROR_PATTERNS:
        if message and re.search(pattern, message, re.IGNORECASE):
            return error_type
    return "runtime_error"


def last_error_line(text: Any) -> str | None:
    """Return the last line of a traceback or console output that names an error, else its last line."""
    if not isinstance(text, str) or not text.strip():
        return None
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        if re.match(r"^[A-Za-z_.]*(Error|Exception)\b", line) or line.startswith("Error"):
            return line[:500]
    return lines[-1][:500]


def iter_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from iter_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from iter_strings(item)


def iter_items(value: Any) -> Iterator[tuple[str, Any]]:
    """Yield every (key, value) pair of nested dicts and lists."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from iter_items(item)
    elif isinstance(value, list):
        for item in value:
            yield from iter_items(item)


def flags_of(test_data: Any, *, simulated_platform: bool = False) -> dict[str, Any]:
    """Return `is_mock` / `is_simulated` flags and the text that gave them away, for `result.extra`."""
    flags: dict[str, Any] = {}
    for key, item in iter_items(test_data):
        if key in ("is_simulated", "is_simulation", "simulated", "using_mocks", "transformers_mocked") and item is True:
            flag = "is_mock" if "mock" in key else "is_simulated"
            flags[flag] = True
            flags.setdefault(f"{flag[3:]}_evidence", f"{key}: true")
    for text in iter_strings(test_data):
        if "is_mock" not in flags and MOCK_PATTERN.search(text):
            flags["is_mock"] = True
            flags["mock_evidence"] = _snippet(text, MOCK_PATTERN)
        if "is_simulated" not in flags and SIMULATION_PATTERN.search(text):
            flags["is_simulated"] = True
            flags["simulated_evidence"] = _snippet(text, SIMULATION_PATTERN)
    if simulated_platform and "is_simulated" not in flags:
        flags["is_simulated"] = True
        flags["simulated_evidence"] = "the file lists this platform under simulated_hardware"
    return flags


def _snippet(text: str, pattern: re.Pattern[str]) -> str:
    match = pattern.search(text)
    start = max(0, match.start() - 60) if match else 0
    return text[start:start + 160].replace("\n", " ")


def shorten(value: Any) -> Any:
    """Return `value` with long strings cut, so raw console output does not bloat the database."""
    if isinstance(value, str) and len(value) > RAW_STRING_LIMIT:
        head = RAW_STRING_LIMIT // 4
        tail = RAW_STRING_LIMIT - head
        return f"{value[:head]}\n[... {len(value) - RAW_STRING_LIMIT} characters cut ...]\n{value[-tail:]}"
    if isinstance(value, dict):
        return {k: shorten(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shorten(v) for v in value]
    return value


def number(value: Any) -> float | None:
    """Return a finite float for a JSON number, else None (booleans and strings are not figures)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def positive_int(value: Any) -> int | None:
    figure = number(value)
    return int(figure) if figure is not None and figure >= 1 and figure == int(figure) else None


def first_text(*values: Any) -> str | None:
    for value in values:
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def is_placeholder_timing(summary: LegacySummary) -> bool:
    """Return True when min and max are exactly 0.9 and 1.1 times the average.

    The older framework's test generator wrote such figures without measuring
    anything; real minima and maxima never fall on that pattern to 1e-12.
    """
    if summary.avg_s is None or summary.min_s is None or summary.max_s is None or summary.avg_s <= 0:
        return False
    return (math.isclose(summary.min_s, summary.avg_s * 0.9, rel_tol=1e-12)
            and math.isclose(summary.max_s, summary.avg_s * 1.1, rel_tol=1e-12))


@dataclass
class TestFacts:
    """What a variant reader found about one test, before it becomes a JobResult."""

    key: str
    identity: Any
    model_id: str
    platform: str
    status: str
    timestamp: str
    raw: Any
    device: str | None = None
    task: str | None = None
    model_type: str | None = None
    architecture: str | None = None
    legacy_key: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    load_time_s: float | None = None
    summary: LegacySummary = field(default_factory=LegacySummary)
    extra: dict[str, Any] = field(default_factory=dict)


def build_test(facts: TestFacts, variant: str) -> LegacyTest:
    """Turn the facts of one test into a LegacyTest with its JobResult."""
    model_type = facts.model_type or model_type_from_class(facts.architecture)
    family = detect_family(facts.model_id, model_type, facts.architecture, facts.legacy_key)
    if model_type is None and family in KNOWN_FAMILY_NAMES and detect_family(facts.model_id) == family:
        model_type = family
    extra: dict[str, Any] = {
        "legacy_variant": variant,
        "legacy_test_key": facts.key,
        **facts.extra,
    }
    if facts.summary.to_dict():
        extra["legacy_summary"] = facts.summary.to_dict()
    extra["legacy_test"] = shorten(facts.raw)
    result = JobResult(
        job_id=result_id(facts.identity),
        run_id="",
        model_id=facts.model_id,
        platform=facts.platform,
        status=facts.status,
        task=facts.task,
        model_family=family,
        model_type=model_type,
        architecture=facts.architecture,
        device=facts.device,
        weights_source="legacy",
        error_type=facts.error_type if facts.status != PASS else None,
        error_message=facts.error_message if facts.status != PASS else None,
        started_at=None,
        finished_at=facts.timestamp,
        load_time_s=facts.load_time_s,
        extra=extra,
    )
    return LegacyTest(key=facts.key, result=result, summary=facts.summary)


# -- variant detection ---------------------------------------------------------


def parse_document(data: Any) -> ParsedDocument:
    """Return the tests of one decoded legacy document.

    Raise NotAResultFile when no known layout matches and NoTestResults when the
    layout matches but no test can be imported (the reason is in the message).
    """
    if isinstance(data, list):
        if data and all(isinstance(item, dict) and _is_web_result(item) for item in data):
            return _parse_web_batch({"results": data})
        raise NotAResultFile("the document is a JSON array, not one of the older framework's result objects")
    if not isinstance(data, dict):
        raise NotAResultFile(f"the document is a JSON {type(data).__name__}, not a result object")

    results = data.get("results")
    if "functionality_verification" in data:
        parsed = _parse_benchmark_suite(data)
    elif isinstance(data.get("detailed_results"), list):
        parsed = _parse_functionality(data, models={}, simulated=_simulated_platforms(data), prefix="detailed_results")
    elif "skill_tests" in data:
        raise NoTestResults(_skill_console_reason(data))
    elif _is_web_result(data):
        context = {k: v for k, v in data.items() if k in ("simulated_hardware", "warnings")}
        parsed = _parse_web_batch({"results": [data], **context}, single=True)
    elif isinstance(results, list):
        parsed = _parse_web_batch(data)
    elif isinstance(results, dict) and _is_performance_suite(results):
        parsed = _parse_performance_suite(data)
    elif isinstance(results, dict) and _is_hardware_test(results):
        parsed = _parse_hardware_test(data)
    elif isinstance(results, dict) and _is_flat(results):
        parsed = _parse_flat(results, data.get("metadata"), variant="performance_wrapper", prefix="results")
    elif isinstance(results, dict) and _is_results_by_method(results):
        parsed = _parse_results_by_method(data)
    elif isinstance(data.get("status"), dict) and _is_flat(data["status"]):
        parsed = _parse_flat(data["status"], data.get("metadata"), variant="flat", prefix="status")
    elif _is_flat(data):
        parsed = _parse_flat(data, data.get("metadata"), variant="flat", prefix="")
    else:
        keys = ", ".join(sorted(map(str, data))[:8]) or "none"
        raise NotAResultFile(f"no known result layout (top-level keys: {keys})")

    if not parsed.tests:
        reason = "; ".join(parsed.notes) if parsed.notes else "it contains no test results"
        raise NoTestResults(f"{parsed.variant} file without importable tests: {reason}")
    return parsed


def _is_web_result(item: dict[str, Any]) -> bool:
    return "platform" in item and ("model_name" in item or "model_key" in item) and (
        "metrics" in item or "platform_support" in item or "status" in item
    )


def _is_flat(data: dict[str, Any]) -> bool:
    for key, value in data.items():
        prefix = _flat_prefix(key)
        if prefix and isinstance(value, str) and re.match(r"(Success|Error|Failed)|.*not available", value):
            return True
    return False


def _flat_prefix(key: str) -> str | None:
    lowered = key.lower()
    for prefix in FLAT_PREFIXES:
        if lowered.startswith(prefix + "_"):
            return prefix
    return None


def _is_results_by_method(results: dict[str, Any]) -> bool:
    return any(isinstance(v, dict) for v in results.values())


def _is_performance_suite(results: dict[str, Any]) -> bool:
    return any(str(k).endswith(".py") and isinstance(v, dict) for k, v in results.items())


def _is_hardware_test(results: dict[str, Any]) -> bool:
    return any(
        platform_of(k) is not None and isinstance(v, dict) and ("execution_time" in v or "implementation_type" in v)
        for k, v in results.items()
    )


def _simulated_platforms(data: dict[str, Any]) -> set[str]:
    names = set()
    for name in data.get("simulated_hardware") or []:
        platform = platform_of(name)
        if platform:
            names.add(platform)
    for warning in data.get("warnings") or []:
        if isinstance(warning, dict) and warning.get("type") == "simulation":
            names.update(p for p in map(platform_of, warning.get("affected_hardware") or []) if p)
    return names


def _skill_console_reason(data: dict[str, Any]) -> str:
    tests = data.get("skill_tests") or {}
    errors = [
        f"{name}: {entry.get('json_parse_error')}"
        for name, entry in tests.items()
        if isinstance(entry, dict) and entry.get("json_parse_error")
    ]
    reason = "it contains only the console output of test skills, not their results"
    if errors:
        reason += "; the older framework could not parse them either (" + "; ".join(errors)[:300] + ")"
    return reason


def _metadata_model(metadata: Any) -> str | None:
    if not isinstance(metadata, dict):
        return None
    return first_text(metadata.get("test_model"), metadata.get("model_id"), metadata.get("model_name"),
                      metadata.get("model"))


def _metadata_time(metadata: Any) -> str | None:
    if not isinstance(metadata, dict):
        return None
    for key in ("timestamp", "test_timestamp", "generation_timestamp"):
        parsed = parse_timestamp(metadata.get(key))
        if parsed:
            return parsed
    return None


def _find_time(value: Any) -> str | None:
    """Return the earliest timestamp found anywhere inside `value`."""
    found = [parse_timestamp(item) for key, item in iter_items(value) if key == "timestamp"]
    found = [t for t in found if t]
    return min(found) if found else None


# -- results_by_method -----------------------------------------------------------


def _parse_results_by_method(data: dict[str, Any]) -> ParsedDocument:
    parsed = ParsedDocument("results_by_method")
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    performance = data.get("performance") if isinstance(data.get("performance"), dict) else {}
    timestamp = _metadata_time(metadata)
    found: list[TestFacts] = []

    for key, entry in data["results"].items():
        if entry is None:
            continue
        if not isinstance(entry, dict):
            parsed.notes.append(f"results.{key}: not a test object")
            continue
        kind, key_device = _split_method_key(key)
        platform = platform_of(entry.get("device")) or key_device
        model_id = first_text(entry.get("model"), metadata.get("model"))
        success = entry.get(f"{kind}_success", entry.get("success"))
        legacy_error_type = first_text(entry.get(f"{kind}_error_type"), entry.get("error_type"))
        if platform is None:
            parsed.notes.append(f"results.{key}: the test names no device, so its platform is unknown")
            continue
        if model_id is None:
            parsed.notes.append(f"results.{key}: no model id in the test or in metadata.model")
            continue
        if timestamp is None:
            parsed.notes.append(f"results.{key}: no timestamp in metadata")
            continue
        if not isinstance(success, bool):
            if legacy_error_type and legacy_error_type.lower() != "none":
                success = False
            else:
                parsed.notes.append(f"results.{key}: no {kind}_success or success flag")
                continue

        timing = performance.get(key) if isinstance(performance.get(key), dict) else {}
        summary = LegacySummary(
            avg_s=number(_first_present(entry, f"{kind}_avg_time", f"{kind}_inference_time", "avg_time"))
            or number(_first_present(timing, "avg_time", "inference_time")),
            min_s=number(_first_present(entry, f"{kind}_min_time", "min_time")) or number(timing.get("min_time")),
            max_s=number(_first_present(entry, f"{kind}_max_time", "max_time")) or number(timing.get("max_time")),
            num_runs=positive_int(timing.get("num_runs")),
        )
        load_time = number(_first_present(entry, f"{kind}_load_time", "model_load_time", "load_time")) or number(
            _first_present(timing, "load_time", "model_load_time"))
        message = first_text(entry.get(f"{kind}_error"), entry.get(f"{kind}_test"), entry.get("error"))
        extra: dict[str, Any] = {"legacy_method": kind}
        if legacy_error_type:
            extra["legacy_error_type"] = legacy_error_type
        if isinstance(data.get("hardware"), dict):
            extra["legacy_hardware"] = data["hardware"]
        for name in ("model_size_mb", "tokenizer_load_time"):
            if number(entry.get(name)) is not None:
                extra[f"legacy_{name}"] = entry[name]
        extra.update(flags_of(entry))

        facts = TestFacts(
            key=f"results.{key}",
            identity={"variant": "results_by_method", "key": key, "test": entry, "timing": timing,
                      "timestamp": timestamp, "model": model_id},
            model_id=model_id,
            platform=platform,
            status=PASS if success else FAIL,
            timestamp=timestamp,
            raw=entry,
            device=entry.get("device") if isinstance(entry.get("device"), str) else None,
            task=first_text(entry.get("task"), metadata.get("task")),
            architecture=first_text(entry.get("class"), metadata.get("class")),
            model_type=first_text(metadata.get("model_type")),
            error_type=None if success else classify_error(message, legacy_error_type),
            error_message=None if success else (message or f"{kind} test failed ({legacy_error_type or 'no reason recorded'})"),
            load_time_s=load_time,
            summary=summary,
            extra=extra,
        )
        found.append(facts)

    # A generator wrote some of these files: when one test's figures follow the placeholder
    # pattern, the other figures of the same file (openvino's, without min and max) are no better.
    placeholder = next((f for f in found if is_placeholder_timing(f.summary)), None)
    for facts in found:
        if placeholder is not None and not facts.extra.get("is_mock"):
            facts.extra["is_mock"] = True
            facts.extra["mock_evidence"] = (
                f"{placeholder.key}: min_time and max_time are exactly 0.9 and 1.1 times avg_time "
                f"({placeholder.summary.avg_s}), the pattern of generated placeholder figures"
            )
        parsed.tests.append(build_test(facts, parsed.variant))
    return parsed


def _split_method_key(key: str) -> tuple[str, str | None]:
    """Split `pipeline_cuda` into (`pipeline`, `cuda`); a key without a device suffix stays whole."""
    if "_" in key:
        stem, suffix = key.rsplit("_", 1)
        platform = platform_of(suffix)
        if platform:
            return stem, platform
    return key, platform_of(key)


def _first_present(entry: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if entry.get(key) is not None:
            return entry[key]
    return None


# -- flat form -------------------------------------------------------------------


def _parse_flat(flat: dict[str, Any], metadata: Any, *, variant: str, prefix: str) -> ParsedDocument:
    parsed = ParsedDocument(variant)
    metadata = metadata if isinstance(metadata, dict) else {}
    model_id = _metadata_model(metadata)
    timestamp = _metadata_time(metadata)
    groups = _group_flat(flat)
    where = f"{prefix}." if prefix else ""
    if model_id is None:
        parsed.notes.append(
            f"{len(groups)} platform test(s) but no model id (metadata.test_model, model_id, model_name "
            "or model is missing)"
        )
        return parsed
    model_key = next(k for k in ("test_model", "model_id", "model_name", "model") if first_text(metadata.get(k)))
    file_flags = flags_of({k: v for k, v in metadata.items() if k in ("using_mocks", "transformers_mocked")})
    for legacy_platform, entries in groups.items():
        facts = _flat_test(
            legacy_platform, entries, model_id=model_id, timestamp=timestamp or _find_time(entries),
            key=f"{where}{legacy_platform}_*", parsed=parsed, metadata=metadata,
        )
        if facts is None:
            continue
        facts.extra.update({k: v for k, v in file_flags.items() if k not in facts.extra})
        facts.extra["model_id_source"] = f"metadata.{model_key}"
        parsed.tests.append(build_test(facts, variant))
    return parsed


def _group_flat(flat: dict[str, Any]) -> dict[str, dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = {}
    for key, value in flat.items():
        prefix = _flat_prefix(key)
        if prefix:
            groups.setdefault(prefix, {})[key] = value
    return groups


def _flat_test(legacy_platform: str, entries: dict[str, Any], *, model_id: str, timestamp: str | None, key: str,
               parsed: ParsedDocument, metadata: dict[str, Any], extra_identity: Any = None) -> TestFacts | None:
    """Return the facts of one platform's keys in the flat form, or None with a note saying why not."""
    if legacy_platform in UNSUPPORTED_PLATFORMS:
        parsed.notes.append(f"{key}: platform {legacy_platform} is not one of vt-tui's platforms")
        return None
    platform = PLATFORM_ALIASES[legacy_platform]
    if timestamp is None:
        parsed.notes.append(f"{key}: no timestamp in metadata or in the test")
        return None

    statuses = {k: v.strip() for k, v in entries.items() if isinstance(v, str)}
    unavailable = [v for v in statuses.values() if re.search(r"not available", v, re.IGNORECASE)]
    failures = {
        k: v for k, v in statuses.items()
        if re.match(r"(Error|Failed)", v) or (k.endswith("_error") and v)
    }
    successes = [v for v in statuses.values() if v.startswith("Success")]

    if failures:
        status = FAIL
        message = "; ".join(f"{k}: {v}" for k, v in failures.items())[:1000]
        error_type = classify_error(message)
    elif successes:
        status, message, error_type = PASS, None, None
    elif unavailable:
        status, message, error_type = UNAVAILABLE, unavailable[0], "unavailable"
    else:
        parsed.notes.append(f"{key}: no Success, Error or Failed status among its keys")
        return None

    summary = LegacySummary()
    for name, value in iter_items(entries):
        if name == "inference_time" and number(value) is not None:
            summary.avg_s = number(value)
            break
        if name == "processing_time_ms" and number(value) is not None:
            summary.avg_s = number(value) / 1000
            break
    device = first_text(entries.get(f"{legacy_platform}_device"))
    implementation = _implementation_type(entries)
    extra: dict[str, Any] = flags_of(entries)
    if implementation:
        extra["implementation_type"] = implementation
    capabilities = entries.get(f"{legacy_platform}_capabilities")
    if isinstance(capabilities, dict):
        extra["legacy_capabilities"] = capabilities
    versions = {k: metadata[k] for k in ("torch_version", "transformers_version", "numpy_version") if k in metadata}
    if versions:
        extra["legacy_versions"] = versions

    return TestFacts(
        key=key,
        identity={"variant": "flat", "platform": legacy_platform, "test": entries, "model": model_id,
                  "timestamp": timestamp, "context": extra_identity},
        model_id=model_id,
        platform=platform,
        status=status,
        timestamp=timestamp,
        raw=entries,
        device=device,
        model_type=first_text(metadata.get("model_type")),
        error_type=error_type,
        error_message=message,
        summary=summary,
        extra=extra,
    )


def _implementation_type(entries: dict[str, Any]) -> str | None:
    for name, value in iter_items(entries):
        if name in ("implementation_type", "implementation") and isinstance(value, str) and value.strip():
            return value.strip("() ")
    for value in entries.values():
        if isinstance(value, str):
            match = re.search(r"\((REAL|MOCK|UNKNOWN|SIMULATED)\)", value)
            if match:
                return match.group(1)
    return None


# -- performance_suite -----------------------------------------------------------


def _parse_performance_suite(data: dict[str, Any]) -> ParsedDocument:
    parsed = ParsedDocument("performance_suite")
    timestamp = _metadata_time(data.get("metadata"))
    for test_file, entry in data["results"].items():
        if not isinstance(entry, dict):
            continue
        skill = re.sub(r"^test_", "", str(test_file).rsplit("/", 1)[-1].removesuffix(".py"))
        metrics = entry.get("performance_metrics") if isinstance(entry.get("performance_metrics"), dict) else {}
        platform_groups = {k: v for k, v in metrics.items() if isinstance(v, dict)}
        if not platform_groups:
            reason = first_text(entry.get("error"), metrics.get("error")) or "no per-platform results"
            parsed.notes.append(f"results[{test_file!r}]: status {entry.get('status')}, {reason}")
            continue
        for legacy_platform, entries in platform_groups.items():
            name = legacy_platform.lower()
            if name not in PLATFORM_ALIASES and name not in UNSUPPORTED_PLATFORMS:
                parsed.notes.append(f"results[{test_file!r}].{legacy_platform}: unknown platform")
                continue
            facts = _flat_test(
                name, entries, model_id=skill, timestamp=timestamp or _find_time(entries),
                key=f"results[{test_file!r}].performance_metrics.{legacy_platform}", parsed=parsed, metadata={},
                extra_identity=test_file,
            )
            if facts is None:
                continue
            # NOTE: these files name the test skill (hf_clip), not the checkpoint it loaded, so the
            # skill name is the model id; `model_id_source` records this in the stored result.
            facts.extra["model_id_source"] = f"test file {test_file}"
            parsed.tests.append(build_test(facts, parsed.variant))
    return parsed


# -- hardware_test ---------------------------------------------------------------


def _parse_hardware_test(data: dict[str, Any]) -> ParsedDocument:
    parsed = ParsedDocument("hardware_test")
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    model_id = _metadata_model(metadata)
    config = metadata.get("model_config") if isinstance(metadata.get("model_config"), dict) else {}
    for key, entry in data["results"].items():
        platform = platform_of(key)
        if platform is None or not isinstance(entry, dict):
            parsed.notes.append(f"results.{key}: not a platform test")
            continue
        timestamp = _metadata_time(metadata) or _find_time(data.get("examples"))
        success = entry.get("success")
        if model_id is None or timestamp is None or not isinstance(success, bool):
            parsed.notes.append(f"results.{key}: missing model id, timestamp or success flag")
            continue
        message = None
        if not success:
            message = first_text(entry.get("error"), *(v for v in entry.values() if isinstance(v, str)
                                                       and re.match(r"(Error|Failed)", v)))
        extra = flags_of(entry)
        if isinstance(entry.get("implementation_type"), str):
            extra["implementation_type"] = entry["implementation_type"]
        facts = TestFacts(
            key=f"results.{key}",
            identity={"variant": "hardware_test", "key": key, "test": entry, "model": model_id, "timestamp": timestamp},
            model_id=model_id,
            platform=platform,
            status=PASS if success else FAIL,
            timestamp=timestamp,
            raw=entry,
            architecture=first_text(config.get("class")),
            error_type=None if success else classify_error(message),
            error_message=message or (None if success else "the test reported success: false"),
            summary=LegacySummary(avg_s=number(entry.get("execution_time"))),
            extra=extra,
        )
        parsed.tests.append(build_test(facts, parsed.variant))
    return parsed


# -- web_platform ----------------------------------------------------------------


def _parse_web_batch(data: dict[str, Any], *, single: bool = False) -> ParsedDocument:
    parsed = ParsedDocument("web_platform")
    simulated = _simulated_platforms(data)
    batch_time = parse_timestamp(data.get("timestamp"))
    for index, entry in enumerate(data["results"]):
        key = "document" if single else f"results[{index}]"
        if not isinstance(entry, dict) or not _is_web_result(entry):
            parsed.notes.append(f"{key}: not a browser test result")
            continue
        platform = platform_of(entry.get("platform"))
        model_id = first_text(entry.get("model_name"), entry.get("model_key"))
        timestamp = parse_timestamp(entry.get("timestamp")) or batch_time
        status_text = str(entry.get("status", "")).lower()
        if platform is None:
            parsed.notes.append(f"{key}: platform {entry.get('platform')!r} is not one of vt-tui's platforms")
            continue
        if model_id is None or timestamp is None or not status_text:
            parsed.notes.append(f"{key}: missing model name, timestamp or status")
            continue
        metrics = entry.get("metrics") if isinstance(entry.get("metrics"), dict) else {}
        inference_ms = number(metrics.get("inference_time_ms"))
        load_ms = number(metrics.get("load_time_ms"))
        success = status_text in ("success", "pass", "passed", "ok")
        message = None if success else first_text(entry.get("error"), entry.get("message")) or f"status {entry.get('status')}"
        support = entry.get("platform_support") if isinstance(entry.get("platform_support"), dict) else {}
        extra = flags_of(
            {k: v for k, v in entry.items() if k in ("is_simulation", "implementation_type", "error")}
            | {"simulated": support.get("simulated")},
            simulated_platform=platform in simulated,
        )
        if isinstance(entry.get("implementation_type"), str):
            extra["implementation_type"] = entry["implementation_type"]
        if number(metrics.get("memory_mb")) is not None:
            extra["legacy_memory_mb"] = metrics["memory_mb"]
        facts = TestFacts(
            key=key,
            identity={"variant": "web_platform", "test": {k: v for k, v in entry.items()
                                                          if k not in ("simulated_hardware", "warnings")}},
            model_id=model_id,
            platform=platform,
            status=PASS if success else FAIL,
            timestamp=timestamp,
            raw=entry,
            legacy_key=first_text(entry.get("model_key")),
            error_type=None if success else classify_error(message),
            error_message=message,
            load_time_s=load_ms / 1000 if load_ms is not None else None,
            summary=LegacySummary(
                avg_s=inference_ms / 1000 if inference_ms is not None else None,
                throughput_per_s=number(metrics.get("throughput_items_per_second")),
            ),
            extra=extra,
        )
        parsed.tests.append(build_test(facts, parsed.variant))
    return parsed


# -- functionality ---------------------------------------------------------------


def _parse_benchmark_suite(data: dict[str, Any]) -> ParsedDocument:
    parsed = ParsedDocument("functionality")
    models = {
        key: entry["name"]
        for key, entry in (data.get("models") or {}).items()
        if isinstance(entry, dict) and isinstance(entry.get("name"), str)
    }
    simulated = _simulated_platforms(data)
    sections = data.get("functionality_verification") or {}
    for section_name, section in sections.items():
        if not isinstance(section, dict) or not isinstance(section.get("detailed_results"), list):
            parsed.notes.append(f"functionality_verification.{section_name}: no detailed_results")
            continue
        part = _parse_functionality(
            section, models=models, simulated=simulated,
            prefix=f"functionality_verification.{section_name}.detailed_results",
            fallback_time=parse_timestamp(data.get("timestamp")),
        )
        parsed.tests.extend(part.tests)
        parsed.notes.extend(part.notes)
    benchmarks = data.get("performance_benchmarks")
    if isinstance(benchmarks, dict) and benchmarks:
        failed = [name for name, entry in benchmarks.items() if isinstance(entry, dict) and entry.get("status") == "error"]
        if failed:
            parsed.notes.append(
                f"performance_benchmarks: {len(failed)} suite run(s) ({', '.join(failed)}) failed before "
                "measuring any model"
            )
    return parsed


def _parse_functionality(section: dict[str, Any], *, models: dict[str, str], simulated: set[str], prefix: str,
                         fallback_time: str | None = None) -> ParsedDocument:
    parsed = ParsedDocument("functionality")
    stats = section.get("stats") if isinstance(section.get("stats"), dict) else {}
    timestamp = parse_timestamp(stats.get("timestamp")) or parse_timestamp(section.get("timestamp")) or fallback_time
    for index, entry in enumerate(section["detailed_results"]):
        key = f"{prefix}[{index}]"
        if not isinstance(entry, dict):
            parsed.notes.append(f"{key}: not a test object")
            continue
        legacy_key = first_text(entry.get("model"))
        hardware = entry.get("hardware")
        platform = platform_of(hardware)
        success = entry.get("success")
        if platform is None:
            parsed.notes.append(f"{key}: platform {hardware!r} is not one of vt-tui's platforms")
            continue
        if legacy_key is None or not isinstance(success, bool) or timestamp is None:
            parsed.notes.append(f"{key}: missing model, success flag or timestamp")
            continue
        output = "\n".join(x for x in (entry.get("stdout"), entry.get("stderr")) if isinstance(x, str))
        named = re.search(r"Testing model: (\S+)|Using model (\S+) for", output)
        # The console output names the checkpoint that actually ran; the suite's model table is the plan.
        model_id = (named.group(1) or named.group(2)) if named else models.get(legacy_key, legacy_key)
        message = None if success else (last_error_line(entry.get("stderr")) or last_error_line(entry.get("stdout"))
                                        or f"the test script exited with status {entry.get('return_code')}")
        extra = flags_of({"stdout": entry.get("stdout"), "stderr": entry.get("stderr")},
                         simulated_platform=platform in simulated)
        extra["legacy_return_code"] = entry.get("return_code")
        facts = TestFacts(
            key=key,
            identity={"variant": "functionality", "test": entry, "timestamp": timestamp},
            model_id=model_id,
            platform=platform,
            status=PASS if success else FAIL,
            timestamp=timestamp,
            raw=entry,
            legacy_key=legacy_key,
            error_type=None if success else classify_error(message),
            error_message=message,
            extra=extra,
        )
        parsed.tests.append(build_test(facts, parsed.variant))
    return parsed
