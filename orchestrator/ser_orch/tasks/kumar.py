"""Kumar et al. 2020: softmax pre-training, then triplet + cross-entropy; inference by smallest angle.

Grid sections used:
  model: {family: resnet, depth: 11}  or  {name: resnet-11};  optional `overrides: {...}` (constructor args)
  loss:  {distance: cosine|sqeuclidean, margin: >0, miner: random|semihard|hard, triplet_weight, ce_weight}
  train: the KumarSettings schedule fields (pretrain_epochs, triplet_epochs, batch_size, lr_start, ...)
  features: a fixed-size feature (mfcc39)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field

from ser_models.losses.mining import MINERS
from ser_models.training.batches import first_view
from ser_models.training.kumar import PHASE2_LR, KumarSettings

from .base import FoldData, Task, TaskConfigError, TrialContext, TrialOutcome
from ..grid.sections import Section, build_checked, read_section

D = KumarSettings  # the defaults live in the trainer's settings


class KumarTrain(Section):
    pretrain_epochs: int = Field(D.pretrain_epochs, ge=0)
    triplet_epochs: int = Field(D.triplet_epochs, ge=0)
    batch_size: int = Field(D.batch_size, ge=2)  # BatchNorm and triplets need pairs
    lr_start: float = Field(D.lr_start, gt=0)
    lr_end: float = Field(D.lr_end, gt=0)
    patience: int = Field(D.patience, ge=1)
    min_delta: float = Field(D.min_delta, ge=0)
    momentum: float = Field(D.momentum, ge=0, lt=1)
    weight_decay: float = Field(D.weight_decay, ge=0)
    phase2_lr: Literal[PHASE2_LR] = D.phase2_lr  # type: ignore[valid-type]
    select_best: bool = D.select_best  # keep the best validation epoch of the last phase (false: the last epoch)
    # Inputs standardised per column with the training part's mean and std (the task's own step, not
    # the trainer's). Raw MFCCs span hundreds of units in c0 and a few in the deltas: that saturates
    # the recurrent nets' tanh and lets c0 dominate the FC/CNN nets. The paper does not say; false
    # feeds the raw values.
    standardize: bool = True


class KumarLoss(Section):
    distance: Literal["cosine", "sqeuclidean"] = D.distance  # type: ignore[assignment]
    margin: float = Field(D.margin, gt=0)
    miner: Literal[tuple(sorted(MINERS))] = D.miner  # type: ignore[valid-type]
    triplet_weight: float = Field(D.triplet_weight, ge=0)
    ce_weight: float = Field(D.ce_weight, ge=0)


class KumarModel(Section):
    name: str | None = None
    family: str | None = None
    depth: int | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class KumarConfig:
    model: str
    overrides: dict[str, Any]
    train: KumarSettings
    standardize: bool  # KumarTrain.standardize (its default lives there)
    views: int  # readings per utterance in the feature rows: 1 + mfcc39's random_views
    n_windows: int | None  # windows per reading (mfcc39's n_windows): the models' sequence length


def model_name(model: KumarModel | dict[str, Any]) -> str:
    m = model if isinstance(model, KumarModel) else KumarModel.model_validate(model)
    if m.name is not None:
        return m.name
    if m.family is not None and m.depth is not None:
        return f"{m.family}-{m.depth}"
    raise TaskConfigError("model", "give either model.name (e.g. resnet-11) or model.family and model.depth")


def _families() -> dict[str, list[int]]:
    from ser_models import list_models

    families: dict[str, list[int]] = {}
    for name in list_models():
        family, _, depth = name.rpartition("-")
        if depth.isdigit():
            families.setdefault(family, []).append(int(depth))
    return families


def _check_model(model: KumarModel, name: str) -> None:
    from ser_models import create_model, is_model

    if not is_model(name):
        families = _families()
        family = model.family or name.rpartition("-")[0]
        if family in families:
            depths = sorted(families[family])
            raise TaskConfigError(
                "model.depth" if model.depth is not None else "model.name",
                f"'{name}': depth must be in {depths[0]}..{depths[-1]} for family {family}",
            )
        raise TaskConfigError(
            "model.family" if model.family is not None else "model.name",
            f"unknown model '{name}'; families: {', '.join(sorted(families))} (depths 6..15)",
        )
    build_checked("model.overrides", name, create_model, name, num_classes=2, **model.overrides)


class KumarTask(Task):
    name = "kumar"
    epoch_keys = ("train.pretrain_epochs", "train.triplet_epochs")

    def settings(self, trial: dict[str, Any]) -> KumarConfig:
        from ser_data.features import FEATURES

        feature = trial["features"]["name"]
        if feature in FEATURES and FEATURES[feature].variable_length:
            raise TaskConfigError("features.name", f"'{feature}' is variable-length; the kumar task needs a fixed-size feature (mfcc39)")
        params = FEATURES[feature].resolve(trial["features"].get("params")) if feature in FEATURES else {}
        model = read_section(KumarModel, trial, "model")
        name = model_name(model)
        _check_model(model, name)
        train = read_section(KumarTrain, trial, "train")
        loss = read_section(KumarLoss, trial, "loss")
        settings = KumarSettings(**train.model_dump(exclude={"standardize"}), **loss.model_dump(), seed=int(trial["seed"]))
        return KumarConfig(name, dict(model.overrides), settings, train.standardize, 1 + int(params.get("random_views", 0)),
                           params.get("n_windows"))

    def optimizer_steps(self, settings: KumarConfig, train_labels: np.ndarray) -> int:
        s = settings.train
        return (s.pretrain_epochs + s.triplet_epochs) * -(-len(train_labels) // s.batch_size)

    # Members of a pack may differ in these (ser_models.training.packed.kumar.PER_MEMBER).
    pack_free = frozenset({"train.lr_start", "train.lr_end", "train.weight_decay", "train.patience", "train.min_delta",
                           "train.phase2_lr", "train.select_best", "loss.margin", "loss.triplet_weight", "loss.ce_weight"})  # fmt: skip
    packable = True

    def prepare(self, trial: dict[str, Any], settings: KumarConfig, data: FoldData, ctx: TrialContext) -> _Prepared:
        from ser_models import create_model

        data = split_views(data, settings.views)
        if settings.standardize:
            data = standardized(data)
        torch.manual_seed(int(trial["seed"]))
        dim = int(data.x_train.shape[-1])
        overrides = dict(settings.overrides)
        if settings.n_windows:  # values per window from the feature (39; 78 with window_reduce: mean_std)
            overrides.setdefault("n_coeffs", dim // settings.n_windows)
        model = create_model(settings.model, num_classes=len(data.labels), input_dim=dim, **overrides)
        val = (data.x_val, data.y_val) if data.x_val is not None else None
        return _Prepared(model, settings.train, data, val)

    def train(self, prepared: _Prepared, ctx: TrialContext) -> Any:
        from ser_models.training.kumar import train_kumar

        d = prepared.data
        return train_kumar(prepared.model, (d.x_train, d.y_train), prepared.val, prepared.settings, device=ctx.device,
                           on_epoch=ctx.on_epoch, resume_state=ctx.resume_state)

    def train_packed(self, prepared: Sequence[_Prepared], ctx: TrialContext) -> list[Any]:
        from ser_models.training.packed import train_kumar_packed

        return train_kumar_packed([p.model for p in prepared], [((p.data.x_train, p.data.y_train), p.val) for p in prepared],
                                  [p.settings for p in prepared], device=ctx.device, on_epoch=ctx.on_epoch,
                                  resume_state=ctx.resume_state)

    def finish(self, prepared: _Prepared, result: Any) -> TrialOutcome:
        from ser_models.training.kumar import evaluate_kumar

        data = prepared.data
        ev = evaluate_kumar(prepared.model, (data.x_train, data.y_train), (data.x_test, data.y_test))
        metrics = {
            "wa": float(ev["wa"]),
            "ua": float(ev["ua"]),
            "softmax_wa": float(ev["softmax_wa"]),
            "softmax_ua": float(ev["softmax_ua"]),
            "epochs": int(sum(result.epochs.values())),
            "pretrain_epochs_run": int(result.epochs.get(1, 0)),
            "triplet_epochs_run": int(result.epochs.get(2, 0)),
            "selected_epoch": int(result.selected_epoch),
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
            history=result.history,
            embeddings=ev["test_embeddings"],
            y_true=np.asarray(ev["test_labels"]),
            y_pred=np.asarray(ev["test_pred"]),
        )


def split_views(data: FoldData, views: int) -> FoldData:
    """Feature rows of `views` readings each (mfcc39 with random_views): the training part becomes
    (N, views, D), one reading drawn per utterance and epoch by the trainer; the validation and
    test parts keep the fixed reading (view 0) only."""
    if views == 1:
        return data

    def first(x: Any) -> Any:
        return None if x is None else x.reshape(x.shape[0], views, -1)[:, 0]

    x_train = data.x_train.reshape(data.x_train.shape[0], views, -1)
    return replace(data, x_train=x_train, x_val=first(data.x_val), x_test=first(data.x_test))


def standardized(data: FoldData) -> FoldData:
    """The fold with every input column scaled by the training part's mean and std (population std;
    a constant column, such as padding, is only centred). Validation and test parts use the same
    statistics, so nothing about them leaks into training. With several readings per training
    utterance (:func:`split_views`) the statistics are the fixed reading's, which is what the
    validation and test parts hold."""
    fixed = first_view(data.x_train)
    mean = fixed.mean(dim=0)
    std = fixed.std(dim=0, unbiased=False)
    std = torch.where(std > 1e-6 * std.max().clamp_min(1e-12), std, torch.ones_like(std))

    def scale(x: Any) -> Any:
        return None if x is None else (x - mean) / std

    return replace(data, x_train=scale(data.x_train), x_val=scale(data.x_val), x_test=scale(data.x_test))


@dataclass
class _Prepared:
    model: Any
    settings: KumarSettings
    data: FoldData
    val: tuple[Any, Any] | None


__all__ = ["KumarConfig", "KumarTask", "model_name", "split_views", "standardized"]
