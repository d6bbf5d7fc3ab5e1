"""Export CLIP and BLIP to ONNX for ONNX Runtime Web, cached by content.

CLIP becomes one graph: (pixel_values, input_ids, attention_mask) ->
logits_per_image, with the job's fixed input shapes. BLIP becomes two graphs:
the vision encoder (pixel_values -> image_embeds) and the text decoder
(input_ids, attention_mask, encoder_hidden_states -> logits of the last
position) with a dynamic sequence axis. The greedy generation loop runs in the
page (runner.mjs), without a key/value cache.

Exports use the TorchScript-based exporter (`dynamo=False`) at opset 17, which
needs no onnxscript. The cache folder name is a SHA-256 over the weights, the
configuration, the input shapes and the library versions, so a changed model
or shape never reuses a stale graph. Runs only in the worker process: torch is
imported inside the functions.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vt_core import paths

log = logging.getLogger(__name__)

OPSET = 17
EXPORT_REVISION = 1
"""Part of the cache key; raise it whenever the wrappers below change what they export."""

MANIFEST = "manifest.json"


class ExportError(Exception):
    """torch.onnx.export or the ONNX check failed; the message names the graph."""


@dataclass
class ExportedModel:
    """ONNX graphs of one model in one cache folder."""

    folder: Path
    graphs: dict[str, str]
    """Role (`model`, or `vision` and `decoder`) -> file name inside `folder`."""
    cached: bool
    """True when the folder existed and nothing was exported."""
    export_time_s: float
    key: str
    info: dict[str, Any] = field(default_factory=dict)

    def path(self, role: str) -> Path:
        return self.folder / self.graphs[role]


def onnx_cache_dir() -> Path:
    return paths.converted_models_dir() / "onnx"


def _clip_wrapper(model: Any) -> Any:
    import torch

    class ClipLogits(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, pixel_values: Any, input_ids: Any, attention_mask: Any) -> Any:
            return self.inner(
                pixel_values=pixel_values, input_ids=input_ids, attention_mask=attention_mask, return_dict=True
            ).logits_per_image

    return ClipLogits(model).eval()


def _blip_vision_wrapper(model: Any) -> Any:
    import torch

    class BlipVision(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, pixel_values: Any) -> Any:
            return self.inner.vision_model(pixel_values=pixel_values, return_dict=True).last_hidden_state

    return BlipVision(model).eval()


def _blip_decoder_wrapper(model: Any) -> Any:
    import torch

    class BlipDecoderLastLogits(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, encoder_hidden_states: Any) -> Any:
            output = self.inner.text_decoder(
                input_ids=input_ids,
                attention_mask=attention_mask,
                encoder_hidden_states=encoder_hidden_states,
                use_cache=False,
                return_dict=True,
            )
            # Only the last position feeds greedy decoding; returning [batch, vocab]
            # instead of [batch, seq, vocab] keeps the read-back per token small.
            return output.logits[:, -1, :]

    return BlipDecoderLastLogits(model).eval()


def content_key(model: Any, kind: str, shapes: dict[str, list[int]]) -> str:
    """Return a hex SHA-256 over weights, configuration, shapes and exporter versions."""
    import torch
    import transformers

    digest = hashlib.sha256()
    header = {
        "kind": kind,
        "class": type(model).__name__,
        "config": model.config.to_dict() if hasattr(model, "config") else None,
        "shapes": shapes,
        "opset": OPSET,
        "revision": EXPORT_REVISION,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }
    digest.update(json.dumps(header, sort_keys=True, default=str).encode())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(str(tensor.dtype).encode())
        data = tensor.detach().to("cpu").contiguous().reshape(-1)
        digest.update(data.view(torch.uint8).numpy().tobytes() if data.numel() else b"")
    return digest.hexdigest()


def _export_graph(module: Any, args: tuple[Any, ...], target: Path, *, input_names: list[str],
                  output_names: list[str], dynamic_axes: dict[str, dict[int, str]] | None = None) -> None:
    import onnx
    import torch

    try:
        with warnings.catch_warnings(), torch.no_grad():
            # The tracer warns about every Python branch on tensor shapes. The
            # shapes of one job are fixed, and every run's comparison with PyTorch
            # checks the decoder's dynamic sequence axis.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                args,
                str(target),
                input_names=input_names,
                output_names=output_names,
                dynamic_axes=dynamic_axes,
                opset_version=OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
        onnx.checker.check_model(str(target))
    except Exception as error:  # torch.onnx raises many unrelated types
        raise ExportError(f"exporting {target.name} to ONNX (opset {OPSET}) failed: {type(error).__name__}: {error}") from error


def _export_cached(kind: str, key: str, build: Any) -> ExportedModel:
    """Return the cached export for `key`, or run `build(folder)` into a fresh folder and publish it."""
    root = onnx_cache_dir()
    folder = root / f"{kind}-{key[:32]}"
    manifest_path = folder / MANIFEST
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        if all((folder / name).is_file() for name in manifest["graphs"].values()):
            log.info("reusing ONNX export %s", folder)
            return ExportedModel(folder, manifest["graphs"], True, 0.0, key, manifest.get("info", {}))

    root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    staging = Path(tempfile.mkdtemp(prefix=f".{kind}-", dir=root))
    try:
        graphs, info = build(staging)
        extra_files = sorted(p.name for p in staging.iterdir() if p.name not in graphs.values())
        if extra_files:
            # NOTE: models over 2 GiB need ONNX external data, which the page does not load yet.
            raise ExportError(
                f"the ONNX export wrote external data files ({', '.join(extra_files[:3])}); "
                "models over 2 GiB are not supported by the browser runner"
            )
        elapsed = time.perf_counter() - started
        manifest = {"key": key, "kind": kind, "graphs": graphs, "opset": OPSET, "export_time_s": elapsed, "info": info}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2))
        if folder.exists():
            shutil.rmtree(folder)
        try:
            os.replace(staging, folder)
        except OSError:
            # Another worker published the same key first; its files are equivalent.
            log.info("ONNX export %s was published concurrently; using it", folder)
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportedModel(folder, graphs, False, elapsed, key, info)


def export_clip(model: Any, inputs: dict[str, Any]) -> ExportedModel:
    """Export a CLIPModel for the given pixel_values, input_ids and attention_mask tensors."""
    names = ["pixel_values", "input_ids", "attention_mask"]
    missing = [name for name in names if name not in inputs]
    if missing:
        raise ExportError(f"CLIP export needs inputs {', '.join(names)}; missing {', '.join(missing)}")
    shapes = {name: list(inputs[name].shape) for name in names}
    key = content_key(model, "clip", shapes)

    def build(folder: Path) -> tuple[dict[str, str], dict[str, Any]]:
        _export_graph(
            _clip_wrapper(model), tuple(inputs[name] for name in names), folder / "model.onnx",
            input_names=names, output_names=["logits_per_image"],
        )
        return {"model": "model.onnx"}, {"shapes": shapes}

    return _export_cached("clip", key, build)


def export_blip(model: Any, pixel_values: Any, prompt_ids: Any) -> ExportedModel:
    """Export a BlipForConditionalGeneration as vision encoder plus text decoder.

    `prompt_ids` ([batch, length] int64) only serves as the example input of
    the trace; the decoder graph accepts any batch and sequence length.
    """
    import torch

    shapes = {"pixel_values": list(pixel_values.shape)}
    key = content_key(model, "blip", shapes)

    def build(folder: Path) -> tuple[dict[str, str], dict[str, Any]]:
        vision = _blip_vision_wrapper(model)
        _export_graph(
            vision, (pixel_values,), folder / "vision.onnx",
            input_names=["pixel_values"], output_names=["image_embeds"],
            dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}},
        )
        with torch.no_grad():
            image_embeds = vision(pixel_values)
        ids = torch.as_tensor(prompt_ids, dtype=torch.long)
        if ids.shape[0] != image_embeds.shape[0]:
            ids = ids[:1].repeat(image_embeds.shape[0], 1)
        # A dimension of size 1 can be specialised away during tracing, so trace
        # with at least two tokens to keep the sequence axis symbolic.
        if ids.shape[1] < 2:
            ids = torch.cat([ids, ids[:, -1:]], dim=1)
        _export_graph(
            _blip_decoder_wrapper(model), (ids, torch.ones_like(ids), image_embeds), folder / "decoder.onnx",
            input_names=["input_ids", "attention_mask", "encoder_hidden_states"], output_names=["logits"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                "encoder_hidden_states": {0: "batch"},
                "logits": {0: "batch"},
            },
        )
        return {"vision": "vision.onnx", "decoder": "decoder.onnx"}, {"shapes": shapes}

    return _export_cached("blip", key, build)
