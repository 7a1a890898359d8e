"""Mocanu et al. 2021 trainer: variable-length spectrograms, random crops for training, whole
utterances at test; Adam, lr divided by ``lr_gamma`` every ``lr_step`` epochs; model selection on
the validation set (best epoch kept, early stop after ``patience`` epochs without improvement);
softmax or SVM-RBF classification of the embeddings.

Sequences are ``(T, F)`` numpy arrays (the FeatureSet layout); the model sees ``(B, F, T)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..base import ModelOutput, SerModel
from ..se_resnet import MIN_FRAMES
from .loop import OnEpoch, RandomStreams, Resumable, SelectionResult, epoch_info, select_model, selection_run


@dataclass
class MocanuSettings:
    epochs: int = 60
    batch_size: int = 32  # paper
    lr: float = 1e-3  # paper: Adam, 0.001
    lr_step: int = 20  # paper: divided by 10 every 20 epochs
    lr_gamma: float = 0.1
    crop_frames: int = 200  # 2 s training crops (10 ms hop)
    steps_per_epoch: int | None = None  # None = one pass over the training set
    patience: int = 10
    normalize_embedding: bool = False  # L2-normalise embeddings before the loss (metric losses)
    val_by: str = "softmax"  # "softmax" | "centroid": how validation accuracy is measured
    seed: int = 0


MocanuResult = SelectionResult


def fit_length(seq: np.ndarray, frames: int) -> np.ndarray:
    """Tile a short ``(T, F)`` sequence up to ``frames`` (never shorter than the trunk needs)."""
    if len(seq) >= frames:
        return seq
    reps = -(-frames // max(1, len(seq)))
    return np.concatenate([seq] * reps)[:frames]


def random_crops(seqs: Sequence[np.ndarray], frames: int, rng: np.random.Generator) -> Tensor:
    """One random ``frames``-long crop of each sequence -> ``(B, F, frames)``."""
    out = []
    for s in seqs:
        s = fit_length(s, frames)
        start = int(rng.integers(0, len(s) - frames + 1))
        out.append(s[start : start + frames])
    return torch.from_numpy(np.stack(out)).transpose(1, 2).contiguous()


@torch.no_grad()
def embed_sequences(model: SerModel, seqs: Sequence[np.ndarray], device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """Eval-mode embeddings and logits of whole utterances (one at a time: lengths differ)."""
    was_training = model.training
    model.eval()
    emb, logits = [], []
    try:
        for s in seqs:
            x = torch.tensor(fit_length(s, MIN_FRAMES)).T.unsqueeze(0).to(device)  # a copy: `s` may be a read-only memmap
            out = model(x)
            emb.append(out.embedding.float().cpu())
            logits.append(out.logits.float().cpu())
    finally:
        model.train(was_training)
    if not emb:
        return np.zeros((0, model.embedding_dim), np.float32), np.zeros((0, model.num_classes), np.float32)
    return torch.cat(emb).numpy(), torch.cat(logits).numpy()


def l2n(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def centroid_predict(train_emb: np.ndarray, train_y: np.ndarray, emb: np.ndarray, num_classes: int) -> np.ndarray:
    """Nearest class centroid (cosine) of L2-normalised embeddings."""
    cents = np.stack([l2n(train_emb[train_y == c]).mean(0) if np.any(train_y == c) else np.full(train_emb.shape[1], np.nan) for c in range(num_classes)])
    sims = l2n(emb) @ np.nan_to_num(l2n(np.nan_to_num(cents)), nan=0.0).T
    return sims.argmax(1)


def svm_predict(train_emb: np.ndarray, train_y: np.ndarray, test_emb: np.ndarray, c: float = 1.0, gamma: str | float = "scale") -> np.ndarray:
    """SVM with an RBF kernel on L2-normalised embeddings (the paper's S4/S5 classifier)."""
    from sklearn.svm import SVC

    svm = SVC(kernel="rbf", C=c, gamma=gamma)
    svm.fit(l2n(train_emb), train_y)
    return svm.predict(l2n(test_emb)).astype(np.int64)


def train_mocanu(
    model: SerModel,
    loss_fn: nn.Module,
    train: tuple[Sequence[np.ndarray], np.ndarray],
    val: tuple[Sequence[np.ndarray], np.ndarray] | None,
    settings: MocanuSettings,
    device: str = "cpu",
    on_epoch: OnEpoch | None = None,
    resume_state: dict[str, Any] | None = None,
) -> MocanuResult:
    """Train in place; the ``on_epoch``/``resume_state`` contract is ``ser_models.training.loop``'s.

    ``train_acc`` is measured on the epoch's training crops the way ``val_acc`` is measured
    (softmax head, or nearest crop centroid for metric losses)."""
    seqs, y = train
    y_t = torch.as_tensor(np.asarray(y), dtype=torch.long)
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=settings.lr_step, gamma=settings.lr_gamma)
    streams = RandomStreams(crops=np.random.default_rng(settings.seed))
    rng = streams["crops"]
    state = Resumable({"model": model, "optimizer": opt, "scheduler": sched}, streams, selection_run(), resume_state)
    run = state.run

    n = len(seqs)
    steps = settings.steps_per_epoch or max(1, -(-n // settings.batch_size))
    while run["epoch"] < settings.epochs and not run["stopped"]:
        model.train()
        order = rng.permutation(n)
        losses, crop_emb, crop_y, crop_pred = [], [], [], []
        for step in range(steps):
            start = (step * settings.batch_size) % n
            idx = order[start : start + settings.batch_size]
            if len(idx) < 2:  # BatchNorm needs two samples
                continue
            x = random_crops([seqs[i] for i in idx], settings.crop_frames, rng).to(device)
            yb = y_t[idx].to(device)
            out = model(x)
            if settings.normalize_embedding:
                out = ModelOutput(F.normalize(out.embedding, dim=1), out.logits, out.features)
            loss = loss_fn(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            crop_emb.append(out.embedding.detach().cpu().numpy())
            crop_y.append(yb.cpu().numpy())
            crop_pred.append(out.logits.detach().argmax(1).cpu().numpy())
        lr = opt.param_groups[0]["lr"]  # the rate this epoch trained with
        sched.step()
        run["epoch"] += 1
        emb_tr, y_tr = (np.concatenate(crop_emb), np.concatenate(crop_y)) if crop_emb else (None, None)
        if emb_tr is None:
            train_acc = 0.0
        elif settings.val_by == "centroid":
            train_acc = float(np.mean(centroid_predict(emb_tr, y_tr, emb_tr, model.num_classes) == y_tr))
        else:
            train_acc = float(np.mean(np.concatenate(crop_pred) == y_tr))
        val_acc = None
        if val is not None and len(val[0]):
            emb, logits = embed_sequences(model, val[0], device)
            if settings.val_by == "centroid" and emb_tr is not None:
                pred = centroid_predict(emb_tr, y_tr, emb, model.num_classes)
            else:
                pred = logits.argmax(1)
            val_acc = float(np.mean(pred == np.asarray(val[1])))
            select_model(run, val_acc, model, settings.patience)
        info = epoch_info(phase=1, epoch=run["epoch"], global_epoch=run["epoch"],
                          loss=float(np.mean(losses)) if losses else 0.0, train_acc=train_acc, val_acc=val_acc,
                          lr=lr, stop=run["stopped"])
        run["history"].append(info)
        if on_epoch is not None:
            on_epoch(dict(info), state.state)
    return SelectionResult.finish(run, model)  # model selection on the validation set
