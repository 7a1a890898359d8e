"""Report files next to the trial records: results.csv, results.json, report.md.

Numbers in CSV/JSON are fractions, as in the trial records (paper values, which are
percentages, carry a ``_pct`` suffix). Nothing time-dependent is written and every list has a
fixed order, so re-running the report on the same records gives byte-identical files.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ser_orch.report.format import BEST_MARKER, MISSING, axis_keys, metric_name
from ser_orch.report.paper import ReportSpec, paper_value
from ser_orch.report.rows import STAT_FIELDS, TableRows, aggregate_rows, baseline_verdict, failure_rows, paper_metrics, paper_stats, summary_rows
from ser_orch.results.aggregate import STD_DDOF, ConfigStats, FailedTrial, best_per_series
from ser_data.atomic import atomic_write_text

from ..results.comparison import TableStats
from ..results.records import json_safe
from ..rundir import RunDir
from .tables import stats_caption

__all__ = ["markdown_table", "results_csv_text", "results_json_data", "write_report_files"]

def _num(value: float | None) -> float | None:
    """JSON has no NaN: missing statistics become null."""
    return None if value is None or not math.isfinite(value) else value


def _csv_cell(value: Any) -> str:
    if isinstance(value, bool):
        return str(int(value))
    return _csv_num(value) if isinstance(value, (int, float)) or value is None else str(value)


def _csv_num(value: float | None) -> str:
    value = _num(value)
    return "" if value is None else repr(value)  # repr round-trips floats exactly


def _best_ids(stats: Sequence[ConfigStats], spec: ReportSpec, metric: str) -> set[str]:
    return {s.config_id for s in best_per_series(stats, spec.series, metric).values()}


def _stat_columns(table_stats: TableStats | None, metrics: Sequence[str]) -> list[str]:
    if table_stats is None or table_stats.ratio is None:
        return []
    cols = [f"{m}_ci_{side}" for m in metrics for side in ("low", "high")]
    if table_stats.comparison is not None:
        m = table_stats.metric
        cols += [f"{m}_diff_best", f"{m}_p_best_holm", f"{m}_same_as_best", f"{m}_diff_baseline", f"{m}_p_baseline_holm"]
    return cols


def _stat_values(table_stats: TableStats | None, config_id: str, metrics: Sequence[str]) -> dict[str, Any]:
    """The statistics of one row as JSON values (None where undefined)."""
    out: dict[str, Any] = {}
    if table_stats is None or table_stats.ratio is None:
        return out
    for m in metrics:
        ci = table_stats.interval(config_id, m)
        out[f"{m}_ci_low"], out[f"{m}_ci_high"] = (None, None) if ci is None else (ci.ci_low, ci.ci_high)
    if table_stats.comparison is not None:
        m, row = table_stats.metric, table_stats.row(config_id)
        vb = None if row is None else row.vs_best
        vbase = None if row is None else row.vs_baseline
        out[f"{m}_diff_best"] = None if vb is None else vb.mean_diff
        out[f"{m}_p_best_holm"] = None if vb is None else vb.p_holm
        out[f"{m}_same_as_best"] = None if row is None else row.indistinguishable_from_best
        out[f"{m}_diff_baseline"] = None if vbase is None else vbase.mean_diff
        out[f"{m}_p_baseline_holm"] = None if vbase is None else vbase.p_holm
    return out


def results_csv_text(stats: Sequence[ConfigStats], report_spec: Any = None, metrics: Sequence[str] = ("wa", "ua"), *,
                     baseline: ConfigStats | None = None, table_stats: TableStats | None = None) -> str:
    """One row per configuration (the baseline last, config_id ``baseline``): axes, per-metric
    mean/min/max/std/n, counts, the statistics (CI, differences to the best and the baseline),
    paper values."""
    spec = ReportSpec.from_any(report_spec)
    keys = axis_keys(s.axes for s in stats)
    shown = paper_metrics(spec.paper, metrics)
    best = _best_ids(stats, spec, metrics[0]) if metrics else set()
    header = ["config_id", *keys]
    for m in metrics:
        header += [f"{m}_{f}" for f in (*STAT_FIELDS, "n")]
    header += ["n", "expected", "failed", "missing", "folds", "seeds", "best"]
    stat_cols = _stat_columns(table_stats, metrics)
    header += stat_cols
    header += [f"paper_{m}_pct" for m in shown]
    spread = paper_stats(spec.paper)
    header += [f"paper_{f}_pct" for f in spread]

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for s in [*stats, *([baseline] if baseline is not None else [])]:
        row: list[Any] = [s.config_id]
        row += [json.dumps(s.axes[k]) if isinstance(s.axes.get(k), (list, dict)) else s.axes.get(k, "") for k in keys]
        for m in metrics:
            ms = s.metrics.get(m)
            row += [_csv_num(getattr(ms, f)) if ms else "" for f in STAT_FIELDS]
            row.append(ms.n if ms else 0)
        row += [
            s.n,
            "" if s.expected is None else s.expected,
            s.n_failed,
            len(s.missing),
            " ".join(map(str, s.folds)),
            " ".join(map(str, s.seeds)),
            int(s.config_id in best),
        ]
        values = _stat_values(table_stats, s.config_id, metrics)
        row += [_csv_cell(values.get(c)) for c in stat_cols]
        row += [_csv_num(paper_value(spec.paper, s.axes, m)) for m in shown]
        row += [_csv_num(paper_value(spec.paper, s.axes, f)) for f in spread]
        writer.writerow(row)
    return out.getvalue()


def _failure_dict(f: Any) -> dict[str, Any]:
    return {
        "trial_id": f.trial_id,
        "config_id": getattr(f, "config_id", None),
        "fold": getattr(f, "fold", None),
        "seed": getattr(f, "seed", None),
        "error": getattr(f, "error", None),
    }


def results_json_data(
    stats: Sequence[ConfigStats],
    failures: Iterable[FailedTrial | Any],
    report_spec: Any = None,
    title: str = "",
    metrics: Sequence[str] = ("wa", "ua"),
    *,
    baseline: ConfigStats | None = None,
    table_stats: TableStats | None = None,
) -> dict[str, Any]:
    """Everything in results.csv plus per-trial values, confusion matrices and failures; the
    baseline as its own entry ("baseline"), the statistics per configuration ("stats")."""
    spec = ReportSpec.from_any(report_spec)
    best = _best_ids(stats, spec, metrics[0]) if metrics else set()
    configs = []
    for s in [*stats, *([baseline] if baseline is not None else [])]:
        configs.append(
            {
                "config_id": s.config_id,
                "axes": s.axes,
                "metrics": {
                    m: {**{f: _num(getattr(ms, f)) for f in STAT_FIELDS}, "n": ms.n}
                    for m, ms in s.metrics.items()
                },
                "n": s.n,
                "expected": s.expected,
                "failed": [f.trial_id for f in s.failed],
                "missing": list(s.missing),
                "folds": s.folds,
                "seeds": s.seeds,
                "best": s.config_id in best,
                "paper": {m: paper_value(spec.paper, s.axes, m) for m in paper_metrics(spec.paper, metrics)},
                "runs": [
                    {"trial_id": r.trial_id, "fold": r.fold, "seed": r.seed, **{m: _num(v) for m, v in r.values.items()}}
                    for r in s.runs
                ],
                "labels": list(s.labels),
                "confusion": None if s.confusion is None else s.confusion.tolist(),
                "stats": _stat_values(table_stats, s.config_id, metrics),
            }
        )
    base_entry = configs.pop() if baseline is not None else None
    return {
        "title": title,
        "metrics": list(metrics),
        "units": "fractions in [0, 1]; paper values in %",
        "std": f"population standard deviation (ddof={STD_DDOF}) over done runs",
        "series": spec.series,
        "x": spec.x,
        "configs": configs,
        "baseline": base_entry,
        "statistics": None if table_stats is None else {**table_stats.to_dict(), "baseline_verdict": baseline_verdict(table_stats)},
        "failures": [_failure_dict(f) for f in failures],
    }


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_table(data: TableRows, marker_column: bool = False) -> str:
    """A GitHub-style pipe table; the best rows get the ★ marker and bold text."""
    headers = ([""] if marker_column else []) + data.headers
    aligns = (["---"] if marker_column else []) + ["---:" if n else "---" for n in data.numeric]
    lines = ["| " + " | ".join(map(_md_escape, headers)) + " |", "|" + "|".join(aligns) + "|"]
    for row, best in zip(data.rows, data.best or [False] * len(data.rows)):
        cells = [_md_escape(c) for c in row]
        if best:
            cells = [f"**{c}**" if c and c != MISSING else c for c in cells]
        if marker_column:
            cells.insert(0, BEST_MARKER if best else "")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _run_info(run_dir: Path) -> dict[str, Any]:
    try:
        info = json.loads(RunDir.at(run_dir).run_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _report_markdown(
    run_dir: Path,
    stats: Sequence[ConfigStats],
    failures: Sequence[Any],
    spec: ReportSpec,
    title: str,
    metrics: Sequence[str],
    plots: Sequence[str],
    baseline: ConfigStats | None = None,
    table_stats: TableStats | None = None,
) -> str:
    done = sum(s.n for s in stats)
    failed = len(failures)
    missing = sum(len(s.missing) for s in stats)
    out = [f"# {title}", "", "## What ran", ""]
    info = _run_info(run_dir)
    for key in sorted(info):
        value = info[key]
        if isinstance(value, (str, int, float, bool)) or value is None:
            out.append(f"- {key}: `{value}`")
    out.append(f"- configurations: {len(stats)}; trials done: {done}, failed: {failed}, not run: {missing}")
    folds = sorted({str(f) for s in stats for f in s.folds})
    seeds = sorted({str(sd) for s in stats for sd in s.seeds})
    out.append(f"- folds: {', '.join(folds) or '-'}; seeds: {', '.join(seeds) or '-'}")
    out += ["", "## Results", ""]
    names = ", ".join(metric_name(m) for m in metrics)
    per = f" per `{spec.series}`" if spec.series else ""
    out.append(
        f"{names} in %, mean/min/max/std (population std) over the done runs of each configuration. "
        f"WA = overall accuracy, UA = mean per-class recall. {BEST_MARKER} marks the best mean "
        f"{metric_name(metrics[0]) if metrics else ''}{per}; n = done/planned{stats_caption(table_stats)}."
    )
    out.append("")
    rows = aggregate_rows(stats, metrics=metrics, series_key=spec.series, best_metric=metrics[0], paper=spec.paper,
                          baseline=baseline, table_stats=table_stats)
    out.append(markdown_table(rows, marker_column=True))
    verdict = baseline_verdict(table_stats)
    if verdict is not None:
        out += [verdict, ""]
    if spec.paper and metrics:
        out += ["## Best per series, ours vs paper", ""]
        out.append(markdown_table(summary_rows(stats, spec.series, spec.x, metric=metrics[0], paper=spec.paper)))
    out += ["## Failures", ""]
    if failures:
        out.append(markdown_table(failure_rows(failures)))
    else:
        out += ["None.", ""]
    out += ["## Plots", ""]
    if plots:
        out += [f"- [{link.rsplit('/', 1)[-1]}]({link})" for link in plots]
    else:
        out.append("No plots.")
    out.append("")
    return "\n".join(out)


def _link(path: Path, folder: Path) -> str:
    """Plot links in report.md are relative to the run folder when the plot lives inside it."""
    try:
        return path.resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def write_report_files(
    run_dir: str | os.PathLike[str],
    stats: Sequence[ConfigStats],
    failures: Iterable[FailedTrial | Any],
    report_spec: Mapping[str, Any] | ReportSpec | Any | None,
    title: str,
    *,
    metrics: Sequence[str] | None = None,
    plots: Sequence[str | os.PathLike[str]] | None = None,
    baseline: ConfigStats | None = None,
    table_stats: TableStats | None = None,
) -> list[Path]:
    """Write results.csv, results.json and report.md into ``run_dir`` (atomically); return them.

    ``plots``: PNGs to list in report.md; by default the ``*.png`` already in ``run_dir``
    (so write the plots first). ``metrics``: default the spec's ``metrics`` (WA, UA).
    """
    folder = Path(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    spec = ReportSpec.from_any(report_spec)
    metrics = tuple(metrics) if metrics is not None else spec.metrics
    failures = list(failures)
    plot_paths = sorted(folder.glob("*.png")) if plots is None else [Path(p) for p in plots]
    links = [_link(p, folder) for p in plot_paths]

    run = RunDir.at(folder)
    texts = {
        run.results_csv: results_csv_text(stats, spec, metrics, baseline=baseline, table_stats=table_stats),
        run.results_json: json.dumps(
            json_safe(results_json_data(stats, failures, spec, title, metrics, baseline=baseline, table_stats=table_stats)),
            indent=2, allow_nan=False,
        )
        + "\n",
        run.report_md: _report_markdown(folder, stats, failures, spec, title, metrics, links, baseline, table_stats),
    }
    return [atomic_write_text(path, text) for path, text in texts.items()]
