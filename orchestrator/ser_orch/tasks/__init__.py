"""Tasks: one training recipe per paper, looked up by the grid's `task:` name."""

from __future__ import annotations

from .base import FoldData, Task, TrialContext, TrialOutcome
from .errors import TaskConfigError, UnknownTaskError


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
    """The task called `name`; UnknownTaskError (a SerError) lists the valid ones."""
    tasks = _registry()
    if name not in tasks:
        raise UnknownTaskError(f"unknown task '{name}'; allowed: {', '.join(sorted(tasks))}")
    return tasks[name]


def validate_trials(grid, trials):  # type: ignore[no-untyped-def]
    """See ser_orch.tasks.validate (imported lazily: it reads the ser_data registries)."""
    from .validate import validate_trials as check

    check(grid, trials)


__all__ = ["FoldData", "Task", "TaskConfigError", "TrialContext", "TrialOutcome", "UnknownTaskError", "get_task", "task_names", "validate_trials"]
