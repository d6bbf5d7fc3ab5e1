"""The interface every task implements, and the error raised when a model fails to load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vt_core.records import Settings


class ModelLoadError(RuntimeError):
    """The model files exist but transformers could not load them."""


class Task:
    """A workload: how to build its inputs, run it in PyTorch, compare and summarise outputs.

    Inputs and outputs are dicts of numpy arrays, so every runner (torch,
    OpenVINO, browser) exchanges the same data and the reference can be stored as
    an .npz file.
    """

    name: str = ""
    family: str = ""
    architecture: str = ""
    """The transformers class the task loads (`CLIPModel`, `BlipForConditionalGeneration`)."""

    def load_processor(self, path: str | Path) -> Any:
        """Return the model's processor (image processor plus tokenizer) from its directory."""
        from transformers import AutoProcessor

        try:
            return AutoProcessor.from_pretrained(str(path))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelLoadError(f"loading the processor from {path} failed: {exc}") from exc

    def make_inputs(self, processor: Any, settings: Settings) -> dict[str, np.ndarray]:
        """Return the model inputs for `settings` (batch_size images), the same on every machine."""
        raise NotImplementedError

    summary_uses_tokenizer: bool = True
    """True when `output_summary` decodes with the tokenizer. When False, a job with cached inputs loads no processor."""

    def input_settings(self, settings: Settings) -> dict[str, Any]:
        """Return the settings that `make_inputs` reads (part of the inputs cache key)."""
        return {"batch_size": settings.batch_size, "seed": settings.seed}

    def output_settings(self, settings: Settings) -> dict[str, Any]:
        """Return the settings that change the output for the same inputs (part of the reference key)."""
        return {}

    def load_torch_model(self, path: str | Path, device: str = "cpu") -> Any:
        """Return the float32 PyTorch model from `path` in eval mode on `device`."""
        import torch
        import transformers

        model_class = getattr(transformers, self.architecture)
        try:
            model = model_class.from_pretrained(str(path), dtype=torch.float32)
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            if "out of memory" in str(exc).lower():
                raise
            raise ModelLoadError(f"loading {self.architecture} from {path} failed: {exc}") from exc
        model.eval()
        return model.to(device)

    def run_torch(self, model: Any, inputs: dict[str, Any], settings: Settings) -> dict[str, Any]:
        """Run `model` on torch tensors and return the output tensors (under torch.inference_mode)."""
        raise NotImplementedError

    def compare(self, reference: dict[str, np.ndarray], output: dict[str, np.ndarray], precision: str) -> dict[str, Any]:
        """Compare an output with the PyTorch CPU reference; the dict has `ok` and the figures behind it."""
        raise NotImplementedError

    def output_summary(self, output: dict[str, np.ndarray], tokenizer: Any) -> dict[str, Any]:
        """Return a readable digest of an output (top labels, captions)."""
        raise NotImplementedError


def torch_inputs(inputs: dict[str, np.ndarray], device: str = "cpu") -> dict[str, Any]:
    """Return `inputs` as torch tensors on `device`."""
    import torch

    return {name: torch.from_numpy(np.ascontiguousarray(array)).to(device) for name, array in inputs.items()}


def numpy_outputs(outputs: dict[str, Any]) -> dict[str, np.ndarray]:
    """Return torch output tensors as numpy arrays on the host."""
    return {name: tensor.detach().to("cpu").numpy() for name, tensor in outputs.items()}
