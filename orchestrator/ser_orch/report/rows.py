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
from ser_orch.results.curves import Curve

__all__ = ["STAT_FIELDS", "TableRows", "aggregate_rows", "curve_rows", "failure_rows", "paper_metrics", "paper_stats", "summary_rows"]

STAT_FIELDS = ("mean", "min", "max", "std")  # per metric, in every table and file


@dataclass
class TableRows:
    headers: list[str]
    rows: list[list[str]]
    best: list[bool] = field(default_factory=list)  # per row: best of its series
    numeric: list[bool] = field(default_factory=list)  # per column: right-align


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
) -> TableRows:
    """One row per configuration: axes, mean/min/max/std per metric in %, n, paper values."""
    entries = [PaperEntry.from_any(e) for e in paper]
    keys = axis_keys(s.axes for s in stats)
    shown = paper_metrics(entries, metrics)
    headers = axis_headers(keys)
    numeric = [False] * len(keys)
    for m in metrics:
        name = metric_name(m)
        headers += [f"{name} {f}" for f in STAT_FIELDS]
        numeric += [True] * len(STAT_FIELDS)
    headers.append("n")
    numeric.append(False)
    for m in shown:
        headers.append(f"paper {metric_name(m)}")
        numeric.append(True)
    spread = paper_stats(entries)
    for f in spread:
        headers.append(f"paper {f}")
        numeric.append(True)

    best_ids = {s.config_id for s in best_per_series(stats, series_key, best_metric).values()}
    rows: list[list[str]] = []
    for s in stats:
        row = [format_axis_value(s.axes[k]) if k in s.axes else MISSING for k in keys]
        for m in metrics:
            ms = s.metrics.get(m)
            row += [pct(getattr(ms, f) if ms and ms.n else None) for f in STAT_FIELDS]
        row.append(s.count_text())
        row += [paper_pct(paper_value(entries, s.axes, m)) for m in shown]
        row += [paper_pct(paper_value(entries, s.axes, f)) for f in spread]
        rows.append(row)
    return TableRows(headers, rows, [s.config_id in best_ids for s in stats], numeric)


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
