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
from ..trial import run_trial

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


def trainable(config: dict[str, Any]) -> None:
    """What Ray runs. ``config = {"job": {"trial": <trial config>, "inputs": <TrialInputs dict>},
    "run_dir": str, "cpus": float, "checkpoint_every": int}``.

    A restored experiment may still list as running a trial that finished just before the job was
    preempted; its record decides, so it is never trained (or recorded) twice.
    """
    trial = config["job"]["trial"]
    run = RunDir.at(config["run_dir"])
    if _already_done(run, trial["trial_id"]):
        tune.report({"phase": "final", "trial_done": 1, "skipped": 1})
        return
    resume_state = None
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            # weights_only: a checkpoint holds tensors and plain values only (the trainers' contract).
            resume_state = torch.load(Path(folder) / CHECKPOINT_FILE, map_location="cpu", weights_only=True)
            try:
                epoch = json.loads((Path(folder) / CHECKPOINT_EPOCH).read_text())["global_epoch"]
            except (OSError, ValueError, KeyError):
                epoch = "?"
        _log_line(run, f"{trial['trial_id']}: resumed from its checkpoint after epoch {epoch}")
    every = max(1, int(config.get("checkpoint_every", 10)))

    def report(info: dict[str, Any], state_fn: Any) -> None:
        metrics = tune_scalars(info)
        if state_fn is not None and int(metrics.get("global_epoch", 0)) % every == 0:
            with tempfile.TemporaryDirectory() as folder:
                torch.save(state_fn(), Path(folder) / CHECKPOINT_FILE)
                (Path(folder) / CHECKPOINT_EPOCH).write_text(json.dumps({"global_epoch": int(metrics.get("global_epoch", 0))}))
                tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))
        else:
            tune.report(metrics)

    record = run_trial(trial, TrialInputs.from_dict(config["job"]["inputs"]), run.path, on_epoch=report,
                       resume_state=resume_state, cpus=float(config.get("cpus", 1)))
    tune.report({**tune_scalars(record.metrics), "phase": "final", "trial_done": 1})
