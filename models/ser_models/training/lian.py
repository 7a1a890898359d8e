"""Lian et al. 2018 trainer: Siamese 1-D CNN (shared weights) on pairs,
``lambda * L_con + (1 - lambda) * L_cro``, optionally a multi-task head.

- Pairs from ``loader_1`` / ``loader_2`` (``ser_models.pairs``), drawn anew every epoch from a
  numpy generator; one batch of P pairs is one forward of 2P samples (the two branches).
- Adam; the learning rate is halved when the epoch's training loss stops decreasing
  (``ReduceLROnPlateau``, patience ``lr_patience``).
- Multi-task (Sec. 4.2): ``(1 - aux_weight) * base + aux_weight * CE(aux head)``.
- ``train_acc`` is the softmax head's accuracy on the samples of the epoch's pairs.
- Validation (when given): the accuracy on the validation inputs after every epoch; the weights of
  the best epoch are kept (model selection), and with ``patience`` training stops after that many
  epochs without improvement (None: run every epoch).
- Determinism: the pair generator's state is in the checkpoint (contract: ``ser_models.training.loop``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..base import SerModel
from ..losses import ContrastiveLoss
from ..pairs import make_pairs
from .loop import OnEpoch, RandomStreams, Resumable, SelectionResult, epoch_info, select_model, selection_run, softmax_accuracy


@dataclass
class LianSettings:
    epochs: int = 30
    batch_size: int = 32  # pairs per batch
    lr: float = 1e-4
    lr_patience: int = 2
    lam: float = 0.0  # lambda: weight of the contrastive term
    contrastive_type: int = 1  # 1 = cosine, 2 = euclidean
    margin: float = 0.5
    position: str = "pos_1"
    loader: str = "loader_1"
    aux_weight: float = 0.0  # weight of the multi-task head's CE (used with aux targets)
    patience: int | None = None  # epochs without a better validation accuracy before stopping
    seed: int = 0


LianResult = SelectionResult


def train_lian(
    model: SerModel,
    train: tuple[Tensor, Tensor],
    settings: LianSettings,
    device: torch.device | str = "cpu",
    on_epoch: OnEpoch | None = None,
    resume_state: dict[str, Any] | None = None,
    *,
    aux: Tensor | None = None,
    rng: np.random.Generator | None = None,
    val: tuple[Tensor, Tensor] | None = None,
) -> LianResult:
    """Train in place. ``train = (x, y)`` device tensors of fixed-length inputs; ``aux``: class ids
    of the multi-task target per training sample (None: no multi-task head); ``rng``: the pair
    loaders' generator (default: seeded from ``settings.seed``); ``val``: validation inputs and
    labels for model selection and early stopping."""
    dev = torch.device(device)
    model.to(dev)
    x, y = (t.to(dev) for t in train)
    y_np = y.cpu().numpy()
    lam = float(settings.lam)
    mu = float(settings.aux_weight) if aux is not None else 0.0
    con = ContrastiveLoss("cosine" if settings.contrastive_type == 1 else "euclidean", settings.margin, settings.position)
    ce = torch.nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=settings.lr_patience)
    streams = RandomStreams(pairs=rng if rng is not None else np.random.default_rng(settings.seed))
    state = Resumable({"model": model, "optimizer": opt, "scheduler": sched}, streams, selection_run(), resume_state)
    run = state.run

    bs = settings.batch_size
    while run["epoch"] < settings.epochs and not run["stopped"]:
        model.train()
        first, second = make_pairs(settings.loader, y_np, streams["pairs"])
        total, n_seen, correct = 0.0, 0, 0
        for b in range(0, len(first), bs):
            i1 = torch.as_tensor(first[b : b + bs], device=dev)
            i2 = torch.as_tensor(second[b : b + bs], device=dev)
            if len(i1) < 2 and b > 0:
                continue  # BatchNorm needs more than one pair; the epoch's last lone pair is skipped
            idx = torch.cat([i1, i2])  # the two branches in one forward: shared weights
            out = model(x[idx])
            yb = y[idx]
            base = (1.0 - lam) * ce(out.logits, yb) if lam < 1.0 else out.logits.sum() * 0.0
            if lam > 0.0:
                base = base + lam * con(out, yb)
            loss = base
            if aux is not None and mu > 0.0:
                loss = (1.0 - mu) * base + mu * ce(model.aux_logits(out.features), aux[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            # A Python float sum: ReduceLROnPlateau decides on this value, so keep its rounding stable.
            total += float(loss.detach()) * len(idx)
            n_seen += len(idx)
            correct += int((out.logits.detach().argmax(1) == yb).sum())
        epoch_loss = total / max(1, n_seen)
        lr = opt.param_groups[0]["lr"]  # the rate this epoch trained with
        sched.step(epoch_loss)  # halve the lr when the training loss stops decreasing
        run["epoch"] += 1
        val_acc = softmax_accuracy(model, *val) if val is not None else None
        select_model(run, val_acc, model, settings.patience)
        info = epoch_info(phase=1, epoch=run["epoch"], global_epoch=run["epoch"], loss=epoch_loss,
                          train_acc=correct / max(1, n_seen), val_acc=val_acc, lr=lr, stop=run["stopped"], pairs=len(first))
        run["history"].append(info)
        if on_epoch is not None:
            on_epoch(dict(info), state.state)
    return SelectionResult.finish(run, model)  # model selection on the validation part
