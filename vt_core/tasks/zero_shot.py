"""Zero-shot image classification with CLIP: images scored against fixed text labels."""

from __future__ import annotations

from typing import Any

import numpy as np

from vt_core.records import Settings
from vt_core.tasks.base import Task
from vt_core.tasks.images import generate_images, image_names

LABELS = (
    "a photo of a cat",
    "a photo of a dog",
    "a photo of a car",
    "a photo of a bird",
    "a diagram of a circle",
    "a checkerboard pattern",
    "a color gradient",
    "a photo of a landscape",
)

DEFAULT_TEXT_LENGTH = 77
"""CLIP's context length, used when a tokenizer does not state model_max_length."""

# Allowed max |logits - reference| = ATOL + RTOL * max|reference|. Logits are
# cosine similarities times exp(logit_scale) (100 for trained CLIP), so the
# relative term scales with the model. f32 allows for summation-order differences
# between back ends; f16 (10-bit mantissa) and bf16 (7-bit) allow for rounding
# accumulated through every layer.
TOLERANCES: dict[str, tuple[float, float]] = {
    "f32": (1e-3, 1e-4),
    "f16": (5e-2, 1e-2),
    "bf16": (1e-1, 4e-2),
}


class ZeroShotImageClassification(Task):
    name = "zero-shot-image-classification"
    family = "clip"
    architecture = "CLIPModel"
    summary_uses_tokenizer = False

    def make_inputs(self, processor: Any, settings: Settings) -> dict[str, np.ndarray]:
        """Return pixel_values for batch_size images and the labels padded to the model's text length (77)."""
        images = generate_images(settings.batch_size, settings.seed)
        length = getattr(processor.tokenizer, "model_max_length", DEFAULT_TEXT_LENGTH)
        if not isinstance(length, int) or length > 10_000:
            length = DEFAULT_TEXT_LENGTH
        encoded = processor(
            text=list(LABELS),
            images=images,
            return_tensors="np",
            padding="max_length",
            max_length=length,
            truncation=True,
        )
        return {
            "pixel_values": np.asarray(encoded["pixel_values"], dtype=np.float32),
            "input_ids": np.asarray(encoded["input_ids"], dtype=np.int64),
            "attention_mask": np.asarray(encoded["attention_mask"], dtype=np.int64),
        }

    def run_torch(self, model: Any, inputs: dict[str, Any], settings: Settings) -> dict[str, Any]:
        import torch

        with torch.inference_mode():
            output = model(
                pixel_values=inputs["pixel_values"],
                input_ids=inputs["input_ids"],
                attention_mask=inputs["attention_mask"],
            )
        return {"logits_per_image": output.logits_per_image}

    def compare(self, reference: dict[str, np.ndarray], output: dict[str, np.ndarray], precision: str) -> dict[str, Any]:
        """Compare logits_per_image: max abs difference within tolerance and the same top-1 label.

        Images whose reference top-2 margin is within twice the tolerance are near
        ties: they are reported but do not fail the comparison.
        """
        expected = np.asarray(reference["logits_per_image"], dtype=np.float64)
        actual = np.asarray(output["logits_per_image"], dtype=np.float64)
        atol, rtol = TOLERANCES[precision]
        tolerance = atol + rtol * float(np.abs(expected).max(initial=0.0))
        result: dict[str, Any] = {
            "metric": "logits_per_image",
            "precision": precision,
            "tolerance": tolerance,
            "tolerance_rule": f"{atol:g} + {rtol:g} * max|reference|",
        }
        if expected.shape != actual.shape:
            result.update(ok=False, reason=f"output shape {actual.shape} differs from reference shape {expected.shape}")
            return result
        if not np.isfinite(actual).all():
            result.update(ok=False, reason="output contains NaN or infinite values", max_abs_diff=None)
            return result

        max_abs_diff = float(np.abs(actual - expected).max(initial=0.0))
        top1_ref = expected.argmax(axis=1)
        top1_out = actual.argmax(axis=1)
        agree = top1_ref == top1_out
        ordered = np.sort(expected, axis=1)
        margins = ordered[:, -1] - ordered[:, -2] if expected.shape[1] > 1 else np.full(len(expected), np.inf)
        decisive = margins > 2 * tolerance
        decisive_agree = bool(agree[decisive].all())
        ok = max_abs_diff <= tolerance and decisive_agree
        result.update(
            ok=ok,
            max_abs_diff=max_abs_diff,
            top1_agreement=float(agree.mean()),
            near_ties=int((~decisive).sum()),
            images=int(expected.shape[0]),
        )
        if not ok:
            if max_abs_diff > tolerance:
                result["reason"] = f"max abs logit difference {max_abs_diff:.3g} exceeds tolerance {tolerance:.3g}"
            else:
                result["reason"] = "top-1 label differs from the reference on an image without a near tie"
        return result

    def output_summary(self, output: dict[str, np.ndarray], tokenizer: Any) -> dict[str, Any]:
        """Return each image's top label and its softmax probability over LABELS."""
        logits = np.asarray(output["logits_per_image"], dtype=np.float64)
        shifted = logits - logits.max(axis=1, keepdims=True)
        probabilities = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        images = []
        for name, row in zip(image_names(len(logits)), probabilities):
            best = int(row.argmax())
            images.append({"image": name, "top_label": LABELS[best], "probability": round(float(row[best]), 4)})
        return {"labels": list(LABELS), "images": images}
