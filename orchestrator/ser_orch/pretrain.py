"""Speaker-identification pre-training (Mocanu S2-S5's multi-stage training) as a Ray Train job.

The paper pre-trains on VoxCeleb2 (~1.1 M utterances), the one big-data step, so it runs as a
data-parallel ``TorchTrainer`` over ``workers`` workers (DDP; CPU here, GPUs when asked). The SE-ResNet
trunk's weights are written once to ``<run>/pretrained/<key>.pt`` (key = hash of the trunk and the
pre-training settings and corpus), copied to the user cache, and reused by every trial, by
``--resume`` and by later runs with the same key.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ser_data.atomic import atomic_write
from ser_data.errors import SerError
from ser_data.paths import user_cache_dir

# Pre-training settings and defaults (grid: train.pretrain.*).
DEFAULTS: dict[str, Any] = {
    "weights": None,  # a user-supplied trunk file; null = produce it here
    "dataset": None,  # corpus layout with speaker labels; null = the trial's dataset
    "root": None,  # null = the built-in synthetic corpus (its actors are the speakers)
    "epochs": 10,
    "batch_size": 32,
    "lr": 1e-3,
    "crop_frames": 200,
    "steps_per_epoch": None,
    "workers": 1,
    "use_gpu": False,
    "seed": 0,
}
# Settings that do not change the weights' meaning stay out of the cache key.
_NOT_IN_KEY = ("weights", "workers", "use_gpu")


class PretrainError(SerError):
    """Pre-trained weights that are missing or cannot be produced."""


@dataclass(frozen=True)
class PretrainJob:
    key: str
    features_path: str
    trunk: dict[str, Any]  # SE-ResNet trunk constructor arguments
    settings: dict[str, Any]


def pretrain_settings(raw: dict[str, Any] | None) -> dict[str, Any]:
    return {**DEFAULTS, **(raw or {})}


def pretrain_key(trunk: dict[str, Any], settings: dict[str, Any], corpus: dict[str, Any]) -> str:
    payload = {"trunk": trunk, "corpus": corpus, "settings": {k: v for k, v in settings.items() if k not in _NOT_IN_KEY}, "v": 1}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def cached_weights(run_dir: Path, key: str) -> Path:
    return run_dir / "pretrained" / f"{key}.pt"


def _user_copy(key: str) -> Path:
    return user_cache_dir() / "pretrained" / f"{key}.pt"


def _copy_atomic(src: Path, dst: Path) -> None:
    with open(src, "rb") as source:
        atomic_write(dst, lambda fh: shutil.copyfileobj(source, fh))


def ensure_pretrained(jobs: list[PretrainJob], run_dir: Path, *, console: Any = None) -> dict[str, Path]:
    """Weights for every job: the run's copy, else the user cache's, else a Ray Train run."""
    out: dict[str, Path] = {}
    for job in jobs:
        target = cached_weights(run_dir, job.key)
        if not target.exists() and _user_copy(job.key).exists():
            _copy_atomic(_user_copy(job.key), target)
        if target.exists():
            if console is not None:
                console.print(f"pre-trained weights {job.key}: reused ({target})")
        else:
            start = time.perf_counter()
            run_torch_trainer(job, target, run_dir)
            if not target.exists():
                raise PretrainError(f"pre-training {job.key} finished without writing {target}")
            try:
                _copy_atomic(target, _user_copy(job.key))
            except OSError:
                pass  # the user cache is a convenience; the run folder holds the weights
            if console is not None:
                console.print(f"pre-trained weights {job.key}: {job.settings['epochs']} epoch(s) on {job.settings['workers']} worker(s) in {time.perf_counter() - start:.1f} s")
        out[job.key] = target
    return out


def run_torch_trainer(job: PretrainJob, target: Path, run_dir: Path) -> None:
    """Data-parallel speaker-ID training on the Ray cluster that is already initialised."""
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    workers = int(job.settings["workers"])
    trainer = TorchTrainer(
        _worker_loop,
        train_loop_config={"job": job.__dict__, "target": str(target.resolve())},
        scaling_config=ScalingConfig(num_workers=workers, use_gpu=bool(job.settings["use_gpu"]), resources_per_worker={"CPU": 1}),
        run_config=RunConfig(name=f"pretrain-{job.key}", storage_path=str((run_dir / "pretrained" / "ray").resolve())),
    )
    result = trainer.fit()
    if getattr(result, "error", None):
        raise PretrainError(f"pre-training {job.key} failed: {result.error}")


def _worker_loop(config: dict[str, Any]) -> None:
    """One Ray Train worker: its shard of the speakers' utterances, DDP gradients, CE on speaker ids."""
    import numpy as np
    import ray.train
    import ray.train.torch
    import torch
    import torch.nn.functional as F

    from ser_data.features import FeatureSet
    from ser_models import create_model
    from ser_models.se_resnet import trunk_state
    from ser_models.training.mocanu import random_crops

    job, s = config["job"], config["job"]["settings"]
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    torch.set_num_threads(1)
    fs = FeatureSet.load(job["features_path"])
    speakers = sorted(set(fs.speakers.tolist()))
    y = np.array([speakers.index(sp) for sp in fs.speakers], dtype=np.int64)
    seqs = fs.sequences()
    shard = np.arange(len(y))[rank::world]  # each worker sees its own slice of the corpus
    torch.manual_seed(int(s["seed"]))  # same initial weights on every worker
    model = create_model("se-resnet34-avg", num_classes=len(speakers), input_dim=int(fs.x.shape[1]), **job["trunk"])
    model = ray.train.torch.prepare_model(model)
    opt = torch.optim.Adam(model.parameters(), lr=float(s["lr"]))
    device = ray.train.torch.get_device()
    rng = np.random.default_rng(int(s["seed"]) + rank)
    bs = int(s["batch_size"])
    steps = s["steps_per_epoch"] or max(1, -(-len(shard) // bs))
    for epoch in range(int(s["epochs"])):
        order = rng.permutation(shard)
        losses, correct, seen = [], 0, 0
        for step in range(steps):
            idx = order[(step * bs) % len(order) :][:bs]
            if len(idx) < 2:
                continue
            x = random_crops([seqs[i] for i in idx], int(s["crop_frames"]), rng).to(device)
            yb = torch.as_tensor(y[idx], device=device)
            logits = model(x).logits
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            correct += int((logits.argmax(1) == yb).sum())
            seen += len(idx)
        ray.train.report({"epoch": epoch + 1, "loss": float(np.mean(losses)) if losses else 0.0, "train_acc": correct / max(1, seen)})
    if rank == 0:
        inner = model.module if hasattr(model, "module") else model
        saved = {"trunk": trunk_state(inner), "key": job["key"], "speakers": speakers, "trunk_args": job["trunk"], "workers": world}
        atomic_write(config["target"], lambda fh: torch.save(saved, fh))
