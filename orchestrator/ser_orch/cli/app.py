"""The `ser-orch` command: a root Typer app that only mounts the command groups."""

from __future__ import annotations

import typer

from . import data_cmd, grid_cmd
from .ablate_cmd import ablate
from .compare_cmd import compare
from .report_cmd import report
from .status_cmd import status
from .submit_cmd import submit
from .sweep_cmd import sweep

app = typer.Typer(
    name="ser-orch",
    help="Speech emotion recognition experiments: grids -> Ray Tune trials -> fold-aggregated reports.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(data_cmd.app, name="data")
app.add_typer(grid_cmd.app, name="grid")
app.command("ablate")(ablate)
app.command("sweep")(sweep)
app.command("report")(report)
app.command("compare")(compare)
app.command("submit")(submit)
app.command("status")(status)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
