"""Turn plain trial configs into one Ray Tune experiment on a local (or given) Ray cluster."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from ser_data.errors import SerError

from ..results.records import TrialRecord, completed_trial_ids, write_record
from ..rundir import RunDir


@dataclass
class Resources:
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    max_concurrent: int | None = None
    max_failures: int = 1
    checkpoint_every: int = 10
    num_cpus: int | None = None  # size of the local Ray cluster; None = all cores
    num_gpus: int | None = None


@dataclass
class RunOutcome:
    ran: int
    skipped: int
    failed: list[str]


def _quiet_ray() -> None:
    # The rich display is ours; Ray's console tables and per-trial tracebacks would drown it.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("RAY_CHDIR_TO_TRIAL_DIR", "0")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    for name in ("ray", "ray.tune", "ray.train", "ray.air", "ray.data"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


ATTEMPT_DONE = ".finished"  # marker in tune/attempt-N: its fit() returned; a new attempt starts fresh


def _run_trial_once(config: dict[str, Any]) -> None:
    """The trainable Tune runs: skips a trial whose record says done.

    A restored experiment may still list as running a trial that finished just before the job was
    preempted; its record decides, so it is never trained (or recorded) twice.
    """
    from ray import tune

    from .trainable import run_trial

    record = Path(config["run_dir"]) / "trials" / f"{config['trial']['trial_id']}.json"
    try:
        done = json.loads(record.read_text()).get("status") == "done"
    except (OSError, ValueError):
        done = False
    if done:
        tune.report({"phase": "final", "trial_done": 1, "skipped": 1})
        return
    run_trial(config)


def _restorable_attempt(storage: Path) -> Path | None:
    """The latest attempt folder if its fit() never returned (job killed/preempted) and Tune can restore it."""
    from ray import tune

    attempts = sorted(storage.glob("attempt-*"), key=lambda p: int(p.name.split("-")[1]) if p.name.split("-")[1].isdigit() else -1)
    if not attempts or (attempts[-1] / ATTEMPT_DONE).exists():
        return None
    latest = attempts[-1]
    return latest if tune.Tuner.can_restore(str(latest)) else None


class ResourceError(SerError):
    """Per-trial resources that no node of the Ray cluster can provide (Ray would wait forever)."""


def local_capacity() -> dict[str, float]:
    """What a local Ray cluster started by run_trials would have."""
    import torch

    return {"CPU": float(os.cpu_count() or 1), "GPU": float(torch.cuda.device_count())}


def stage_workers(trials: list[dict[str, Any]]) -> int:
    """The most workers (one CPU each) a task's stage before the trials will ask for (Mocanu's
    pre-training job); 0 when the task has no such stage or no trial needs it."""
    from ..tasks import get_task

    count = getattr(get_task(trials[0]["task"]), "stage_workers", None) if trials else None
    return int(count(trials)) if count is not None else 0


def check_capacity(cluster: dict[str, float], resources: Resources, stage_workers: int = 0) -> None:
    for name, asked, option, what in (
        ("CPU", resources.cpus_per_trial, "--cpus-per-trial", "no trial could ever start"),
        ("GPU", resources.gpus_per_trial, "--gpus-per-trial", "no trial could ever start"),
        ("CPU", stage_workers, "--pretrain-workers (train.pretrain.workers)", "the pre-training job could never start"),
    ):
        have = float(cluster.get(name, 0.0))
        if asked > have:
            raise ResourceError(f"{option} {asked:g}: the Ray cluster has {have:g} {name}(s) in all, so {what}")


def _one_line_error(error: BaseException | None) -> str:
    cause = getattr(error, "cause", None) or error
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[-1] if text else ''}".strip()


def _prepare_task(todo: list[dict[str, Any]], run: RunDir, console: Console | None, started_here: bool) -> None:
    """A task's optional stage before its trials (e.g. Mocanu's Ray Train pre-training), once per run."""
    from ..tasks import get_task

    prepare = getattr(get_task(todo[0]["task"]), "prepare", None)
    if prepare is None:
        return
    try:
        prepare(todo, run.path, console=console)
    except BaseException:
        if started_here:
            import ray

            ray.shutdown()
        raise


def run_trials(
    trials: list[dict[str, Any]],
    run: RunDir,
    resources: Resources,
    *,
    console: Console | None = None,
    address: str | None = None,
    callbacks: list[Any] | None = None,
) -> RunOutcome:
    """Run every trial of `trials` that has no completed record in the run folder.

    If the latest Tune experiment in the run folder was cut short (preemption, requeue, a killed
    driver), it is restored: finished trials stay finished, running ones resume from their last
    checkpoint. Trial records, not Tune's state, decide what is complete.
    """
    done = completed_trial_ids(run.path)
    todo = [t for t in trials if t["trial_id"] not in done]
    skipped = len(trials) - len(todo)
    if not todo:
        return RunOutcome(ran=0, skipped=skipped, failed=[])

    _quiet_ray()
    import ray
    from ray import tune

    from .progress import TrialProgress

    started_here = not ray.is_initialized()
    if started_here:
        ray.init(
            address=address or "local",
            num_cpus=resources.num_cpus,
            num_gpus=resources.num_gpus,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.ERROR,
        )
        _quiet_ray()
    try:
        check_capacity(ray.cluster_resources(), resources, stage_workers(todo))
    except ResourceError:
        if started_here:
            ray.shutdown()
        raise
    _prepare_task(todo, run, console, started_here)
    storage = (run.path / "tune").resolve()
    # Experiment state saved often: a preempted job loses at most a few seconds of Tune bookkeeping.
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "5")
    attempt = len(list(storage.glob("attempt-*"))) if storage.exists() else 0
    trainable = tune.with_resources(
        _run_trial_once, {"cpu": resources.cpus_per_trial, "gpu": resources.gpus_per_trial}
    )
    param_space = {
        "trial": tune.grid_search(todo),
        "run_dir": str(run.path.resolve()),
        "cpus": resources.cpus_per_trial,
        "checkpoint_every": resources.checkpoint_every,
    }
    progress = TrialProgress(total=len(trials), console=console, already_done=skipped)
    restore = _restorable_attempt(storage) if storage.exists() else None
    if restore is not None:
        tuner = tune.Tuner.restore(str(restore), trainable, resume_unfinished=True, resume_errored=True)
        run_config = getattr(getattr(tuner, "_local_tuner", None), "get_run_config", lambda: None)()
        if run_config is not None:  # the pickled callbacks lost their live display; give fresh ones
            run_config.callbacks = [progress, *(callbacks or [])]
        if console is not None:
            console.print(f"restoring the interrupted Tune experiment {restore.name}")
    else:
        restore = storage / f"attempt-{attempt}"
        tuner = tune.Tuner(
            trainable,
            param_space=param_space,
            tune_config=tune.TuneConfig(reuse_actors=True, max_concurrent_trials=resources.max_concurrent),
            run_config=tune.RunConfig(
                name=restore.name,
                storage_path=str(storage),
                verbose=0,
                callbacks=[progress, *(callbacks or [])],
                failure_config=tune.FailureConfig(max_failures=resources.max_failures),
                checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            ),
        )
    try:
        with progress:
            results = tuner.fit()
        (restore / ATTEMPT_DONE).touch()
    finally:
        if started_here:
            ray.shutdown()
    failed: list[str] = []
    finished = completed_trial_ids(run.path)
    for result in results:
        trial = result.config["trial"]
        if trial["trial_id"] in finished:
            continue
        failed.append(trial["trial_id"])
        error = _one_line_error(result.error) if result.error else "trial ended without a result"
        write_record(run.path, TrialRecord.for_trial(trial, "failed", error=error))
    return RunOutcome(ran=len(todo), skipped=skipped, failed=failed)
