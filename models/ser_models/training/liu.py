"""Liu & Wang trainer: CNN-LSTM on MFCC segments, ``alpha * triplet + (1 - alpha) * CE``, Adam.

Choices (the paper's where it gives them):
- Adam with weight decay (lr 1e-4, weight decay 1e-6); ``epochs`` passes over the segments, in
  mini-batches that are index slices of one shuffled permutation per epoch.
- Triplets: the paper's "50,000 random triplets" are spread over an epoch's mini-batches (a pool
  of ``ceil(triplet_pool / batches)`` random triplets per batch), each pool filtered to its
  ``selection`` (semi-hard + hard, Eqs. 5-6), squared Euclidean distance, ``margin``.
- Determinism: batch order and the triplet pools use their own ``torch.Generator``s seeded from
  ``seed``; both are in the checkpoint (contract: ``ser_models.training.loop``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from ..base import SerModel
from ..losses import CrossEntropy, RandomPoolMiner, TripletLoss, WeightedSum
from .batches import batch_indices
from .loop import OnEpoch, RandomStreams, batch_accuracy, epoch_info, restore_stateful, stateful_state, to_cpu


@dataclass
class LiuSettings:
    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-4
    weight_decay: float = 1e-6
    alpha: float = 0.3  # weight of the triplet term; 1 - alpha weighs cross-entropy
    margin: float = 1.0
    triplet_pool: int = 50000  # random triplets per epoch, before selection
    selection: str = "semihard+hard"
    seed: int = 0


@dataclass
class LiuResult:
    epochs: int
    history: list[dict[str, Any]] = field(default_factory=list)


def joint_loss(settings: LiuSettings, n_batches: int, generator: torch.Generator) -> WeightedSum:
    """``alpha * triplet + (1 - alpha) * CE`` with the epoch's pool spread over ``n_batches``."""
    miner = RandomPoolMiner(pool=max(1, math.ceil(settings.triplet_pool / n_batches)), keep=settings.selection,
                            generator=generator)
    return WeightedSum([
        (settings.alpha, TripletLoss("sqeuclidean", margin=settings.margin, miner=miner)),
        (1.0 - settings.alpha, CrossEntropy()),
    ])


def train_liu(
    model: SerModel,
    train: tuple[Tensor, Tensor],
    settings: LiuSettings,
    device: torch.device | str = "cpu",
    on_epoch: OnEpoch | None = None,
    resume_state: dict[str, Any] | None = None,
) -> LiuResult:
    """Train ``model`` in place on training segments ``train = (x, y)`` (device tensors)."""
    dev = torch.device(device)
    model.to(dev)
    x, y = (t.to(dev) for t in train)
    n = int(y.shape[0])
    streams = RandomStreams(batch=torch.Generator(device=dev).manual_seed(settings.seed),
                            triplets=torch.Generator(device=dev).manual_seed(settings.seed))
    loss_fn = joint_loss(settings, max(1, math.ceil(n / settings.batch_size)), streams["triplets"])
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    stateful = {"model": model, "optimizer": opt}
    run: dict[str, Any] = {"epoch": 0, "history": []}
    if resume_state is not None:
        restore_stateful(stateful, resume_state)
        streams.restore(resume_state["streams"])
        run = to_cpu(resume_state["run"])

    def state_fn() -> dict[str, Any]:
        return {**stateful_state(stateful), "streams": streams.state(), "run": to_cpu(run)}

    while run["epoch"] < settings.epochs:
        model.train()
        total = torch.zeros((), device=dev)
        correct = torch.zeros((), device=dev, dtype=torch.long)
        for idx in batch_indices(n, settings.batch_size, streams["batch"], dev):
            out = model(x[idx])
            loss = loss_fn(out, y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach() * idx.numel()
            correct += batch_accuracy(out.logits.detach(), y[idx])
        run["epoch"] += 1
        info = epoch_info(phase=1, epoch=run["epoch"], global_epoch=run["epoch"], loss=float(total) / n,
                          train_acc=float(correct) / n, lr=opt.param_groups[0]["lr"])
        run["history"].append(info)
        if on_epoch is not None:
            on_epoch(dict(info), state_fn)
    return LiuResult(run["epoch"], run["history"])
