"""PyTorch runner for the cpu, cuda, rocm and mps platforms, always in float32.

ROCm builds of torch expose HIP devices through the `torch.cuda` API, so cuda and
rocm share the device code and differ only in detection.

NOTE: the cuda, rocm and mps code paths have only run through detection here
(reported unavailable); they have not measured a model on a real device yet.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vt_core import platforms
from vt_core.catalog import ResolvedModel
from vt_core.records import JobSpec
from vt_core.runners.base import Reporter, Runner
from vt_core.tasks.base import Task, numpy_outputs, torch_inputs

MIB = float(1 << 20)


class TorchRunner(Runner):
    has_convert_step = False

    def __init__(self, platform: str):
        super().__init__(platform)
        self.model: Any = None
        self.task: Task | None = None
        self.settings = None

    def unavailable_reason(self, spec: JobSpec) -> str | None:
        info = platforms.detect_platform(self.platform)
        if not info["available"]:
            return info["reason"]
        device = self._device_name(spec)
        if self.platform in ("cuda", "rocm"):
            import torch

            index = int(device.split(":", 1)[1]) if ":" in device else 0
            count = torch.cuda.device_count()
            if index >= count:
                return f"device {device!r} not found: {count} {self.platform} device(s) visible (cuda:0 to cuda:{count - 1})"
        return None

    def _device_name(self, spec: JobSpec) -> str:
        if self.platform == "cpu":
            return "cpu"
        if self.platform == "mps":
            return "mps"
        device = spec.device or "cuda:0"
        if device.isdigit():
            device = f"cuda:{device}"
        if not device.startswith("cuda"):
            raise ValueError(f"device {device!r} is invalid for {self.platform}; use cuda:N (ROCm devices use the cuda API)")
        return device

    def load(self, model: ResolvedModel, task: Task, spec: JobSpec, reporter: Reporter) -> None:
        import torch

        self.device = self._device_name(spec)
        self.task = task
        self.settings = spec.settings
        if self.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats(self.device)
            self.extra["device_name"] = torch.cuda.get_device_name(self.device)
        self.model = task.load_torch_model(model.path, self.device)
        self.parameter_count = sum(parameter.numel() for parameter in self.model.parameters())
        self.extra["torch_threads"] = torch.get_num_threads()
        if spec.settings.precision != "f32":
            self.extra["precision_note"] = f"requested {spec.settings.precision}; torch platforms run f32"

    def place_inputs(self, inputs: dict[str, np.ndarray]) -> Any:
        return torch_inputs(inputs, self.device or "cpu")

    def infer(self, inputs: Any) -> Any:
        return self.task.run_torch(self.model, inputs, self.settings)

    def outputs_to_numpy(self, outputs: Any) -> dict[str, np.ndarray]:
        return numpy_outputs(outputs)

    def synchronize(self) -> None:
        import torch

        if self.device and self.device.startswith("cuda"):
            torch.cuda.synchronize(self.device)
        elif self.device == "mps":
            torch.mps.synchronize()

    def memory_stats(self) -> dict[str, float]:
        import torch

        if self.device and self.device.startswith("cuda"):
            return {
                "torch_max_allocated_mb": torch.cuda.max_memory_allocated(self.device) / MIB,
                "torch_reserved_mb": torch.cuda.max_memory_reserved(self.device) / MIB,
            }
        # NOTE: MPS has no peak-memory counter in torch, so mps jobs report host RSS only.
        return {}

    def close(self) -> None:
        self.model = None
