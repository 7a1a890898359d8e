"""The rich consoles everything prints through (the CLI, the Slurm job's log, the Python API)."""

from __future__ import annotations

from rich.console import Console

# Wide enough for Mocanu's table (strategy, WA/UA mean/min/max/std, a CI, the comparisons and
# the paper's mean/min/max/std) without wrapping a header.
WIDTH = 210


def make_console(stderr: bool = False) -> Console:
    """A console for a terminal, or a wide fixed-width one for logs (Slurm, CI, pipes), so result
    tables are not squeezed to 80 columns."""
    probe = Console(stderr=stderr)
    return probe if probe.is_terminal else Console(stderr=stderr, width=WIDTH)
