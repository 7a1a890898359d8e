"""Table contents as plain strings, shared by the Rich tables and the Markdown report.

Keeping the numbers in one place means the terminal, report.md and the tests all show the
same formatting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from ser_orch.report.format import (
    MISSING,
    axis_headers,
    axis_keys,
    format_axis_value,
    metric_name,
    paper_pct,
    pct,
)
from ser_orch.report.paper import PaperEntry, best_paper_entry, paper_value
from ser_orch.results.aggregate import ConfigStats, best_per_series
from ser_orch.results.comparison import ALPHA, TableStats
from ser_orch.results.curves import Curve

BASELINE_LABEL = "baseline"  # the row's first cell; the captions say what it is

__all__ = ["STAT_FIELDS", "TableRows", "aggregate_rows", "baseline_verdict", "curve_rows", "failure_rows", "paper_metrics", "paper_stats", "summary_rows"]

STAT_FIELDS = ("mean", "min", "max", "std")  # per metric, in every table and file


@dataclass
class TableRows:
    headers: list[str]
    rows: list[list[str]]
    best: list[bool] = field(default_factory=list)  # per row: best of its series
    numeric: list[bool] = field(default_factory=list)  # per column: right-align
    baseline: list[bool] = field(default_factory=list)  # per row: the baseline row (styled apart)


SAME_AS_BEST = "≈"  # not distinguishable from the best (Holm-adjusted p >= alpha)
DIFFERS = "*"  # differs from the baseline (Holm-adjusted p < alpha)


def _points(diff: float | None) -> str:
    return MISSING if diff is None else f"{100.0 * diff:+.2f}"


def _p(value: float | None) -> str:
    return MISSING if value is None else (f"{value:.3f}" if value >= 0.001 else "<0.001")


def _interval(ci: Any) -> str:
    if ci is None or ci.ci_low is None or ci.ci_high is None:
        return MISSING
    # Accuracies live in [0, 100] %: the t interval of few folds can reach past them.
    return f"{max(0.0, 100.0 * ci.ci_low):.1f}-{min(100.0, 100.0 * ci.ci_high):.1f}"


def stat_headers(table: TableStats | None, metrics: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """Headers of the statistics columns: the CI of the compared metric, then the comparisons.

    One CI column only, so the table fits a terminal; every metric's CI is in results.csv/json.
    """
    if table is None or table.ratio is None:
        return {}, []
    name = metric_name(table.metric)
    compare = [f"{name} vs best", "p", f"{name} vs baseline", "p"] if table.comparison is not None else []
    return {m: f"{metric_name(m)} 95% CI" for m in metrics if m == table.metric}, compare


def stat_cells(table: TableStats | None, config_id: str, metrics: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """(CI cell per metric, comparison cells) of one row; the baseline row gets no comparisons."""
    ci_headers, compare_headers = stat_headers(table, metrics)
    if table is None or not ci_headers:
        return {}, []
    cis = {m: _interval(table.interval(config_id, m)) for m in metrics}
    row = table.row(config_id)
    if not compare_headers:
        return cis, []
    if row is None:
        return cis, [MISSING] * len(compare_headers)
    if row.is_best:
        best_cells = ["best", MISSING]
    elif row.vs_best is None:
        best_cells = [MISSING, MISSING]
    else:
        mark = f" {SAME_AS_BEST}" if row.indistinguishable_from_best else ""
        best_cells = [_points(row.vs_best.mean_diff) + mark, _p(row.vs_best.p_holm)]
    if row.vs_baseline is None:
        base_cells = [MISSING, MISSING]
    else:
        mark = f" {DIFFERS}" if row.vs_baseline.significant else ""
        base_cells = [_points(row.vs_baseline.mean_diff) + mark, _p(row.vs_baseline.p_holm)]
    return cis, best_cells + base_cells


def baseline_verdict(table: TableStats | None) -> str | None:
    """One sentence under the table: does its best configuration beat the baseline row, beyond
    fold noise? (The paired difference and Holm-adjusted p of the best's row; None without a
    baseline or a comparison.) A table whose best is below the baseline says little about the
    models, and the sentence says so where a column of numbers would not."""
    if table is None or table.comparison is None or table.comparison.baseline_id is None:
        return None
    best = table.row(table.comparison.best_id)
    vs = None if best is None else best.vs_baseline
    if vs is None or vs.mean_diff is None:
        return None
    name, points = metric_name(table.metric), f"{abs(100.0 * vs.mean_diff):.2f}"
    where = f"The best configuration ({table.comparison.best_id})"
    if vs.mean_diff <= 0:
        return (f"{where} is {points} points of {name} below the baseline row: no configuration beats it, so this "
                "table says little about the models (too few optimizer steps, or a problem in the setup).")
    if vs.significant is None:
        why = f" ({vs.note})" if vs.note else ""
        return f"{where} is {points} points of {name} above the baseline row; these folds give no test{why}."
    if not vs.significant:
        return (f"{where} is {points} points of {name} above the baseline row, "
                f"but not beyond fold noise (Holm-adjusted p {_p(vs.p_holm)} >= {ALPHA:g}).")
    return f"{where} beats the baseline row by {points} points of {name} (Holm-adjusted p {_p(vs.p_holm)} < {ALPHA:g})."


def paper_metrics(paper: Iterable[Any], metrics: Sequence[str]) -> list[str]:
    """Metrics for which the paper gives at least one number (others get no empty column)."""
    entries = [PaperEntry.from_any(e) for e in paper]
    return [m for m in metrics if any(m in e.values for e in entries)]


PAPER_STATS = ("min", "max", "std")


def paper_stats(paper: Iterable[Any]) -> list[str]:
    """The paper's spread figures (min/max/std over folds, of its main metric) that some entry gives."""
    entries = [PaperEntry.from_any(e) for e in paper]
    return [f for f in PAPER_STATS if any(f in e.values for e in entries)]


def aggregate_rows(
    stats: Sequence[ConfigStats],
    *,
    metrics: Sequence[str] = ("wa", "ua"),
    series_key: str | None = None,
    best_metric: str = "wa",
    paper: Iterable[Any] = (),
    baseline: ConfigStats | None = None,
    table_stats: TableStats | None = None,
) -> TableRows:
    """One row per configuration: axes, mean/min/max/std (and a 95 % CI) per metric in %, n,
    the paired comparisons with the best and the baseline, paper values; the baseline last."""
    entries = [PaperEntry.from_any(e) for e in paper]
    keys = axis_keys(s.axes for s in stats)
    shown = paper_metrics(entries, metrics)
    headers = axis_headers(keys)
    numeric = [False] * len(keys)
    ci_headers, compare_headers = stat_headers(table_stats, metrics)
    for m in metrics:
        name = metric_name(m)
        headers += [f"{name} {f}" for f in STAT_FIELDS]
        numeric += [True] * len(STAT_FIELDS)
        if m in ci_headers:
            headers.append(ci_headers[m])
            numeric.append(True)
    headers.append("n")
    numeric.append(False)
    headers += compare_headers
    numeric += [True] * len(compare_headers)
    for m in shown:
        headers.append(f"paper {metric_name(m)}")
        numeric.append(True)
    spread = paper_stats(entries)
    for f in spread:
        headers.append(f"paper {f}")
        numeric.append(True)

    best_ids = {s.config_id for s in best_per_series(stats, series_key, best_metric).values()}
    rows: list[list[str]] = []
    shown_stats = [*stats, *([baseline] if baseline is not None else [])]
    for s in shown_stats:
        is_base = s is baseline
        if is_base:
            row = [BASELINE_LABEL] + [MISSING] * (len(keys) - 1) if keys else []
        else:
            row = [format_axis_value(s.axes[k]) if k in s.axes else MISSING for k in keys]
        cis, compare = stat_cells(table_stats, s.config_id, metrics)
        for m in metrics:
            ms = s.metrics.get(m)
            row += [pct(getattr(ms, f) if ms and ms.n else None) for f in STAT_FIELDS]
            if m in ci_headers:
                row.append(cis.get(m, MISSING))
        row.append(s.count_text())
        row += [MISSING] * len(compare_headers) if is_base else compare
        row += [MISSING if is_base else paper_pct(paper_value(entries, s.axes, m)) for m in shown]
        row += [MISSING if is_base else paper_pct(paper_value(entries, s.axes, f)) for f in spread]
        rows.append(row)
    return TableRows(headers, rows, [s.config_id in best_ids and s is not baseline for s in shown_stats], numeric,
                     [s is baseline for s in shown_stats])


def failure_rows(failures: Iterable[Any]) -> TableRows:
    """Trial id and one-line error of each failed trial (``FailedTrial`` or ``TrialRecord``)."""
    rows = []
    for f in failures:
        error = (getattr(f, "error", None) or "").strip().splitlines()
        rows.append([str(f.trial_id), error[0] if error else "(no error message)"])
    return TableRows(["trial", "error"], rows, [False] * len(rows), [False, False])


def _x_text(s: ConfigStats, x_key: str | None, series_key: str | None) -> str:
    if x_key is not None:
        return format_axis_value(s.axes.get(x_key)) if x_key in s.axes else MISSING
    # No x axis named: describe the configuration by its other axes.
    rest = [f"{k}={format_axis_value(v)}" for k, v in s.axes.items() if k != series_key]
    return ",".join(rest) or s.config_id


def summary_rows(
    stats: Sequence[ConfigStats],
    series_key: str | None,
    x_key: str | None,
    *,
    metric: str = "wa",
    paper: Iterable[Any] = (),
) -> TableRows:
    """Per series: our best x and its mean (± std), the paper's best x and value ("Table I")."""
    entries = [PaperEntry.from_any(e) for e in paper]
    name = metric_name(metric)
    x_name = (x_key or "config").rsplit(".", 1)[-1]
    headers = [
        (series_key or "series").rsplit(".", 1)[-1],
        f"best {x_name}",
        f"{name} mean",
        f"{name} std",
        "n",
        f"paper best {x_name}",
        f"paper {name}",
        "source",
    ]
    numeric = [False, False, True, True, False, False, True, False]
    rows: list[list[str]] = []
    for key, best in best_per_series(stats, series_key, metric).items():
        ms = best.metrics[metric]
        entry = best_paper_entry(entries, series_key, key, metric)
        if entry is None:
            paper_cells = [MISSING, MISSING, MISSING]
        else:
            px = entry.where.get(x_key) if x_key else None
            paper_cells = [
                MISSING if px is None else format_axis_value(px),
                paper_pct(entry.values[metric]),
                entry.source or MISSING,
            ]
        series_text = "all" if series_key is None else format_axis_value(best.axes.get(series_key))
        rows.append(
            [series_text, _x_text(best, x_key, series_key), pct(ms.mean), pct(ms.std), best.count_text()]
            + paper_cells
        )
    return TableRows(headers, rows, [False] * len(rows), numeric)


def curve_rows(curve: Curve) -> TableRows:
    """A configuration's learning curve, one row per epoch: accuracies in % as mean (min-max)."""

    def band(point: Any, series: str, scale: float = 100.0, digits: int = 1) -> str:
        b = point.values.get(series)
        if b is None:
            return MISSING
        if b.n == 1 or b.min == b.max:
            return f"{scale * b.mean:.{digits}f}"
        return f"{scale * b.mean:.{digits}f} ({scale * b.min:.{digits}f}-{scale * b.max:.{digits}f})"

    headers = ["phase", "epoch", "n", "train acc", "val acc", "loss", "lr", "stopped"]
    numeric = [False, True, True, True, True, True, True, True]
    rows = []
    for p in curve.points:
        lr = p.values.get("lr")
        rows.append([str(p.phase), str(p.epoch), str(p.n), band(p, "train_acc"), band(p, "val_acc"),
                     band(p, "loss", 1.0, 4), MISSING if lr is None else f"{lr.mean:.3g}", str(p.stopped or "")])
    return TableRows(headers, rows, [False] * len(rows), numeric)
