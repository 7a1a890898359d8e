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

from typing import Any

import numpy as np
import torch

from .base import FoldData, Reporter, TaskConfigError, TrialOutcome
from .seqtools import (
    check_choice, check_keys, check_model, check_number, metrics_of, normaliser, predict_scores, sequences,
)

LOSS_KEYS = ("lambda", "type", "margin", "position", "loader", "aux_task", "aux_weight")
TRAIN_KEYS = ("epochs", "batch_size", "lr", "lr_patience", "test", "segment_seconds")
DEFAULT_LOSS = {"lambda": 0.0, "type": 1, "margin": 0.5, "position": "pos_1", "loader": "loader_1",
                "aux_task": None, "aux_weight": 0.0}
DEFAULT_TRAIN = {"epochs": 30, "batch_size": 32, "lr": 1e-4, "lr_patience": 2, "test": "average", "segment_seconds": None}
FEATURES = ("mfcc13_fixed", "logmel26_fixed")
MODEL = "lian-cnn1d"
# Multi-task targets: grid name -> (FeatureSet.meta column, number of classes).
AUX = {"gender": ("gender", 2), "valence": ("valence", 3), "activation": ("arousal", 3), "dominance": ("dominance", 3)}
# What the loaders of each dataset provide (checked before anything runs; run() checks the data too).
DATASET_TARGETS = {"iemocap": set(AUX), "ravdess": {"gender"}, "cremad": {"gender"}}


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


class LianTask:
    name = "lian"
    epoch_keys = ("train.epochs",)

    def validate(self, trial: dict[str, Any]) -> None:
        if trial["features"]["name"] not in FEATURES:
            raise TaskConfigError("features.name", f"'{trial['features']['name']}' not allowed; allowed: {', '.join(FEATURES)}")
        p, frames = frames_of(trial)
        n_feat = p["n_mfcc"] if "n_mfcc" in p else p["n_mels"]
        check_model(trial, MODEL, frames * n_feat, n_feat)

        loss = trial.get("loss") or {}
        check_keys(loss, "loss", LOSS_KEYS)
        check_number(loss, "lambda", "loss", low=0.0, high=1.0)
        check_number(loss, "aux_weight", "loss", low=0.0, high=1.0)
        check_number(loss, "margin", "loss", low=0.0, low_open=True)
        check_choice(loss, "type", "loss", (1, 2))
        check_choice(loss, "position", "loss", ("pos_1", "pos_2"))
        check_choice(loss, "loader", "loss", ("loader_1", "loader_2"))
        check_choice(loss, "aux_task", "loss", (None, *AUX))
        task = loss.get("aux_task")
        have = DATASET_TARGETS.get(trial["dataset"]["name"])
        if task is not None and have is not None and task not in have:
            raise TaskConfigError(
                "loss.aux_task",
                f"'{task}' is not in dataset {trial['dataset']['name']}; it has: {', '.join(sorted(have)) or 'none'}",
            )

        train = trial.get("train") or {}
        check_keys(train, "train", TRAIN_KEYS)
        check_number(train, "epochs", "train", low=0, integer=True)
        check_number(train, "batch_size", "train", low=1, integer=True)
        check_number(train, "lr_patience", "train", low=0, integer=True)
        check_number(train, "lr", "train", low=0.0, low_open=True)
        check_choice(train, "test", "train", ("average", "crop"))
        if train.get("segment_seconds") is not None:
            check_number(train, "segment_seconds", "train", low=0.0, low_open=True)
            if train["segment_seconds"] > p["seconds"]:
                raise TaskConfigError(
                    "train.segment_seconds",
                    f"{train['segment_seconds']} s is longer than the fixed length (features.params.seconds = {p['seconds']})",
                )

    def run(
        self, trial: dict[str, Any], data: FoldData, device: str, report: Reporter, resume_state: Any | None
    ) -> TrialOutcome:
        from ser_data.features import fixed_length
        from ser_models import create_model
        from ser_models.losses import ContrastiveLoss
        from ser_models.pairs import make_pairs
        from ser_models.segments import utterance_average

        loss_cfg = {**DEFAULT_LOSS, **(trial.get("loss") or {})}
        train = {**DEFAULT_TRAIN, **(trial.get("train") or {})}
        seed = int(trial["seed"])
        p, frames = frames_of(trial)
        seg_frames = frames if train["segment_seconds"] is None else int(round(train["segment_seconds"] * p["sr"] / p["hop_length"]))
        fs, n_classes = data.features, len(data.labels)
        y_all = np.asarray(fs.y, dtype=np.int64)
        aux = loss_cfg["aux_task"]
        aux_all = aux_targets(fs, aux) if aux is not None else None

        mean, std = normaliser(sequences(fs, data.train_idx))
        train_seqs = sequences(fs, data.train_idx, mean, std)
        test_seqs = sequences(fs, data.test_idx, mean, std)
        x_tr = np.stack([fixed_length(s, frames, "start") for s in train_seqs])  # cut or zero-pad at the end
        y_tr = y_all[data.train_idx]
        y_te = y_all[data.test_idx]
        rng = np.random.default_rng(seed)
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
        model_cfg = trial.get("model") or {}
        n_feat = x_tr.shape[2]
        model = create_model(
            model_cfg.get("name", MODEL), num_classes=n_classes, input_dim=frames * n_feat, n_coeffs=n_feat,
            **({"aux_classes": AUX[aux][1]} if aux else {}), **(model_cfg.get("overrides") or {}),
        ).to(device)
        lam, mu = float(loss_cfg["lambda"]), float(loss_cfg["aux_weight"]) if aux else 0.0
        con = ContrastiveLoss("cosine" if loss_cfg["type"] == 1 else "euclidean", float(loss_cfg["margin"]), loss_cfg["position"])
        ce = torch.nn.CrossEntropyLoss()
        opt = torch.optim.Adam(model.parameters(), lr=float(train["lr"]))
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=int(train["lr_patience"]))
        bs = int(train["batch_size"])
        for epoch in range(1, int(train["epochs"]) + 1):
            model.train()
            first, second = make_pairs(loss_cfg["loader"], y_tr, rng)
            total, n_seen = 0.0, 0
            for b in range(0, len(first), bs):
                i1 = torch.as_tensor(first[b : b + bs], device=device)
                i2 = torch.as_tensor(second[b : b + bs], device=device)
                if len(i1) < 2 and b > 0:
                    continue  # BatchNorm needs more than one pair; the epoch's last lone pair is skipped
                idx = torch.cat([i1, i2])  # the two branches in one forward: shared weights
                out = model(xt[idx])
                y = yt[idx]
                base = (1.0 - lam) * ce(out.logits, y) if lam < 1.0 else out.logits.sum() * 0.0
                if lam > 0.0:
                    base = base + lam * con(out, y)
                loss = base
                if aux and mu > 0.0:
                    loss = (1.0 - mu) * base + mu * ce(model.aux_logits(out.features), at[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
                n_seen += len(idx)
            epoch_loss = total / max(1, n_seen)
            sched.step(epoch_loss)  # halve the lr when the training loss stops decreasing
            report({"epoch": epoch, "global_epoch": epoch, "loss": epoch_loss,
                    "lr": opt.param_groups[0]["lr"], "pairs": len(first)}, None)

        probs_avg, emb_avg = predict_scores(model, torch.as_tensor(x_avg, device=device))
        pred_avg = utterance_average(probs_avg, own, len(y_te)).argmax(axis=1)
        probs_crop, _ = predict_scores(model, torch.as_tensor(x_crop, device=device))
        pred_crop = probs_crop.argmax(axis=1)
        wa_a, ua_a, conf_a = metrics_of(y_te, pred_avg, n_classes)
        wa_c, ua_c, conf_c = metrics_of(y_te, pred_crop, n_classes)
        use_avg = train["test"] == "average"
        metrics = {"wa": wa_a if use_avg else wa_c, "ua": ua_a if use_avg else ua_c,
                   "wa_average": wa_a, "ua_average": ua_a, "wa_crop": wa_c, "ua_crop": ua_c,
                   "epochs": int(train["epochs"]), "test_segments": int(len(own))}
        return TrialOutcome(
            metrics=metrics, confusion=conf_a if use_avg else conf_c,
            extra={"confusion_average": conf_a, "confusion_crop": conf_c, "test": train["test"]},
            embeddings=utterance_average(emb_avg, own, len(y_te)).astype(np.float32), y_true=y_te,
            y_pred=(pred_avg if use_avg else pred_crop).astype(np.int64),
        )
