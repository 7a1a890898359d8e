"""Liu & Wang: CNN-LSTM on 2 s MFCC segments, `alpha * triplet + (1 - alpha) * CE`, SpecAugment
balancing of the minority classes, utterance prediction = mean of its segments' softmax outputs.

Grid sections used:
  features: {name: mfcc_seg, params: {segment_seconds: 2, train_overlap_seconds: 1, test_overlap_seconds: 1.6}}
  model:    {name: liu-cnn-lstm, overrides: {...}}
  loss:     {alpha: [0, 1], margin: > 0, triplet_pool: random triplets per epoch, selection: semihard+hard|semihard|hard}
  train:    {epochs, batch_size, lr, weight_decay, augment: bool, specaugment: {spec_augment options}}
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from .base import FoldData, Reporter, TaskConfigError, TrialOutcome
from .seqtools import (
    check_choice, check_keys, check_model, check_number, metrics_of, normaliser, predict_scores, sequences,
)

LOSS_KEYS = ("alpha", "margin", "triplet_pool", "selection")
TRAIN_KEYS = ("epochs", "batch_size", "lr", "weight_decay", "augment", "specaugment")
SPECAUGMENT_KEYS = ("time_warp", "freq_masks", "freq_width", "time_masks", "time_width", "max_time_ratio", "mask_value")
DEFAULT_LOSS = {"alpha": 0.3, "margin": 1.0, "triplet_pool": 50000, "selection": "semihard+hard"}
DEFAULT_TRAIN = {"epochs": 30, "batch_size": 32, "lr": 1e-4, "weight_decay": 1e-6, "augment": False, "specaugment": {}}
MODEL = "liu-cnn-lstm"


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


class LiuTask:
    name = "liu"
    epoch_keys = ("train.epochs",)

    def validate(self, trial: dict[str, Any]) -> None:
        if trial["features"]["name"] != "mfcc_seg":
            raise TaskConfigError("features.name", f"'{trial['features']['name']}' not allowed; the liu task uses mfcc_seg")
        p = segment_params(trial)
        for key in ("train_overlap_seconds", "test_overlap_seconds"):
            if not (0 <= p[key] < p["segment_seconds"]):
                raise TaskConfigError(
                    f"features.params.{key}",
                    f"must be >= 0 and shorter than the segment (segment_seconds = {p['segment_seconds']}), got {p[key]}",
                )
        if not p["segment_seconds"] > 0:
            raise TaskConfigError("features.params.segment_seconds", f"must be > 0, got {p['segment_seconds']}")
        frames = max(4, int(round(p["segment_seconds"] * p["sr"] / p["hop_length"])))
        check_model(trial, MODEL, frames * p["n_mfcc"], p["n_mfcc"])

        loss = trial.get("loss") or {}
        check_keys(loss, "loss", LOSS_KEYS)
        check_number(loss, "alpha", "loss", low=0.0, high=1.0)
        check_number(loss, "margin", "loss", low=0.0, low_open=True)
        check_number(loss, "triplet_pool", "loss", low=1, integer=True)
        check_choice(loss, "selection", "loss", ("semihard+hard", "semihard", "hard"))

        train = trial.get("train") or {}
        check_keys(train, "train", TRAIN_KEYS)
        check_number(train, "epochs", "train", low=0, integer=True)
        check_number(train, "batch_size", "train", low=2, integer=True)
        check_number(train, "lr", "train", low=0.0, low_open=True)
        check_number(train, "weight_decay", "train", low=0.0)
        if "augment" in train and not isinstance(train["augment"], bool):
            raise TaskConfigError("train.augment", f"must be true or false, got {train['augment']!r}")
        spec = train.get("specaugment") or {}
        if not isinstance(spec, dict):
            raise TaskConfigError("train.specaugment", "must be a mapping of spec_augment options")
        check_keys(spec, "train.specaugment", SPECAUGMENT_KEYS)

    def run(
        self, trial: dict[str, Any], data: FoldData, device: str, report: Reporter, resume_state: Any | None
    ) -> TrialOutcome:
        from ser_data.features import segment
        from ser_models import create_model
        from ser_models.losses import CrossEntropy, RandomPoolMiner, TripletLoss, WeightedSum
        from ser_models.segments import utterance_average
        from ser_models.training.batches import batch_indices

        loss_cfg = {**DEFAULT_LOSS, **(trial.get("loss") or {})}
        train = {**DEFAULT_TRAIN, **(trial.get("train") or {})}
        seed = int(trial["seed"])
        p = segment_params(trial)
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
        n_original = len(y_tr)
        rng = np.random.default_rng(seed)
        if train["augment"]:
            x_tr, y_tr = balance_with_specaugment(x_tr, y_tr, rng, **(train["specaugment"] or {}))

        xt = torch.as_tensor(x_tr, device=device)
        yt = torch.as_tensor(y_tr, device=device)
        torch.manual_seed(seed)
        model_cfg = trial.get("model") or {}
        model = create_model(
            model_cfg.get("name", MODEL), num_classes=n_classes, input_dim=seg * x_tr.shape[2],
            n_coeffs=x_tr.shape[2], **(model_cfg.get("overrides") or {}),
        ).to(device)
        n_batches = max(1, math.ceil(len(yt) / train["batch_size"]))
        miner = RandomPoolMiner(pool=max(1, math.ceil(loss_cfg["triplet_pool"] / n_batches)),
                                keep=loss_cfg["selection"], seed=seed)
        alpha = float(loss_cfg["alpha"])
        loss_fn = WeightedSum([
            (alpha, TripletLoss("sqeuclidean", margin=float(loss_cfg["margin"]), miner=miner)),
            (1.0 - alpha, CrossEntropy()),
        ])
        opt = torch.optim.Adam(model.parameters(), lr=float(train["lr"]), weight_decay=float(train["weight_decay"]))
        gen = torch.Generator(device=device).manual_seed(seed)
        for epoch in range(1, int(train["epochs"]) + 1):
            model.train()
            total, correct = 0.0, 0
            for idx in batch_indices(len(yt), int(train["batch_size"]), gen, device):
                out = model(xt[idx])
                loss = loss_fn(out, yt[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
                correct += int((out.logits.argmax(1) == yt[idx]).sum())
            report({"epoch": epoch, "global_epoch": epoch, "loss": total / len(yt),
                    "train_acc": correct / len(yt)}, None)

        probs, emb = predict_scores(model, torch.as_tensor(x_te, device=device))
        utt_probs = utterance_average(probs, own_te, len(y_te))
        y_pred = utt_probs.argmax(axis=1).astype(np.int64)
        wa, ua, conf = metrics_of(y_te, y_pred, n_classes)
        seg_wa, seg_ua, _ = metrics_of(y_te[own_te], probs.argmax(axis=1), n_classes)
        metrics = {"wa": wa, "ua": ua, "segment_wa": seg_wa, "segment_ua": seg_ua, "epochs": int(train["epochs"]),
                   "train_segments": n_original, "augmented_segments": int(len(y_tr) - n_original),
                   "test_segments": int(len(own_te))}
        counts = np.bincount(y_tr, minlength=n_classes).tolist()
        return TrialOutcome(
            metrics=metrics, confusion=conf, extra={"train_class_counts": counts},
            embeddings=utterance_average(emb, own_te, len(y_te)).astype(np.float32), y_true=y_te, y_pred=y_pred,
        )
