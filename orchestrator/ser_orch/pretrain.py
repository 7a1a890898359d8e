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

from pydantic import Field

from ser_data.atomic import atomic_write
from ser_data.errors import SerError
from ser_data.paths import user_cache_dir
from ser_models.training.speaker_id import SpeakerIdSettings

from .grid.sections import Section
from .rundir import RunDir

S = SpeakerIdSettings  # the training defaults live in the trainer's settings


class PretrainSettings(Section):
    """The grid's ``train.pretrain`` section."""

    weights: str | None = None  # a user-supplied trunk file; null = produce it here
    dataset: str | None = None  # corpus layout with speaker labels; null = the trial's dataset
    root: str | None = None  # null = the built-in synthetic corpus (its actors are the speakers)
    epochs: int = Field(S.epochs, ge=0)
    batch_size: int = Field(S.batch_size, ge=2)
    lr: float = Field(S.lr, gt=0)
    crop_frames: int = Field(S.crop_frames, ge=32)
    steps_per_epoch: int | None = Field(S.steps_per_epoch, ge=1)
    workers: int = Field(1, ge=1)
    use_gpu: bool = False
    seed: int = S.seed


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


def pretrain_key(trunk: dict[str, Any], settings: dict[str, Any], corpus: dict[str, Any]) -> str:
    payload = {"trunk": trunk, "corpus": corpus, "settings": {k: v for k, v in settings.items() if k not in _NOT_IN_KEY}, "v": 1}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def cached_weights(run_dir: Path, key: str) -> Path:
    return RunDir.at(run_dir).pretrained_dir / f"{key}.pt"


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


def load_trunk(path: Path) -> dict[str, Any]:
    """The SE-ResNet trunk weights of a file made by pre-training (or a plain trunk state_dict).

    Loaded with ``weights_only=True``: a weights file from elsewhere cannot run code."""
    import pickle
    import re

    import torch

    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:  # torch's own text goes on to suggest unsafe loading: not repeated
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        why = (f"it holds Python objects ({found.group(1)}), not only tensors and plain values" if found
               else next((line.strip() for line in str(exc).splitlines() if "WeightsUnpickler error" in line), "unpickling failed"))
        raise PretrainError(f"{path}: not a weights file that can be loaded safely ({why[:160]})") from None
    except Exception as exc:  # noqa: BLE001 - arbitrary bytes make the unpickler fail in any way (KeyError, ...)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise PretrainError(f"{path}: not a weights file that can be loaded safely ({type(exc).__name__}"
                            + (f": {first[:160]}" if first else "") + ")") from None
    state = saved.get("trunk", saved) if isinstance(saved, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise PretrainError(f"{path}: not an SE-ResNet trunk weights file (expected a state_dict of tensors)")
    return state


def run_torch_trainer(job: PretrainJob, target: Path, run_dir: Path) -> None:
    """Data-parallel speaker-ID training on the Ray cluster that is already initialised."""
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    workers = int(job.settings["workers"])
    trainer = TorchTrainer(
        _worker_loop,
        train_loop_config={"job": job.__dict__, "target": str(target.resolve())},
        scaling_config=ScalingConfig(num_workers=workers, use_gpu=bool(job.settings["use_gpu"]), resources_per_worker={"CPU": 1}),
        run_config=RunConfig(name=f"pretrain-{job.key}", storage_path=str((RunDir.at(run_dir).pretrained_dir / "ray").resolve())),
    )
    result = trainer.fit()
    if getattr(result, "error", None):
        raise PretrainError(f"pre-training {job.key} failed: {result.error}")


def _worker_loop(config: dict[str, Any]) -> None:
    """One Ray Train worker: its shard of the speakers' utterances, DDP gradients, CE on speaker ids."""
    import dataclasses

    import numpy as np
    import ray.train
    import ray.train.torch
    import torch

    from ser_data.features import FeatureSet
    from ser_models import create_model
    from ser_models.se_resnet import trunk_state
    from ser_models.training.speaker_id import train_speaker_id

    job, s = config["job"], config["job"]["settings"]
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    torch.set_num_threads(1)
    fs = FeatureSet.load(job["features_path"])
    speakers = sorted(set(fs.speakers.tolist()))
    y = np.array([speakers.index(sp) for sp in fs.speakers], dtype=np.int64)
    shard = np.arange(len(y))[rank::world]  # each worker sees its own slice of the corpus
    torch.manual_seed(int(s["seed"]))  # same initial weights on every worker
    model = create_model("se-resnet34-avg", num_classes=len(speakers), input_dim=int(fs.x.shape[1]), **job["trunk"])
    model = ray.train.torch.prepare_model(model)
    settings = SpeakerIdSettings(**{f.name: s[f.name] for f in dataclasses.fields(SpeakerIdSettings)})
    train_speaker_id(model, fs.sequences(), y, shard, settings, device=ray.train.torch.get_device(), rank=rank,
                     on_epoch=lambda info, _state: ray.train.report(info))
    if rank == 0:
        inner = model.module if hasattr(model, "module") else model
        saved = {"trunk": trunk_state(inner), "key": job["key"], "speakers": speakers, "trunk_args": job["trunk"], "workers": world}
        atomic_write(config["target"], lambda fh: torch.save(saved, fh))
