"""Speaker-identification pre-training (Mocanu et al.'s first stage): cross-entropy over speaker
ids on random spectrogram crops, Adam.

Written for data-parallel use: each worker passes its own ``shard`` of the utterances and a
``rank`` (its crop/order generator is seeded with ``seed + rank``), and may pass a DDP-wrapped
model; with one worker it is an ordinary training loop. Contract: ``ser_models.training.loop``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .loop import OnEpoch, RandomStreams, Resumable, epoch_info
from .mocanu import random_crops


@dataclass
class SpeakerIdSettings:
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    crop_frames: int = 200
    steps_per_epoch: int | None = None  # None = one pass over the shard
    seed: int = 0


@dataclass
class SpeakerIdResult:
    epochs: int
    history: list[dict[str, Any]] = field(default_factory=list)


def train_speaker_id(
    model: nn.Module,
    seqs: Sequence[np.ndarray],
    speaker_ids: np.ndarray,
    shard: np.ndarray,
    settings: SpeakerIdSettings,
    device: torch.device | str = "cpu",
    on_epoch: OnEpoch | None = None,
    resume_state: dict[str, Any] | None = None,
    *,
    rank: int = 0,
) -> SpeakerIdResult:
    """Train ``model`` (logits over speakers) in place on the utterances ``shard`` of ``seqs``."""
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
    streams = RandomStreams(order=np.random.default_rng(settings.seed + rank))
    rng = streams["order"]
    state = Resumable({"model": model, "optimizer": opt}, streams, {"epoch": 0, "history": []}, resume_state)
    run = state.run

    bs = settings.batch_size
    steps = settings.steps_per_epoch or max(1, -(-len(shard) // bs))
    while run["epoch"] < settings.epochs:
        model.train()
        order = rng.permutation(shard)
        losses, correct, seen = [], 0, 0
        for step in range(steps):
            idx = order[(step * bs) % len(order) :][:bs]
            if len(idx) < 2:  # BatchNorm needs two samples
                continue
            x = random_crops([seqs[i] for i in idx], settings.crop_frames, rng).to(device)
            yb = torch.as_tensor(speaker_ids[idx], device=device)
            logits = model(x).logits
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            correct += int((logits.argmax(1) == yb).sum())
            seen += len(idx)
        run["epoch"] += 1
        info = epoch_info(phase=0, epoch=run["epoch"], global_epoch=run["epoch"],
                          loss=float(np.mean(losses)) if losses else 0.0, train_acc=correct / max(1, seen),
                          lr=opt.param_groups[0]["lr"])
        run["history"].append(info)
        if on_epoch is not None:
            on_epoch(dict(info), state.state)
    return SpeakerIdResult(run["epoch"], run["history"])
