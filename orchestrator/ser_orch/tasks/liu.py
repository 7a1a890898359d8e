"""Liu & Wang: CNN-LSTM on 2 s MFCC segments, `alpha * triplet + (1 - alpha) * CE`, SpecAugment
balancing of the minority classes, utterance prediction = mean of its segments' softmax outputs.

Grid sections used:
  features: {name: mfcc_seg, params: {segment_seconds: 2, train_overlap_seconds: 1, test_overlap_seconds: 1.6}}
  model:    {name: liu-cnn-lstm, overrides: {...}}
  loss:     {alpha: [0, 1], margin: > 0, triplet_pool: random triplets per epoch, selection: semihard+hard|semihard|hard}
  train:    {epochs, batch_size, lr, weight_decay, augment: bool, specaugment: {spec_augment options}}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from pydantic import Field

from ser_models.losses.pool_mining import KEEP
from ser_models.training.liu import LiuSettings

from ..grid.sections import Section, read_section
from .base import FoldData, Task, TaskConfigError, TrialContext, TrialOutcome
from .seqtools import metrics_of, normaliser, predict_scores, read_model, sequences

MODEL = "liu-cnn-lstm"
D = LiuSettings  # the trainer's defaults


class LiuLoss(Section):
    alpha: float = Field(D.alpha, ge=0, le=1)
    margin: float = Field(D.margin, gt=0)
    triplet_pool: int = Field(D.triplet_pool, ge=1)
    selection: Literal[KEEP] = D.selection  # type: ignore[valid-type]


class SpecAugmentOptions(Section):
    """``ser_data.features.specaugment.spec_augment``'s options (its defaults apply)."""

    time_warp: int | None = Field(None, ge=0)
    freq_masks: int | None = Field(None, ge=0)
    freq_width: int | None = Field(None, ge=0)
    time_masks: int | None = Field(None, ge=0)
    time_width: int | None = Field(None, ge=0)
    max_time_ratio: float | None = Field(None, gt=0, le=1)
    mask_value: float | Literal["mean"] | None = None


class LiuTrain(Section):
    epochs: int = Field(D.epochs, ge=0)
    batch_size: int = Field(D.batch_size, ge=2)
    lr: float = Field(D.lr, gt=0)
    weight_decay: float = Field(D.weight_decay, ge=0)
    patience: int | None = Field(D.patience, ge=1)  # early stopping on the validation part (None: every epoch)
    augment: bool = False  # SpecAugment balancing of the smaller classes (Sec. 2.4)
    specaugment: SpecAugmentOptions = Field(default_factory=SpecAugmentOptions)


@dataclass(frozen=True)
class LiuConfig:
    model: str
    overrides: dict[str, Any]
    train: LiuSettings
    augment: bool
    specaugment: dict[str, Any]
    segments: dict[str, Any]  # resolved mfcc_seg parameters


def segment_params(trial: dict[str, Any]) -> dict[str, Any]:
    from ser_data.features import FEATURES

    return FEATURES[trial["features"]["name"]].resolve(trial["features"].get("params"))


def balance_with_specaugment(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, **opts: Any) -> tuple[np.ndarray, np.ndarray]:
    """Add SpecAugment copies of random samples of every smaller class until each class present
    has as many samples as the largest one (Liu & Wang Sec. 2.4). Returns the originals first."""
    from ser_data.features.specaugment import spec_augment

    classes, counts = np.unique(y, return_counts=True)
    target = int(counts.max())
    xs, ys = [x], [y]
    for c, n in zip(classes, counts):
        need = target - int(n)
        if need <= 0:
            continue
        src = rng.choice(np.flatnonzero(y == c), size=need, replace=True)
        xs.append(np.asarray(spec_augment(x[src], seed=rng, **opts), dtype=x.dtype))
        ys.append(np.full(need, c, dtype=y.dtype))
    return np.concatenate(xs), np.concatenate(ys)


class LiuTask(Task):
    name = "liu"
    epoch_keys = ("train.epochs",)

    def settings(self, trial: dict[str, Any]) -> LiuConfig:
        if trial["features"]["name"] != "mfcc_seg":
            raise TaskConfigError("features.name", f"'{trial['features']['name']}' not allowed; the liu task uses mfcc_seg")
        p = segment_params(trial)  # ranges and overlap < segment are checked by the feature registry
        frames = max(4, int(round(p["segment_seconds"] * p["sr"] / p["hop_length"])))
        name, overrides = read_model(trial, MODEL, frames * p["n_mfcc"], p["n_mfcc"])
        loss = read_section(LiuLoss, trial, "loss")
        train = read_section(LiuTrain, trial, "train")
        trainer = LiuSettings(**loss.model_dump(), **train.model_dump(exclude={"augment", "specaugment"}), seed=int(trial["seed"]))
        return LiuConfig(name, overrides, trainer, train.augment, train.specaugment.model_dump(exclude_none=True), p)

    def optimizer_steps(self, settings: LiuConfig, train_labels: np.ndarray) -> int:
        # At least one segment per utterance (utterances shorter than a segment are padded to one).
        return settings.train.epochs * -(-len(train_labels) // settings.train.batch_size)

    # Members of a pack may differ in these (ser_models.training.packed.liu.PER_MEMBER).
    pack_free = frozenset({"train.lr", "train.weight_decay", "train.patience", "loss.alpha", "loss.margin"})
    packable = True

    def prepare(self, trial: dict[str, Any], settings: LiuConfig, data: FoldData, ctx: TrialContext) -> _Prepared:
        from ser_data.features import segment
        from ser_models import create_model
        from ser_models.training.liu import SegmentVal

        cfg, device = settings, ctx.device
        seed, p = cfg.train.seed, cfg.segments
        fs, n_classes = data.features, len(data.labels)
        hop = p["hop_length"] / p["sr"]
        seg = int(round(p["segment_seconds"] / hop))
        train_hop = max(1, int(round((p["segment_seconds"] - p["train_overlap_seconds"]) / hop)))
        test_hop = max(1, int(round((p["segment_seconds"] - p["test_overlap_seconds"]) / hop)))

        # Normalise with training statistics only, then cut into segments (label = utterance's).
        mean, std = normaliser(sequences(fs, data.train_idx))
        x_tr, own_tr = segment(sequences(fs, data.train_idx, mean, std), seg, train_hop)
        y_tr = np.asarray(fs.y, dtype=np.int64)[data.train_idx][own_tr]
        x_te, own_te = segment(sequences(fs, data.test_idx, mean, std), seg, test_hop)
        y_te = np.asarray(fs.y, dtype=np.int64)[data.test_idx]
        val = None
        if len(data.val_idx):  # cut like the test part: the validation accuracy is an utterance accuracy
            x_va, own_va = segment(sequences(fs, data.val_idx, mean, std), seg, test_hop)
            val = SegmentVal(torch.as_tensor(x_va, device=device), torch.as_tensor(np.asarray(fs.y, dtype=np.int64)[data.val_idx], device=device),
                             torch.as_tensor(own_va, device=device))
        n_original = len(y_tr)
        rng = np.random.default_rng(seed)
        if cfg.augment:
            x_tr, y_tr = balance_with_specaugment(x_tr, y_tr, rng, **cfg.specaugment)

        xt = torch.as_tensor(x_tr, device=device)
        yt = torch.as_tensor(y_tr, device=device)
        torch.manual_seed(seed)
        model = create_model(cfg.model, num_classes=n_classes, input_dim=seg * x_tr.shape[2],
                             n_coeffs=x_tr.shape[2], **cfg.overrides).to(device)
        return _Prepared(model, cfg.train, (xt, yt), val, n_classes, n_original, torch.as_tensor(x_te, device=device), own_te, y_te)

    def train(self, prepared: _Prepared, ctx: TrialContext) -> Any:
        from ser_models.training.liu import train_liu

        return train_liu(prepared.model, prepared.train_data, prepared.settings, device=ctx.device, on_epoch=ctx.on_epoch,
                         resume_state=ctx.resume_state, val=prepared.val)

    def train_packed(self, prepared: Sequence[_Prepared], ctx: TrialContext) -> list[Any]:
        from ser_models.training.packed import train_liu_packed

        return train_liu_packed([p.model for p in prepared], [p.train_data for p in prepared], [p.settings for p in prepared],
                                device=ctx.device, on_epoch=ctx.on_epoch, resume_state=ctx.resume_state,
                                vals=[p.val for p in prepared])

    def finish(self, prepared: _Prepared, result: Any) -> TrialOutcome:
        from ser_models.segments import utterance_average

        model, n_classes, own_te, y_te, n_original = prepared.model, prepared.n_classes, prepared.own_te, prepared.y_te, prepared.n_original
        y_tr = prepared.train_data[1].cpu().numpy()
        probs, emb = predict_scores(model, prepared.x_te)
        utt_probs = utterance_average(probs, own_te, len(y_te))
        y_pred = utt_probs.argmax(axis=1).astype(np.int64)
        wa, ua, conf = metrics_of(y_te, y_pred, n_classes)
        seg_wa, seg_ua, _ = metrics_of(y_te[own_te], probs.argmax(axis=1), n_classes)
        metrics = {"wa": wa, "ua": ua, "segment_wa": seg_wa, "segment_ua": seg_ua, "epochs": int(result.epochs),
                   "best_epoch": int(result.best_epoch), **({"val_acc": result.best_val} if result.best_val is not None else {}),
                   "train_segments": n_original, "augmented_segments": int(len(y_tr) - n_original),
                   "test_segments": int(len(own_te))}
        counts = np.bincount(y_tr, minlength=n_classes).tolist()
        return TrialOutcome(
            metrics=metrics, confusion=conf, extra={"train_class_counts": counts}, history=result.history,
            embeddings=utterance_average(emb, own_te, len(y_te)).astype(np.float32), y_true=y_te, y_pred=y_pred,
        )


@dataclass
class _Prepared:
    model: Any
    settings: Any  # LiuSettings
    train_data: tuple[torch.Tensor, torch.Tensor]  # segments, labels (augmented), on the device
    val: Any  # SegmentVal | None
    n_classes: int
    n_original: int  # training segments before SpecAugment balancing
    x_te: torch.Tensor
    own_te: np.ndarray
    y_te: np.ndarray
