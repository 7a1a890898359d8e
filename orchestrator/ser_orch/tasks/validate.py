"""Semantic checks of expanded trials: every name exists, every value is in range.

Runs before anything starts, so a bad grid never reaches Ray or Slurm.
"""

from __future__ import annotations

from typing import Any

from ser_data.errors import SerError

from ..grid import Grid, GridError, axis_values


def _allowed(names: list[str]) -> str:
    return ", ".join(names)


def _origin(key: str, trial: dict[str, Any]) -> str:
    """Point at the axis when the value came from one."""
    for axis in trial.get("axes", {}):
        if key == axis or key.startswith(axis + ".") or axis.startswith(key + "."):
            return f"grid.{axis}"
    return key


def validate_trials(grid: Grid, trials: list[dict[str, Any]]) -> None:
    """Raise GridError for the first problem found. Checks each configuration once (not per fold)."""
    from ser_data.datasets import check_dataset_options, dataset_names

    from ..inputs import loader_options
    from ser_data.features import FEATURES
    from ser_data.protocols import protocol_names

    from . import TaskConfigError, get_task, task_names

    source = str(grid.path) if grid.path else grid.name
    spec = grid.spec
    if spec.task not in task_names():
        raise GridError(source, "task", f"unknown task '{spec.task}'; allowed: {_allowed(task_names())}")
    task = get_task(spec.task)
    axes = axis_values(grid)
    for key in (spec.report.series, spec.report.x, spec.report.y):
        if key is not None and key not in axes:
            raise GridError(source, "report", f"'{key}' is not a grid axis; axes: {_allowed(list(axes)) or 'none'}")
    for i, entry in enumerate(spec.report.paper):
        for key in entry.where:
            if key not in axes:
                raise GridError(source, f"report.paper[{i}].where", f"'{key}' is not a grid axis; axes: {_allowed(list(axes))}")

    seen: set[str] = set()
    for trial in trials:
        if trial["config_id"] in seen:
            continue
        seen.add(trial["config_id"])
        ds = trial["dataset"]
        if ds["name"] not in dataset_names():
            raise GridError(source, _origin("dataset.name", trial), f"unknown dataset '{ds['name']}'; allowed: {_allowed(dataset_names())}")
        try:
            check_dataset_options(ds["name"], loader_options(ds))
        except SerError as exc:
            raise GridError(source, None, str(exc)) from None
        feat = trial["features"]
        if feat["name"] not in FEATURES:
            raise GridError(source, _origin("features.name", trial), f"unknown features '{feat['name']}'; allowed: {_allowed(sorted(FEATURES))}")
        try:
            FEATURES[feat["name"]].resolve(feat.get("params"))
        except SerError as exc:
            key = f"features.{exc.key}" if getattr(exc, "key", None) else "features.params"
            raise GridError(source, _origin(key, trial), str(exc)) from None
        prot = trial["protocol"]
        if prot["name"] not in protocol_names():
            raise GridError(source, _origin("protocol.name", trial), f"unknown protocol '{prot['name']}'; allowed: {_allowed(protocol_names())}")
        try:
            task.validate(trial)
        except TaskConfigError as exc:
            raise GridError(source, _origin(exc.key, trial), exc.message) from None
        except SerError as exc:
            raise GridError(source, None, str(exc)) from None
