"""Lian et al. 2018: Siamese 1D CNN (shared weights) on fixed-length 13 MFCC / 26 log-Mel inputs,
`lambda * L_con + (1 - lambda) * L_cro` on pairs from loader_1 / loader_2, tested by averaging
the segments of an utterance or on one random crop; optional multi-task head.

Grid sections used:
  features: {name: mfcc13_fixed | logmel26_fixed, params: {seconds: 1..15}}
  model:    {name: lian-cnn1d, overrides: {...}}
  loss:     {lambda: [0, 1], type: 1 (cosine) | 2 (euclidean), margin: > 0, position: pos_1 | pos_2,
             loader: loader_1 | loader_2, aux_task: null | gender | valence | activation | dominance,
             aux_weight: [0, 1]}
  train:    {epochs, batch_size (pairs), lr, lr_patience, test: average | crop, segment_seconds}

Every trial evaluates both test modes: `wa`/`ua` follow `train.test`; `wa_average`, `ua_average`,
`wa_crop`, `ua_crop` are all in the record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field

from ser_models.training.lian import LianSettings

from ..grid.sections import Section, read_section
from .base import FoldData, Task, TaskConfigError, TrialContext, TrialOutcome
from .seqtools import metrics_of, normaliser, predict_scores, read_model, sequences

FEATURES = ("mfcc13_fixed", "logmel26_fixed")
MODEL = "lian-cnn1d"
# Multi-task targets: grid name -> (FeatureSet.meta column, number of classes).
AUX = {"gender": ("gender", 2), "valence": ("valence", 3), "activation": ("arousal", 3), "dominance": ("dominance", 3)}
# What the loaders of each dataset provide (checked before anything runs; run() checks the data too).
DATASET_TARGETS = {"iemocap": set(AUX), "ravdess": {"gender"}, "cremad": {"gender"}}
D = LianSettings  # the trainer's defaults


class LianLoss(Section):
    lambda_: float = Field(D.lam, ge=0, le=1, alias="lambda")
    type: Literal[1, 2] = D.contrastive_type  # type: ignore[assignment]
    margin: float = Field(D.margin, gt=0)
    position: Literal["pos_1", "pos_2"] = D.position  # type: ignore[assignment]
    loader: Literal["loader_1", "loader_2"] = D.loader  # type: ignore[assignment]
    aux_task: Literal[tuple(AUX)] | None = None  # type: ignore[valid-type]
    aux_weight: float = Field(D.aux_weight, ge=0, le=1)


class LianTrain(Section):
    epochs: int = Field(D.epochs, ge=0)
    batch_size: int = Field(D.batch_size, ge=1)  # pairs: a batch of one pair is two samples
    lr: float = Field(D.lr, gt=0)
    lr_patience: int = Field(D.lr_patience, ge=0)
    patience: int | None = Field(D.patience, ge=1)  # early stopping on the validation part (None: every epoch)
    test: Literal["average", "crop"] = "average"
    segment_seconds: float | None = Field(None, gt=0)


@dataclass(frozen=True)
class LianConfig:
    model: str
    overrides: dict[str, Any]
    train: LianSettings
    aux_task: str | None
    test: str
    segment_seconds: float | None
    features: dict[str, Any]  # resolved feature parameters
    frames: int  # the fixed input length in frames


def bin_vad(values: np.ndarray) -> np.ndarray:
    """Lian Sec. 4.2: low [1, 2] -> 0, medium (2, 4) -> 1, high [4, 5] -> 2."""
    v = np.asarray(values, dtype=np.float64)
    return np.where(v <= 2.0, 0, np.where(v >= 4.0, 2, 1)).astype(np.int64)


def aux_targets(fs: Any, task: str) -> np.ndarray:
    """Class ids of the auxiliary task for every row of the FeatureSet; TaskConfigError if missing."""
    column, _ = AUX[task]
    meta = getattr(fs, "meta", {}) or {}
    if column not in meta:
        raise TaskConfigError("loss.aux_task", f"'{task}': the dataset has no '{column}' values")
    col = np.asarray(meta[column])
    if task == "gender":
        bad = ~np.isin(col, ["M", "F"])
        if bad.any():
            raise TaskConfigError("loss.aux_task", f"'gender': {int(bad.sum())} utterance(s) have no gender (M/F)")
        return (col == "F").astype(np.int64)
    vals = col.astype(np.float64)
    if np.isnan(vals).any():
        raise TaskConfigError("loss.aux_task", f"'{task}': {int(np.isnan(vals).sum())} utterance(s) have no {column} value")
    return bin_vad(vals)


def frames_of(trial: dict[str, Any]) -> tuple[dict[str, Any], int]:
    from ser_data.features import FEATURES as SPECS

    p = SPECS[trial["features"]["name"]].resolve(trial["features"].get("params"))
    return p, int(round(p["seconds"] * p["sr"] / p["hop_length"]))


class LianTask(Task):
    name = "lian"
    epoch_keys = ("train.epochs",)

    def settings(self, trial: dict[str, Any]) -> LianConfig:
        if trial["features"]["name"] not in FEATURES:
            raise TaskConfigError("features.name", f"'{trial['features']['name']}' not allowed; allowed: {', '.join(FEATURES)}")
        p, frames = frames_of(trial)
        n_feat = p["n_mfcc"] if "n_mfcc" in p else p["n_mels"]
        name, overrides = read_model(trial, MODEL, frames * n_feat, n_feat)
        loss = read_section(LianLoss, trial, "loss")
        have = DATASET_TARGETS.get(trial["dataset"]["name"])
        if loss.aux_task is not None and have is not None and loss.aux_task not in have:
            raise TaskConfigError(
                "loss.aux_task",
                f"'{loss.aux_task}' is not in dataset {trial['dataset']['name']}; it has: {', '.join(sorted(have)) or 'none'}",
            )
        train = read_section(LianTrain, trial, "train")
        if train.segment_seconds is not None and train.segment_seconds > p["seconds"]:
            raise TaskConfigError(
                "train.segment_seconds",
                f"{train.segment_seconds} s is longer than the fixed length (features.params.seconds = {p['seconds']})",
            )
        trainer = LianSettings(
            epochs=train.epochs, batch_size=train.batch_size, lr=train.lr, lr_patience=train.lr_patience,
            lam=loss.lambda_, contrastive_type=loss.type, margin=loss.margin, position=loss.position,
            loader=loss.loader, aux_weight=loss.aux_weight, patience=train.patience, seed=int(trial["seed"]),
        )
        return LianConfig(name, overrides, trainer, loss.aux_task, train.test, train.segment_seconds, p, frames)

    def optimizer_steps(self, settings: LianConfig, train_labels: np.ndarray) -> int:
        t = settings.train
        counts = np.bincount(np.asarray(train_labels, dtype=np.int64))
        counts = counts[counts > 0]
        pairs = -(-len(train_labels) // 2) if t.loader == "loader_1" else (int(counts.min()) * len(counts)) // 2
        return t.epochs * -(-pairs // t.batch_size)

    # Members of a pack may differ in these (ser_models.training.packed.lian.PER_MEMBER).
    pack_free = frozenset({"train.lr", "train.patience", "loss.lambda", "loss.margin", "loss.aux_weight"})
    packable = True

    def prepare(self, trial: dict[str, Any], settings: LianConfig, data: FoldData, ctx: TrialContext) -> _Prepared:
        from ser_data.features import fixed_length
        from ser_models import create_model

        cfg, device = settings, ctx.device
        seed, p, frames = cfg.train.seed, cfg.features, cfg.frames
        seg_frames = frames if cfg.segment_seconds is None else int(round(cfg.segment_seconds * p["sr"] / p["hop_length"]))
        fs, n_classes = data.features, len(data.labels)
        y_all = np.asarray(fs.y, dtype=np.int64)
        aux = cfg.aux_task
        aux_all = aux_targets(fs, aux) if aux is not None else None

        mean, std = normaliser(sequences(fs, data.train_idx))
        train_seqs = sequences(fs, data.train_idx, mean, std)
        test_seqs = sequences(fs, data.test_idx, mean, std)
        x_tr = np.stack([fixed_length(s, frames, "start") for s in train_seqs])  # cut or zero-pad at the end
        y_tr = y_all[data.train_idx]
        y_te = y_all[data.test_idx]
        rng = np.random.default_rng(seed)  # the test crops, then the pair loaders (in this order)
        # Test inputs: "average" = every consecutive segment (padded to the input length); "crop" = one random crop.
        pieces, owner = [], []
        for i, s in enumerate(test_seqs):
            for piece in fixed_length(s, seg_frames, "all_segments"):
                pieces.append(fixed_length(piece, frames, "start"))
                owner.append(i)
        x_avg, own = np.stack(pieces), np.asarray(owner)
        x_crop = np.stack([fixed_length(s, frames, "random", rng) for s in test_seqs])

        xt = torch.as_tensor(x_tr, device=device)
        yt = torch.as_tensor(y_tr, device=device)
        at = torch.as_tensor(aux_all[data.train_idx], device=device) if aux_all is not None else None
        torch.manual_seed(seed)
        n_feat = x_tr.shape[2]
        model = create_model(
            cfg.model, num_classes=n_classes, input_dim=frames * n_feat, n_coeffs=n_feat,
            **({"aux_classes": AUX[aux][1]} if aux else {}), **cfg.overrides,
        ).to(device)
        val = None
        if len(data.val_idx):  # the validation utterances, cut or padded like the training inputs
            x_va = np.stack([fixed_length(s, frames, "start") for s in sequences(fs, data.val_idx, mean, std)])
            val = (torch.as_tensor(x_va, device=device), torch.as_tensor(y_all[data.val_idx], device=device))
        return _Prepared(model, cfg, (xt, yt), at, rng, val, n_classes, torch.as_tensor(x_avg, device=device), own,
                         torch.as_tensor(x_crop, device=device), y_te)

    def train(self, prepared: _Prepared, ctx: TrialContext) -> Any:
        from ser_models.training.lian import train_lian

        p = prepared
        return train_lian(p.model, p.train_data, p.cfg.train, device=ctx.device, on_epoch=ctx.on_epoch,
                          resume_state=ctx.resume_state, aux=p.aux, rng=p.rng, val=p.val)

    def train_packed(self, prepared: Sequence[_Prepared], ctx: TrialContext) -> list[Any]:
        from ser_models.training.packed import train_lian_packed

        return train_lian_packed([p.model for p in prepared], [p.train_data for p in prepared], [p.cfg.train for p in prepared],
                                 device=ctx.device, on_epoch=ctx.on_epoch, resume_state=ctx.resume_state,
                                 aux=[p.aux for p in prepared], rngs=[p.rng for p in prepared], vals=[p.val for p in prepared])

    def finish(self, prepared: _Prepared, result: Any) -> TrialOutcome:
        from ser_models.segments import utterance_average

        model, cfg, n_classes, own, y_te = prepared.model, prepared.cfg, prepared.n_classes, prepared.own, prepared.y_te
        probs_avg, emb_avg = predict_scores(model, prepared.x_avg)
        pred_avg = utterance_average(probs_avg, own, len(y_te)).argmax(axis=1)
        probs_crop, _ = predict_scores(model, prepared.x_crop)
        pred_crop = probs_crop.argmax(axis=1)
        wa_a, ua_a, conf_a = metrics_of(y_te, pred_avg, n_classes)
        wa_c, ua_c, conf_c = metrics_of(y_te, pred_crop, n_classes)
        use_avg = cfg.test == "average"
        metrics = {"wa": wa_a if use_avg else wa_c, "ua": ua_a if use_avg else ua_c,
                   "wa_average": wa_a, "ua_average": ua_a, "wa_crop": wa_c, "ua_crop": ua_c,
                   "epochs": int(result.epochs), "best_epoch": int(result.best_epoch), "test_segments": int(len(own)),
                   **({"val_acc": result.best_val} if result.best_val is not None else {})}
        return TrialOutcome(
            metrics=metrics, confusion=conf_a if use_avg else conf_c,
            extra={"confusion_average": conf_a, "confusion_crop": conf_c, "test": cfg.test},
            history=result.history,
            embeddings=utterance_average(emb_avg, own, len(y_te)).astype(np.float32), y_true=y_te,
            y_pred=(pred_avg if use_avg else pred_crop).astype(np.int64),
        )


@dataclass
class _Prepared:
    model: Any
    cfg: LianConfig
    train_data: tuple[torch.Tensor, torch.Tensor]
    aux: torch.Tensor | None  # auxiliary-task targets of the training part
    rng: np.random.Generator  # after the test crops: the pair loaders draw from it next
    val: tuple[torch.Tensor, torch.Tensor] | None
    n_classes: int
    x_avg: torch.Tensor  # every consecutive test segment
    own: np.ndarray  # utterance of each segment
    x_crop: torch.Tensor  # one random crop per test utterance
    y_te: np.ndarray
