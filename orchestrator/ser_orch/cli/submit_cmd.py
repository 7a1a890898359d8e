"""`ser-orch submit --grid FILE --slurm PROFILE`: `ablate --slurm` under its own name."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..grid import DEFAULT_MAX_TRIALS
from . import run_options as opt
from .ablate_cmd import run_grid


def submit(
    grid: Annotated[Path, typer.Option("--grid", "-g", help="Grid YAML file, e.g. grids/kumar_arch.yaml.")],
    slurm: Annotated[str, typer.Option("--slurm", help="Cluster profile: a name in slurm/ (e.g. local-dev) or a YAML path.")],
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
    nodes: opt.Nodes = None,
    gpus_per_node: opt.GpusPerNode = None,
    time: opt.TimeLimit = None,
    partition: opt.Partition = None,
    wait: opt.Wait = False,
    dry_run: opt.DryRun = False,
) -> None:
    """Submit a grid as one Slurm job (Ray across its nodes); prints the job id and run folder and returns."""
    run_grid(**locals())
