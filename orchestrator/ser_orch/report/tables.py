"""Rich tables for the terminal: thin wrappers that style ``rows.TableRows``.

All cell text goes in as ``rich.text.Text`` so brackets in axis values or error messages
(``[GPU 0]``) are shown literally instead of being read as Rich markup.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from rich.table import Table
from rich.text import Text

from ser_orch.report.format import BEST_MARKER, metric_name
from ser_orch.baseline import DESCRIPTION as BASELINE_DESCRIPTION
from ser_orch.report.rows import DIFFERS, SAME_AS_BEST, TableRows, aggregate_rows, curve_rows, failure_rows, summary_rows
from ser_orch.results.aggregate import ConfigStats
from ser_orch.results.comparison import TableStats
from ser_orch.results.curves import Curve
from ser_orch.results.records import RecordProblem

__all__ = ["BEST_STYLE", "aggregate_table", "curve_table", "failures_table", "problems_table", "summary_table"]

BEST_STYLE = "bold green"
BASELINE_STYLE = "italic cyan"


def to_table(data: TableRows, title: str | None, caption: str | None, marker_column: bool) -> Table:
    table = Table(title=title, caption=caption, show_lines=False)
    if marker_column:
        table.add_column("", no_wrap=True, width=1)
    for i, (header, numeric) in enumerate(zip(data.headers, data.numeric)):
        # Cells keep their width (only headers wrap) so a squeezed table never cuts a value short.
        widest = max((len(row[i]) for row in data.rows if i < len(row)), default=0)
        table.add_column(header, justify="right" if numeric else "left", min_width=min(widest, 24) or None)
    baseline = list(data.baseline) + [False] * (len(data.rows) - len(data.baseline))
    for row, best, base in zip(data.rows, data.best, baseline):
        cells = [Text(c) for c in row]
        if marker_column:
            cells.insert(0, Text(BEST_MARKER if best else ""))
        table.add_row(*cells, style=BEST_STYLE if best else (BASELINE_STYLE if base else None))
    return table


def stats_caption(table_stats: TableStats | None) -> str:
    """What the CI and comparison columns mean (terminal, report.md and report.html say the same)."""
    if table_stats is None or table_stats.ratio is None:
        return "" if table_stats is None or not table_stats.note else f"; no intervals or tests: {table_stats.note}"
    text = (f"; 95% CI and paired differences (points) from the corrected resampled t-test over folds "
            f"(n_test/n_train = {table_stats.ratio:.2f}), Holm-adjusted p")
    if table_stats.comparison is not None:
        text += f"; {SAME_AS_BEST} not distinguishable from the best, {DIFFERS} differs from the baseline (p < 0.05)"
    if table_stats.comparison is not None and table_stats.comparison.baseline_id is not None:
        text += f"; baseline = {BASELINE_DESCRIPTION}, same folds and seeds"
    return text


def aggregate_table(
    stats: Sequence[ConfigStats],
    *,
    metrics: Sequence[str] = ("wa", "ua"),
    series_key: str | None = None,
    best_metric: str = "wa",
    paper: Iterable[Any] = (),
    title: str | None = "Results over folds and seeds",
    baseline: ConfigStats | None = None,
    table_stats: TableStats | None = None,
) -> Table:
    """One row per configuration; the best of each series is bold green and marked ★; the
    baseline row (if any) last, in italics."""
    data = aggregate_rows(stats, metrics=metrics, series_key=series_key, best_metric=best_metric, paper=paper,
                          baseline=baseline, table_stats=table_stats)
    per = f" per {series_key.rsplit('.', 1)[-1]}" if series_key else ""
    caption = (
        "values in %; WA = overall accuracy, UA = mean per-class recall; "
        f"mean/min/max/std (population) over done runs; {BEST_MARKER} best mean "
        f"{metric_name(best_metric)}{per}; n = done/planned" + stats_caption(table_stats)
    )
    return to_table(data, title, caption, marker_column=True)


def failures_table(failures: Iterable[Any], title: str | None = "Failed trials") -> Table:
    """Trial id + one-line error for ``FailedTrial``s or failed ``TrialRecord``s."""
    return to_table(failure_rows(failures), title, None, marker_column=False)


def problems_table(problems: Iterable[RecordProblem], title: str | None = "Unreadable trial records") -> Table:
    data = TableRows(["file", "problem"], [[str(p.path), p.reason] for p in problems])
    data.best, data.numeric = [False] * len(data.rows), [False, False]
    return to_table(data, title, None, marker_column=False)


def summary_table(
    stats: Sequence[ConfigStats],
    series_key: str | None,
    x_key: str | None,
    *,
    metric: str = "wa",
    paper: Iterable[Any] = (),
    title: str | None = "Best per series, ours vs paper",
) -> Table:
    """Compact "Table I": per series our best x and mean, the paper's best x and value (%)."""
    return to_table(summary_rows(stats, series_key, x_key, metric=metric, paper=paper), title, None, False)


def curve_table(curve: Curve) -> Table:
    """`ser-orch report RUN --curve CONFIG`: the learning curve as a table."""
    caption = "accuracies in %, mean (min-max) over the runs that reached the epoch; stopped = runs whose early stopping fired"
    return to_table(curve_rows(curve), f"{curve.config_id}: learning curve over {curve.runs} run(s)", caption, False)
