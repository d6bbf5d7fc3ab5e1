"""Tasks: generated inputs, PyTorch runs, comparisons, summaries, the reference cache and timing rules."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from models import TINY_BLIP_ID, tiny_blip_dir, tiny_clip_dir  # noqa: F401
from vt_core import catalog
from vt_core.records import Settings
from vt_core.runners.base import Runner
from vt_core.tasks import get_task, task_for_family
from vt_core.tasks.base import numpy_outputs, torch_inputs
from vt_core.tasks.images import PATTERNS, generate_images, image_names
from vt_core.tasks.reference import get_inputs, get_reference, inputs_digest
from vt_core.tasks.zero_shot import LABELS

CLIP_TASK = get_task("zero-shot-image-classification")
BLIP_TASK = get_task("image-to-text")


# --- inputs -----------------------------------------------------------------------------


def test_images_deterministic_per_seed():
    first = generate_images(3, seed=1)
    again = generate_images(3, seed=1)
    other = generate_images(3, seed=2)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], other[0])
    assert first[0].shape == (224, 224, 3)
    assert first[0].dtype == np.uint8


def test_image_names_cycle_patterns():
    names = image_names(len(PATTERNS) + 1)
    assert names[0] == names[-1] == PATTERNS[0]


def test_unknown_task_lists_known():
    with pytest.raises(ValueError, match="zero-shot-image-classification"):
        get_task("translation")


def test_task_for_each_family():
    assert task_for_family("clip") is CLIP_TASK
    assert task_for_family("blip") is BLIP_TASK


def test_clip_inputs_pad_labels(tiny_clip_dir: Path):
    processor = CLIP_TASK.load_processor(tiny_clip_dir)
    inputs = CLIP_TASK.make_inputs(processor, Settings(batch_size=3))
    assert inputs["pixel_values"].shape == (3, 3, 32, 32)
    assert inputs["pixel_values"].dtype == np.float32
    assert inputs["input_ids"].shape == (len(LABELS), 77)
    assert inputs["attention_mask"].shape == (len(LABELS), 77)
    assert inputs["input_ids"].dtype == np.int64


def test_blip_inputs_are_images_only(tiny_blip_dir: Path):
    processor = BLIP_TASK.load_processor(tiny_blip_dir)
    inputs = BLIP_TASK.make_inputs(processor, Settings(batch_size=2))
    assert list(inputs) == ["pixel_values"]
    assert inputs["pixel_values"].shape == (2, 3, 32, 32)


def test_inputs_digest_stable_and_sensitive(tiny_clip_dir: Path):
    processor = CLIP_TASK.load_processor(tiny_clip_dir)
    first = CLIP_TASK.make_inputs(processor, Settings(batch_size=2))
    again = CLIP_TASK.make_inputs(processor, Settings(batch_size=2))
    other = CLIP_TASK.make_inputs(processor, Settings(batch_size=2, seed=5))
    assert inputs_digest(first) == inputs_digest(again)
    assert inputs_digest(first) != inputs_digest(other)


# --- PyTorch runs -----------------------------------------------------------------------------


def test_blip_generates_exactly_max_new_tokens(tiny_blip_dir: Path):
    processor = BLIP_TASK.load_processor(tiny_blip_dir)
    settings = Settings(batch_size=2, max_new_tokens=7)
    inputs = BLIP_TASK.make_inputs(processor, settings)
    model = BLIP_TASK.load_torch_model(tiny_blip_dir)
    outputs = numpy_outputs(BLIP_TASK.run_torch(model, torch_inputs(inputs), settings))
    assert outputs["token_ids"].shape == (2, 7)
    assert outputs["first_step_logits"].shape == (2, 1024)
    # [SEP] is suppressed until the last token, so no caption stops early.
    assert not (outputs["token_ids"] == 102).any()


def test_clip_logits_shape(tiny_clip_dir: Path):
    processor = CLIP_TASK.load_processor(tiny_clip_dir)
    settings = Settings(batch_size=2)
    model = CLIP_TASK.load_torch_model(tiny_clip_dir)
    outputs = numpy_outputs(CLIP_TASK.run_torch(model, torch_inputs(CLIP_TASK.make_inputs(processor, settings)), settings))
    assert outputs["logits_per_image"].shape == (2, len(LABELS))


# --- comparisons -------------------------------------------------------------------------------


def clip_reference() -> dict[str, np.ndarray]:
    return {"logits_per_image": np.array([[20.0, 25.0, 10.0], [5.0, 4.0, 30.0]], dtype=np.float32)}


def test_clip_compare_identical_ok():
    result = CLIP_TASK.compare(clip_reference(), clip_reference(), "f32")
    assert result["ok"]
    assert result["max_abs_diff"] == 0.0
    assert result["top1_agreement"] == 1.0


def test_clip_compare_within_f32_tolerance():
    output = {"logits_per_image": clip_reference()["logits_per_image"] + 1e-4}
    result = CLIP_TASK.compare(clip_reference(), output, "f32")
    assert result["ok"]
    assert result["tolerance"] == pytest.approx(1e-3 + 1e-4 * 30.0)


def test_clip_compare_beyond_tolerance_fails():
    output = {"logits_per_image": clip_reference()["logits_per_image"] + 0.01}
    result = CLIP_TASK.compare(clip_reference(), output, "f32")
    assert not result["ok"]
    assert "exceeds tolerance" in result["reason"]


def test_clip_compare_f16_is_looser():
    output = {"logits_per_image": clip_reference()["logits_per_image"] + 0.1}
    assert not CLIP_TASK.compare(clip_reference(), output, "f32")["ok"]
    assert CLIP_TASK.compare(clip_reference(), output, "f16")["ok"]


def test_clip_compare_top1_flip_fails():
    output = {"logits_per_image": np.array([[26.0, 25.0, 10.0], [5.0, 4.0, 30.0]], dtype=np.float32)}
    result = CLIP_TASK.compare(clip_reference(), output, "bf16")
    assert result["top1_agreement"] == 0.5
    assert not result["ok"]


def test_clip_compare_nan_fails():
    output = {"logits_per_image": np.full((2, 3), np.nan, dtype=np.float32)}
    assert not CLIP_TASK.compare(clip_reference(), output, "f32")["ok"]


def test_clip_compare_shape_mismatch_fails():
    output = {"logits_per_image": np.zeros((1, 3), dtype=np.float32)}
    result = CLIP_TASK.compare(clip_reference(), output, "f32")
    assert not result["ok"]
    assert "shape" in result["reason"]


def test_blip_compare_equal_tokens_ok():
    reference = {"token_ids": np.arange(10).reshape(2, 5)}
    result = BLIP_TASK.compare(reference, {"token_ids": np.arange(10).reshape(2, 5)}, "f32")
    assert result["ok"]
    assert result["tokens_match"]
    assert result["fraction_matching"] == 1.0


def test_blip_compare_reports_first_difference():
    reference = {"token_ids": np.arange(10).reshape(2, 5)}
    output = reference["token_ids"].copy()
    output[1, 3:] = 99
    output[0, 4] = 99
    result = BLIP_TASK.compare(reference, {"token_ids": output}, "f32")
    assert not result["ok"]
    assert result["first_difference"] == {"image": 1, "position": 3}
    assert result["fraction_matching"] == pytest.approx(0.7)


# --- summaries -----------------------------------------------------------------------------------


def test_clip_summary_top_labels():
    logits = np.zeros((2, len(LABELS)), dtype=np.float32)
    logits[0, 2] = 10.0
    logits[1, 5] = 10.0
    summary = CLIP_TASK.output_summary({"logits_per_image": logits}, None)
    assert summary["images"][0]["top_label"] == LABELS[2]
    assert summary["images"][1]["top_label"] == LABELS[5]
    assert summary["images"][0]["probability"] > 0.99


def test_blip_summary_decodes_captions(tiny_blip_dir: Path):
    tokenizer = BLIP_TASK.load_processor(tiny_blip_dir).tokenizer
    ids = tokenizer.convert_tokens_to_ids(["a", "photo", "of", "a", "cat"])
    summary = BLIP_TASK.output_summary({"token_ids": np.array([ids])}, tokenizer)
    assert summary["captions"][0]["caption"] == "a photo of a cat"


# --- reference cache ------------------------------------------------------------------------------


def test_reference_cached_after_first_run(tiny_blip_dir: Path):
    model = catalog.resolve(str(tiny_blip_dir))
    assert model.model_id == TINY_BLIP_ID
    processor = BLIP_TASK.load_processor(tiny_blip_dir)
    settings = Settings(batch_size=1, max_new_tokens=3, seed=11)
    inputs = BLIP_TASK.make_inputs(processor, settings)
    first, first_info = get_reference(model, BLIP_TASK, inputs, settings)
    again, again_info = get_reference(model, BLIP_TASK, inputs, settings)
    longer, longer_info = get_reference(model, BLIP_TASK, inputs, Settings(batch_size=1, max_new_tokens=4, seed=11))
    assert not first_info["cache_hit"]
    assert again_info["cache_hit"]
    assert again_info["path"] == first_info["path"]
    assert np.array_equal(first["token_ids"], again["token_ids"])
    assert not longer_info["cache_hit"]
    assert longer["token_ids"].shape == (1, 4)
    assert Path(first_info["path"]).with_suffix(".json").is_file()


def test_inputs_cached_per_settings(tiny_clip_dir: Path):
    model = catalog.resolve(str(tiny_clip_dir))
    processor = CLIP_TASK.load_processor(tiny_clip_dir)
    built: list[Settings] = []

    def make(settings: Settings):
        def build():
            built.append(settings)
            return CLIP_TASK.make_inputs(processor, settings)
        return build

    settings = Settings(batch_size=1, seed=21)
    first, first_info = get_inputs(model, CLIP_TASK, settings, make(settings))
    again, again_info = get_inputs(model, CLIP_TASK, settings, make(settings))
    other_seed = Settings(batch_size=1, seed=22)
    other, other_info = get_inputs(model, CLIP_TASK, other_seed, make(other_seed))

    assert not first_info["cache_hit"]
    assert again_info["cache_hit"]
    assert built == [settings, other_seed]
    assert inputs_digest(again) == inputs_digest(first)
    assert not other_info["cache_hit"]
    assert inputs_digest(other) != inputs_digest(first)
    assert Path(first_info["path"]).with_suffix(".json").is_file()


# --- timing rules of Runner.measure ------------------------------------------------------------------


class SleepRunner(Runner):
    """A runner whose inference is a fixed sleep, to check the timing loop itself."""

    def __init__(self, sleep_s: float):
        super().__init__("cpu")
        self.sleep_s = sleep_s
        self.calls = 0

    def infer(self, inputs):
        self.calls += 1
        time.sleep(self.sleep_s)
        return {"value": np.array([self.calls])}


class RecordingReporter:
    def __init__(self):
        self.phases: list[str] = []
        self.progress_events: list[tuple] = []

    def phase(self, name: str) -> None:
        self.phases.append(name)

    def progress(self, phase, done, total, elapsed_s, median_s=None) -> None:
        self.progress_events.append((phase, done, total, median_s))

    def log(self, message: str, level: str = "info") -> None:
        pass


def test_measure_runs_until_iterations():
    runner, reporter = SleepRunner(0.001), RecordingReporter()
    samples, first, outputs = runner.measure({}, Settings(iterations=5, min_seconds=0.0, warmup=3), reporter)
    assert len(samples) == 5
    assert runner.calls == 3 + 5
    assert first > 0
    assert reporter.phases == ["warmup", "measure"]
    assert outputs["value"][0] == 8


def test_measure_runs_until_min_seconds():
    runner, reporter = SleepRunner(0.01), RecordingReporter()
    samples, _, _ = runner.measure({}, Settings(iterations=2, min_seconds=0.3, warmup=0), reporter)
    assert len(samples) > 2
    assert sum(samples) >= 0.25
    assert all(sample >= 0.01 for sample in samples)


def test_measure_reports_running_median():
    runner, reporter = SleepRunner(0.002), RecordingReporter()
    runner.measure({}, Settings(iterations=4, min_seconds=0.0, warmup=1), reporter)
    last = [event for event in reporter.progress_events if event[0] == "measure"][-1]
    assert last[1] == 4
    assert last[2] == 4
    assert last[3] >= 0.002
