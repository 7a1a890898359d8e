"""Turn plain trial configs into one Ray Tune experiment on a local (or given) Ray cluster."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def ray_session(resources: Resources, address: str | None = None) -> Iterator[dict[str, float]]:
    """A Ray connection for the run: a new local cluster (or ``address``), shut down at the end
    if this call started it. Yields the cluster's resources (CPU, GPU counts)."""
    _quiet_ray()
    import ray

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
        yield dict(ray.cluster_resources())
    finally:
        if started_here:
            ray.shutdown()


def run_trials(
    jobs: list[dict[str, Any]],
    run: RunDir,
    resources: Resources,
    *,
    total: int | None = None,
    console: Console | None = None,
    callbacks: list[Any] | None = None,
) -> RunOutcome:
    """Run ``jobs`` (``{"trial": config, "inputs": TrialInputs dict}`` each, none complete yet) as
    one Tune experiment on the Ray cluster this process is connected to (see `ray_session`).

    If the latest Tune experiment in the run folder was cut short (preemption, requeue, a killed
    driver), it is restored: finished trials stay finished, running ones resume from their last
    checkpoint. Trial records, not Tune's state, decide what is complete. ``total``: the run's
    trial count, for the progress bar (default: ``len(jobs)``).
    """
    from ray import tune

    from .progress import TrialProgress
    from .trainable import trainable

    total = len(jobs) if total is None else total
    skipped = total - len(jobs)
    storage = run.tune_dir.resolve()
    # Experiment state saved often: a preempted job loses at most a few seconds of Tune bookkeeping.
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "5")
    attempt = len(list(storage.glob("attempt-*"))) if storage.exists() else 0
    fn = tune.with_resources(trainable, {"cpu": resources.cpus_per_trial, "gpu": resources.gpus_per_trial})
    param_space = {
        "job": tune.grid_search(jobs),
        "run_dir": str(run.path.resolve()),
        "cpus": resources.cpus_per_trial,
        "checkpoint_every": resources.checkpoint_every,
    }
    progress = TrialProgress(total=total, console=console, already_done=skipped)
    restore = _restorable_attempt(storage) if storage.exists() else None
    if restore is not None:
        tuner = tune.Tuner.restore(str(restore), fn, resume_unfinished=True, resume_errored=True)
        run_config = getattr(getattr(tuner, "_local_tuner", None), "get_run_config", lambda: None)()
        if run_config is not None:  # the pickled callbacks lost their live display; give fresh ones
            run_config.callbacks = [progress, *(callbacks or [])]
        if console is not None:
            console.print(f"restoring the interrupted Tune experiment {restore.name}")
    else:
        restore = storage / f"attempt-{attempt}"
        tuner = tune.Tuner(
            fn,
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
    with progress:
        results = tuner.fit()
    (restore / ATTEMPT_DONE).touch()
    failed: list[str] = []
    finished = completed_trial_ids(run.path)
    for result in results:
        trial = result.config["job"]["trial"]
        if trial["trial_id"] in finished:
            continue
        failed.append(trial["trial_id"])
        error = _one_line_error(result.error) if result.error else "trial ended without a result"
        write_record(run.path, TrialRecord.for_trial(trial, "failed", error=error))
    return RunOutcome(ran=len(jobs), skipped=skipped, failed=failed)
