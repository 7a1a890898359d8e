"""Tasks: one training recipe per paper, looked up by the grid's `task:` name."""

from __future__ import annotations

from .base import FoldData, Reporter, Task, TaskConfigError, TrialOutcome


def _registry() -> dict[str, Task]:
    # Imported lazily: the tasks pull in torch and the model zoo.
    from .kumar import KumarTask
    from .lian import LianTask
    from .liu import LiuTask
    from .mocanu import MocanuTask

    return {t.name: t for t in (KumarTask(), LiuTask(), LianTask(), MocanuTask())}


def task_names() -> list[str]:
    return sorted(_registry())


def get_task(name: str) -> Task:
    tasks = _registry()
    if name not in tasks:
        raise KeyError(name)
    return tasks[name]


__all__ = ["FoldData", "Reporter", "Task", "TaskConfigError", "TrialOutcome", "get_task", "task_names"]
