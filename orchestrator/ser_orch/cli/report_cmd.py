"""`ser-orch report RUN_DIR`: re-render a run's tables, files and plots at any time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from .common import console, user_errors


@user_errors
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run folder made by ser-orch ablate/sweep.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the aggregated results as JSON instead of tables.")] = False,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Write PNG plots next to the results.")] = True,
) -> None:
    """Aggregate a run's trial records over folds: tables, results.csv/json, report.md and PNG plots."""
    from ..report.build import build_report

    result = build_report(run_dir, console=None if as_json else console, plots=plots)
    if as_json:
        typer.echo(json.dumps(result.json_data, indent=2, default=str))
