"""Mocanu et al. 2021: thin SE-ResNet-34 + NetVLAD/GhostVLAD on spectrograms, softmax or
(emotion-constrained) triplet loss, softmax or SVM-RBF classifier; strategies S1-S5.

Grid sections used (every key optional unless said):
  model: {name: se-resnet34-ghostvlad, overrides: {clusters, ghost_clusters, widths, blocks, descriptor_dim, embedding_dim, vlad_norm, ...}}
  loss:  {type: softmax|triplet|emotion, alpha: 0.1, beta: 0.15, mining: semihard|hard, polarity: {label: negative|positive|neutral}, ce_weight: 0}
  train: {strategy: S1..S5, init: scratch|pretrained, classifier: softmax|svm, epochs, batch_size, lr, lr_step,
          lr_gamma, crop_frames, steps_per_epoch, patience, svm_c, svm_max_train, pretrain: {...see ser_orch.pretrain}}
`train.strategy` decides model.name, train.init, loss.type and train.classifier (Table 2); those keys
may then not be set by hand. Pre-trained weights come from the task's stage (a Ray Train job, run once).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field

from ser_models.losses.emotion_triplet import MINING
from ser_models.training.mocanu import MocanuSettings

from ..grid.sections import Section, build_checked, read_section
from ..pretrain import PretrainSettings
from .base import FoldData, Task, TaskConfigError, TrialContext, TrialOutcome

STRATEGIES: dict[str, dict[str, str]] = {
    "S1": {"model.name": "se-resnet34-netvlad", "train.init": "scratch", "loss.type": "softmax", "train.classifier": "softmax"},
    "S2": {"model.name": "se-resnet34-netvlad", "train.init": "pretrained", "loss.type": "softmax", "train.classifier": "softmax"},
    "S3": {"model.name": "se-resnet34-ghostvlad", "train.init": "pretrained", "loss.type": "softmax", "train.classifier": "softmax"},
    "S4": {"model.name": "se-resnet34-ghostvlad", "train.init": "pretrained", "loss.type": "triplet", "train.classifier": "svm"},
    "S5": {"model.name": "se-resnet34-ghostvlad", "train.init": "pretrained", "loss.type": "emotion", "train.classifier": "svm"},
}
DEFAULTS = {"model.name": "se-resnet34-ghostvlad", "train.init": "scratch", "loss.type": "softmax", "train.classifier": "softmax"}
MODELS = ("se-resnet34-avg", "se-resnet34-netvlad", "se-resnet34-ghostvlad")
TRUNK_ARGS = ("widths", "blocks", "descriptor_dim", "se_reduction")
D = MocanuSettings  # the trainer's defaults


class MocanuTrain(Section):
    strategy: Literal[tuple(STRATEGIES)] | None = None  # type: ignore[valid-type]
    init: Literal["scratch", "pretrained"] | None = None
    classifier: Literal["softmax", "svm"] | None = None
    epochs: int = Field(D.epochs, ge=0)
    batch_size: int = Field(D.batch_size, ge=2)
    lr: float = Field(D.lr, gt=0)
    lr_step: int = Field(D.lr_step, ge=1)
    lr_gamma: float = Field(D.lr_gamma, gt=0)
    crop_frames: int = Field(D.crop_frames, ge=32)
    steps_per_epoch: int | None = Field(D.steps_per_epoch, ge=1)
    patience: int = Field(D.patience, ge=1)
    svm_c: float = Field(1.0, gt=0)
    svm_max_train: int | None = Field(None, ge=2)  # quick profiles: fewer training embeddings for the SVM
    pretrain: PretrainSettings = Field(default_factory=PretrainSettings)


class MocanuLoss(Section):
    type: Literal["softmax", "triplet", "emotion"] | None = None
    alpha: float = Field(0.1, gt=0)
    beta: float = Field(0.15, gt=0)
    mining: Literal[MINING] = "semihard"  # type: ignore[valid-type]
    polarity: dict[str, Literal["negative", "positive", "neutral"]] | None = None
    ce_weight: float = Field(0.0, ge=0)


class MocanuModel(Section):
    name: Literal[MODELS] | None = None  # type: ignore[valid-type]
    overrides: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class MocanuConfig:
    recipe: dict[str, str]  # the strategy's choices (model.name, train.init, loss.type, train.classifier)
    model: str
    overrides: dict[str, Any]  # constructor overrides of `model`
    trunk: dict[str, Any]  # the SE-ResNet trunk's arguments (shared with pre-training)
    train: MocanuTrain
    loss: MocanuLoss
    polarity: dict[str, str] | None  # for loss.type emotion
    strategy: str | None


def recipe(train: MocanuTrain, loss: MocanuLoss, model: MocanuModel) -> dict[str, str]:
    """The effective choices: the strategy's (which then may not be set by hand), else the keys given."""
    given = {"model.name": model.name, "train.init": train.init, "loss.type": loss.type, "train.classifier": train.classifier}
    if train.strategy is not None:
        for key, value in given.items():
            if value is not None:
                chosen = STRATEGIES[train.strategy][key]
                raise TaskConfigError(key, f"decided by train.strategy ({train.strategy}: {chosen}); remove it or the strategy")
        return dict(STRATEGIES[train.strategy])
    return {key: value if value is not None else DEFAULTS[key] for key, value in given.items()}


def model_overrides(overrides: Mapping[str, Any], name: str) -> dict[str, Any]:
    """Constructor overrides for `name`; cluster counts a head does not have are dropped, so one
    grid can set K and G for strategies that use NetVLAD (G = 0) or GhostVLAD."""
    out = dict(overrides)
    if name.endswith("-netvlad"):
        out.pop("ghost_clusters", None)
    if name.endswith("-avg"):
        for key in ("clusters", "ghost_clusters", "vlad_norm"):
            out.pop(key, None)
    return out


def dataset_labels(dataset: dict[str, Any]) -> tuple[str, ...] | None:
    try:
        module = importlib.import_module(f"ser_data.datasets.{dataset['name']}")
    except ImportError:
        return None
    sets = getattr(module, "LABEL_SETS", {})
    return tuple(sets.get(dataset.get("label_set") or "full", ())) or None


def polarity_map(given: Mapping[str, str] | None, dataset: str) -> dict[str, str]:
    from ser_models.losses.emotion_triplet import POLARITY_MAPS

    if given is not None:
        return dict(given)
    if dataset not in POLARITY_MAPS:
        raise TaskConfigError("loss.polarity", f"no built-in polarity map for dataset '{dataset}'; give loss.polarity: {{label: negative|positive|neutral}}")
    return POLARITY_MAPS[dataset]


class MocanuTask(Task):
    name = "mocanu"
    epoch_keys = ("train.epochs",)
    pretrain_workers_key = "train.pretrain.workers"  # --pretrain-workers

    def settings(self, trial: dict[str, Any]) -> MocanuConfig:
        from ser_models import create_model
        from ser_models.losses.emotion_triplet import PolarityMapError, polarity_ids

        train = read_section(MocanuTrain, trial, "train")
        loss = read_section(MocanuLoss, trial, "loss")
        model = read_section(MocanuModel, trial, "model")
        r = recipe(train, loss, model)
        overrides = dict(model.overrides)
        for key, low in (("clusters", 1), ("ghost_clusters", 0)):
            value = overrides.get(key)
            if key in overrides and (not isinstance(value, int) or isinstance(value, bool) or value < low):
                raise TaskConfigError(f"model.overrides.{key}", f"must be an integer >= {low}, got {value!r}")
        name = r["model.name"]
        params = trial["features"].get("params") or {}
        build_checked("model.overrides", name, create_model, name, num_classes=2,
                      input_dim=int(params.get("n_fft", 512)) // 2 + 1, **model_overrides(overrides, name))
        polarity = None
        if r["loss.type"] == "emotion":
            polarity = polarity_map(loss.polarity, trial["dataset"]["name"])
            try:
                polarity_ids(dataset_labels(trial["dataset"]) or tuple(polarity), polarity)
            except PolarityMapError as exc:
                raise TaskConfigError("loss.polarity", str(exc)) from None
        pre = train.pretrain
        if r["train.init"] == "pretrained":
            if pre.weights is not None and not Path(pre.weights).expanduser().is_file():
                raise TaskConfigError("train.pretrain.weights", f"pre-trained weights not found: {pre.weights}")
            if pre.weights is None and pre.epochs < 1:
                raise TaskConfigError(
                    "train.pretrain.weights",
                    f"{train.strategy or 'train.init: pretrained'} needs pre-trained weights: give train.pretrain.weights (a file) or train.pretrain.epochs >= 1",
                )
        trunk = {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in overrides.items() if k in TRUNK_ARGS}
        return MocanuConfig(r, name, model_overrides(overrides, name), trunk, train, loss, polarity, train.strategy)

    def validate(self, trial: dict[str, Any]) -> None:
        """The settings, and a user-given ``train.pretrain.weights`` file: it must load safely and
        fit this trial's trunk (else every trial would fail at its first step)."""
        cfg = self.settings(trial)
        weights = cfg.train.pretrain.weights
        if cfg.recipe["train.init"] != "pretrained" or weights is None:
            return
        from ser_models import create_model

        from ..pretrain import PretrainError, load_trunk

        try:
            state = load_trunk(Path(weights).expanduser())
        except PretrainError as exc:
            raise TaskConfigError("train.pretrain.weights", str(exc)) from None
        params = trial["features"].get("params") or {}
        model = create_model(cfg.model, num_classes=2, input_dim=int(params.get("n_fft", 512)) // 2 + 1, **cfg.overrides)
        try:
            model.trunk.load_state_dict(state)
        except RuntimeError as exc:
            lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
            detail = (lines[1] if len(lines) > 1 else lines[0])[:200] if lines else type(exc).__name__  # "size mismatch for ..."
            raise TaskConfigError("train.pretrain.weights", f"{weights}: does not fit this trial's trunk ({detail})") from None

    # ---- the stage: speaker-ID pre-training, once per distinct setting, before the Tune trials ----
    def _pretrain_settings(self, trial: dict[str, Any]) -> tuple[MocanuConfig, PretrainSettings] | None:
        """The trial's config and pre-training settings if this run must produce its weights
        (None: trained from scratch, or given weights)."""
        cfg = self.settings(trial)
        pre = cfg.train.pretrain
        if cfg.recipe["train.init"] != "pretrained" or pre.weights is not None:
            return None
        return cfg, pre

    def stage_workers(self, trials: list[dict[str, Any]]) -> int:
        needed = (self._pretrain_settings(t) for t in trials)
        return max((p.workers for _, p in filter(None, needed)), default=0)

    def stage(
        self, trials: list[dict[str, Any]], inputs: Mapping[str, Any], run_dir: Path, console: Any = None
    ) -> dict[str, dict[str, str]]:
        from ..pretrain import PretrainJob, ensure_pretrained, pretrain_key

        jobs: dict[str, PretrainJob] = {}
        key_of: dict[str, str] = {}
        for trial in trials:
            found = self._pretrain_settings(trial)
            if found is None:
                continue
            cfg, pre = found
            dataset = pre.dataset or trial["dataset"]["name"]
            root = pre.root if pre.dataset else (pre.root or trial["dataset"].get("root"))
            corpus = {"dataset": dataset, "root": root, "features": trial["features"]}
            settings = pre.model_dump()
            key = pretrain_key(cfg.trunk, settings, corpus)
            key_of[trial["trial_id"]] = key
            if key not in jobs:
                same = dataset == trial["dataset"]["name"] and root == trial["dataset"].get("root")
                features = inputs[trial["trial_id"]].features if same else _corpus_features(dataset, root, trial["features"])
                jobs[key] = PretrainJob(key, str(features), cfg.trunk, settings)
        if not jobs:
            return {}
        paths = ensure_pretrained(list(jobs.values()), Path(run_dir), console=console)
        return {tid: {"pretrained": str(paths[key].resolve())} for tid, key in key_of.items()}

    def optimizer_steps(self, settings: MocanuConfig, train_labels: np.ndarray) -> int:
        t = settings.train
        return t.epochs * (t.steps_per_epoch or -(-len(train_labels) // t.batch_size))

    # ---- one trial, or a pack ----
    # Members of a pack may differ in these (ser_models.training.packed.mocanu.PER_MEMBER, and the
    # loss scalars that ser_models.training.packed.pack_losses packs).
    pack_free = frozenset({"train.lr", "train.patience", "loss.alpha", "loss.beta", "loss.ce_weight"})
    packable = True

    def prepare(self, trial: dict[str, Any], settings: MocanuConfig, data: FoldData, ctx: TrialContext) -> _Prepared:
        from ser_models import create_model
        from ser_models.losses import CrossEntropy, EmotionTripletLoss, HardTripletMiner, SemiHardTripletMiner, TripletLoss, WeightedSum

        from ..pretrain import PretrainError, load_trunk

        cfg, r, train_cfg, loss_cfg = settings, settings.recipe, settings.train, settings.loss
        fs = data.features
        seqs = fs.sequences()
        y_all = np.asarray(fs.y, dtype=np.int64)
        part = {"train": data.train_idx, "val": data.val_idx, "test": data.test_idx}

        torch.manual_seed(int(trial["seed"]))
        model = create_model(cfg.model, num_classes=len(data.labels), input_dim=int(fs.x.shape[1]), **cfg.overrides)
        if r["train.init"] == "pretrained":
            path = train_cfg.pretrain.weights or ctx.stage.get("pretrained")
            if not path or not Path(str(path)).expanduser().is_file():
                raise PretrainError(f"{cfg.strategy or 'this trial'} needs pre-trained weights and none were found ({path or 'the pre-training stage did not run'})")
            model.trunk.load_state_dict(load_trunk(Path(str(path)).expanduser()))

        alpha, beta, mining = loss_cfg.alpha, loss_cfg.beta, loss_cfg.mining
        metric_loss = None
        if r["loss.type"] == "triplet":
            miner = SemiHardTripletMiner() if mining == "semihard" else HardTripletMiner()
            metric_loss = TripletLoss(distance="sqeuclidean", margin=alpha, miner=miner)
        elif r["loss.type"] == "emotion":
            metric_loss = EmotionTripletLoss(data.labels, cfg.polarity or {}, alpha=alpha, beta=beta, mining=mining)
        if metric_loss is None:
            loss_fn: Any = CrossEntropy()
        elif loss_cfg.ce_weight > 0:
            loss_fn = WeightedSum([(1.0, metric_loss), (loss_cfg.ce_weight, CrossEntropy())])
        else:
            loss_fn = metric_loss
        trainer_keys = ("epochs", "batch_size", "lr", "lr_step", "lr_gamma", "crop_frames", "steps_per_epoch", "patience")
        trainer = MocanuSettings(
            **{k: getattr(train_cfg, k) for k in trainer_keys},
            normalize_embedding=metric_loss is not None,  # margins are for unit vectors
            val_by="softmax" if r["train.classifier"] == "softmax" else "centroid",
            seed=int(trial["seed"]),
        )
        sel = lambda k: ([seqs[i] for i in part[k]], y_all[part[k]])  # noqa: E731
        val = sel("val") if part["val"].size else None
        return _Prepared(model, loss_fn, sel("train"), val, trainer, cfg, data, int(trial["seed"]), ctx.device)

    def train(self, prepared: _Prepared, ctx: TrialContext) -> Any:
        from ser_models.training.mocanu import train_mocanu

        p = prepared
        return train_mocanu(p.model, p.loss_fn, p.train_data, p.val, p.trainer, device=ctx.device,
                            on_epoch=ctx.on_epoch, resume_state=ctx.resume_state)

    def train_packed(self, prepared: Sequence[_Prepared], ctx: TrialContext) -> list[Any]:
        from ser_models.training.packed import train_mocanu_packed

        return train_mocanu_packed([p.model for p in prepared], [p.loss_fn for p in prepared],
                                   [(p.train_data, p.val) for p in prepared], [p.trainer for p in prepared],
                                   device=ctx.device, on_epoch=ctx.on_epoch, resume_state=ctx.resume_state)

    def finish(self, prepared: _Prepared, result: Any) -> TrialOutcome:
        from ser_models.metrics import confusion, unweighted_accuracy, weighted_accuracy
        from ser_models.training.mocanu import embed_sequences, svm_predict

        model, cfg, data = prepared.model, prepared.cfg, prepared.data
        r, train_cfg = cfg.recipe, cfg.train
        seqs = data.features.sequences()
        y_all = np.asarray(data.features.y, dtype=np.int64)
        part = {"train": data.train_idx, "test": data.test_idx}
        device = prepared.device
        test_seqs, y_test = [seqs[i] for i in part["test"]], y_all[part["test"]]
        test_emb, test_logits = embed_sequences(model, test_seqs, device)
        softmax_pred = test_logits.argmax(1)
        if r["train.classifier"] == "svm":
            rows = part["train"]
            cap = train_cfg.svm_max_train
            if cap and len(rows) > cap:  # quick profiles: fewer training embeddings for the SVM
                rows = np.sort(np.random.default_rng(prepared.seed).choice(rows, int(cap), replace=False))
            train_emb, _ = embed_sequences(model, [seqs[i] for i in rows], device)
            pred = svm_predict(train_emb, y_all[rows], test_emb, c=train_cfg.svm_c)
        else:
            pred = softmax_pred
        n_classes = len(data.labels)
        metrics = {
            "wa": float(weighted_accuracy(y_test, pred)),
            "ua": float(unweighted_accuracy(y_test, pred)),
            "softmax_wa": float(weighted_accuracy(y_test, softmax_pred)),
            "epochs": int(result.epochs),
            "best_epoch": int(result.best_epoch),
        }
        if result.best_val is not None:
            metrics["val_acc"] = float(result.best_val)
        extra = {"recipe": r, "stopped_early": bool(result.stopped_early), "softmax_confusion": np.asarray(confusion(y_test, softmax_pred, n_classes)).astype(int).tolist()}
        return TrialOutcome(
            metrics=metrics,
            confusion=np.asarray(confusion(y_test, pred, n_classes)).astype(int).tolist(),
            extra=extra,
            history=result.history,
            embeddings=test_emb.astype(np.float32),
            y_true=y_test,
            y_pred=pred,
        )


@dataclass
class _Prepared:
    model: Any
    loss_fn: Any
    train_data: tuple[list[np.ndarray], np.ndarray]  # spectrograms, labels
    val: tuple[list[np.ndarray], np.ndarray] | None
    trainer: Any  # MocanuSettings
    cfg: MocanuConfig
    data: FoldData
    seed: int
    device: str


def _corpus_features(dataset: str, root: str | None, features: dict[str, Any]) -> str:
    """The feature cache of another corpus (pre-training on a corpus other than the trials')."""
    from ser_data.features import prepare_features

    from ..inputs import open_manifest

    manifest = open_manifest({"name": dataset, "root": root})
    return str(prepare_features(manifest, features["name"], features.get("params") or {}).cache_path)
