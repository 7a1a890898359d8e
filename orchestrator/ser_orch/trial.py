"""One trial = one configuration on one fold with one seed, run in the current process (no Ray).

The Ray Tune trainable (``runner.trainable``) wraps :func:`run_trial` with reporting and
checkpoints; tests and debugging call it directly.
"""

from __future__ import annotations

import io
import math
import os
import socket
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ser_data.atomic import atomic_write_bytes
from ser_data.features import FeatureSet

from .inputs import TrialInputs
from .results.records import TrialRecord, write_record
from .rundir import RunDir
from .tasks import FoldData, TrialContext, TrialOutcome, get_task

# Per-process memo: with reuse_actors a worker runs many trials on the same feature file.
_FEATURES: dict[str, FeatureSet] = {}
_FOLDS: dict[str, dict[str, np.ndarray]] = {}


class TrialDiverged(FloatingPointError):
    """A trial whose final metrics are not finite numbers (training diverged)."""


def _features(path: str) -> FeatureSet:
    if path not in _FEATURES:
        _FEATURES[path] = FeatureSet.load(path)
    return _FEATURES[path]


def _folds(path: str) -> dict[str, np.ndarray]:
    if path not in _FOLDS:
        with np.load(path) as data:
            _FOLDS[path] = {k: data[k] for k in data.files}
    return _FOLDS[path]


def fold_data(trial: dict[str, Any], inputs: TrialInputs, device: str) -> FoldData:
    """Slice the cached features by the fold's indices and move them to the device once."""
    fs = _features(inputs.features)
    folds = _folds(inputs.folds)
    f = trial["fold"]
    idx = {part: folds[f"{f}/{part}"] for part in ("train", "val", "test")}

    def part(name: str) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        i = idx[name]
        if i.size == 0:
            return None, None
        # Rows gathered in numpy: a writable copy of just this part (the cache is a read-only memmap).
        x = None if fs.is_variable else torch.from_numpy(np.array(fs.x[i], dtype=np.float32))
        return (x.to(device) if x is not None else None), torch.from_numpy(np.array(fs.y[i], dtype=np.int64)).to(device)

    x_train, y_train = part("train")
    x_val, y_val = part("val")
    x_test, y_test = part("test")
    return FoldData(
        x_train, y_train, x_val, y_val, x_test, y_test, tuple(fs.labels),
        test_ids=[fs.utt_ids[i] for i in idx["test"]],
        features=fs, train_idx=idx["train"], val_idx=idx["val"], test_idx=idx["test"],
    )


def pick_device() -> str:
    return "cuda" if torch.cuda.is_available() and torch.cuda.device_count() > 0 else "cpu"


def run_trial(
    trial: dict[str, Any],
    inputs: TrialInputs,
    run_dir: str | Path,
    *,
    on_epoch: Any = None,
    resume_state: dict[str, Any] | None = None,
    cpus: float = 1.0,
    device: str | None = None,
) -> TrialRecord:
    """Train and evaluate one trial, write its record (and test embeddings) into the run folder."""
    # Small models on a shared CPU: more threads than the trial's CPU share only adds contention.
    torch.set_num_threads(max(1, int(cpus)))
    torch.manual_seed(trial["seed"])
    np.random.seed(trial["seed"] % 2**32)
    device = device or pick_device()
    task = get_task(trial["task"])
    settings = task.settings(trial)
    data = fold_data(trial, inputs, device)
    ctx = TrialContext(device=device, on_epoch=on_epoch, resume_state=resume_state, stage=dict(inputs.stage))
    start = time.perf_counter()
    outcome = task.run(trial, settings, data, ctx)
    problem = _diverged(outcome.metrics)
    if problem is not None:
        raise TrialDiverged(problem)
    return _record(RunDir.at(run_dir), trial, data, outcome, time.perf_counter() - start, device)


def _record(run: RunDir, trial: dict[str, Any], data: FoldData, outcome: TrialOutcome, seconds: float,
            device: str, extra: dict[str, Any] | None = None) -> TrialRecord:
    """Write a trained trial's arrays and record (the same for a trial run alone or in a pack)."""
    _write_arrays(run, trial["trial_id"], outcome)
    record = TrialRecord.for_trial(
        trial,
        "done",
        metrics={**outcome.metrics, "train_seconds": round(seconds, 3)},
        labels=list(data.labels),
        confusion=outcome.confusion,
        extra={**outcome.extra, **(extra or {})},
        node=os.environ.get("SER_ORCH_NODE") or socket.gethostname(),  # Slurm node name when run by a job
        device=device,
        history=outcome.history,
        sizes=data.sizes(),
    )
    write_record(run.path, record)
    return record


def _diverged(metrics: dict[str, Any]) -> str | None:
    bad = {k: v for k, v in metrics.items() if isinstance(v, float) and not math.isfinite(v)}
    return f"metric(s) {', '.join(f'{k}={v}' for k, v in bad.items())}: training diverged" if bad else None


def run_pack(
    trials: list[dict[str, Any]],
    inputs: list[TrialInputs],
    run_dir: str | Path,
    *,
    on_epoch: Any = None,
    resume_state: dict[str, Any] | None = None,
    cpus: float = 1.0,
    device: str | None = None,
) -> list[TrialRecord]:
    """Train ``trials`` (one task, equal ``Task.pack_key``) as one packed model and write one
    record per member, exactly as ``run_trial`` writes it, plus ``extra.pack`` (the pack's size
    and this member's place in it). A member whose training diverged gets a failed record with
    the reason; the others go on. ``on_epoch`` is a ``PackedOnEpoch``; the checkpoint it gets
    (and ``resume_state``) is the whole pack's."""
    torch.set_num_threads(max(1, int(cpus)))
    device = device or pick_device()
    task = get_task(trials[0]["task"])
    run = RunDir.at(run_dir)
    prepared, datas = [], []
    for trial, trial_inputs in zip(trials, inputs):
        # Global seeds as run_trial sets them, before each member's own preparation.
        torch.manual_seed(trial["seed"])
        np.random.seed(trial["seed"] % 2**32)
        data = fold_data(trial, trial_inputs, device)
        ctx = TrialContext(device=device, stage=dict(trial_inputs.stage))
        prepared.append(task.prepare(trial, task.settings(trial), data, ctx))
        datas.append(data)
    start = time.perf_counter()
    members = task.train_packed(prepared, TrialContext(device=device, on_epoch=on_epoch, resume_state=resume_state))
    seconds = (time.perf_counter() - start) / len(trials)  # the pack's time, shared out
    records = []
    for i, (trial, data, member) in enumerate(zip(trials, datas, members)):
        pack = {"pack": {"size": len(trials), "member": i}}
        if member.failed:
            record = TrialRecord.for_trial(trial, "failed", error=f"{type(member.error).__name__}: {member.reason}",
                                           history=member.history, extra=pack)
            write_record(run.path, record)
        else:
            outcome = task.finish(prepared[i], member.result)
            problem = _diverged(outcome.metrics)
            if problem is not None:
                record = TrialRecord.for_trial(trial, "failed", error=f"TrialDiverged: {problem}", history=outcome.history,
                                               extra=pack)
                write_record(run.path, record)
            else:
                record = _record(run, trial, data, outcome, seconds, device, pack)
        records.append(record)
    return records


def _write_arrays(run: RunDir, trial_id: str, outcome: TrialOutcome) -> None:
    arrays: dict[str, np.ndarray] = {}
    if outcome.embeddings is not None:
        arrays["embeddings"] = np.asarray(outcome.embeddings, dtype=np.float32)
    if outcome.y_true is not None:
        arrays["y_true"] = np.asarray(outcome.y_true)
    if outcome.y_pred is not None:
        arrays["y_pred"] = np.asarray(outcome.y_pred)
    if not arrays:
        return
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    run.trials_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(run.arrays_path(trial_id), buf.getvalue())
