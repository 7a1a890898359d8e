"""Options shared by `ablate`, `sweep` and `submit` (one definition, so the commands cannot drift).

Resource options default to None = "not given": a new run then takes the defaults shown, a
`--resume` what the run was started with."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Quick = Annotated[bool, typer.Option("--quick", help="The grid's quick profile: every configuration, fewer folds and epochs.")]
Out = Annotated[Path | None, typer.Option(help="Run folder (default runs/<grid>-<time>).")]
Resume = Annotated[bool, typer.Option("--resume", help="Finish the trials missing from --out; completed trials are never rerun.")]
Dataset = Annotated[str | None, typer.Option(help="Override the grid's dataset (ravdess, cremad, iemocap, emodb, tess, savee, msppodcast, emobox, manifest).")]
DataRoot = Annotated[Path | None, typer.Option(help="Corpus folder, or the manifest file with --dataset manifest (default: the data-roots file, else the built-in synthetic corpus).")]
Folds = Annotated[str | None, typer.Option(help="Fold subset, e.g. 0,1,2 or 0-4.")]
Epochs = Annotated[int | None, typer.Option(min=0, help="Override the epochs of every training phase.")]
CpusPerTrial = Annotated[float | None, typer.Option(min=0.01, show_default=False, help="CPUs per trial (fractions allowed; default 1).")]
GpusPerTrial = Annotated[float | None, typer.Option(min=0.0, show_default=False, help="GPUs per trial (fractions share a GPU, e.g. 0.25 = 4 trials per GPU; default 0).")]
MaxConcurrent = Annotated[int | None, typer.Option(min=1, help="At most this many trials at once.")]
PretrainWorkers = Annotated[int | None, typer.Option(min=1, help="Data-parallel workers of the pre-training stage (Mocanu S2-S5's Ray Train job); overrides train.pretrain.workers.")]
Track = Annotated[str | None, typer.Option("--track", show_default=False, help="Experiment tracking of every trial's training: tensorboard (<run>/tensorboard/), mlflow or none; overrides the grid's track: key (default none). Needs pip install -e '.[tracking]'.")]
TrackingUri = Annotated[str | None, typer.Option("--tracking-uri", help="With --track mlflow: the MLflow tracking URI (default $MLFLOW_TRACKING_URI, else a SQLite store in the run folder).")]
Pack = Annotated[str | None, typer.Option("--pack", show_default=False, help="Train trials that share model, features and schedule as one packed model: auto (default: pack on a GPU, not on a CPU), off, or N = at most N trials per pack; resources (--cpus/--gpus-per-trial) are per pack.")]
MaxFailures = Annotated[int | None, typer.Option(min=0, show_default=False, help="Retries of a failing trial (default 1).")]
MaxTrials = Annotated[int, typer.Option(min=1, help="Refuse a grid that expands to more trials than this (a mistyped range would take minutes and gigabytes).")]

# Slurm submission (see README "Running on Slurm"); without --slurm the run is local.
Slurm = Annotated[str | None, typer.Option("--slurm", help="Submit to Slurm with this cluster profile: a name in slurm/ (e.g. local-dev) or a YAML path.")]
Nodes = Annotated[int | None, typer.Option(min=1, help="With --slurm: override the profile's node count.")]
GpusPerNode = Annotated[int | None, typer.Option(min=0, help="With --slurm: override the profile's GPUs per node.")]
TimeLimit = Annotated[str | None, typer.Option("--time", help="With --slurm: override the time limit (HH:MM:SS or minutes).")]
Partition = Annotated[str | None, typer.Option(help="With --slurm: override the profile's partition.")]
Wait = Annotated[bool, typer.Option("--wait", help="With --slurm: follow the job until it ends (survives requeues).")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="With --slurm: show what would be submitted (resources, trials, paths, sbatch script); submit nothing.")]
