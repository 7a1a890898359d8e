"""The Ray Tune function trainable: one trial = one configuration on one fold with one seed."""

from __future__ import annotations

import io
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ray import tune

from ser_data.features import FeatureSet

from ser_data.atomic import atomic_write_bytes
from ..results.records import TrialRecord, write_record
from ..tasks import FoldData, get_task

# Per-process memo: with reuse_actors a worker runs many trials on the same feature file.
_FEATURES: dict[str, FeatureSet] = {}
_FOLDS: dict[str, dict[str, np.ndarray]] = {}

CHECKPOINT_FILE = "state.pt"


def _features(path: str) -> FeatureSet:
    if path not in _FEATURES:
        _FEATURES[path] = FeatureSet.load(path)
    return _FEATURES[path]


def _folds(path: str) -> dict[str, np.ndarray]:
    if path not in _FOLDS:
        with np.load(path) as data:
            _FOLDS[path] = {k: data[k] for k in data.files}
    return _FOLDS[path]


def fold_data(trial: dict[str, Any], device: str) -> FoldData:
    """Slice the cached features by the fold's indices and move them to the device once."""
    fs = _features(trial["data"]["features_path"])
    folds = _folds(trial["data"]["folds_path"])
    f = trial["fold"]
    idx = {part: folds[f"{f}/{part}"] for part in ("train", "val", "test")}
    y = torch.as_tensor(np.asarray(fs.y, dtype=np.int64))
    x = None if fs.is_variable else torch.as_tensor(np.asarray(fs.x, dtype=np.float32))

    def part(name: str) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        if idx[name].size == 0:
            return None, None
        i = torch.as_tensor(idx[name])
        return (x[i].to(device) if x is not None else None), y[i].to(device)

    x_train, y_train = part("train")
    x_val, y_val = part("val")
    x_test, y_test = part("test")
    return FoldData(
        x_train, y_train, x_val, y_val, x_test, y_test, tuple(fs.labels),
        test_ids=[fs.utt_ids[i] for i in idx["test"]],
        features=fs, train_idx=idx["train"], val_idx=idx["val"], test_idx=idx["test"],
    )


def tune_scalars(info: dict[str, Any]) -> dict[str, Any]:
    """Tune results must be flat scalars: keep numbers, strings and flags; numpy scalars -> Python."""
    out: dict[str, Any] = {}
    for key, value in info.items():
        if isinstance(value, (np.floating, np.integer)):
            value = value.item()
        if isinstance(value, (int, float, str, bool)):
            out[key] = value
    return out


def pick_device() -> str:
    return "cuda" if torch.cuda.is_available() and torch.cuda.device_count() > 0 else "cpu"


def run_trial(config: dict[str, Any]) -> None:
    """Entry point Ray calls. `config = {"trial": <trial config>, "run_dir": str, "cpus": float, "checkpoint_every": int}`."""
    trial = config["trial"]
    run_dir = Path(config["run_dir"])
    # Small models on a shared CPU: more threads than the trial's CPU share only adds contention.
    torch.set_num_threads(max(1, int(config.get("cpus", 1))))
    torch.manual_seed(trial["seed"])
    np.random.seed(trial["seed"] % 2**32)
    device = pick_device()
    task = get_task(trial["task"])
    data = fold_data(trial, device)

    resume_state = None
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            resume_state = torch.load(Path(folder) / CHECKPOINT_FILE, map_location=device, weights_only=False)

    every = max(1, int(config.get("checkpoint_every", 10)))
    start = time.perf_counter()

    def report(info: dict[str, Any], state_fn: Any) -> None:
        metrics = tune_scalars(info)
        epoch = int(metrics.get("global_epoch", 0))
        if state_fn is not None and epoch % every == 0:
            with tempfile.TemporaryDirectory() as folder:
                torch.save(state_fn(), Path(folder) / CHECKPOINT_FILE)
                tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))
        else:
            tune.report(metrics)

    outcome = task.run(trial, data, device, report, resume_state)
    metrics = {**outcome.metrics, "train_seconds": round(time.perf_counter() - start, 3)}
    _write_arrays(run_dir, trial["trial_id"], outcome, data)
    write_record(
        run_dir,
        TrialRecord.for_trial(
            trial,
            "done",
            metrics=metrics,
            labels=list(data.labels),
            confusion=outcome.confusion,
            extra=outcome.extra,
            node=os.environ.get("SER_ORCH_NODE") or socket.gethostname(),  # Slurm node name when run by a job
            device=device,
        ),
    )
    tune.report({**metrics, "phase": "final", "trial_done": 1})


def _write_arrays(run_dir: Path, trial_id: str, outcome: Any, data: FoldData) -> None:
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
    (run_dir / "trials").mkdir(exist_ok=True)
    atomic_write_bytes(run_dir / "trials" / f"{trial_id}.npz", buf.getvalue())
