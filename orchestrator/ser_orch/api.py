"""The Python API: run a grid from a notebook or script, and read any run folder, as DataFrames.

    from ser_orch.api import run, read_run

    results = run("grids/kumar_arch.yaml", quick=True, overrides={"model.family": "fc"}, out="runs/fc")
    results.configs      # one row per configuration: wa_mean, wa_min, wa_max, wa_std, wa_n, ...
    results.trials       # one row per trial record
    results.history()    # every epoch of every trial (learning curves)
    read_run("runs/fc").configs   # the same frames from the folder, later

It is the CLI's code path (``ser_orch.experiment``): same validation, same run folder, same files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from .experiment import Experiment, LocalLauncher, RunOptions, resolve_resources, run_experiment
from .grid import Grid, parse_grid
from .results.aggregate import ConfigStats, aggregate
from .report.frames import config_frame, history_frame, trial_frame
from .results.records import TrialRecord, scan_records
from .rundir import open_run_dir

__all__ = ["Results", "read_run", "resume", "run"]


@dataclass
class Results:
    """A run folder's results: ``configs`` (aggregated over folds and seeds) and ``trials``
    (one row per record) as pandas DataFrames; metrics are fractions in [0, 1]."""

    run_dir: Path
    grid: Grid
    stats: list[ConfigStats]
    records: list[TrialRecord]

    @property
    def configs(self) -> Any:
        spec = self.grid.spec.report
        return config_frame(self.stats, list(spec.metrics), series=spec.series, paper=spec.paper)

    @property
    def trials(self) -> Any:
        return trial_frame(self.records)

    def history(self, config_id: str | None = None) -> Any:
        """Per-epoch histories (long format), of one configuration or all."""
        records = [r for r in self.records if config_id is None or r.config_id == config_id]
        return history_frame(records)


def read_run(run_dir: str | Path) -> Results:
    """The results of an existing run folder (finished or not); nothing is written."""
    run = open_run_dir(Path(run_dir))
    grid = parse_grid(run.grid_text(), run.grid_file)
    records = scan_records(run.path).records
    stats = aggregate(records, metrics=list(grid.spec.report.metrics), planned=run.planned_trials())
    return Results(run.path, grid, stats, records)


def run(
    grid: str | Path | Grid,
    *,
    quick: bool = False,
    folds: str | None = None,
    epochs: int | None = None,
    dataset: str | None = None,
    data_root: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    out: str | Path | None = None,
    cpus_per_trial: float | None = None,
    gpus_per_trial: float | None = None,
    max_concurrent: int | None = None,
    max_failures: int | None = None,
    pretrain_workers: int | None = None,
    track: str | None = None,
    tracking_uri: str | None = None,
    pack: str | int = "auto",
    address: str | None = None,
    console: Console | None = None,
) -> Results:
    """Run a grid like ``ser-orch ablate`` and return its results.

    ``overrides``: dotted grid keys -> values, applied after the quick profile (a key that is a
    grid axis becomes that single value, e.g. ``{"model.family": "fc"}``). ``address``: run on
    an existing Ray cluster instead of a new local one. ``track``: ``"tensorboard"``, ``"mlflow"``
    or ``"none"`` like ``--track`` (default: the grid's ``track:``), ``tracking_uri`` like
    ``--tracking-uri`` (docs/grids.md "Experiment tracking"). ``pack``: ``"auto"``, ``"off"`` or
    N members per pack, like ``--pack`` (docs/packing.md). ``console``: where progress and tables
    go (default: this process's terminal; pass ``Console(quiet=True)`` for silence).
    Bad input raises ``ser_data.errors.SerError`` with the same one-line message as the CLI."""
    options = RunOptions(quick=quick, folds=folds, epochs=epochs, dataset=dataset,
                         data_root=str(data_root) if data_root is not None else None,
                         overrides=dict(overrides or {}), pretrain_workers=pretrain_workers,
                         track=track, tracking_uri=tracking_uri, pack=pack)
    exp = Experiment.from_grid(grid, options)
    return _run(exp, out, dict(cpus_per_trial=cpus_per_trial, gpus_per_trial=gpus_per_trial,
                               max_concurrent=max_concurrent, max_failures=max_failures), address, console)


def resume(run_dir: str | Path, *, address: str | None = None, console: Console | None = None, **resources: Any) -> Results:
    """Finish an interrupted run folder (completed trials are never rerun)."""
    exp = Experiment.resume(run_dir)
    stored = (exp.run.meta.get("options") or {}).get("resources") if exp.run else None
    return _run(exp, None, resources, address, console, stored)


def _run(exp: Experiment, out: str | Path | None, given: dict[str, Any], address: str | None,
         console: Console | None, stored: dict[str, Any] | None = None) -> Results:
    from .console import make_console

    result = run_experiment(exp, resolve_resources(given, stored), out=out, launcher=LocalLauncher(address),
                            console=console or make_console())
    assert result.run is not None
    return read_run(result.run.path)
