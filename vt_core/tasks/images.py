"""Deterministic test images: simple shapes and gradients drawn with numpy.

The images are generated, not downloaded, so every machine measures the same
inputs. Colours depend on the seed; the pattern of image i is
PATTERNS[i % len(PATTERNS)] whatever the seed.
"""

from __future__ import annotations

import numpy as np

IMAGE_SIZE = 224
"""Side of the generated images in pixels; each model's processor resizes them."""

PATTERNS = (
    "horizontal gradient",
    "filled circle",
    "checkerboard",
    "vertical stripes",
    "filled square",
    "diagonal gradient",
    "concentric rings",
    "uniform noise",
)


def image_names(count: int) -> list[str]:
    """Return the pattern names of the first `count` generated images."""
    return [PATTERNS[index % len(PATTERNS)] for index in range(count)]


def _draw(pattern: str, rng: np.random.Generator, size: int) -> np.ndarray:
    first, second = rng.integers(0, 256, size=(2, 3)).astype(np.float32)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
    if pattern == "horizontal gradient":
        weight = x
    elif pattern == "diagonal gradient":
        weight = (x + y) / 2
    elif pattern == "filled circle":
        weight = (((x - 0.5) ** 2 + (y - 0.5) ** 2) < 0.09).astype(np.float32)
    elif pattern == "filled square":
        weight = ((np.abs(x - 0.5) < 0.25) & (np.abs(y - 0.5) < 0.25)).astype(np.float32)
    elif pattern == "checkerboard":
        weight = ((np.floor(x * 8) + np.floor(y * 8)) % 2).astype(np.float32)
    elif pattern == "vertical stripes":
        weight = (np.floor(x * 12) % 2).astype(np.float32)
    elif pattern == "concentric rings":
        weight = (np.floor(np.sqrt((x - 0.5) ** 2 + (y - 0.5) ** 2) * 16) % 2).astype(np.float32)
    elif pattern == "uniform noise":
        weight = rng.random((size, size), dtype=np.float32)
    else:
        raise ValueError(f"unknown image pattern {pattern!r}; known patterns: {', '.join(PATTERNS)}")
    pixels = first + weight[..., None] * (second - first)
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def generate_images(count: int, seed: int = 0, size: int = IMAGE_SIZE) -> list[np.ndarray]:
    """Return `count` RGB images (uint8, height x width x 3), the same for the same arguments."""
    if count < 1:
        raise ValueError(f"image count must be at least 1, got {count}")
    images = []
    for index, pattern in enumerate(image_names(count)):
        rng = np.random.default_rng([seed, index])
        images.append(_draw(pattern, rng, size))
    return images
