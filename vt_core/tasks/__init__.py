"""Workloads that vt-tui measures, one per task name.

Importing this package loads numpy only; torch and transformers load when a task
runs a model.
"""

from __future__ import annotations

from vt_core.tasks.base import ModelLoadError, Task
from vt_core.tasks.captioning import ImageToText
from vt_core.tasks.zero_shot import ZeroShotImageClassification

TASKS: dict[str, Task] = {task.name: task for task in (ZeroShotImageClassification(), ImageToText())}


def get_task(name: str) -> Task:
    """Return the task called `name`; raise ValueError listing the known tasks."""
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; use one of {', '.join(TASKS)}") from None


def task_for_family(family: str) -> Task:
    """Return the task that measures models of `family`; raise ValueError for an unknown family."""
    for task in TASKS.values():
        if task.family == family:
            return task
    known = sorted({task.family for task in TASKS.values()})
    raise ValueError(f"no task for model family {family!r}; families with a task: {', '.join(known)}")


__all__ = ["ModelLoadError", "TASKS", "Task", "get_task", "task_for_family"]
