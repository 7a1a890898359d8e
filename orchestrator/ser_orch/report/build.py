"""One call that turns a run folder into its report: tables on the console, files, plots.

Used at the end of `ablate` and by `ser-orch report RUN_DIR` (so both give the same figures).
"""

from __future__ import annotations

import json
import math

import numpy as np
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from ..grid import parse_grid
from ..results.aggregate import ConfigStats, FailedTrial, aggregate, failures_of
from ..results.records import read_trial_arrays, scan_records
from ..results.comparison import TableStats, table_stats as table_stats_of
from ..results.curves import curves_by_config
from ..rundir import RunDir, open_run_dir
from ser_data.atomic import atomic_write_text
from .angles import angle_std_table, angle_table, summarise_angles
from .files import write_report_files
from .html import write_report_html
from .rows import aggregate_rows, baseline_verdict, summary_rows
from .tables import aggregate_table, failures_table, problems_table, summary_table


@dataclass
class BuiltReport:
    stats: list[ConfigStats]
    failures: list[FailedTrial]
    files: list[Path] = field(default_factory=list)
    json_data: dict[str, Any] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # plots that could not be drawn, and why
    baseline: ConfigStats | None = None
    table_stats: TableStats | None = None


def best_config(stats: list[ConfigStats], metric: str = "wa") -> ConfigStats | None:
    scored = [s for s in stats if s.n and not math.isnan(s.metrics[metric].mean)]
    return max(scored, key=lambda s: s.metrics[metric].mean) if scored else None


def _plots(run_dir: Path, stats: list[ConfigStats], spec: Any, metrics: list[str], skipped: list[str]) -> list[Path]:
    from . import plots

    written: list[Path] = []
    if spec.x:
        leaf = spec.x.rsplit(".", 1)[-1]
        for metric in metrics:
            written.append(
                plots.plot_metric_vs_x(stats, spec.x, spec.series, metric, run_dir / f"{metric}_vs_{leaf}.png", paper=spec.paper)
            )
        if spec.y:
            for metric in metrics:
                written.append(
                    plots.plot_heatmap(stats, spec.x, spec.y, metric, run_dir / f"{metric}_heatmap_{leaf}_{spec.y.rsplit('.', 1)[-1]}.png", paper=spec.paper)
                )
    if getattr(spec, "per_config", False):  # e.g. softmax vs triplet vs emotion loss side by side
        panels = []
        for config in stats:
            first = _first_embeddings(run_dir, config, skipped)
            written += _config_plots(run_dir, config, _file_tag(config.config_id), first, skipped)
            if first is not None:
                panels.append((config.config_id, first))
        labels = stats[0].labels if stats else None
        if len(panels) > 1 and labels and all(c.labels == labels for c in stats):
            written.append(plots.plot_tsne_panels([(cid, a["embeddings"], a["y_true"]) for cid, (_, a) in panels], labels, run_dir / "tsne_per_config.png"))
    best = best_config(stats)
    if best is not None:
        written += _config_plots(run_dir, best, "best", _first_embeddings(run_dir, best, skipped), skipped)
    return written


def _curve_plots(run: RunDir, stats: list[ConfigStats], records: list[Any]) -> list[Path]:
    """One learning-curve PNG per configuration with histories, in <run>/curves/."""
    from . import plots

    curves = curves_by_config(records, [s.config_id for s in stats])
    if curves:
        run.curves_dir.mkdir(exist_ok=True)
    return [plots.plot_learning_curve(c, run.curves_dir / f"{_file_tag(c.config_id)}.png") for c in curves]


def _file_tag(config_id: str) -> str:
    return config_id.replace("/", "_").replace(" ", "_")


def _config_plots(run_dir: Path, config: ConfigStats, tag: str, first: tuple[str, dict[str, Any]] | None,
                  skipped: list[str]) -> list[Path]:
    """Confusion matrix (summed over the configuration's runs) and t-SNE of ``first``, its first
    run with test embeddings (see _first_embeddings), as confusion_<tag>.png and tsne_<tag>.png."""
    from . import plots

    written: list[Path] = []
    if config.confusion is not None:
        written.append(
            plots.plot_confusion(
                config.confusion, config.labels, run_dir / f"confusion_{tag}.png",
                f"{config.config_id}: confusion summed over {config.confusion_n} run(s), row-normalised",
            )
        )
    if first is not None:
        trial_id, arrays = first
        title = f"{config.config_id}: t-SNE of test embeddings ({trial_id.split('__', 1)[-1]})"
        try:
            written.append(plots.plot_tsne(arrays["embeddings"], arrays["y_true"], config.labels, run_dir / f"tsne_{tag}.png", seed=0, title=title))
        except ValueError as exc:  # e.g. too few test utterances for t-SNE: the rest of the report still stands
            skipped.append(f"tsne_{tag}.png ({trial_id}): {str(exc).splitlines()[0]}")
    return written


def _first_embeddings(run_dir: Path, config: ConfigStats, skipped: list[str] | None = None) -> tuple[str, dict[str, Any]] | None:
    """The configuration's first run that kept finite test embeddings: (trial id, arrays). Runs
    whose embeddings hold NaN/inf (a diverged model) cannot be plotted; they are noted in ``skipped``."""
    bad: list[str] = []
    for run in config.runs:
        arrays = read_trial_arrays(run_dir, run.trial_id)
        if arrays and "embeddings" in arrays and "y_true" in arrays:
            if not np.isfinite(arrays["embeddings"]).all():
                bad.append(run.trial_id)
                continue
            return run.trial_id, arrays
    if bad and skipped is not None:
        note = f"t-SNE of {config.config_id}: the test embeddings of {len(bad)} run(s) contain NaN/inf (e.g. {bad[0]})"
        if note not in skipped:
            skipped.append(note)
    return None


def build_report(run_dir: str | Path, *, console: Console | None = None, plots: bool = True) -> BuiltReport:
    """Aggregate the run's records over folds/seeds; print tables to `console`; write files and plots."""
    folder = Path(run_dir)
    run = open_run_dir(folder)
    grid = parse_grid(run.grid_text(), run.grid_file)
    spec = grid.spec.report
    metrics = list(spec.metrics)
    scan = scan_records(folder)
    stats = aggregate(scan.records, metrics=metrics, planned=run.planned_trials())
    failures = failures_of(stats)
    baseline_records = scan_records(folder, baseline=True).records if spec.baseline != "none" else []
    baseline = (aggregate(baseline_records, metrics=metrics) or [None])[0] if baseline_records else None
    table_stats = table_stats_of(stats, metrics, scan.records + baseline_records, baseline=baseline)
    extra = {"baseline": baseline, "table_stats": table_stats}
    title = f"{grid.name}: {grid.spec.description}" if grid.spec.description else grid.name
    skipped: list[str] = []
    plot_files = _plots(folder, stats, spec, metrics, skipped) + _curve_plots(run, stats, scan.records) if plots else []
    files = write_report_files(folder, stats, failures, spec, title, metrics=metrics, plots=plot_files or None, **extra)
    files.append(write_report_html(
        folder, json.loads(run.results_json.read_text()), title=title, grid_text=run.grid_text(), options=run.meta,
        table=aggregate_rows(stats, metrics=metrics, series_key=spec.series, paper=spec.paper, **extra),
        summary=summary_rows(stats, spec.series, spec.x, paper=spec.paper) if spec.series and spec.x else None,
        plots=plot_files, failures=failures, problems=scan.problems,
    ))
    best = best_config(stats)
    angles = summarise_angles(scan.records, best.config_id) if best else None
    if angles is not None:
        files.append(atomic_write_text(run.angles_json, json.dumps(angles.to_dict(), indent=2) + "\n"))
    report = BuiltReport(stats, failures, files + plot_files, json.loads(run.results_json.read_text()), skipped, baseline,
                         table_stats)
    if console is not None:
        console.print(aggregate_table(stats, metrics=metrics, series_key=spec.series, paper=spec.paper, title=title, **extra))
        verdict = baseline_verdict(table_stats)
        if verdict is not None:
            console.print(verdict, soft_wrap=True)
        if spec.series and spec.x:
            console.print(summary_table(stats, spec.series, spec.x, paper=spec.paper))
        if angles is not None:
            console.print(angle_table(angles))
            console.print(angle_std_table(angles))
        if failures:
            console.print(failures_table(failures))
        if scan.problems:
            console.print(problems_table(scan.problems))
        if spec.citation:
            console.print(f"paper: {spec.citation}")
        for note in skipped:
            console.print(f"[yellow]not plotted:[/] {note}", soft_wrap=True)
        curves = [p for p in report.files if p.parent == run.curves_dir]
        names = [str(p.relative_to(folder)) for p in report.files if p.parent != run.curves_dir]
        if curves:
            names.append(f"{run.curves_dir.name}/*.png ({len(curves)} learning curves)")
        console.print("written: " + ", ".join(names) + f" in {folder}")
    return report
