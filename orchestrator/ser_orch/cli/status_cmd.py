"""`ser-orch status RUN_DIR [--wait]`: a submitted run's Slurm state, trial counts and partial table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import console, user_errors


@user_errors
def status(
    run_dir: Annotated[Path, typer.Argument(help="A run folder submitted with --slurm.")],
    wait: Annotated[bool, typer.Option("--wait", help="Follow the job until it ends (requeues included).")] = False,
) -> None:
    """Slurm state, trials done/running/failed, and the fold-aggregated table of the trials done so far."""
    from ..slurm import status as slurm_status

    if wait:
        slurm_status.wait(run_dir.resolve(), console)
    else:
        slurm_status.show(run_dir.resolve(), console)
