"""Tiny synthetic CLIP and BLIP models for tests.

Each tiny model keeps its family's real layer types, tokenizer layout and text
length (CLIP pads to 77) but shrinks widths, depths, vocabularies and images, so
a build takes about a second and a forward pass milliseconds. Tests pass the
built directory as a local model reference.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vt_core import catalog

TINY_CLIP_ID = "vt-tiny/clip"
TINY_BLIP_ID = "vt-tiny/blip"

TINY_CLIP_OVERRIDES = {
    "projection_dim": 16,
    "text_config": {
        "vocab_size": 1024,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "projection_dim": 16,
    },
    "vision_config": {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "image_size": 32,
        "patch_size": 8,
        "projection_dim": 16,
    },
}

# bos ([DEC]) is the second-to-last id of the vocabulary, as 30522 is at full size.
TINY_BLIP_OVERRIDES = {
    "projection_dim": 16,
    "image_text_hidden_size": 16,
    "text_config": {
        "vocab_size": 1024,
        "bos_token_id": 1022,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "max_position_embeddings": 64,
        "projection_dim": 16,
    },
    "vision_config": {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "image_size": 32,
        "patch_size": 8,
        "projection_dim": 16,
    },
}


def build_tiny_clip(target_dir: Path) -> Path:
    """Build the tiny CLIP into `target_dir` (or reuse it) and return the directory."""
    return catalog.build_synthetic(
        "openai/clip-vit-base-patch32", target_dir, TINY_CLIP_OVERRIDES, label=TINY_CLIP_ID
    )


def build_tiny_blip(target_dir: Path) -> Path:
    """Build the tiny BLIP into `target_dir` (or reuse it) and return the directory."""
    return catalog.build_synthetic(
        "Salesforce/blip-image-captioning-base", target_dir, TINY_BLIP_OVERRIDES, label=TINY_BLIP_ID
    )


@pytest.fixture(scope="session")
def tiny_clip_dir(vt_home: Path) -> Path:
    """Return the session's tiny CLIP directory (built on first use under VT_HOME)."""
    return build_tiny_clip(vt_home / "tiny-models" / "clip")


@pytest.fixture(scope="session")
def tiny_blip_dir(vt_home: Path) -> Path:
    """Return the session's tiny BLIP directory (built on first use under VT_HOME)."""
    return build_tiny_blip(vt_home / "tiny-models" / "blip")
