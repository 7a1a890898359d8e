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

from ..faults import RunInterrupted, check_folder
from ..results.records import TrialRecord, completed_trial_ids, write_record
from ..rundir import RunDir
from .jobs import failed_members, job_trials


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
    # We keep one checkpoint per trial on purpose; Tune's "snapshotting may become a bottleneck" is noise here.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    for name in ("ray", "ray.tune", "ray.train", "ray.air", "ray.data"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


ATTEMPT_DONE = ".finished"  # marker in tune/attempt-N: its fit() returned; a new attempt starts fresh


def _restorable_attempt(storage: Path, console: Console | None = None) -> Path | None:
    """The latest attempt folder if its fit() never returned (job killed/preempted, Ctrl-C, a
    full disk) and Tune can restore it."""
    from ray import tune

    attempts = sorted(storage.glob("attempt-*"), key=lambda p: int(p.name.split("-")[1]) if p.name.split("-")[1].isdigit() else -1)
    if not attempts or (attempts[-1] / ATTEMPT_DONE).exists():
        return None
    latest = attempts[-1]
    if not tune.Tuner.can_restore(str(latest)):
        return None
    problem = _state_problem(latest)
    if problem is not None:
        if console is not None:
            console.print(f"[yellow]the interrupted Tune experiment {latest.name} cannot be restored[/] ({problem}); "
                          "its unfinished trials start again from their first epoch")
        return None
    return latest


def _state_problem(attempt: Path) -> str | None:
    """Why Tune's saved experiment state cannot be restored, or None. Tune writes the state file
    in place, so a full disk or a killed driver can leave it cut short; restoring that used to end
    in a KeyError deep inside the resume."""
    import json

    states = sorted(attempt.glob("experiment_state-*.json"))
    if not states:
        return "no experiment state file"
    try:
        data = json.loads(states[-1].read_text())
        if not isinstance(data.get("trial_data"), list):
            raise ValueError("no trial list")
    except (OSError, ValueError, AttributeError) as exc:
        return f"{states[-1].name} is unreadable: {type(exc).__name__}"
    return None


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
def ray_session(resources: Resources, address: str | None = None, log: Any = None) -> Iterator[dict[str, float]]:
    """A Ray connection for the run: a new local cluster (or ``address``), shut down at the end
    if this call started it. Yields the cluster's resources (CPU, GPU counts). ``log``: a
    `ray_log.RayLog` that takes Ray's messages while the session is open (else: not shown)."""
    from contextlib import nullcontext

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
    with log if log is not None else nullcontext():
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
    """Run ``jobs`` (``runner.jobs``: one trial or a pack each, none complete yet) as one Tune
    experiment on the Ray cluster this process is connected to (see `ray_session`).

    If the latest Tune experiment in the run folder was cut short (preemption, requeue, a killed
    driver), it is restored: finished trials stay finished, running ones resume from their last
    checkpoint. Trial records, not Tune's state, decide what is complete. ``total``: the run's
    trial count, for the progress bar (default: ``len(jobs)``).
    """
    from ray import tune

    from .attempts import AttemptCounter
    from .progress import TrialProgress
    from .trainable import trainable

    total = sum(len(job_trials(job)) for job in jobs) if total is None else total
    skipped = total - len(jobs)
    storage = run.tune_dir.resolve()
    # Experiment state saved often: a preempted job loses at most a few seconds of Tune bookkeeping.
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "5")
    attempt = _next_attempt(storage)
    fn = tune.with_resources(trainable, {"cpu": resources.cpus_per_trial, "gpu": resources.gpus_per_trial})
    param_space = {
        "job": tune.grid_search(jobs),
        "run_dir": str(run.path.resolve()),
        "cpus": resources.cpus_per_trial,
        "checkpoint_every": resources.checkpoint_every,
    }
    progress = TrialProgress(total=total, console=console, already_done=skipped)
    attempts = AttemptCounter()
    restore = _restorable_attempt(storage, console) if storage.exists() else None
    tuner = None
    if restore is not None:
        try:
            tuner = tune.Tuner.restore(str(restore), fn, resume_unfinished=True, resume_errored=True)
        except Exception as exc:  # noqa: BLE001 - a state Tune cannot read: start a fresh attempt
            if console is not None:
                console.print(f"[yellow]the interrupted Tune experiment {restore.name} cannot be restored[/] "
                              f"({type(exc).__name__}); its unfinished trials start again from their first epoch")
            tuner = None
    if tuner is not None:
        run_config = getattr(getattr(tuner, "_local_tuner", None), "get_run_config", lambda: None)()
        if run_config is not None:  # the pickled callbacks lost their live display; give fresh ones
            run_config.callbacks = [progress, attempts, *(callbacks or [])]
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
                callbacks=[progress, attempts, *(callbacks or [])],
                failure_config=tune.FailureConfig(max_failures=resources.max_failures),
                checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            ),
        )
    with progress:
        try:
            results = tuner.fit()
        except Exception:
            # A full or read-only run folder surfaces inside Tune in many shapes (an empty error
            # pickle, a cut state file): name the folder and the cause instead.
            check_folder(run.path)
            raise
    # Before anything is marked finished: a full disk failed the trials, not their configs, and
    # a --resume (once there is space) must find Tune's state as it was.
    check_folder(run.path)
    finished = completed_trial_ids(run.path)
    ended: list[tuple[dict[str, Any], str]] = []
    failed_in_pack: list[dict[str, Any]] = []
    unfinished = 0
    for result in results:
        members = [t for t in job_trials((result.config or {}).get("job")) if t["trial_id"] not in finished]
        if not members:
            continue
        if result.error is None and not (result.metrics or {}).get("trial_done"):
            unfinished += len(members)  # Tune stopped before it ended: interrupted (Ctrl-C / SIGINT)
            continue
        recorded = set(failed_members(result.metrics if result.error is None else None))  # failed members' own records
        error = _one_line_error(result.error) if result.error else "trial ended without a result"
        ended += [(t, error + attempts.suffix(t["trial_id"])) for t in members if t["trial_id"] not in recorded]
        failed_in_pack += [t for t in members if t["trial_id"] in recorded]
    for trial, error in ended:
        write_record(run.path, TrialRecord.for_trial(trial, "failed", error=error))
    if unfinished:
        # Tune saved those trials as running, with their checkpoints: the attempt stays unmarked,
        # so a --resume restores it and they continue where they stopped (no failed record).
        done = skipped + sum(1 for job in jobs for t in job_trials(job) if t["trial_id"] in finished)
        raise RunInterrupted(run.path, done=done, left=total - done)
    (restore / ATTEMPT_DONE).touch()
    ran = sum(len(job_trials(job)) for job in jobs)
    return RunOutcome(ran=ran, skipped=skipped, failed=[t["trial_id"] for t, _ in ended] + [t["trial_id"] for t in failed_in_pack])


def _next_attempt(storage: Path) -> int:
    """One past the highest attempt number (a skipped, unrestorable attempt keeps its folder)."""
    numbers = [int(p.name.split("-")[1]) for p in storage.glob("attempt-*") if p.name.split("-")[1].isdigit()] if storage.exists() else []
    return max(numbers, default=-1) + 1
