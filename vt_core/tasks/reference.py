"""Task inputs and reference outputs, both cached on disk.

Every platform's output is compared with the reference: the PyTorch CPU result
of the model on the task inputs. The reference key contains everything that
changes the reference: model id, a fingerprint of the model files, task, a
digest of the inputs, the settings that change the output, and the torch and
transformers versions that computed it. The inputs key contains model id, files
fingerprint, task, the settings that shape the inputs, the transformers
version, and a digest of the source that builds the inputs. Each entry is an
.npz of arrays plus a .json with its key, both written atomically.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vt_core import catalog, paths
from vt_core.catalog import ResolvedModel
from vt_core.records import Settings
from vt_core.tasks.base import Task, numpy_outputs, torch_inputs


def inputs_digest(inputs: dict[str, np.ndarray]) -> str:
    """Return a sha256 digest of the input arrays (names, dtypes, shapes and bytes)."""
    digest = hashlib.sha256()
    for name in sorted(inputs):
        array = np.ascontiguousarray(inputs[name])
        digest.update(f"{name}\0{array.dtype.str}\0{array.shape}\0".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def reference_key(model: ResolvedModel, task: Task, inputs: dict[str, np.ndarray], settings: Settings) -> dict[str, Any]:
    """Return the cache key of the reference output of `model` on `inputs`."""
    return {
        "model_id": model.model_id,
        "files": catalog.files_fingerprint(model.path),
        "task": task.name,
        "inputs": inputs_digest(inputs),
        "settings": task.output_settings(settings),
        "torch": _version("torch"),
        "transformers": _version("transformers"),
    }


def _cache_path(folder: Path, key: dict[str, Any]) -> Path:
    name = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]
    return folder / f"{catalog.slug(key['model_id'])}-{name}.npz"


def reference_path(key: dict[str, Any]) -> Path:
    return _cache_path(paths.references_dir(), key)


def _load_arrays(path: Path) -> dict[str, np.ndarray] | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (OSError, ValueError):
        return None


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _save_arrays(path: Path, key: dict[str, Any], arrays: dict[str, np.ndarray]) -> Path:
    _atomic_write(path.with_suffix(".json"), lambda stream: stream.write(json.dumps(key, indent=2).encode()))
    _atomic_write(path, lambda stream: np.savez(stream, **arrays))
    return path


def load_reference(key: dict[str, Any]) -> dict[str, np.ndarray] | None:
    """Return the cached reference for `key`, or None when it is missing or unreadable."""
    return _load_arrays(reference_path(key))


def save_reference(key: dict[str, Any], outputs: dict[str, np.ndarray]) -> Path:
    """Store `outputs` as the reference for `key` and return the .npz path."""
    return _save_arrays(reference_path(key), key, outputs)


def _source_digest(task: Task) -> str:
    """Return a digest of the modules that build the task's inputs, so a code change invalidates the cache.

    NOTE: only the task's own module and `images` are read; a change elsewhere
    that shapes the inputs (a tokenizer helper, `base`) keeps stale cache entries.
    """
    from vt_core.tasks import images

    digest = hashlib.sha256()
    for module in (inspect.getmodule(type(task)), images):
        path = inspect.getsourcefile(module) if module is not None else None
        if path:
            digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:16]


def inputs_key(model: ResolvedModel, task: Task, settings: Settings) -> dict[str, Any]:
    """Return the cache key of the task inputs that `model`'s processor builds for `settings`."""
    return {
        "model_id": model.model_id,
        "files": catalog.files_fingerprint(model.path),
        "task": task.name,
        "settings": task.input_settings(settings),
        "transformers": _version("transformers"),
        "source": _source_digest(task),
    }


def get_inputs(
    model: ResolvedModel, task: Task, settings: Settings, make: Callable[[], dict[str, np.ndarray]]
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Return the task inputs and facts about them (cache hit, path), calling `make` when they are not cached.

    Loading a processor parses its tokenizer files (0.3 to 0.5 s for CLIP on two
    cores), so a warm job reads the arrays that an earlier job built instead.
    """
    key = inputs_key(model, task, settings)
    path = _cache_path(paths.inputs_dir(), key)
    cached = _load_arrays(path)
    if cached is not None:
        return cached, {"cache_hit": True, "path": str(path)}
    inputs = make()
    _save_arrays(path, key, inputs)
    return inputs, {"cache_hit": False, "path": str(path)}


def compute_reference(model: ResolvedModel, task: Task, inputs: dict[str, np.ndarray], settings: Settings) -> dict[str, np.ndarray]:
    """Run the PyTorch CPU model once on `inputs` and return its outputs; the model is freed after."""
    torch_model = task.load_torch_model(model.path, "cpu")
    try:
        return numpy_outputs(task.run_torch(torch_model, torch_inputs(inputs), settings))
    finally:
        del torch_model


def get_reference(
    model: ResolvedModel, task: Task, inputs: dict[str, np.ndarray], settings: Settings
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Return the reference outputs and facts about them (cache hit, path), computing them when missing."""
    key = reference_key(model, task, inputs, settings)
    cached = load_reference(key)
    if cached is not None:
        return cached, {"cache_hit": True, "path": str(reference_path(key))}
    outputs = compute_reference(model, task, inputs, settings)
    path = save_reference(key, outputs)
    return outputs, {"cache_hit": False, "path": str(path)}
