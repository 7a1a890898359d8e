"""Grid files: load, check the structure and expand to plain trial configs without importing Ray.

Checking the trials against the registries and tasks is `ser_orch.tasks.validate_trials`."""

from .errors import GridError
from .expand import DEFAULT_MAX_TRIALS, axis_values, count_configs, expand, get_dotted, parse_fold_list, set_dotted
from .load import Grid, load_grid, parse_grid


__all__ = [
    "DEFAULT_MAX_TRIALS",
    "Grid",
    "GridError",
    "axis_values",
    "count_configs",
    "expand",
    "get_dotted",
    "load_grid",
    "parse_fold_list",
    "parse_grid",
    "set_dotted",
]
