"""What the trackers share: a Tune callback that sorts a trial's results into epochs, its end and
trials that were already complete, and the values and parameters they log.

The trainable reports every epoch's history entry (phase, epoch, global_epoch, loss, train_acc,
[val_acc], lr, stop, and any extra scalars of the recipe) and then a result with ``phase:
"final"``, written after the trial's record (``runner.trainable``). Steps are ``global_epoch``.

Resumes: a restored Tune experiment restarts a trial from its last checkpoint, so the epochs
after it come again. Each tracker makes everything up to a checkpoint durable in
``on_checkpoint`` (Tune calls it before it stores the checkpoint in its experiment state) and
writes each step once (how depends on the format, see the subclasses). A trial that a restored
experiment still lists as running but whose record is done is replayed from its record.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from ray import tune
from ray.tune.result import AUTO_RESULT_KEYS

from ..results.records import TrialRecord
from ..rundir import RunDir
from .jobs import job_trials, tune_job

# Keys of a result that say where a value belongs rather than being one.
BOOKKEEPING = frozenset({"phase", "epoch", "global_epoch", "stop", "trial_done", "skipped"})
# Trial config keys that are not parameters: the ids (trackers keep them as run names/tags) and the
# axes (their values are in the config already).
NOT_PARAMS = frozenset({"trial_id", "config_id", "axes"})


def logged_values(result: Mapping[str, Any]) -> dict[str, float]:
    """The finite numbers of a result (or of a record's metrics) worth a curve: no flags, no
    bookkeeping, nothing Tune adds by itself (time, iteration, pid)."""
    out: dict[str, float] = {}
    for key, value in result.items():
        if key in BOOKKEEPING or key in AUTO_RESULT_KEYS or isinstance(value, bool):
            continue
        if isinstance(value, (int, float)) and math.isfinite(value):
            out[key] = float(value)
    return out


def flat_params(trial: Mapping[str, Any], drop: frozenset[str] = NOT_PARAMS) -> dict[str, str | int | float | bool]:
    """The trial config as dotted keys -> scalars (lists as JSON, None as "null")."""
    out: dict[str, str | int | float | bool] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping) and value:
            for key, sub in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), sub)
        elif isinstance(value, (str, int, float, bool)):
            out[prefix] = value
        else:
            out[prefix] = json.dumps(value)

    for key, value in trial.items():
        if key not in drop:
            walk(key, value)
    return out


class TrialTracker(tune.Callback):
    """Base of the trackers: subclasses implement ``epoch``, ``final``, ``replay``, ``durable``,
    ``failed`` and ``close``; live handles (writers, clients) live in ``self._live``, which is
    never pickled (Tune pickles its callbacks with the experiment state)."""

    def __init__(self, run_dir: str) -> None:
        self.run_dir = run_dir
        self._live: dict[str, Any] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_live": {}}

    # ---- what Tune calls ----
    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        job = tune_job(trial)
        packed = "pack" in job
        for member in job_trials(job):
            if result.get("phase") != "final":
                if not packed:  # a pack's results are the pack's; its members' curves come from their records
                    self.epoch(member, int(result["global_epoch"]), logged_values(result))
                continue
            record = self.record(member["trial_id"])
            if record is None or not record.done:
                continue  # no record, nothing to show; the runner records the failure
            if result.get("skipped") or packed:
                self.replay(member, record)
            else:
                self.final(member, record)

    def on_checkpoint(self, iteration: int, trials: list, trial: Any, checkpoint: Any, **info: Any) -> None:
        for member in job_trials(tune_job(trial)):
            self.durable(member)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        for member in job_trials(tune_job(trial)):
            self.failed(member)

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        self.close()

    # ---- shared helpers ----
    def record(self, trial_id: str) -> TrialRecord | None:
        try:
            return TrialRecord.from_dict(json.loads(RunDir.at(self.run_dir).record_path(trial_id).read_text()))
        except (OSError, ValueError, TypeError):
            return None

    @staticmethod
    def history_steps(record: TrialRecord) -> list[tuple[int, dict[str, float]]]:
        return [(int(entry["global_epoch"]), logged_values(entry)) for entry in record.history]

    # ---- what subclasses write ----
    def epoch(self, trial: dict[str, Any], step: int, values: dict[str, float]) -> None:
        raise NotImplementedError

    def final(self, trial: dict[str, Any], record: TrialRecord) -> None:
        raise NotImplementedError

    def replay(self, trial: dict[str, Any], record: TrialRecord) -> None:
        raise NotImplementedError

    def durable(self, trial: dict[str, Any]) -> None:
        raise NotImplementedError

    def failed(self, trial: dict[str, Any]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError
