"""Image captioning with BLIP: greedy generation of a fixed number of tokens."""

from __future__ import annotations

from typing import Any

import numpy as np

from vt_core.records import Settings
from vt_core.tasks.base import Task
from vt_core.tasks.images import generate_images, image_names


class ImageToText(Task):
    """Caption each image with exactly settings.max_new_tokens greedy tokens.

    Decoding is plain greedy: at each step the arg-max of the raw logits, with the
    end token ([SEP]) suppressed until max_new_tokens are generated, so every run
    produces the same number of tokens and runs compare. The generation config is
    built here rather than read from the checkpoint, so a checkpoint's own sampling
    or penalty settings cannot change the reference.
    """

    name = "image-to-text"
    family = "blip"
    architecture = "BlipForConditionalGeneration"

    def make_inputs(self, processor: Any, settings: Settings) -> dict[str, np.ndarray]:
        images = generate_images(settings.batch_size, settings.seed)
        encoded = processor(images=images, return_tensors="np")
        return {"pixel_values": np.asarray(encoded["pixel_values"], dtype=np.float32)}

    def output_settings(self, settings: Settings) -> dict[str, Any]:
        return {"max_new_tokens": settings.max_new_tokens}

    def run_torch(self, model: Any, inputs: dict[str, Any], settings: Settings) -> dict[str, Any]:
        """Return token_ids (batch x max_new_tokens, without the bos prompt) and first_step_logits."""
        import torch
        from transformers import GenerationConfig

        text_config = model.config.text_config
        generation_config = GenerationConfig(
            max_new_tokens=settings.max_new_tokens,
            min_new_tokens=settings.max_new_tokens,
            do_sample=False,
            num_beams=1,
            bos_token_id=text_config.bos_token_id,
            eos_token_id=text_config.sep_token_id,
            pad_token_id=text_config.pad_token_id,
            output_logits=True,
            return_dict_in_generate=True,
        )
        with torch.inference_mode():
            output = model.generate(pixel_values=inputs["pixel_values"], generation_config=generation_config)
        tokens = output.sequences[:, -settings.max_new_tokens:]
        return {"token_ids": tokens.to(torch.int64), "first_step_logits": output.logits[0].float()}

    def compare(self, reference: dict[str, np.ndarray], output: dict[str, np.ndarray], precision: str) -> dict[str, Any]:
        """Compare generated token ids, which must be equal at every precision.

        The first-step logit difference is reported to show how far apart the two
        back ends are, but only the tokens decide.
        """
        expected = np.asarray(reference["token_ids"])
        actual = np.asarray(output["token_ids"])
        result: dict[str, Any] = {
            "metric": "token_ids",
            "precision": precision,
            "tolerance": "token ids equal",
        }
        if "first_step_logits" in reference and "first_step_logits" in output:
            ref_logits = np.asarray(reference["first_step_logits"], dtype=np.float64)
            out_logits = np.asarray(output["first_step_logits"], dtype=np.float64)
            if ref_logits.shape == out_logits.shape:
                result["max_abs_diff"] = float(np.abs(ref_logits - out_logits).max(initial=0.0))
        if expected.shape != actual.shape:
            result.update(
                ok=False,
                tokens_match=False,
                reason=f"output shape {actual.shape} differs from reference shape {expected.shape}",
            )
            return result
        equal = expected == actual
        tokens_match = bool(equal.all())
        result.update(ok=tokens_match, tokens_match=tokens_match, fraction_matching=float(equal.mean()))
        if not tokens_match:
            rows, positions = np.nonzero(~equal)
            earliest = int(np.argmin(positions))
            result["first_difference"] = {"image": int(rows[earliest]), "position": int(positions[earliest])}
            result["reason"] = f"generated tokens differ from the reference from position {int(positions[earliest])}"
        return result

    def output_summary(self, output: dict[str, np.ndarray], tokenizer: Any) -> dict[str, Any]:
        """Return the decoded caption of each image."""
        tokens = np.asarray(output["token_ids"])
        captions = []
        for name, row in zip(image_names(len(tokens)), tokens):
            text = tokenizer.decode(row.tolist(), skip_special_tokens=True) if tokenizer is not None else None
            captions.append({"image": name, "caption": text, "token_ids": row.tolist()})
        return {"captions": captions}
