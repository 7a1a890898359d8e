"""Kumar et al. (ICPR 2020) training: softmax pre-training, then triplet + cross-entropy.

Choices (the paper's own where it gives them; ours, documented, where it does not):

- Phase 1: cross-entropy only, ``pretrain_epochs`` at most. Phase 2: ``ce_weight * CE +
  triplet_weight * triplet`` (a :class:`WeightedSum`), ``triplet_epochs`` at most.
- Learning rate: linear from ``lr_start`` = 0.05 to ``lr_end`` = 0.005 over phase 1's configured
  length; early stopping only cuts the schedule short. Phase 2 (``phase2_lr``): ``"continue"``
  (default) starts at the rate phase 1 last trained with and decays linearly to ``lr_end`` over
  phase 2's configured length, so fine-tuning with the triplet term never takes a larger step than
  the end of pre-training; ``"restart"`` runs phase 2 from ``lr_start`` again (the other reading:
  with momentum 0.9 it knocked a resnet-11 from 99 % training accuracy to chance for several epochs).
- Early stopping (paper: "accuracy does not improve by at least 0.0005 within 15 epochs"):
  per phase, on the softmax head's accuracy on the validation set when one is given, else on
  the training set (evaluated in eval mode after the epoch).
- Model selection (``select_best``, ours, as the other recipes do): with a validation set, the
  weights of the final phase's epoch (phase 2, or phase 1 when ``triplet_epochs`` is 0) with the
  best validation accuracy are kept. ``select_best=False`` keeps the weights at the stopping
  epoch (the paper mentions no rollback). Without a validation set the last weights are kept.
- Optimizer: SGD with momentum 0.9 (the paper does not name one; plain SGD is what a linearly
  decaying lr of 0.05 suggests); one optimizer for both phases.
- Triplets: cosine distance (1 - cos), margin 0.2 (not given in the paper), random miner by
  default (the paper: "triplets ... chosen at random, and all the speech utterances are covered").
- Determinism: batch order and triplet mining use their own ``torch.Generator``s seeded from
  ``seed``; both states are in the checkpoint, so a resumed run repeats an uninterrupted one
  exactly on CPU. Seed the model initialisation yourself (``torch.manual_seed``) before building it.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..base import SerModel, embed
from ..losses import CrossEntropy, Loss, TripletLoss, WeightedSum, make_miner
from ..losses.distances import check_distance
from ..losses.mining import MINERS
from .. import metrics as M
from .batches import batch_indices, epoch_view, first_view
from .loop import OnEpoch, RandomStreams, epoch_info, restore_stateful, softmax_accuracy, stateful_state, to_cpu
from .schedule import EarlyStopping, linear_lr

Split = tuple[Tensor, Tensor]
PHASE2_LR = ("continue", "restart")


@dataclass
class KumarSettings:
    pretrain_epochs: int = 1000
    triplet_epochs: int = 1000
    batch_size: int = 900
    lr_start: float = 0.05
    lr_end: float = 0.005
    patience: int = 15
    min_delta: float = 0.0005
    distance: str = "cosine"
    margin: float = 0.2
    miner: str = "random"
    triplet_weight: float = 1.0
    ce_weight: float = 1.0
    momentum: float = 0.9
    weight_decay: float = 0.0
    phase2_lr: str = "continue"  # or "restart" (see the module docstring)
    select_best: bool = True  # keep the final phase's best validation epoch (module docstring)
    seed: int = 0

    def __post_init__(self) -> None:
        check_distance(self.distance)
        if self.miner not in MINERS:
            raise ValueError(f"miner must be one of {sorted(MINERS)}, got {self.miner!r}")
        if self.pretrain_epochs < 0 or self.triplet_epochs < 0:
            raise ValueError("epoch counts must be >= 0")
        if self.batch_size < 2:
            raise ValueError("batch_size must be >= 2 (BatchNorm and triplets need pairs)")
        if self.patience < 1:
            raise ValueError("patience must be >= 1")
        if self.phase2_lr not in PHASE2_LR:
            raise ValueError(f"phase2_lr must be one of {PHASE2_LR}, got {self.phase2_lr!r}")


@dataclass
class TrainResult:
    history: list[dict[str, Any]]  # one info dict per epoch, as passed to on_epoch
    epochs: dict[int, int]  # epochs run per phase (1, 2)
    stopped_early: dict[int, bool]
    best_acc: dict[int, float]  # best monitored accuracy per phase (NaN if the phase did not run)
    monitor: str  # "val_acc" or "train_acc"
    settings: dict[str, Any] = field(default_factory=dict)
    selected_epoch: int = 0  # global epoch whose weights the model holds (the last one unless selected)


def _set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for group in opt.param_groups:
        group["lr"] = lr


def _train_epoch(model: SerModel, x: Tensor, y: Tensor, loss_fn: Loss, opt: torch.optim.Optimizer,
                 batch_size: int, gen: torch.Generator) -> float:
    model.train()
    total = torch.zeros((), device=x.device)
    for idx in batch_indices(x.shape[0], batch_size, gen, x.device):
        loss = loss_fn(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.detach() * idx.numel()  # stays on device: one sync per epoch
    return float(total.item()) / x.shape[0]


def train_kumar(
    model: SerModel,
    train: Split,
    val: Split | None,
    settings: KumarSettings,
    device: torch.device | str | None = None,
    on_epoch: OnEpoch | None = None,
    resume_state: dict[str, Any] | None = None,
) -> TrainResult:
    """Train ``model`` in place (see the module docstring for the schedule).

    ``train``/``val`` are ``(x, y)`` tensors, normally already on ``device`` (they are moved
    once otherwise). A training ``x`` of shape (N, V, D) holds V readings per sample: every epoch
    trains on one drawn per sample (:func:`~ser_models.training.batches.epoch_view`); accuracies
    are measured on view 0. The ``on_epoch``/``resume_state`` contract is ``ser_models.training.loop``'s;
    the history entries carry ``phase`` 1 (softmax) or 2 (triplet + CE).
    """
    dev = torch.device(device) if device is not None else train[0].device
    model.to(dev)
    x, y = (t.to(dev) for t in train)
    xv, yv = (t.to(dev) for t in val) if val is not None and val[0].shape[0] > 0 else (None, None)
    monitor = "val_acc" if xv is not None else "train_acc"

    streams = RandomStreams(batch=torch.Generator(device=dev).manual_seed(settings.seed),
                            miner=torch.Generator(device=dev).manual_seed(settings.seed + 1))
    ce = CrossEntropy()
    triplet = TripletLoss(settings.distance, settings.margin, make_miner(settings.miner, generator=streams["miner"]))
    loss_fns: dict[int, Loss] = {
        1: ce,
        2: WeightedSum([(settings.ce_weight, ce), (settings.triplet_weight, triplet)]),
    }
    n_epochs = {1: settings.pretrain_epochs, 2: settings.triplet_epochs}
    opt = torch.optim.SGD(model.parameters(), lr=settings.lr_start, momentum=settings.momentum,
                          weight_decay=settings.weight_decay)
    stateful = {"model": model, "optimizer": opt}
    stopper = EarlyStopping(settings.patience, settings.min_delta)
    run = new_run()

    if resume_state is not None:
        restore_stateful(stateful, resume_state)  # the optimizer's state follows the params' device
        streams.restore(resume_state["streams"])
        stopper.best, stopper.since_best = resume_state["stopper"]
        run = {**new_run(), **copy.deepcopy(resume_state["run"])}  # a checkpoint from before model selection lacks "selected"

    def state_fn() -> dict[str, Any]:
        return {**stateful_state(stateful), "streams": streams.state(), "stopper": [stopper.best, stopper.since_best],
                "run": copy.deepcopy(run), "settings": asdict(settings)}

    while run["phase"] <= 2:
        phase, key = run["phase"], str(run["phase"])
        if run["epoch"] >= n_epochs[phase]:  # phase finished (or configured with 0 epochs)
            run["phase"], run["epoch"] = phase + 1, 0
            stopper.reset()
            continue
        start = settings.lr_start
        if phase == 2 and settings.phase2_lr == "continue" and run["history"]:
            start = min(settings.lr_start, run["history"][-1]["lr"])  # phase 1's last rate
        lr = linear_lr(run["epoch"], n_epochs[phase], start, settings.lr_end)
        _set_lr(opt, lr)
        x_epoch = epoch_view(x, streams["batch"])
        loss = _train_epoch(model, x_epoch, y, loss_fns[phase], opt, settings.batch_size, streams["batch"])
        train_acc = softmax_accuracy(model, first_view(x), y)
        val_acc = softmax_accuracy(model, xv, yv) if xv is not None else None
        stop = stopper.update(val_acc if val_acc is not None else train_acc)
        run["epoch"] += 1
        run["global_epoch"] += 1
        info = epoch_info(phase=phase, epoch=run["epoch"], global_epoch=run["global_epoch"], loss=loss,
                          train_acc=train_acc, val_acc=val_acc, lr=lr, stop=stop)
        run["epochs_run"][key] += 1
        run["best"][key] = stopper.best
        run["history"].append(info)
        if phase == final_phase(settings) and settings.select_best:
            keep_if_best(run, val_acc, lambda: to_cpu(model.state_dict()))
        if stop:
            run["stopped"][key] = True
            run["epoch"] = n_epochs[phase]  # the top of the loop moves on to the next phase
        if on_epoch is not None:
            on_epoch(dict(info), state_fn)

    if run["selected"] is not None:
        model.load_state_dict(run["selected"]["model"])
    return result_of(run, monitor, settings)


def new_run() -> dict[str, Any]:
    """Progress of one Kumar run (``epoch`` counts the epochs done in ``phase``); in checkpoints."""
    return {"phase": 1, "epoch": 0, "global_epoch": 0, "history": [], "epochs_run": {"1": 0, "2": 0},
            "stopped": {"1": False, "2": False}, "best": {"1": math.nan, "2": math.nan}, "selected": None}


def final_phase(settings: KumarSettings) -> int:
    """The phase whose best validation epoch model selection keeps."""
    return 2 if settings.triplet_epochs > 0 else 1


def keep_if_best(run: dict[str, Any], val_acc: float | None, weights: Any) -> None:
    """Remember this epoch's weights (``weights()``, on the CPU) if its validation accuracy beats
    every earlier epoch of the final phase (ties keep the earlier epoch)."""
    sel = run["selected"]
    if val_acc is not None and (sel is None or val_acc > sel["val_acc"]):
        run["selected"] = {"val_acc": val_acc, "global_epoch": run["global_epoch"], "model": weights()}


def result_of(run: dict[str, Any], monitor: str, settings: KumarSettings) -> TrainResult:
    sel = run["selected"]
    return TrainResult(history=run["history"], epochs={int(k): v for k, v in run["epochs_run"].items()},
                       stopped_early={int(k): v for k, v in run["stopped"].items()},
                       best_acc={int(k): v for k, v in run["best"].items()}, monitor=monitor, settings=asdict(settings),
                       selected_epoch=run["global_epoch"] if sel is None else sel["global_epoch"])


def evaluate_kumar(model: SerModel, train: Split, test: Split, batch_size: int = 2048) -> dict[str, Any]:
    """Kumar inference: centroids of the training embeddings, each test utterance goes to the
    centroid with the smallest angle. Returns numpy/float values:

    ``wa``, ``ua``, ``confusion`` (angle-based), ``softmax_wa``, ``softmax_ua``,
    ``softmax_confusion``, ``centroids``, ``angle_table`` (Table II reading, test samples on the
    diagonal), ``intra_std``, ``inter_std`` (Table VI reading, test samples), ``test_embeddings``,
    ``test_labels``, ``test_pred``.
    """
    n = model.num_classes
    tr = embed(model, first_view(train[0]), batch_size)
    te = embed(model, test[0], batch_size)
    tr_emb = tr.embedding.cpu().double().numpy()
    te_emb = te.embedding.cpu().double().numpy()
    y_tr = train[1].cpu().numpy()
    y_te = test[1].cpu().numpy()
    cents = M.class_centroids(tr_emb, y_tr, n)
    pred = M.nearest_angle_predict(te_emb, cents)
    soft = te.logits.argmax(dim=1).cpu().numpy()
    intra, inter = M.angle_std(te_emb, y_te, cents)
    return {
        "wa": M.weighted_accuracy(y_te, pred),
        "ua": M.unweighted_accuracy(y_te, pred),
        "confusion": M.confusion(y_te, pred, n),
        "softmax_wa": M.weighted_accuracy(y_te, soft),
        "softmax_ua": M.unweighted_accuracy(y_te, soft),
        "softmax_confusion": M.confusion(y_te, soft, n),
        "centroids": cents,
        "angle_table": M.angle_table(cents, te_emb, y_te),
        "intra_std": intra,
        "inter_std": inter,
        "test_embeddings": te_emb.astype(np.float32),
        "test_labels": y_te,
        "test_pred": pred,
    }
