"""Grid files: load, validate and expand to plain trial configs without importing Ray."""

from .errors import GridError
from .expand import axis_values, count_configs, expand, get_dotted, set_dotted
from .load import Grid, load_grid, parse_grid
from .validate import validate_trials


def compile_grid(path, **expand_options):  # type: ignore[no-untyped-def]
    """Load, expand and validate in one go: the trials a run would start."""
    grid = load_grid(path)
    trials = expand(grid, **expand_options)
    validate_trials(grid, trials)
    return grid, trials


__all__ = [
    "Grid",
    "GridError",
    "axis_values",
    "compile_grid",
    "count_configs",
    "expand",
    "get_dotted",
    "load_grid",
    "parse_grid",
    "set_dotted",
    "validate_trials",
]
