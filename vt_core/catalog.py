"""Known models, families and tasks, and how a model reference resolves to files.

A model reference resolves, in order, to a local directory with a config.json,
then to an id already in the Hugging Face cache (looked up offline, never over
the network). Only when the caller passes `weights="synthetic"` does it fall back
to a synthetic build: the real architecture of a catalog id with seeded random
weights and a locally built tokenizer and processor (see `vt_core.synthetic`).

This module imports neither torch nor transformers, so the parent process can list
and resolve models; synthetic builds import them lazily.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import json
import os
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vt_core import paths

SYNTHETIC_MARKER = "vt_synthetic.json"
"""File written into every synthetic build. Its presence marks the weights as random."""

WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)

OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
BICUBIC = 3  # PIL.Image.Resampling.BICUBIC, as stored in preprocessor configs


class ModelNotFoundError(LookupError):
    """The model reference matches no local directory, Hugging Face cache entry or allowed synthetic build."""


class ModelNotSupportedError(ValueError):
    """The model files exist but their model_type belongs to no known family."""


@dataclass(frozen=True)
class Family:
    name: str
    task: str
    model_type: str
    architecture: str
    default_model: str
    description: str


FAMILIES: dict[str, Family] = {
    "clip": Family(
        name="clip",
        task="zero-shot-image-classification",
        model_type="clip",
        architecture="CLIPModel",
        default_model="openai/clip-vit-base-patch32",
        description="CLIP image and text encoders scored against each other (zero-shot classification)",
    ),
    "blip": Family(
        name="blip",
        task="image-to-text",
        model_type="blip",
        architecture="BlipForConditionalGeneration",
        default_model="Salesforce/blip-image-captioning-base",
        description="BLIP vision encoder with a BERT text decoder (image captioning)",
    ),
}

MODEL_TYPE_FAMILIES: dict[str, str] = {family.model_type: name for name, family in FAMILIES.items()}


@dataclass(frozen=True)
class ModelSpec:
    """A catalog model: its identity, its real architecture config and its processor settings."""

    model_id: str
    family: str
    parameter_count: int
    """Catalog figure: unique parameters of the architecture. Hub pages may count tied weights twice."""
    config: dict[str, Any]
    """The architecture fields of the checkpoint's config.json, as published."""
    processor: dict[str, Any]
    """Image size, normalisation and text length of the checkpoint's processor."""
    description: str = ""

    @property
    def task(self) -> str:
        return FAMILIES[self.family].task

    @property
    def model_type(self) -> str:
        return self.config["model_type"]

    @property
    def architecture(self) -> str:
        return self.config["architectures"][0]


# The architecture fields below are copied from each checkpoint's config.json on the
# Hugging Face Hub. CLIP keeps the legacy text bos/eos/pad ids 0/2/1 of those files:
# with eos_token_id == 2, transformers pools the text at argmax(input_ids), which is
# the <|endoftext|> token (id 49407, the highest id in the vocabulary).

_CLIP_TEXT_B = {
    "model_type": "clip_text_model",
    "vocab_size": 49408,
    "hidden_size": 512,
    "intermediate_size": 2048,
    "num_hidden_layers": 12,
    "num_attention_heads": 8,
    "max_position_embeddings": 77,
    "projection_dim": 512,
    "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-05,
    "attention_dropout": 0.0,
    "dropout": 0.0,
    "initializer_range": 0.02,
    "initializer_factor": 1.0,
    "bos_token_id": 0,
    "eos_token_id": 2,
    "pad_token_id": 1,
}

_CLIP_VISION_B32 = {
    "model_type": "clip_vision_model",
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "num_channels": 3,
    "image_size": 224,
    "patch_size": 32,
    "projection_dim": 512,
    "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-05,
    "attention_dropout": 0.0,
    "dropout": 0.0,
    "initializer_range": 0.02,
    "initializer_factor": 1.0,
}

_CLIP_TEXT_L = {
    "model_type": "clip_text_model",
    "vocab_size": 49408,
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "max_position_embeddings": 77,
    "projection_dim": 768,
    "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-05,
    "attention_dropout": 0.0,
    "dropout": 0.0,
    "initializer_range": 0.02,
    "initializer_factor": 1.0,
    "bos_token_id": 0,
    "eos_token_id": 2,
    "pad_token_id": 1,
}

_CLIP_VISION_L14 = {
    "model_type": "clip_vision_model",
    "hidden_size": 1024,
    "intermediate_size": 4096,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "num_channels": 3,
    "image_size": 224,
    "patch_size": 14,
    "projection_dim": 768,
    "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-05,
    "attention_dropout": 0.0,
    "dropout": 0.0,
    "initializer_range": 0.02,
    "initializer_factor": 1.0,
}

_CLIP_PROCESSOR = {
    "image_size": 224,
    "image_mean": OPENAI_CLIP_MEAN,
    "image_std": OPENAI_CLIP_STD,
    "resample": BICUBIC,
    "text_max_length": 77,
}

# BLIP text decoder: a BERT-base decoder with cross-attention. bos is [DEC] (30522),
# generation stops at [SEP] (102) and pads with [PAD] (0). BlipConfig sets
# text_config.encoder_hidden_size to vision_config.hidden_size on construction.
_BLIP_TEXT = {
    "model_type": "blip_text_model",
    "vocab_size": 30524,
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "max_position_embeddings": 512,
    "projection_dim": 768,
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-12,
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
    "initializer_range": 0.02,
    "initializer_factor": 1.0,
    "bos_token_id": 30522,
    "eos_token_id": 2,
    "pad_token_id": 0,
    "sep_token_id": 102,
    "use_cache": True,
}

_BLIP_VISION_B = {
    "model_type": "blip_vision_model",
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "num_channels": 3,
    "image_size": 384,
    "patch_size": 16,
    "projection_dim": 512,
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-05,
    "attention_dropout": 0.0,
    "dropout": 0.0,
    "initializer_range": 0.02,
    "initializer_factor": 1.0,
}

_BLIP_VISION_L = {
    "model_type": "blip_vision_model",
    "hidden_size": 1024,
    "intermediate_size": 4096,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "num_channels": 3,
    "image_size": 384,
    "patch_size": 16,
    "projection_dim": 512,
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-05,
    "attention_dropout": 0.0,
    "dropout": 0.0,
    "initializer_range": 0.02,
    "initializer_factor": 1.0,
}

_BLIP_PROCESSOR = {
    "image_size": 384,
    "image_mean": OPENAI_CLIP_MEAN,
    "image_std": OPENAI_CLIP_STD,
    "resample": BICUBIC,
    "text_max_length": 512,
}


def _clip_config(text: dict[str, Any], vision: dict[str, Any], projection_dim: int) -> dict[str, Any]:
    return {
        "architectures": ["CLIPModel"],
        "model_type": "clip",
        "projection_dim": projection_dim,
        "logit_scale_init_value": 2.6592,
        "initializer_factor": 1.0,
        "text_config": dict(text),
        "vision_config": dict(vision),
    }


def _blip_config(text: dict[str, Any], vision: dict[str, Any]) -> dict[str, Any]:
    return {
        "architectures": ["BlipForConditionalGeneration"],
        "model_type": "blip",
        "projection_dim": 512,
        "image_text_hidden_size": 256,
        "logit_scale_init_value": 2.6592,
        "initializer_factor": 1.0,
        "text_config": {**text, "encoder_hidden_size": vision["hidden_size"]},
        "vision_config": dict(vision),
    }


# Parameter counts are the unique parameters of each architecture (tied embeddings
# counted once), checked by building each config on torch's meta device. The Hub
# lists BLIP base as 247M and large as 470M because it counts the tied LM head.
MODELS: dict[str, ModelSpec] = {
    spec.model_id: spec
    for spec in (
        ModelSpec(
            model_id="openai/clip-vit-base-patch32",
            family="clip",
            parameter_count=151_277_313,
            config=_clip_config(_CLIP_TEXT_B, _CLIP_VISION_B32, 512),
            processor=_CLIP_PROCESSOR,
            description="CLIP ViT-B/32: 12-layer 768-wide vision transformer on 32x32 patches",
        ),
        ModelSpec(
            model_id="openai/clip-vit-base-patch16",
            family="clip",
            parameter_count=149_620_737,
            config=_clip_config(_CLIP_TEXT_B, {**_CLIP_VISION_B32, "patch_size": 16}, 512),
            processor=_CLIP_PROCESSOR,
            description="CLIP ViT-B/16: the B/32 architecture on 16x16 patches (196 image tokens)",
        ),
        ModelSpec(
            model_id="openai/clip-vit-large-patch14",
            family="clip",
            parameter_count=427_616_513,
            config=_clip_config(_CLIP_TEXT_L, _CLIP_VISION_L14, 768),
            processor=_CLIP_PROCESSOR,
            description="CLIP ViT-L/14: 24-layer 1024-wide vision transformer on 14x14 patches",
        ),
        ModelSpec(
            model_id="Salesforce/blip-image-captioning-base",
            family="blip",
            parameter_count=223_971_644,
            config=_blip_config(_BLIP_TEXT, _BLIP_VISION_B),
            processor=_BLIP_PROCESSOR,
            description="BLIP captioning with a ViT-B/16 encoder at 384x384",
        ),
        ModelSpec(
            model_id="Salesforce/blip-image-captioning-large",
            family="blip",
            parameter_count=446_290_492,
            config=_blip_config(_BLIP_TEXT, _BLIP_VISION_L),
            processor=_BLIP_PROCESSOR,
            description="BLIP captioning with a ViT-L/16 encoder at 384x384",
        ),
    )
}


@dataclass
class ResolvedModel:
    """Where a model reference points and what it is."""

    model_id: str
    """Catalog or Hub id; for a local directory without an id, the directory path."""
    path: Path
    source: str
    """Where the weights come from: `local`, `cache` or `synthetic` (random weights, wherever stored)."""
    family: str
    task: str
    model_type: str
    architecture: str

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["path"] = str(self.path)
        return data


@dataclass
class CatalogEntry:
    """One model as listed to the user, with where its files are available."""

    model_id: str
    family: str | None
    task: str | None
    model_type: str | None
    architecture: str | None
    parameter_count: int | None = None
    parameter_count_note: str | None = None
    """How the count was obtained: `catalog figure` or `counted from safetensors header`."""
    in_catalog: bool = False
    is_default: bool = False
    description: str = ""
    cache_path: str | None = None
    local_path: str | None = None
    synthetic_path: str | None = None
    """Path of a synthetic build already on disk (random weights)."""
    sources: list[str] = field(default_factory=list)
    """Sources available now, in resolution order: local, cache, synthetic."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --- families -------------------------------------------------------------------


def _check_family(family: str) -> Family:
    try:
        return FAMILIES[family]
    except KeyError:
        raise ValueError(f"unknown model family {family!r}; use one of {', '.join(FAMILIES)}") from None


def family_default(family: str) -> str:
    """Return the default model id of `family`; raise ValueError for an unknown family."""
    return _check_family(family).default_model


def models_for_family(family: str) -> list[str]:
    """Return the catalog ids of `family`, default first; raise ValueError for an unknown family."""
    default = _check_family(family).default_model
    others = [spec.model_id for spec in MODELS.values() if spec.family == family and spec.model_id != default]
    return [default, *others]


def family_of(model_id_or_model_type: str) -> str | None:
    """Return the family of a catalog id, family name or transformers model_type, else None."""
    if model_id_or_model_type in MODELS:
        return MODELS[model_id_or_model_type].family
    if model_id_or_model_type in FAMILIES:
        return model_id_or_model_type
    return MODEL_TYPE_FAMILIES.get(model_id_or_model_type)


def task_of_family(family: str) -> str:
    return _check_family(family).task


def get_spec(model_id: str) -> ModelSpec:
    """Return the catalog entry of `model_id`; raise ModelNotFoundError listing the catalog ids."""
    try:
        return MODELS[model_id]
    except KeyError:
        raise ModelNotFoundError(
            f"model {model_id!r} is not in the catalog; catalog models: {', '.join(MODELS)}"
        ) from None


def lookup(model_id: str) -> ModelSpec | None:
    """Return the catalog entry of `model_id`, or None for a model outside the catalog."""
    return MODELS.get(model_id)


def merged_config(model_id: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the catalog config of `model_id` with `overrides` merged in (nested dicts merge key by key)."""
    config = copy.deepcopy(get_spec(model_id).config)
    if overrides:
        _deep_update(config, overrides)
    if get_spec(model_id).family == "blip":
        config["text_config"]["encoder_hidden_size"] = config["vision_config"]["hidden_size"]
    return config


def _deep_update(target: dict[str, Any], updates: dict[str, Any]) -> None:
    for key, value in updates.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_update(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


# --- Hugging Face cache -----------------------------------------------------------


def hf_hub_cache_dir() -> Path:
    """Return the Hugging Face hub cache folder, following HF_HUB_CACHE, HF_HOME and XDG_CACHE_HOME."""
    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        value = os.environ.get(variable)
        if value:
            return Path(value).expanduser()
    hf_home = os.environ.get("HF_HOME")
    if hf_home:
        return Path(hf_home).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "huggingface" / "hub"


def _repo_folder(model_id: str) -> str:
    return "models--" + model_id.replace("/", "--")


def _has_weights(directory: Path) -> bool:
    return any((directory / name).exists() for name in WEIGHT_FILES)


def find_in_hf_cache(model_id: str) -> Path | None:
    """Return the snapshot folder of `model_id` in the Hugging Face cache, or None.

    Prefers the snapshot that refs/main points to, else the newest snapshot. A
    snapshot counts only with a config.json and a weights file (symlinks that
    resolve), so a partial download is not mistaken for a model.
    """
    repo = hf_hub_cache_dir() / _repo_folder(model_id)
    snapshots = repo / "snapshots"
    if not snapshots.is_dir():
        return None
    candidates: list[Path] = []
    ref = repo / "refs" / "main"
    if ref.is_file():
        candidates.append(snapshots / ref.read_text().strip())
    others = sorted((p for p in snapshots.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
    candidates.extend(others)
    for snapshot in candidates:
        if (snapshot / "config.json").is_file() and _has_weights(snapshot):
            return snapshot
    return None


def _scan_hf_cache() -> list[tuple[str, Path]]:
    root = hf_hub_cache_dir()
    if not root.is_dir():
        return []
    found = []
    for repo in sorted(root.glob("models--*")):
        model_id = repo.name[len("models--"):].replace("--", "/")
        snapshot = find_in_hf_cache(model_id)
        if snapshot is not None:
            found.append((model_id, snapshot))
    return found


# --- resolution ---------------------------------------------------------------------


def synthetic_dir_for(model_id: str) -> Path:
    """Return where the synthetic build of catalog id `model_id` lives (built or not)."""
    return paths.synthetic_models_dir() / slug(model_id)


def read_marker(directory: Path) -> dict[str, Any] | None:
    """Return the synthetic-build marker of `directory`, or None for real weights."""
    marker = directory / SYNTHETIC_MARKER
    if not marker.is_file():
        return None
    try:
        return json.loads(marker.read_text())
    except (OSError, json.JSONDecodeError):
        return {"model_id": None, "unreadable": True}


def _read_config(directory: Path) -> dict[str, Any]:
    try:
        return json.loads((directory / "config.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelNotSupportedError(f"cannot read {directory / 'config.json'}: {exc}; check the model files") from exc


def _describe(directory: Path, model_id: str, source: str) -> ResolvedModel:
    config = _read_config(directory)
    model_type = config.get("model_type", "")
    family = MODEL_TYPE_FAMILIES.get(model_type)
    if family is None:
        known = ", ".join(sorted(MODEL_TYPE_FAMILIES))
        raise ModelNotSupportedError(
            f"model_type {model_type!r} in {directory / 'config.json'} is not supported; vt-tui runs model types {known}"
        )
    architectures = config.get("architectures") or [FAMILIES[family].architecture]
    return ResolvedModel(
        model_id=model_id,
        path=directory,
        source=source,
        family=family,
        task=FAMILIES[family].task,
        model_type=model_type,
        architecture=architectures[0],
    )


def _not_found_message(ref: str) -> str:
    cache = hf_hub_cache_dir()
    lines = [
        f"model {ref!r} was not found: it is not a local directory and not in the Hugging Face cache at {cache}.",
        "Provide it in one of three ways:",
        "  1. pass a local directory that contains config.json and the weights;",
        f"  2. on a machine with network access run `huggingface-cli download {ref}` and copy the cache"
        " (or set HF_HUB_CACHE / HF_HOME to it);",
    ]
    if ref in MODELS:
        lines.append("  3. pass `--weights synthetic` to run its real architecture with random weights.")
    else:
        lines.append(f"  3. `--weights synthetic` builds random weights for catalog models only: {', '.join(MODELS)}.")
    return "\n".join(lines)


def resolve(ref: str, weights: str = "auto") -> ResolvedModel:
    """Resolve a model reference to its files.

    Order: a local directory with config.json, then the Hugging Face cache
    (offline), then, only with `weights="synthetic"`, a synthetic build of a catalog
    id (built on first use under `paths.synthetic_models_dir()`, reused after).
    A directory that carries the synthetic marker resolves with source `synthetic`
    wherever it lives, so random weights are never reported as real.

    Raises ModelNotFoundError naming the ways to provide the model, and
    ModelNotSupportedError for files of another model type.
    """
    if weights not in ("auto", "synthetic"):
        raise ValueError(f"weights {weights!r} is invalid; use auto or synthetic")
    ref = ref.strip()
    if not ref:
        raise ModelNotFoundError("the model reference is empty; pass a catalog id, a Hub id or a local directory")

    local = Path(ref).expanduser()
    if local.is_dir():
        local = local.resolve()
        if not (local / "config.json").is_file():
            raise ModelNotFoundError(
                f"directory {local} has no config.json; pass a directory written by save_pretrained "
                "(config.json plus weights) or a model id"
            )
        marker = read_marker(local)
        if marker is not None:
            return _describe(local, marker.get("model_id") or str(local), "synthetic")
        return _describe(local, str(local), "local")
    if local.exists():
        raise ModelNotFoundError(f"{local} is a file, not a model directory; pass the directory that holds config.json")

    snapshot = find_in_hf_cache(ref)
    if snapshot is not None:
        return _describe(snapshot, ref, "cache")

    if weights == "synthetic":
        if ref not in MODELS:
            raise ModelNotFoundError(_not_found_message(ref))
        from vt_core import synthetic

        directory = synthetic.ensure_built(ref)
        return _describe(directory, ref, "synthetic")

    raise ModelNotFoundError(_not_found_message(ref))


def build_synthetic(
    model_id: str,
    target_dir: str | os.PathLike[str] | None = None,
    config_overrides: dict[str, Any] | None = None,
    *,
    label: str | None = None,
    seed: int = 0,
) -> Path:
    """Build (or reuse) a synthetic model of catalog id `model_id` and return its directory.

    `config_overrides` shrinks or changes the architecture (tests build tiny
    variants this way); `label` is the model id recorded in the marker and reported
    in results, which defaults to `model_id` and should differ when overrides are
    given. Imports torch and transformers.
    """
    from vt_core import synthetic

    return synthetic.build(model_id, target_dir, config_overrides, label=label, seed=seed)


# --- fingerprints and parameter counts ---------------------------------------------------


_FINGERPRINT_CHUNK = 1 << 20


@functools.lru_cache(maxsize=64)
def _fingerprint_cached(directory: str, stat_key: tuple[tuple[str, int, int], ...]) -> str:
    digest = hashlib.sha256()
    for name, size, _mtime in stat_key:
        digest.update(f"{name}\0{size}\0".encode())
        with open(os.path.join(directory, name), "rb") as handle:
            digest.update(handle.read(_FINGERPRINT_CHUNK))
            if size > 2 * _FINGERPRINT_CHUNK:
                handle.seek(size - _FINGERPRINT_CHUNK)
                digest.update(handle.read(_FINGERPRINT_CHUNK))
    return digest.hexdigest()[:16]


def files_fingerprint(directory: str | os.PathLike[str]) -> str:
    """Return a short digest of a model directory: each file's name, size, first and last MiB.

    Reading the ends of each file instead of all of it keeps this under a second
    for multi-GB checkpoints while still changing when the weights change.
    """
    root = Path(directory).resolve()
    entries = []
    for file in sorted(root.rglob("*")):
        if file.is_file() and not file.name.startswith("."):
            stat = file.stat()
            entries.append((str(file.relative_to(root)), stat.st_size, stat.st_mtime_ns))
    return _fingerprint_cached(str(root), tuple(entries))


def count_safetensors_parameters(directory: str | os.PathLike[str]) -> int | None:
    """Return the parameter count stored in a directory's safetensors headers, or None without them.

    Reads only the JSON header of each file (no tensors, no torch import).
    """
    root = Path(directory)
    files = sorted(root.glob("*.safetensors"))
    if not files:
        return None
    total = 0
    for file in files:
        try:
            with open(file, "rb") as handle:
                (header_len,) = struct.unpack("<Q", handle.read(8))
                header = json.loads(handle.read(header_len))
        except (OSError, struct.error, json.JSONDecodeError, UnicodeDecodeError):
            return None
        for name, info in header.items():
            if name == "__metadata__":
                continue
            count = 1
            for dim in info.get("shape", []):
                count *= dim
            total += count
    return total


# --- listing ---------------------------------------------------------------------------


def _entry_from_directory(directory: Path, model_id: str, source: str) -> CatalogEntry | None:
    try:
        resolved = _describe(directory, model_id, source)
    except ModelNotSupportedError:
        return None
    return CatalogEntry(
        model_id=resolved.model_id,
        family=resolved.family,
        task=resolved.task,
        model_type=resolved.model_type,
        architecture=resolved.architecture,
        parameter_count=count_safetensors_parameters(directory),
        parameter_count_note="counted from safetensors header",
    )


def _local_model_dirs(folder: Path) -> list[Path]:
    if (folder / "config.json").is_file():
        return [folder]
    if not folder.is_dir():
        return []
    return sorted(child for child in folder.iterdir() if (child / "config.json").is_file())


def list_models(extra_dirs: tuple[str | os.PathLike[str], ...] | list[str] | None = ()) -> list[CatalogEntry]:
    """List catalog models, CLIP/BLIP models in the Hugging Face cache and in `extra_dirs`.

    Each folder of `extra_dirs` is a model directory itself or holds model
    directories one level down. Catalog models come first in catalog order; each
    entry lists the sources available now. Imports no torch.
    """
    entries: dict[str, CatalogEntry] = {}
    for spec in MODELS.values():
        entry = CatalogEntry(
            model_id=spec.model_id,
            family=spec.family,
            task=spec.task,
            model_type=spec.model_type,
            architecture=spec.architecture,
            parameter_count=spec.parameter_count,
            parameter_count_note="catalog figure",
            in_catalog=True,
            is_default=FAMILIES[spec.family].default_model == spec.model_id,
            description=spec.description,
        )
        synthetic_path = synthetic_dir_for(spec.model_id)
        if (synthetic_path / SYNTHETIC_MARKER).is_file():
            entry.synthetic_path = str(synthetic_path)
        entries[spec.model_id] = entry

    for model_id, snapshot in _scan_hf_cache():
        entry = entries.get(model_id)
        if entry is None:
            entry = _entry_from_directory(snapshot, model_id, "cache")
            if entry is None:
                continue
            entries[model_id] = entry
        entry.cache_path = str(snapshot)

    for folder in extra_dirs or ():
        for directory in _local_model_dirs(Path(folder).expanduser().resolve()):
            marker = read_marker(directory)
            model_id = (marker or {}).get("model_id") or str(directory)
            entry = entries.get(model_id)
            if entry is None:
                entry = _entry_from_directory(directory, model_id, "synthetic" if marker else "local")
                if entry is None:
                    continue
                entries[model_id] = entry
            if marker:
                entry.synthetic_path = str(directory)
            else:
                entry.local_path = str(directory)

    for entry in entries.values():
        entry.sources = [
            name
            for name, value in (("local", entry.local_path), ("cache", entry.cache_path), ("synthetic", entry.synthetic_path))
            if value
        ]
    return list(entries.values())


_SLUG_RE = re.compile(r"[^A-Za-z0-9._-]+")


def slug(model_id: str) -> str:
    """Return `model_id` as a file-name-safe string (`org/name` -> `org--name`)."""
    return _SLUG_RE.sub("-", model_id.replace("/", "--")).strip("-") or "model"
