"""`ser-orch sweep NAME`: run a paper's named sweep (a grid file in grids/) like `ablate`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ..sweeps import available_sweeps
from ..grid import DEFAULT_MAX_TRIALS
from . import run_options as opt
from .ablate_cmd import run_grid
from .common import console, fail


def sweep(
    name: Annotated[str | None, typer.Argument(help="Sweep name; see --list.")] = None,
    list_: Annotated[bool, typer.Option("--list", help="Show the named sweeps and their grid files.")] = False,
    quick: opt.Quick = False,
    out: opt.Out = None,
    resume: opt.Resume = False,
    dataset: opt.Dataset = None,
    data_root: opt.DataRoot = None,
    folds: opt.Folds = None,
    epochs: opt.Epochs = None,
    cpus_per_trial: opt.CpusPerTrial = None,
    gpus_per_trial: opt.GpusPerTrial = None,
    max_concurrent: opt.MaxConcurrent = None,
    max_failures: opt.MaxFailures = None,
    max_trials: opt.MaxTrials = DEFAULT_MAX_TRIALS,
    pretrain_workers: opt.PretrainWorkers = None,
    track: opt.Track = None,
    tracking_uri: opt.TrackingUri = None,
    pack: opt.Pack = None,
    slurm: opt.Slurm = None,
    nodes: opt.Nodes = None,
    gpus_per_node: opt.GpusPerNode = None,
    time: opt.TimeLimit = None,
    partition: opt.Partition = None,
    wait: opt.Wait = False,
    dry_run: opt.DryRun = False,
) -> None:
    """Run a named sweep (e.g. `ser-orch sweep margins --quick`); same options as `ablate`, Slurm included."""
    sweeps = available_sweeps()
    if list_ or name is None:
        table = Table(title="Named sweeps")
        for column in ("name", "grid", "reproduces"):
            table.add_column(column)
        for s in sweeps.values():
            table.add_row(s.name, str(s.grid.relative_to(s.grid.parent.parent)), s.description)
        console.print(table if sweeps else "no named sweeps available")
        return
    if name not in sweeps:
        raise fail(f"unknown sweep '{name}'; valid sweeps: {', '.join(sweeps) or 'none'}")
    run_grid(
        grid=sweeps[name].grid, quick=quick, out=out, resume=resume, dataset=dataset, data_root=data_root,
        folds=folds, epochs=epochs, cpus_per_trial=cpus_per_trial, gpus_per_trial=gpus_per_trial,
        max_concurrent=max_concurrent, max_failures=max_failures, max_trials=max_trials, pretrain_workers=pretrain_workers,
        track=track, tracking_uri=tracking_uri, pack=pack, slurm=slurm, nodes=nodes,
        gpus_per_node=gpus_per_node, time=time, partition=partition, wait=wait, dry_run=dry_run,
    )
