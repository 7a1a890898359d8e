"""`ser-orch compare RUN_A RUN_B [--config ID]`: paired statistics of the same configurations in two runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import console, user_errors


@user_errors
def compare(
    run_a: Annotated[Path, typer.Argument(help="The first run folder (A).")],
    run_b: Annotated[Path, typer.Argument(help="The second run folder (B), same dataset and folds.")],
    config: Annotated[str | None, typer.Option("--config", metavar="CONFIG_ID", help="Compare only this configuration (default: every configuration in both runs).")] = None,
    metric: Annotated[str, typer.Option(help="Metric of the records to compare (wa, ua, ...).")] = "wa",
) -> None:
    """B - A per configuration over their common (fold, seed) runs: mean difference, 95% CI and p
    from the corrected resampled t-test (seeds averaged per fold), Holm-adjusted over the table."""
    from ..report.compare import compare_runs, comparison_notes, comparison_rows
    from ..report.tables import to_table

    cmp = compare_runs(run_a, run_b, config=config, metric=metric)
    caption = (f"A = {cmp.a.path} ({cmp.a.name}), B = {cmp.b.path} ({cmp.b.name}); values in %; "
               f"n_test/n_train = {cmp.ratio:.2f}; folds = paired differences (seeds averaged per fold)")
    console.print(to_table(comparison_rows(cmp), "B vs A, paired over the same folds", caption, False))
    for note in comparison_notes(cmp):
        console.print(f"note: {note}", soft_wrap=True)
