"""Errors of the task layer (TaskConfigError lives with the grid: it names a grid key)."""

from __future__ import annotations

from ser_data.errors import SerError

from ..grid.errors import TaskConfigError

__all__ = ["TaskConfigError", "UnknownTaskError"]


class UnknownTaskError(SerError, KeyError):
    """A grid's ``task:`` names no task."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])
