"""OpenVINO runner: converts the PyTorch model with openvino.convert_model and runs it on CPU, GPU or NPU.

Graphs per task:
- CLIP: one graph (pixel_values, input_ids, attention_mask) -> logits_per_image.
- BLIP: three graphs driven by a greedy loop in Python that mirrors the PyTorch
  reference (raw arg-max, [SEP] suppressed until max_new_tokens):
  `vision` (pixel_values -> image_embeds), `cross_kv` (image_embeds -> each
  decoder layer's cross-attention keys and values, computed once per image) and
  `decoder` (one new token, image_embeds and the per-layer key/value cache ->
  logits of that token and the grown self-attention cache). This is the same
  KV-cached decoding that transformers' generate() does.

Converted graphs are cached as IR under `paths.converted_models_dir()`, keyed by
model id, model files fingerprint, task, graph format, torch, transformers and
OpenVINO versions, and precision, so a second run skips loading the PyTorch model and
converting. Weights are stored in f32 except for f16 runs, which store them
compressed to f16. Inference runs with PERFORMANCE_HINT=LATENCY, one infer
request per graph, and INFERENCE_PRECISION_HINT from settings.precision.
"""

from __future__ import annotations

import gc
import hashlib
import importlib.metadata
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from vt_core import catalog, paths
from vt_core.catalog import ResolvedModel
from vt_core.records import JobSpec
from vt_core.runners.base import ConversionError, Reporter, Runner
from vt_core.tasks.base import Task

DEFAULT_DEVICE = "CPU"
CONVERSION_FORMAT = 2
"""Version of the graphs this module writes; bump it when their inputs or outputs change so old IR is not reused."""
META_FILE = "vt_converted.json"
PRECISION_HINTS = {"f32": "f32", "f16": "f16", "bf16": "bf16"}
DECODER_MODE = "KV cache: cross-attention keys/values once per image, self-attention keys/values carried between steps"


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


class OpenVINORunner(Runner):
    def __init__(self, platform: str = "openvino"):
        super().__init__(platform)
        self.core = None
        self.task: Task | None = None
        self.torch_model: Any = None
        self.ir_dir: Path | None = None
        self.meta: dict[str, Any] = {}
        self.requests: dict[str, Any] = {}
        self.settings = None

    # --- availability -------------------------------------------------------------

    def _core(self):
        if self.core is None:
            import openvino

            self.core = openvino.Core()
        return self.core

    def unavailable_reason(self, spec: JobSpec) -> str | None:
        """Return why spec.device is missing; an ImportError of openvino propagates (missing dependency)."""
        devices = list(self._core().available_devices)
        requested = spec.device or DEFAULT_DEVICE
        if self._match_device(requested, devices) is None:
            listed = ", ".join(devices) or "none"
            return f"OpenVINO device {requested!r} not found; available devices: {listed}"
        return None

    @staticmethod
    def _match_device(requested: str, devices: list[str]) -> str | None:
        """Return the device name to compile for: `GPU` matches `GPU.0`, `GPU.1` must be listed as is."""
        requested = requested.upper()
        if requested in devices:
            return requested
        if "." not in requested and any(device.split(".")[0] == requested for device in devices):
            return requested
        return None

    # --- preparation --------------------------------------------------------------

    def _cache_key(self, model: ResolvedModel, task: Task, precision: str) -> dict[str, Any]:
        return {
            "model_id": model.model_id,
            "files": catalog.files_fingerprint(model.path),
            "task": task.name,
            "format": CONVERSION_FORMAT,
            "torch": _version("torch"),
            "transformers": _version("transformers"),
            "openvino": _version("openvino"),
            "weights_precision": "f16" if precision == "f16" else "f32",
            "precision": precision,
        }

    def load(self, model: ResolvedModel, task: Task, spec: JobSpec, reporter: Reporter) -> None:
        self.task = task
        self.settings = spec.settings
        self.precision = spec.settings.precision
        self.device = (spec.device or DEFAULT_DEVICE).upper()
        key = self._cache_key(model, task, self.precision)
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        self.ir_dir = paths.converted_models_dir() / f"{catalog.slug(model.model_id)}-{digest}"
        meta_path = self.ir_dir / META_FILE
        if meta_path.is_file():
            self.meta = json.loads(meta_path.read_text())
            self.parameter_count = self.meta.get("parameter_count")
            self.extra["ir_cache_hit"] = True
            reporter.log(f"using converted model from {self.ir_dir}")
            return
        self.extra["ir_cache_hit"] = False
        self.torch_model = task.load_torch_model(model.path, "cpu")
        self.parameter_count = sum(parameter.numel() for parameter in self.torch_model.parameters())
        self.meta = {"key": key, "parameter_count": self.parameter_count}

    def convert(self, model: ResolvedModel, task: Task, spec: JobSpec, reporter: Reporter) -> None:
        if self.torch_model is None:
            return
        import openvino

        staging = self.ir_dir.parent / f".{self.ir_dir.name}.converting-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        staging.mkdir(parents=True)
        try:
            try:
                graphs = self._convert_graphs(task)
            except Exception as exc:
                raise ConversionError(f"openvino.convert_model failed for {model.model_id}: {type(exc).__name__}: {exc}") from exc
            for name, graph in graphs.items():
                openvino.save_model(graph, staging / f"{name}.xml", compress_to_fp16=self.precision == "f16")
            (staging / META_FILE).write_text(json.dumps(self.meta, indent=2) + "\n")
            try:
                os.rename(staging, self.ir_dir)
            except OSError:
                # A concurrent job stored the same conversion first; use that copy.
                if not (self.ir_dir / META_FILE).is_file():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        # The PyTorch model is not needed once the IR is on disk.
        self.torch_model = None
        gc.collect()

    def _convert_graphs(self, task: Task) -> dict[str, Any]:
        import openvino
        import torch

        model = self.torch_model
        if task.name == "zero-shot-image-classification":
            vision = model.config.vision_config
            pixel_values = torch.zeros(2, vision.num_channels, vision.image_size, vision.image_size)
            length = model.config.text_config.max_position_embeddings
            input_ids = torch.ones(3, length, dtype=torch.int64)
            attention_mask = torch.ones(3, length, dtype=torch.int64)
            with torch.no_grad():
                graph = openvino.convert_model(_wrap("clip", model), example_input=(pixel_values, input_ids, attention_mask))
            return {"model": graph}
        if task.name == "image-to-text":
            vision = model.config.vision_config
            text = model.config.text_config
            layers = text.num_hidden_layers
            heads = text.num_attention_heads
            head_dim = text.hidden_size // heads
            pixel_values = torch.zeros(2, vision.num_channels, vision.image_size, vision.image_size)
            with torch.no_grad():
                encoder = _wrap("blip_vision", model)
                image_embeds = encoder(pixel_values)
                cross_kv_module = _wrap("blip_cross_kv", model)
                cross_kv = cross_kv_module(image_embeds)
                # Traced with 3 cached tokens; lengths are dynamic in the IR (0 at the first step).
                cache = []
                for layer in range(layers):
                    cache += [torch.zeros(2, heads, 3, head_dim), torch.zeros(2, heads, 3, head_dim)]
                    cache += [cross_kv[2 * layer], cross_kv[2 * layer + 1]]
                input_ids = torch.full((2, 1), text.bos_token_id, dtype=torch.int64)
                graphs = {
                    "vision": openvino.convert_model(encoder, example_input=(pixel_values,)),
                    "cross_kv": openvino.convert_model(cross_kv_module, example_input=(image_embeds,)),
                    "decoder": openvino.convert_model(
                        _wrap("blip_decoder", model), example_input=(input_ids, image_embeds, cache)
                    ),
                }
            self.meta.update(
                bos_token_id=text.bos_token_id,
                sep_token_id=text.sep_token_id,
                num_layers=layers,
                num_heads=heads,
                head_dim=head_dim,
            )
            return graphs
        raise ConversionError(f"the OpenVINO runner has no conversion for task {task.name!r}")

    def compile(self, model: ResolvedModel, task: Task, spec: JobSpec, reporter: Reporter) -> None:
        core = self._core()
        config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY"}
        device_family = self.device.split(".")[0].upper()
        if device_family in ("CPU", "GPU"):
            config["INFERENCE_PRECISION_HINT"] = PRECISION_HINTS[self.precision]
        else:
            self.extra["precision_note"] = f"INFERENCE_PRECISION_HINT is not set on {self.device}"
        if spec.settings.threads and device_family == "CPU":
            config["INFERENCE_NUM_THREADS"] = spec.settings.threads
        names = ["model"] if task.name == "zero-shot-image-classification" else ["vision", "cross_kv", "decoder"]
        for name in names:
            compiled = core.compile_model(str(self.ir_dir / f"{name}.xml"), self.device, config)
            self.requests[name] = compiled.create_infer_request()
            if "INFERENCE_PRECISION_HINT" in config:
                actual = compiled.get_property("INFERENCE_PRECISION_HINT")
                self.extra["inference_precision"] = actual.to_string() if hasattr(actual, "to_string") else str(actual)
        ran = self.extra.get("inference_precision")
        if ran in PRECISION_HINTS and ran != self.precision:
            # The device does not support the requested precision and fell back; compare with its tolerance.
            self.extra["precision_note"] = f"requested {self.precision}; {self.device} ran {ran}"
            self.precision = ran
        try:
            self.extra["device_name"] = core.get_property(self.device, "FULL_DEVICE_NAME")
        except RuntimeError:
            pass
        self.extra["ir_dir"] = str(self.ir_dir)
        if task.name == "image-to-text":
            self.extra["decoder_mode"] = DECODER_MODE

    # --- inference ------------------------------------------------------------------

    def infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.task.name == "zero-shot-image-classification":
            request = self.requests["model"]
            request.infer([inputs["pixel_values"], inputs["input_ids"], inputs["attention_mask"]])
            return {"logits_per_image": request.get_output_tensor(0).data.copy()}
        return self._generate(inputs["pixel_values"])

    def _generate(self, pixel_values: np.ndarray) -> dict[str, np.ndarray]:
        vision = self.requests["vision"]
        cross_kv = self.requests["cross_kv"]
        decoder = self.requests["decoder"]
        layers = self.meta["num_layers"]
        vision.infer([pixel_values])
        image_embeds = vision.get_output_tensor(0).data.copy()
        cross_kv.infer([image_embeds])
        cross = [cross_kv.get_output_tensor(index).data.copy() for index in range(2 * layers)]

        batch = pixel_values.shape[0]
        empty = np.zeros((batch, self.meta["num_heads"], 0, self.meta["head_dim"]), dtype=np.float32)
        self_cache = [empty] * (2 * layers)
        tokens = np.full((batch, 1), self.meta["bos_token_id"], dtype=np.int64)
        first_step_logits = None
        for _ in range(self.settings.max_new_tokens):
            feed = [tokens[:, -1:], image_embeds]
            for layer in range(layers):
                feed += [self_cache[2 * layer], self_cache[2 * layer + 1], cross[2 * layer], cross[2 * layer + 1]]
            decoder.infer(feed)
            logits = decoder.get_output_tensor(0).data.astype(np.float32)
            self_cache = [decoder.get_output_tensor(1 + index).data.copy() for index in range(2 * layers)]
            if first_step_logits is None:
                first_step_logits = logits.copy()
            logits[:, self.meta["sep_token_id"]] = -np.inf
            tokens = np.concatenate([tokens, logits.argmax(axis=-1)[:, None].astype(np.int64)], axis=1)
        return {"token_ids": tokens[:, 1:], "first_step_logits": first_step_logits}

    def close(self) -> None:
        self.requests.clear()
        self.torch_model = None


def _wrap(kind: str, model: Any) -> Any:
    """Return a torch.nn.Module exposing one graph of `model` with plain tensor inputs, for tracing."""
    import torch

    class ClipLogits(torch.nn.Module):
        """CLIPModel reduced to its logits_per_image output."""

        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, pixel_values, input_ids, attention_mask):
            output = self.model(pixel_values=pixel_values, input_ids=input_ids, attention_mask=attention_mask)
            return output.logits_per_image

    class BlipVision(torch.nn.Module):
        """BLIP's vision encoder returning the image embeddings the decoder attends to."""

        def __init__(self):
            super().__init__()
            self.vision_model = model.vision_model

        def forward(self, pixel_values):
            return self.vision_model(pixel_values=pixel_values)[0]

    class BlipCrossKeyValues(torch.nn.Module):
        """Each decoder layer's cross-attention keys and values of the image embeddings."""

        def __init__(self):
            super().__init__()
            self.layers = model.text_decoder.bert.encoder.layer

        def forward(self, image_embeds):
            outputs = []
            for layer in self.layers:
                attention = layer.crossattention.self
                shape = (*image_embeds.shape[:-1], -1, attention.attention_head_size)
                outputs.append(attention.key(image_embeds).view(shape).transpose(1, 2))
                outputs.append(attention.value(image_embeds).view(shape).transpose(1, 2))
            return tuple(outputs)

    class BlipDecoderStep(torch.nn.Module):
        """BLIP's text decoder on one new token with a key/value cache passed as tensors.

        `cache` contains four tensors per layer: self-attention keys and values so far,
        then the cross-attention keys and values from BlipCrossKeyValues. The cross
        layers are marked as filled, so the decoder reuses them instead of
        projecting image_embeds again (image_embeds still sets the mask shape).
        """

        def __init__(self):
            super().__init__()
            self.text_decoder = model.text_decoder

        def forward(self, input_ids, image_embeds, cache):
            from transformers.cache_utils import DynamicCache, EncoderDecoderCache

            self_cache, cross_cache = DynamicCache(), DynamicCache()
            layers = len(cache) // 4
            for index in range(layers):
                self_cache.layers.append(_filled_layer(cache[4 * index], cache[4 * index + 1]))
                cross_cache.layers.append(_filled_layer(cache[4 * index + 2], cache[4 * index + 3]))
            past = EncoderDecoderCache(self_cache, cross_cache)
            for index in range(layers):
                past.is_updated[index] = True
            output = self.text_decoder(
                input_ids=input_ids, encoder_hidden_states=image_embeds, cache=past, use_cache=True, return_dict=True
            )
            grown = []
            for layer in output.cache.self_attention_cache.layers:
                grown += [layer.keys, layer.values]
            return (output.logits[:, -1, :], *grown)

    wrappers = {
        "clip": ClipLogits,
        "blip_vision": BlipVision,
        "blip_cross_kv": BlipCrossKeyValues,
        "blip_decoder": BlipDecoderStep,
    }
    return wrappers[kind]().eval()


def _filled_layer(keys: Any, values: Any) -> Any:
    """Return a transformers DynamicLayer that already contains `keys` and `values`.

    DynamicLayer.update() starts from an empty 1-D tensor and concatenates, which
    OpenVINO cannot convert, so the layer is filled directly.
    NOTE: this and BlipDecoderStep rely on the cache classes of transformers 5.x
    (DynamicLayer fields, EncoderDecoderCache.is_updated). Another major version
    may break them, and the break shows as a conversion_error.
    """
    from transformers.cache_utils import DynamicLayer

    layer = DynamicLayer()
    layer.device = keys.device
    layer.keys = keys
    layer.values = values
    layer.is_initialized = True
    return layer
