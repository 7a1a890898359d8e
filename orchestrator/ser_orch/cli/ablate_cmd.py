"""`ser-orch ablate --grid FILE`: run a grid's trials on Ray Tune and report fold-aggregated results."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from . import run_options as opt
from .common import StepProgress, console, fail, parse_int_list, user_errors


def ablate(
    grid: Annotated[Path, typer.Option("--grid", "-g", help="Grid YAML file, e.g. grids/kumar_arch.yaml.")],
    quick: opt.Quick = False,
    out: opt.Out = None,
    resume: opt.Resume = False,
    dataset: opt.Dataset = None,
    data_root: opt.DataRoot = None,
    folds: opt.Folds = None,
    epochs: opt.Epochs = None,
    cpus_per_trial: opt.CpusPerTrial = 1.0,
    gpus_per_trial: opt.GpusPerTrial = 0.0,
    max_concurrent: opt.MaxConcurrent = None,
    max_failures: opt.MaxFailures = 1,
    pretrain_workers: opt.PretrainWorkers = None,
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
    cpus_per_trial: float = 1.0,
    gpus_per_trial: float = 0.0,
    max_concurrent: int | None = None,
    max_failures: int = 1,
    pretrain_workers: int | None = None,
    slurm: str | None = None,
    nodes: int | None = None,
    gpus_per_node: int | None = None,
    time: str | None = None,
    partition: str | None = None,
    wait: bool = False,
    dry_run: bool = False,
) -> None:
    from ..grid import count_configs, expand, load_grid, validate_trials
    from ..report.build import build_report
    from ..rundir import create_run_dir, default_run_path, open_run_dir
    from ..runner import Resources, run_trials
    from ..runner.data_prep import plan_trial_data
    from ..tasks import get_task

    loaded = load_grid(grid)
    workers_key = None
    if pretrain_workers is not None:
        workers_key = getattr(get_task(loaded.spec.task), "pretrain_workers_key", None)
        if workers_key is None:
            raise fail(f"--pretrain-workers: grid '{loaded.name}' (task {loaded.spec.task}) has no pre-training stage")
    if resume:
        if out is None:
            raise fail("--resume needs --out RUN_DIR (the run folder to finish)")
        run = open_run_dir(out, loaded)
        trials = run.planned_trials()
        if workers_key is not None:  # the worker count never changes the weights, so a resume may change it
            from ..grid.expand import set_dotted

            for trial in trials:
                set_dotted(trial, workers_key, pretrain_workers)
        console.print(f"resuming [bold]{run.path}[/] with the options it was started with: {run.meta.get('options')}")
    else:
        overrides: dict[str, Any] = {}
        if dataset is not None:
            overrides["dataset.name"] = dataset
        if data_root is not None:
            overrides["dataset.root"] = str(data_root)
        if epochs is not None:
            for key in get_task(loaded.spec.task).epoch_keys:
                overrides[key] = epochs
        if workers_key is not None:
            overrides[workers_key] = pretrain_workers
        trials = expand(loaded, quick=quick, folds=parse_int_list(folds, "--folds"), overrides=overrides)
        validate_trials(loaded, trials)
        run = None

    console.print(
        f"grid [bold]{loaded.name}[/]: {count_configs(trials)} configurations, {len(trials)} trials"
        + (" (quick profile)" if quick else "")
    )
    resources = Resources(
        cpus_per_trial=cpus_per_trial,
        gpus_per_trial=gpus_per_trial,
        max_concurrent=max_concurrent,
        max_failures=max_failures,
    )
    slurm_plan = None
    if slurm is None and (dry_run or wait or nodes or gpus_per_node is not None or time or partition):
        raise fail("--dry-run, --wait, --nodes, --gpus-per-node, --time and --partition need --slurm PROFILE")
    if slurm is not None:  # every Slurm check happens here, before data is prepared or anything is submitted
        from ..slurm.submit import describe, plan_submission

        out = out or default_run_path(loaded)  # one path for the plan and the folder made below
        slurm_plan = plan_submission(
            slurm, run_path=run.path if run else out, n_trials=len(trials), resources=resources,
            overrides={"nodes": nodes, "gpus_per_node": gpus_per_node, "time": time, "partition": partition}, dry_run=dry_run,
        )
        if dry_run:
            describe(slurm_plan, f"ser-orch-{loaded.name}", console)
            console.print("dry run: nothing was submitted")
            return
    else:  # local Ray: refuse requests this machine can never meet, before any work or folder
        from ..runner.runner import check_capacity, local_capacity, stage_workers

        check_capacity(local_capacity(), resources, stage_workers(trials))
    with StepProgress(console) as progress:
        data = plan_trial_data(trials, progress)
    for info in data.summary.values():
        console.print(f"data: {info['dataset']} at {info['root']}: {info['utterances']} utterances, {info['features']} cached in {info['cache']}")
        if info["problems"]:
            console.print(f"[yellow]{len(info['problems'])} file(s) excluded[/] (first: {info['problems'][0][0]}: {info['problems'][0][1]})")
    if run is None:
        options = {"quick": quick, "folds": folds, "epochs": epochs, "pretrain_workers": pretrain_workers, "dataset": dataset, "data_root": str(data_root) if data_root else None}
        run = create_run_dir(out or default_run_path(loaded), loaded, trials, options)
    data.attach(trials, run.data_dir)
    console.print(f"run folder: [bold]{run.path}[/]")

    if slurm_plan is not None:
        from ..slurm import status as slurm_status
        from ..slurm.submit import describe, submit_run

        describe(slurm_plan, f"ser-orch-{loaded.name}", console, script=False)
        submit_run(slurm_plan, run.path.resolve(), trials, f"ser-orch-{loaded.name}", console)
        if wait:
            slurm_status.wait(run.path.resolve(), console)
        return
    outcome = run_trials(trials, run, resources, console=console)
    if outcome.skipped:
        console.print(f"{outcome.skipped} trial(s) already complete, not rerun")
    build_report(run.path, console=console)
    if outcome.failed:
        console.print(f"[red]{len(outcome.failed)} trial(s) failed[/]; they are listed above and left out of the statistics")
