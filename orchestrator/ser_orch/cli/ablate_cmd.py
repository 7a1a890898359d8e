"""`ser-orch ablate --grid FILE`: run a grid's trials on Ray Tune and report fold-aggregated results."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from ..grid import DEFAULT_MAX_TRIALS
from . import run_options as opt
from .common import StepProgress, console, fail, user_errors
from .outcome import finish, run_faults


def ablate(
    grid: Annotated[Path, typer.Option("--grid", "-g", help="Grid YAML file, e.g. grids/kumar_arch.yaml.")],
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
    """Run every trial of a grid as a Ray Tune trial, then print the fold-aggregated table."""
    run_grid(**locals())


@user_errors
def run_grid(
    grid: Path,
    quick: bool = False,
    out: Path | None = None,
    resume: bool = False,
    dataset: str | None = None,
    data_root: Path | None = None,
    folds: str | None = None,
    epochs: int | None = None,
    cpus_per_trial: float | None = None,
    gpus_per_trial: float | None = None,
    max_concurrent: int | None = None,
    max_failures: int | None = None,
    max_trials: int = DEFAULT_MAX_TRIALS,
    pretrain_workers: int | None = None,
    track: str | None = None,
    tracking_uri: str | None = None,
    pack: str | None = None,
    slurm: str | None = None,
    nodes: int | None = None,
    gpus_per_node: int | None = None,
    time: str | None = None,
    partition: str | None = None,
    wait: bool = False,
    dry_run: bool = False,
) -> None:
    """The options of `ablate`, `sweep` and `submit` -> one `run_experiment` call."""
    from ..experiment import Experiment, LocalLauncher, RunOptions, resolve_resources, run_experiment
    from ..packing import parse_pack
    from ..runner.tracking import Tracking, check_resume_tracking

    if slurm is None and (dry_run or wait or nodes or gpus_per_node is not None or time or partition):
        raise fail("--dry-run, --wait, --nodes, --gpus-per-node, --time and --partition need --slurm PROFILE")
    if resume:
        if out is None:
            raise fail("--resume needs --out RUN_DIR (the run folder to finish)")
        exp = Experiment.resume(out, grid, pretrain_workers=pretrain_workers)
        check_resume_tracking(Tracking.of(exp.options), track, tracking_uri)
        if pack is not None:  # packing never changes what a trial computes: a resume may choose again
            exp.options = replace(exp.options, pack=parse_pack(pack))
        stored = (exp.run.meta.get("options") or {}).get("resources") if exp.run else None
    else:
        options = RunOptions(quick=quick, folds=folds, epochs=epochs, dataset=dataset,
                             data_root=str(data_root) if data_root else None, pretrain_workers=pretrain_workers,
                             track=track, tracking_uri=tracking_uri, pack=parse_pack(pack))
        exp = Experiment.from_grid(grid, options, max_trials=max_trials)
        stored = None
    resources = resolve_resources({"cpus_per_trial": cpus_per_trial, "gpus_per_trial": gpus_per_trial,
                                   "max_concurrent": max_concurrent, "max_failures": max_failures}, stored)
    if slurm is not None:
        from ..slurm.launch import SlurmLauncher

        launcher: Any = SlurmLauncher(slurm, {"nodes": nodes, "gpus_per_node": gpus_per_node, "time": time,
                                              "partition": partition}, wait=wait, dry_run=dry_run)
    else:
        launcher = LocalLauncher()
    with run_faults(exp, grid):
        result = run_experiment(exp, resources, out=out, launcher=launcher, console=console,
                                data_progress=lambda: StepProgress(console))
    finish(result)
