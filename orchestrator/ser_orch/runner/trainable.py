"""The Ray Tune function trainable: `trial.run_trial` plus per-epoch reports and checkpoints."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ray import tune

from ..inputs import TrialInputs
from ..rundir import RunDir
from ..trial import run_pack, run_trial

CHECKPOINT_FILE = "state.pt"
CHECKPOINT_EPOCH = "epoch.json"  # {"global_epoch": n}: where a resumed trial continues, for its log line


def tune_scalars(info: dict[str, Any]) -> dict[str, Any]:
    """Tune results must be flat scalars: keep numbers, strings and flags; numpy scalars -> Python."""
    out: dict[str, Any] = {}
    for key, value in info.items():
        if isinstance(value, (np.floating, np.integer)):
            value = value.item()
        if isinstance(value, (int, float, str, bool)):
            out[key] = value
    return out


def _already_done(run: RunDir, trial_id: str) -> bool:
    try:
        return json.loads(run.record_path(trial_id).read_text()).get("status") == "done"
    except (OSError, ValueError):
        return False


def _log_line(run: RunDir, text: str) -> None:
    """One line in <run>/logs/trials.log (appends of one short line from several workers interleave whole)."""
    try:
        run.logs_dir.mkdir(parents=True, exist_ok=True)
        with run.trials_log.open("a", encoding="utf-8") as fh:
            fh.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}\n")
    except OSError:
        pass  # a log line is never worth failing a trial for


def _resume_state(run: RunDir, label: str) -> dict[str, Any] | None:
    checkpoint = tune.get_checkpoint()
    if checkpoint is None:
        return None
    with checkpoint.as_directory() as folder:
        # weights_only: a checkpoint holds tensors and plain values only (the trainers' contract).
        state = torch.load(Path(folder) / CHECKPOINT_FILE, map_location="cpu", weights_only=True)
        try:
            epoch = json.loads((Path(folder) / CHECKPOINT_EPOCH).read_text())["global_epoch"]
        except (OSError, ValueError, KeyError):
            epoch = "?"
    _log_line(run, f"{label}: resumed from its checkpoint after epoch {epoch}")
    return state


def _report(metrics: dict[str, Any], state_fn: Any, every: int) -> None:
    """One Tune result; with a checkpoint every ``every`` epochs (``metrics["global_epoch"]``)."""
    epoch = int(metrics.get("global_epoch", 0))
    if state_fn is not None and epoch % every == 0:
        with tempfile.TemporaryDirectory() as folder:
            torch.save(state_fn(), Path(folder) / CHECKPOINT_FILE)
            (Path(folder) / CHECKPOINT_EPOCH).write_text(json.dumps({"global_epoch": epoch}))
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))
    else:
        tune.report(metrics)


def trainable(config: dict[str, Any]) -> None:
    """What Ray runs. ``config = {"job": <a runner.jobs job: one trial or a pack>, "run_dir": str,
    "cpus": float, "checkpoint_every": int}``.

    A restored experiment may still list as running a trial that finished just before the job was
    preempted; its record decides, so it is never trained (or recorded) twice.
    """
    job = config["job"]
    if "pack" in job:
        _train_pack(job, config)
        return
    trial = job["trial"]
    run = RunDir.at(config["run_dir"])
    if _already_done(run, trial["trial_id"]):
        tune.report({"phase": "final", "trial_done": 1, "skipped": 1})
        return
    resume_state = _resume_state(run, trial["trial_id"])
    every = max(1, int(config.get("checkpoint_every", 10)))

    def report(info: dict[str, Any], state_fn: Any) -> None:
        _report(tune_scalars(info), state_fn, every)

    record = run_trial(trial, TrialInputs.from_dict(job["inputs"]), run.path, on_epoch=report,
                       resume_state=resume_state, cpus=float(config.get("cpus", 1)))
    tune.report({**tune_scalars(record.metrics), "phase": "final", "trial_done": 1})


def _train_pack(job: dict[str, Any], config: dict[str, Any]) -> None:
    """A pack: one packed model for its members, one checkpoint for the whole pack. Its Tune
    results are the pack's (epoch, members still training); the members' per-epoch histories
    are in their records."""
    trials = job["pack"]
    run = RunDir.at(config["run_dir"])
    label = f"pack of {len(trials)} ({trials[0]['trial_id']}, ...)"
    if all(_already_done(run, t["trial_id"]) for t in trials):
        tune.report({"phase": "final", "trial_done": 1, "skipped": 1})
        return
    resume_state = _resume_state(run, label)
    every = max(1, int(config.get("checkpoint_every", 10)))
    epochs = {"n": int((resume_state or {}).get("pack_epoch", 0))}

    def report(infos: dict[int, dict[str, Any]], state_fn: Any) -> None:
        epochs["n"] += 1
        n = epochs["n"]
        state = None if state_fn is None else (lambda: {**state_fn(), "pack_epoch": n})
        _report({"global_epoch": n, "members_training": len(infos)}, state, every)

    records = run_pack(trials, [TrialInputs.from_dict(d) for d in job["inputs"]], run.path, on_epoch=report,
                       resume_state=resume_state, cpus=float(config.get("cpus", 1)))
    done = [r for r in records if r.status == "done"]
    best = max(done, key=lambda r: r.metrics.get("wa", float("-inf")), default=None)
    final: dict[str, Any] = {"phase": "final", "trial_done": 1, "members_done": len(done),
                             "members_failed": json.dumps([r.trial_id for r in records if r.status != "done"])}
    if best is not None and "wa" in best.metrics:
        final.update(wa=float(best.metrics["wa"]), best_config=best.config_id)
    tune.report(final)
