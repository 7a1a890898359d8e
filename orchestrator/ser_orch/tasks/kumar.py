"""Kumar et al. 2020: softmax pre-training, then triplet + cross-entropy; inference by smallest angle.

Grid sections used:
  model: {family: resnet, depth: 11}  or  {name: resnet-11};  optional `overrides: {...}` (constructor args)
  loss:  {distance: cosine|sqeuclidean, margin: >0, miner: random|semihard|hard, triplet_weight, ce_weight}
  train: the KumarSettings schedule fields (pretrain_epochs, triplet_epochs, batch_size, lr_start, ...)
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from .base import FoldData, Reporter, TaskConfigError, TrialOutcome

LOSS_KEYS = ("distance", "margin", "miner", "triplet_weight", "ce_weight")


def model_name(model: dict[str, Any]) -> str:
    if "name" in model:
        return str(model["name"])
    if "family" in model and "depth" in model:
        return f"{model['family']}-{model['depth']}"
    raise TaskConfigError("model", "give either model.name (e.g. resnet-11) or model.family and model.depth")


def _families() -> dict[str, list[int]]:
    from ser_models import list_models

    families: dict[str, list[int]] = {}
    for name in list_models():
        family, _, depth = name.rpartition("-")
        if depth.isdigit():
            families.setdefault(family, []).append(int(depth))
    return families


class KumarTask:
    name = "kumar"
    epoch_keys = ("train.pretrain_epochs", "train.triplet_epochs")

    def settings(self, trial: dict[str, Any]) -> Any:
        from ser_models.training.kumar import KumarSettings

        loss = trial.get("loss") or {}
        train = trial.get("train") or {}
        return KumarSettings(**train, **{k: loss[k] for k in LOSS_KEYS if k in loss}, seed=int(trial["seed"]))

    def validate(self, trial: dict[str, Any]) -> None:
        from ser_models import create_model, is_model
        from ser_models.losses.mining import MINERS
        from ser_models.training.kumar import KumarSettings

        model = trial.get("model") or {}
        name = model_name(model)
        if not is_model(name):
            families = _families()
            family = model.get("family", name.rpartition("-")[0])
            if family in families:
                depths = sorted(families[family])
                raise TaskConfigError(
                    "model.depth" if "depth" in model else "model.name",
                    f"'{name}': depth must be in {depths[0]}..{depths[-1]} for family {family}",
                )
            raise TaskConfigError(
                "model.family" if "family" in model else "model.name",
                f"unknown model '{name}'; families: {', '.join(sorted(families))} (depths 6..15)",
            )
        unknown_model = sorted(set(model) - {"name", "family", "depth", "overrides"})
        if unknown_model:
            raise TaskConfigError(f"model.{unknown_model[0]}", "unknown key; allowed: name, family, depth, overrides")
        try:
            create_model(name, num_classes=2, **(model.get("overrides") or {}))
        except TypeError as exc:
            raise TaskConfigError("model.overrides", f"not accepted by {name}: {exc}") from None

        loss = trial.get("loss") or {}
        unknown = sorted(set(loss) - set(LOSS_KEYS))
        if unknown:
            raise TaskConfigError(f"loss.{unknown[0]}", f"unknown key; allowed: {', '.join(LOSS_KEYS)}")
        if "margin" in loss and not (isinstance(loss["margin"], (int, float)) and loss["margin"] > 0):
            raise TaskConfigError("loss.margin", f"must be a number > 0, got {loss['margin']!r}")
        if loss.get("distance", "cosine") not in ("cosine", "sqeuclidean"):
            raise TaskConfigError("loss.distance", f"'{loss['distance']}' not allowed; allowed: cosine, sqeuclidean")
        if loss.get("miner", "random") not in MINERS:
            raise TaskConfigError("loss.miner", f"'{loss['miner']}' not allowed; allowed: {', '.join(sorted(MINERS))}")
        for key in ("triplet_weight", "ce_weight"):
            if key in loss and not (isinstance(loss[key], (int, float)) and loss[key] >= 0):
                raise TaskConfigError(f"loss.{key}", f"must be a number >= 0, got {loss[key]!r}")

        train = trial.get("train") or {}
        allowed = [f.name for f in dataclasses.fields(KumarSettings) if f.name not in LOSS_KEYS and f.name != "seed"]
        unknown = sorted(set(train) - set(allowed))
        if unknown:
            raise TaskConfigError(f"train.{unknown[0]}", f"unknown key; allowed: {', '.join(allowed)}")
        positive_ints = {"batch_size": 1, "patience": 1, "pretrain_epochs": 0, "triplet_epochs": 0}
        for key, low in positive_ints.items():
            if key in train and not (isinstance(train[key], int) and train[key] >= low):
                raise TaskConfigError(f"train.{key}", f"must be an integer >= {low}, got {train[key]!r}")
        for key in ("lr_start", "lr_end"):
            if key in train and not (isinstance(train[key], (int, float)) and train[key] > 0):
                raise TaskConfigError(f"train.{key}", f"must be a number > 0, got {train[key]!r}")

    def run(
        self, trial: dict[str, Any], data: FoldData, device: str, report: Reporter, resume_state: Any | None
    ) -> TrialOutcome:
        from ser_models import create_model
        from ser_models.training.kumar import evaluate_kumar, train_kumar

        model_cfg = trial["model"]
        torch.manual_seed(int(trial["seed"]))
        model = create_model(
            model_name(model_cfg),
            num_classes=len(data.labels),
            input_dim=int(data.x_train.shape[1]),
            **(model_cfg.get("overrides") or {}),
        )
        settings = self.settings(trial)
        val = (data.x_val, data.y_val) if data.x_val is not None else None
        result = train_kumar(
            model, (data.x_train, data.y_train), val, settings, device=device,
            on_epoch=report, resume_state=resume_state,
        )
        ev = evaluate_kumar(model, (data.x_train, data.y_train), (data.x_test, data.y_test))
        metrics = {
            "wa": float(ev["wa"]),
            "ua": float(ev["ua"]),
            "softmax_wa": float(ev["softmax_wa"]),
            "softmax_ua": float(ev["softmax_ua"]),
            "epochs": int(sum(result.epochs.values())),
            "pretrain_epochs_run": int(result.epochs.get(1, 0)),
            "triplet_epochs_run": int(result.epochs.get(2, 0)),
        }
        extra = {
            "angle_table": np.round(np.asarray(ev["angle_table"], dtype=float), 3).tolist(),
            "intra_std": np.round(np.asarray(ev["intra_std"], dtype=float), 3).tolist(),
            "inter_std": np.round(np.asarray(ev["inter_std"], dtype=float), 3).tolist(),
            "softmax_confusion": np.asarray(ev["softmax_confusion"]).astype(int).tolist(),
            "stopped_early": {str(k): bool(v) for k, v in result.stopped_early.items()},
        }
        return TrialOutcome(
            metrics=metrics,
            confusion=np.asarray(ev["confusion"]).astype(int).tolist(),
            extra=extra,
            embeddings=ev["test_embeddings"],
            y_true=np.asarray(ev["test_labels"]),
            y_pred=np.asarray(ev["test_pred"]),
        )

