"""Liu & Wang trainer: CNN-LSTM on MFCC segments, ``alpha * triplet + (1 - alpha) * CE``, Adam.

Choices (the paper's where it gives them):
- Adam with weight decay (lr 1e-4, weight decay 1e-6); ``epochs`` passes over the segments, in
  mini-batches that are index slices of one shuffled permutation per epoch.
- Triplets: the paper's "50,000 random triplets" are spread over an epoch's mini-batches (a pool
  of ``ceil(triplet_pool / batches)`` random triplets per batch), each pool filtered to its
  ``selection`` (semi-hard + hard, Eqs. 5-6), squared Euclidean distance, ``margin``.
- Validation (when given): after every epoch the utterance accuracy of the validation segments
  (mean softmax over an utterance's segments, as the test does); the weights of the best epoch are
  kept (model selection), and with ``patience`` training stops after that many epochs without
  improvement (None: run every epoch).
- Determinism: batch order and the triplet pools use their own ``torch.Generator``s seeded from
  ``seed``; both are in the checkpoint (contract: ``ser_models.training.loop``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..base import SerModel
from ..losses import CrossEntropy, RandomPoolMiner, TripletLoss, WeightedSum
from .batches import batch_indices
from .loop import OnEpoch, RandomStreams, Resumable, SelectionResult, batch_accuracy, epoch_info, select_model, selection_run


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
    patience: int | None = None  # epochs without a better validation accuracy before stopping
    seed: int = 0


LiuResult = SelectionResult


@dataclass(frozen=True)
class SegmentVal:
    """Validation segments, their utterance labels and each segment's utterance (0..n-1)."""

    x: Tensor
    y: Tensor  # one label per utterance
    owner: Tensor  # per segment


@torch.no_grad()
def utterance_accuracy(model: SerModel, val: SegmentVal, batch_size: int = 512) -> float:
    """Accuracy of the mean softmax over each utterance's segments (eval mode)."""
    was = model.training
    model.eval()
    try:
        probs = torch.cat([torch.softmax(model(val.x[i : i + batch_size]).logits, dim=1)
                           for i in range(0, val.x.shape[0], batch_size)])
    finally:
        model.train(was)
    sums = torch.zeros(val.y.shape[0], probs.shape[1], device=probs.device, dtype=probs.dtype)
    sums.index_add_(0, val.owner, probs)
    return float((sums.argmax(dim=1) == val.y).float().mean())


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
    val: SegmentVal | None = None,
) -> LiuResult:
    """Train ``model`` in place on training segments ``train = (x, y)`` (device tensors);
    ``val``: validation segments for model selection and early stopping."""
    dev = torch.device(device)
    model.to(dev)
    x, y = (t.to(dev) for t in train)
    n = int(y.shape[0])
    streams = RandomStreams(batch=torch.Generator(device=dev).manual_seed(settings.seed),
                            triplets=torch.Generator(device=dev).manual_seed(settings.seed))
    loss_fn = joint_loss(settings, max(1, math.ceil(n / settings.batch_size)), streams["triplets"])
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    state = Resumable({"model": model, "optimizer": opt}, streams, selection_run(), resume_state)
    run = state.run

    while run["epoch"] < settings.epochs and not run["stopped"]:
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
        val_acc = utterance_accuracy(model, val) if val is not None else None
        select_model(run, val_acc, model, settings.patience)
        info = epoch_info(phase=1, epoch=run["epoch"], global_epoch=run["epoch"], loss=float(total) / n,
                          train_acc=float(correct) / n, val_acc=val_acc, lr=opt.param_groups[0]["lr"], stop=run["stopped"])
        run["history"].append(info)
        if on_epoch is not None:
            on_epoch(dict(info), state.state)
    return SelectionResult.finish(run, model)  # model selection on the validation part
