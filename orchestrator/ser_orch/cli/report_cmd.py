"""`ser-orch report RUN_DIR`: re-render a run's tables, files and plots at any time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ..rundir import RunDir
from .common import console, err_console, fail, user_errors


@user_errors
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run folder made by ser-orch ablate/sweep.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the aggregated results as JSON instead of tables.")] = False,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Write PNG plots next to the results.")] = True,
    curve: Annotated[str | None, typer.Option("--curve", metavar="CONFIG_ID", help="Only print this configuration's learning curve (per-epoch train/validation accuracy, loss, lr) as a table.")] = None,
    open_page: Annotated[bool, typer.Option("--open", help="Print the path of report.html and open it where a desktop browser exists.")] = False,
) -> None:
    """Aggregate a run's trial records over folds: tables, results.csv/json, report.md and PNG plots."""
    if curve is not None:
        _print_curve(run_dir, curve)
        return
    from ..report.build import build_report

    result = build_report(run_dir, console=None if as_json else console, plots=plots)
    if as_json:
        typer.echo(json.dumps(result.json_data, indent=2, default=str))
    if open_page:
        page = RunDir.at(run_dir).report_html.resolve()
        (err_console if as_json else console).print(f"report page: {page}", soft_wrap=True)
        if _has_desktop():
            import webbrowser

            webbrowser.open(page.as_uri())


def _has_desktop() -> bool:
    """A browser can show a window here (not on a headless server, a Slurm node or in CI)."""
    import os
    import sys

    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _print_curve(run_dir: Path, config_id: str) -> None:
    from ..report.tables import curve_table
    from ..results.curves import config_curve
    from ..results.records import scan_records
    from ..rundir import open_run_dir

    run = open_run_dir(run_dir)
    records = scan_records(run.path).records
    known = list(dict.fromkeys(t["config_id"] for t in run.planned_trials()))
    if config_id not in known:
        shown = ", ".join(known[:10]) + (f" ... ({len(known)} in all)" if len(known) > 10 else "")
        raise fail(f"--curve: no configuration '{config_id}' in {run_dir}; configurations: {shown}")
    curve = config_curve(config_id, records)
    if not curve.points:
        raise fail(f"--curve: configuration '{config_id}' has no finished trial with a history yet")
    console.print(curve_table(curve))
