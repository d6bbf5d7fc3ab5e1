"""Catalog: real architectures, resolution order, synthetic builds and listing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from models import TINY_CLIP_ID, TINY_CLIP_OVERRIDES, tiny_blip_dir, tiny_clip_dir  # noqa: F401
from vt_core import catalog, synthetic
from vt_core.catalog import ModelNotFoundError, ModelNotSupportedError

CLIP_B32 = "openai/clip-vit-base-patch32"
BLIP_BASE = "Salesforce/blip-image-captioning-base"


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HF_HUB_CACHE at an empty folder for one test."""
    cache = tmp_path / "hf-hub"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    return cache


def write_cache_snapshot(cache: Path, model_id: str, source: Path, *, weights: bool = True) -> Path:
    """Lay out `source` as a Hugging Face cache snapshot of `model_id`, like huggingface_hub does."""
    repo = cache / ("models--" + model_id.replace("/", "--"))
    snapshot = repo / "snapshots" / "0123456789abcdef"
    blobs = repo / "blobs"
    snapshot.mkdir(parents=True)
    blobs.mkdir()
    for file in source.iterdir():
        if file.name == catalog.SYNTHETIC_MARKER or (not weights and file.suffix == ".safetensors"):
            continue
        blob = blobs / file.name
        shutil.copy(file, blob)
        (snapshot / file.name).symlink_to(blob)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123456789abcdef")
    return snapshot


# --- real configurations ------------------------------------------------------------


def test_clip_base_patch32_config_is_real():
    config = catalog.get_spec(CLIP_B32).config
    text, vision = config["text_config"], config["vision_config"]
    assert config["projection_dim"] == 512
    assert config["logit_scale_init_value"] == 2.6592
    assert text["vocab_size"] == 49408
    assert text["hidden_size"] == 512
    assert text["num_hidden_layers"] == 12
    assert text["num_attention_heads"] == 8
    assert text["max_position_embeddings"] == 77
    assert text["hidden_act"] == "quick_gelu"
    assert vision["hidden_size"] == 768
    assert vision["intermediate_size"] == 3072
    assert vision["patch_size"] == 32
    assert vision["image_size"] == 224


def test_clip_large_patch14_config_is_real():
    config = catalog.get_spec("openai/clip-vit-large-patch14").config
    assert config["projection_dim"] == 768
    assert config["text_config"]["hidden_size"] == 768
    assert config["text_config"]["num_attention_heads"] == 12
    assert config["vision_config"]["hidden_size"] == 1024
    assert config["vision_config"]["num_hidden_layers"] == 24
    assert config["vision_config"]["num_attention_heads"] == 16
    assert config["vision_config"]["patch_size"] == 14


def test_blip_configs_are_real():
    base = catalog.get_spec(BLIP_BASE).config
    large = catalog.get_spec("Salesforce/blip-image-captioning-large").config
    assert base["architectures"] == ["BlipForConditionalGeneration"]
    assert base["text_config"]["vocab_size"] == 30524
    assert base["text_config"]["bos_token_id"] == 30522
    assert base["text_config"]["sep_token_id"] == 102
    assert base["text_config"]["max_position_embeddings"] == 512
    assert base["vision_config"]["image_size"] == 384
    assert base["vision_config"]["patch_size"] == 16
    assert base["text_config"]["encoder_hidden_size"] == 768
    assert large["vision_config"]["hidden_size"] == 1024
    assert large["vision_config"]["num_hidden_layers"] == 24
    assert large["text_config"]["encoder_hidden_size"] == 1024


@pytest.mark.parametrize("model_id", list(catalog.MODELS))
def test_parameter_count_matches_architecture(model_id: str):
    torch = pytest.importorskip("torch")
    spec = catalog.get_spec(model_id)
    with torch.device("meta"):
        model = synthetic.build_model(spec.family, catalog.merged_config(model_id), seed=0)
    assert sum(parameter.numel() for parameter in model.parameters()) == spec.parameter_count


def test_clip_tokenizer_pads_to_77_for_real_config():
    spec = catalog.get_spec(CLIP_B32)
    processor = synthetic.build_processor("clip", catalog.merged_config(CLIP_B32), spec.processor)
    tokenizer = processor.tokenizer
    encoded = tokenizer(["a photo of a cat", "a diagram"], padding="max_length", max_length=tokenizer.model_max_length)
    assert tokenizer.model_max_length == 77
    assert len(tokenizer) == 49408
    assert tokenizer.bos_token_id == 49406
    assert tokenizer.eos_token_id == 49407
    assert tokenizer.pad_token_id == 49407
    assert [len(ids) for ids in encoded["input_ids"]] == [77, 77]
    assert encoded["input_ids"][0][0] == 49406


def test_blip_tokenizer_matches_real_special_ids():
    spec = catalog.get_spec(BLIP_BASE)
    processor = synthetic.build_processor("blip", catalog.merged_config(BLIP_BASE), spec.processor)
    tokenizer = processor.tokenizer
    assert len(tokenizer) == 30524
    assert tokenizer.bos_token_id == 30522
    assert tokenizer.convert_tokens_to_ids("[ENC]") == 30523
    assert tokenizer.sep_token_id == 102
    assert tokenizer.pad_token_id == 0
    assert processor.image_processor.size == {"height": 384, "width": 384}


# --- families ----------------------------------------------------------------------------


def test_family_defaults_and_members():
    assert catalog.family_default("clip") == CLIP_B32
    assert catalog.family_default("blip") == BLIP_BASE
    assert catalog.models_for_family("clip")[0] == CLIP_B32
    assert set(catalog.models_for_family("blip")) == {BLIP_BASE, "Salesforce/blip-image-captioning-large"}


def test_family_of_id_type_and_unknown():
    assert catalog.family_of(CLIP_B32) == "clip"
    assert catalog.family_of("blip") == "blip"
    assert catalog.family_of("bert") is None


def test_unknown_family_lists_known():
    with pytest.raises(ValueError, match="clip, blip"):
        catalog.family_default("llama")


# --- resolution -----------------------------------------------------------------------------


def test_unknown_model_not_found(hf_cache: Path):
    with pytest.raises(ModelNotFoundError) as error:
        catalog.resolve("nobody/no-such-model")
    message = str(error.value)
    assert "nobody/no-such-model" in message
    assert "local directory" in message
    assert "huggingface-cli download" in message
    assert "synthetic" in message


def test_catalog_id_needs_weights_synthetic(hf_cache: Path):
    with pytest.raises(ModelNotFoundError, match="--weights synthetic"):
        catalog.resolve(CLIP_B32)


def test_synthetic_only_for_catalog_ids(hf_cache: Path):
    with pytest.raises(ModelNotFoundError, match="catalog models only"):
        catalog.resolve("nobody/no-such-model", weights="synthetic")


def test_invalid_weights_value():
    with pytest.raises(ValueError, match="weights 'real' is invalid"):
        catalog.resolve(CLIP_B32, weights="real")


def test_local_synthetic_dir_reports_synthetic(tiny_clip_dir: Path):
    resolved = catalog.resolve(str(tiny_clip_dir))
    assert resolved.source == "synthetic"
    assert resolved.model_id == TINY_CLIP_ID
    assert resolved.family == "clip"
    assert resolved.task == "zero-shot-image-classification"
    assert resolved.architecture == "CLIPModel"


def test_local_dir_without_marker_is_local(tiny_clip_dir: Path, tmp_path: Path):
    copy = tmp_path / "my-clip"
    shutil.copytree(tiny_clip_dir, copy)
    (copy / catalog.SYNTHETIC_MARKER).unlink()
    resolved = catalog.resolve(str(copy))
    assert resolved.source == "local"
    assert resolved.model_id == str(copy.resolve())


def test_dir_without_config_not_found(tmp_path: Path):
    with pytest.raises(ModelNotFoundError, match="has no config.json"):
        catalog.resolve(str(tmp_path))


def test_other_model_type_not_supported(tmp_path: Path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ModelNotSupportedError, match="'bert'"):
        catalog.resolve(str(tmp_path))


def test_hf_cache_snapshot_resolves(hf_cache: Path, tiny_clip_dir: Path):
    snapshot = write_cache_snapshot(hf_cache, "someone/tiny-clip", tiny_clip_dir)
    resolved = catalog.resolve("someone/tiny-clip")
    assert resolved.source == "cache"
    assert resolved.path == snapshot
    assert resolved.model_id == "someone/tiny-clip"


def test_hf_cache_follows_hf_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_clip_dir: Path):
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    write_cache_snapshot(tmp_path / "hf-home" / "hub", "someone/tiny-clip", tiny_clip_dir)
    assert catalog.resolve("someone/tiny-clip").source == "cache"


def test_hf_cache_partial_download_ignored(hf_cache: Path, tiny_clip_dir: Path):
    write_cache_snapshot(hf_cache, "someone/partial", tiny_clip_dir, weights=False)
    with pytest.raises(ModelNotFoundError):
        catalog.resolve("someone/partial")


def test_resolve_synthetic_builds_once(monkeypatch: pytest.MonkeyPatch, hf_cache: Path):
    # A tiny variant registered as a catalog entry, so resolve() takes its synthetic path end to end.
    tiny_id = "vt-test/tiny-clip-catalog"
    spec = catalog.get_spec(CLIP_B32)
    tiny_config = catalog.merged_config(CLIP_B32, TINY_CLIP_OVERRIDES)
    monkeypatch.setitem(
        catalog.MODELS, tiny_id,
        catalog.ModelSpec(model_id=tiny_id, family="clip", parameter_count=0, config=tiny_config, processor=spec.processor),
    )
    with pytest.raises(ModelNotFoundError):
        catalog.resolve(tiny_id)
    first = catalog.resolve(tiny_id, weights="synthetic")
    assert first.source == "synthetic"
    assert first.path == catalog.synthetic_dir_for(tiny_id)
    assert catalog.read_marker(first.path)["model_id"] == tiny_id
    built_at = (first.path / "model.safetensors").stat().st_mtime_ns
    second = catalog.resolve(tiny_id, weights="synthetic")
    assert second.path == first.path
    assert (second.path / "model.safetensors").stat().st_mtime_ns == built_at
    assert not [p for p in first.path.parent.iterdir() if ".building-" in p.name]


def test_build_into_foreign_dir_rejected(tmp_path: Path):
    (tmp_path / "occupied").mkdir()
    with pytest.raises(FileExistsError, match="occupied"):
        catalog.build_synthetic(CLIP_B32, tmp_path / "occupied", TINY_CLIP_OVERRIDES, label="x")


def test_synthetic_build_is_deterministic(tmp_path: Path, tiny_clip_dir: Path):
    again = catalog.build_synthetic(CLIP_B32, tmp_path / "again", TINY_CLIP_OVERRIDES, label=TINY_CLIP_ID)
    assert (again / "model.safetensors").read_bytes() == (tiny_clip_dir / "model.safetensors").read_bytes()


# --- listing and fingerprints ----------------------------------------------------------------


def test_list_models_catalog_first(hf_cache: Path):
    entries = catalog.list_models()
    assert [entry.model_id for entry in entries[: len(catalog.MODELS)]] == list(catalog.MODELS)
    first = entries[0]
    assert first.is_default
    assert first.parameter_count == 151_277_313
    assert first.parameter_count_note == "catalog figure"


def test_list_models_finds_local_and_cache(hf_cache: Path, tiny_clip_dir: Path, tiny_blip_dir: Path, tmp_path: Path):
    write_cache_snapshot(hf_cache, "someone/tiny-clip", tiny_clip_dir)
    plain = tmp_path / "models" / "plain-blip"
    shutil.copytree(tiny_blip_dir, plain)
    (plain / catalog.SYNTHETIC_MARKER).unlink()
    entries = {entry.model_id: entry for entry in catalog.list_models(extra_dirs=[tiny_clip_dir, tmp_path / "models"])}
    cached = entries["someone/tiny-clip"]
    assert cached.sources == ["cache"]
    assert cached.family == "clip"
    assert cached.parameter_count == catalog.read_marker(tiny_clip_dir)["parameter_count"]
    assert entries[TINY_CLIP_ID].sources == ["synthetic"]
    local = entries[str(plain.resolve())]
    assert local.sources == ["local"]
    assert local.family == "blip"


def test_list_models_imports_no_torch():
    code = "import sys; from vt_core import catalog; catalog.list_models(); assert 'torch' not in sys.modules, 'torch'"
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ))
    assert completed.returncode == 0, completed.stderr


def test_fingerprint_changes_with_files(tiny_clip_dir: Path, tmp_path: Path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_clip_dir, copy)
    before = catalog.files_fingerprint(copy)
    assert before == catalog.files_fingerprint(tiny_clip_dir)
    config = json.loads((copy / "config.json").read_text())
    config["projection_dim"] = 17
    (copy / "config.json").write_text(json.dumps(config))
    assert catalog.files_fingerprint(copy) != before
