"""Mocanu et al. 2021: thin SE-ResNet-34 + NetVLAD/GhostVLAD on spectrograms, softmax or
(emotion-constrained) triplet loss, softmax or SVM-RBF classifier; strategies S1-S5.

Grid sections used (every key optional unless said):
  model: {name: se-resnet34-ghostvlad, overrides: {clusters, ghost_clusters, widths, blocks, descriptor_dim, embedding_dim, vlad_norm, ...}}
  loss:  {type: softmax|triplet|emotion, alpha: 0.1, beta: 0.15, mining: semihard|hard, polarity: {label: negative|positive|neutral}, ce_weight: 0}
  train: {strategy: S1..S5, init: scratch|pretrained, classifier: softmax|svm, epochs, batch_size, lr, lr_step,
          lr_gamma, crop_frames, steps_per_epoch, patience, svm_c, svm_max_train, pretrain: {...see ser_orch.pretrain}}
`train.strategy` decides model.name, train.init, loss.type and train.classifier (Table 2); those keys
may then not be set by hand. Pre-trained weights come from `prepare` (a Ray Train job, run once).
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .base import FoldData, Reporter, TaskConfigError, TrialOutcome

STRATEGIES: dict[str, dict[str, str]] = {
    "S1": {"model.name": "se-resnet34-netvlad", "train.init": "scratch", "loss.type": "softmax", "train.classifier": "softmax"},
    "S2": {"model.name": "se-resnet34-netvlad", "train.init": "pretrained", "loss.type": "softmax", "train.classifier": "softmax"},
    "S3": {"model.name": "se-resnet34-ghostvlad", "train.init": "pretrained", "loss.type": "softmax", "train.classifier": "softmax"},
    "S4": {"model.name": "se-resnet34-ghostvlad", "train.init": "pretrained", "loss.type": "triplet", "train.classifier": "svm"},
    "S5": {"model.name": "se-resnet34-ghostvlad", "train.init": "pretrained", "loss.type": "emotion", "train.classifier": "svm"},
}
DEFAULTS = {"model.name": "se-resnet34-ghostvlad", "train.init": "scratch", "loss.type": "softmax", "train.classifier": "softmax"}
LOSS_KEYS = ("type", "alpha", "beta", "mining", "polarity", "ce_weight")
TRAIN_EXTRA = ("strategy", "init", "classifier", "svm_c", "svm_max_train", "pretrain")
TRUNK_ARGS = ("widths", "blocks", "descriptor_dim", "se_reduction")
CHOICES = {"train.init": ("scratch", "pretrained"), "loss.type": ("softmax", "triplet", "emotion"), "train.classifier": ("softmax", "svm")}


def _get(trial: dict[str, Any], dotted: str) -> Any:
    section, key = dotted.split(".", 1)
    return (trial.get(section) or {}).get(key)


def recipe(trial: dict[str, Any]) -> dict[str, Any]:
    """The effective choices of a trial: the strategy's (or the defaults), plus explicit keys."""
    strategy = _get(trial, "train.strategy")
    chosen = dict(STRATEGIES[strategy]) if strategy in STRATEGIES else dict(DEFAULTS)
    for key in DEFAULTS:
        if _get(trial, key) is not None and strategy is None:
            chosen[key] = _get(trial, key)
    return chosen


def trunk_args(trial: dict[str, Any]) -> dict[str, Any]:
    overrides = (trial.get("model") or {}).get("overrides") or {}
    return {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in overrides.items() if k in TRUNK_ARGS}


def model_overrides(trial: dict[str, Any], name: str) -> dict[str, Any]:
    """Constructor overrides for `name`; cluster counts a head does not have are dropped, so one
    grid can set K and G for strategies that use NetVLAD (G = 0) or GhostVLAD."""
    overrides = dict((trial.get("model") or {}).get("overrides") or {})
    if name.endswith("-netvlad"):
        overrides.pop("ghost_clusters", None)
    if name.endswith("-avg"):
        for key in ("clusters", "ghost_clusters", "vlad_norm"):
            overrides.pop(key, None)
    return overrides


def dataset_labels(dataset: dict[str, Any]) -> tuple[str, ...] | None:
    try:
        module = importlib.import_module(f"ser_data.datasets.{dataset['name']}")
    except ImportError:
        return None
    sets = getattr(module, "LABEL_SETS", {})
    return tuple(sets.get(dataset.get("label_set") or "full", ())) or None


def polarity_map(trial: dict[str, Any]) -> dict[str, str]:
    from ser_models.losses.emotion_triplet import POLARITY_MAPS

    given = (trial.get("loss") or {}).get("polarity")
    if given is not None:
        return dict(given)
    name = trial["dataset"]["name"]
    if name not in POLARITY_MAPS:
        raise TaskConfigError("loss.polarity", f"no built-in polarity map for dataset '{name}'; give loss.polarity: {{label: negative|positive|neutral}}")
    return POLARITY_MAPS[name]


def _num(trial: dict[str, Any], key: str, value: Any, *, low: float, strict: bool, integer: bool = False) -> None:
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    ok = ok and not isinstance(value, bool) and (value > low if strict else value >= low)
    if not ok:
        kind = "an integer" if integer else "a number"
        raise TaskConfigError(key, f"must be {kind} {'>' if strict else '>='} {low:g}, got {value!r}")


class MocanuTask:
    name = "mocanu"
    epoch_keys = ("train.epochs",)
    pretrain_workers_key = "train.pretrain.workers"  # --pretrain-workers

    # ---- validation: everything is checked before anything starts ----
    def validate(self, trial: dict[str, Any]) -> None:
        from ser_models import create_model, is_model
        from ser_models.losses.emotion_triplet import MINING, PolarityMapError, polarity_ids
        from ser_models.training.mocanu import MocanuSettings

        from ..pretrain import DEFAULTS as PRETRAIN_DEFAULTS, pretrain_settings

        train, loss, model = trial.get("train") or {}, trial.get("loss") or {}, trial.get("model") or {}
        strategy = train.get("strategy")
        if strategy is not None:
            if strategy not in STRATEGIES:
                raise TaskConfigError("train.strategy", f"'{strategy}' not allowed; allowed: {', '.join(STRATEGIES)}")
            for key in STRATEGIES[strategy]:
                if _get(trial, key) is not None:
                    raise TaskConfigError(key, f"decided by train.strategy ({strategy}: {STRATEGIES[strategy][key]}); remove it or the strategy")
        r = recipe(trial)
        for key, allowed in CHOICES.items():
            if r[key] not in allowed:
                raise TaskConfigError(key, f"'{r[key]}' not allowed; allowed: {', '.join(allowed)}")
        unknown = sorted(set(model) - {"name", "overrides"})
        if unknown:
            raise TaskConfigError(f"model.{unknown[0]}", "unknown key; allowed: name, overrides")
        if not is_model(r["model.name"]) or not r["model.name"].startswith("se-resnet"):
            raise TaskConfigError("model.name", f"unknown model '{r['model.name']}'; allowed: se-resnet34-avg, se-resnet34-netvlad, se-resnet34-ghostvlad")
        overrides = model.get("overrides") or {}
        if "clusters" in overrides:
            _num(trial, "model.overrides.clusters", overrides["clusters"], low=1, strict=False, integer=True)
        if "ghost_clusters" in overrides:
            _num(trial, "model.overrides.ghost_clusters", overrides["ghost_clusters"], low=0, strict=False, integer=True)
        try:
            create_model(r["model.name"], num_classes=2, input_dim=int((trial["features"].get("params") or {}).get("n_fft", 512)) // 2 + 1, **model_overrides(trial, r["model.name"]))
        except (TypeError, ValueError) as exc:
            raise TaskConfigError("model.overrides", f"not accepted by {r['model.name']}: {exc}") from None

        unknown = sorted(set(loss) - set(LOSS_KEYS))
        if unknown:
            raise TaskConfigError(f"loss.{unknown[0]}", f"unknown key; allowed: {', '.join(LOSS_KEYS)}")
        for key in ("alpha", "beta"):
            if key in loss:
                _num(trial, f"loss.{key}", loss[key], low=0, strict=True)
        if loss.get("mining", "semihard") not in MINING:
            raise TaskConfigError("loss.mining", f"'{loss['mining']}' not allowed; allowed: {', '.join(MINING)}")
        if "ce_weight" in loss:
            _num(trial, "loss.ce_weight", loss["ce_weight"], low=0, strict=False)
        if r["loss.type"] == "emotion":
            labels = dataset_labels(trial["dataset"])
            try:
                polarity_ids(labels or tuple(polarity_map(trial)), polarity_map(trial))
            except PolarityMapError as exc:
                raise TaskConfigError("loss.polarity", str(exc)) from None

        allowed = [f.name for f in dataclasses.fields(MocanuSettings) if f.name not in ("seed", "normalize_embedding", "val_by")] + list(TRAIN_EXTRA)
        unknown = sorted(set(train) - set(allowed))
        if unknown:
            raise TaskConfigError(f"train.{unknown[0]}", f"unknown key; allowed: {', '.join(allowed)}")
        for key, low in {"epochs": 0, "batch_size": 2, "lr_step": 1, "crop_frames": 32, "patience": 1, "svm_max_train": 2}.items():
            if train.get(key) is not None:
                _num(trial, f"train.{key}", train[key], low=low, strict=False, integer=True)
        for key in ("lr", "lr_gamma", "svm_c"):
            if key in train:
                _num(trial, f"train.{key}", train[key], low=0, strict=True)
        pre = train.get("pretrain") or {}
        unknown = sorted(set(pre) - set(PRETRAIN_DEFAULTS))
        if unknown:
            raise TaskConfigError(f"train.pretrain.{unknown[0]}", f"unknown key; allowed: {', '.join(PRETRAIN_DEFAULTS)}")
        p = pretrain_settings(pre)
        for key, low in {"epochs": 0, "batch_size": 2, "crop_frames": 32, "workers": 1}.items():
            _num(trial, f"train.pretrain.{key}", p[key], low=low, strict=False, integer=True)
        if r["train.init"] == "pretrained":
            if p["weights"] is not None and not Path(str(p["weights"])).expanduser().is_file():
                raise TaskConfigError("train.pretrain.weights", f"pre-trained weights not found: {p['weights']}")
            if p["weights"] is None and p["epochs"] < 1:
                raise TaskConfigError(
                    "train.pretrain.weights",
                    f"{strategy or 'train.init: pretrained'} needs pre-trained weights: give train.pretrain.weights (a file) or train.pretrain.epochs >= 1",
                )

    # ---- the pre-training stage: once per distinct setting, before the Tune trials ----
    @staticmethod
    def _to_pretrain(trial: dict[str, Any]) -> dict[str, Any] | None:
        """The trial's pre-training settings if this run must produce its weights, else None
        (trained from scratch, or given weights)."""
        from ..pretrain import pretrain_settings

        settings = pretrain_settings((trial.get("train") or {}).get("pretrain"))
        if recipe(trial)["train.init"] != "pretrained" or settings["weights"] is not None:
            return None
        return settings

    def pretrain_jobs(self, trials: list[dict[str, Any]]) -> dict[str, Any]:
        from ..pretrain import PretrainJob, pretrain_key

        jobs: dict[str, Any] = {}
        for trial in trials:
            settings = self._to_pretrain(trial)
            if settings is None:
                continue
            corpus = {"dataset": settings["dataset"] or trial["dataset"]["name"], "root": settings["root"] if settings["dataset"] else (settings["root"] or trial["dataset"].get("root")), "features": trial["features"]}
            key = pretrain_key(trunk_args(trial), settings, corpus)
            trial.setdefault("data", {})["pretrained_key"] = key
            if key not in jobs:
                jobs[key] = PretrainJob(key, self._corpus_features(trial, corpus), trunk_args(trial), settings)
        return jobs

    def stage_workers(self, trials: list[dict[str, Any]]) -> int:
        """Workers (one CPU each) the pre-training job will ask for; 0 when no trial pre-trains."""
        needed = (self._to_pretrain(t) for t in trials)
        return max((int(s["workers"]) for s in needed if s is not None), default=0)

    def _corpus_features(self, trial: dict[str, Any], corpus: dict[str, Any]) -> str:
        same = corpus["dataset"] == trial["dataset"]["name"] and corpus["root"] == trial["dataset"].get("root")
        if same and (trial.get("data") or {}).get("features_path"):
            return str(trial["data"]["features_path"])
        from ser_data.datasets import load_manifest
        from ser_data.features import prepare_features

        from ..runner.data_prep import resolve_root

        manifest = load_manifest(corpus["dataset"], resolve_root({"name": corpus["dataset"], "root": corpus["root"]}))
        feat = trial["features"]
        return str(prepare_features(manifest, feat["name"], feat.get("params") or {}).cache_path)

    def prepare(self, trials: list[dict[str, Any]], run_dir: Path, console: Any = None) -> None:
        from ..pretrain import ensure_pretrained

        jobs = self.pretrain_jobs(trials)
        if not jobs:
            return
        paths = ensure_pretrained(list(jobs.values()), Path(run_dir), console=console)
        for trial in trials:
            key = (trial.get("data") or {}).get("pretrained_key")
            if key in paths:
                trial["data"]["pretrained_path"] = str(paths[key].resolve())

    # ---- one trial ----
    def run(self, trial: dict[str, Any], data: FoldData, device: str, report: Reporter, resume_state: Any | None) -> TrialOutcome:
        from ser_models import create_model
        from ser_models.losses import CrossEntropy, EmotionTripletLoss, HardTripletMiner, SemiHardTripletMiner, TripletLoss, WeightedSum
        from ser_models.metrics import confusion, unweighted_accuracy, weighted_accuracy
        from ser_models.training.mocanu import MocanuSettings, embed_sequences, svm_predict, train_mocanu

        from ..pretrain import PretrainError, pretrain_settings

        r = recipe(trial)
        train_cfg = dict(trial.get("train") or {})
        loss_cfg = trial.get("loss") or {}
        fs = data.features
        seqs = fs.sequences()
        y_all = np.asarray(fs.y, dtype=np.int64)
        part = {k: (np.asarray(getattr(data, f"{k}_idx")) if getattr(data, f"{k}_idx") is not None else np.zeros(0, np.int64)) for k in ("train", "val", "test")}

        torch.manual_seed(int(trial["seed"]))
        model = create_model(r["model.name"], num_classes=len(data.labels), input_dim=int(fs.x.shape[1]), **model_overrides(trial, r["model.name"]))
        if r["train.init"] == "pretrained":
            pre = pretrain_settings(train_cfg.get("pretrain"))
            path = pre["weights"] or (trial.get("data") or {}).get("pretrained_path")
            if not path or not Path(str(path)).expanduser().is_file():
                raise PretrainError(f"{trial.get('train', {}).get('strategy') or 'this trial'} needs pre-trained weights and none were found ({path or 'the pre-training stage did not run'})")
            saved = torch.load(Path(str(path)).expanduser(), map_location="cpu", weights_only=False)
            model.trunk.load_state_dict(saved["trunk"] if "trunk" in saved else saved)

        alpha, beta = float(loss_cfg.get("alpha", 0.1)), float(loss_cfg.get("beta", 0.15))
        mining = str(loss_cfg.get("mining", "semihard"))
        metric_loss = None
        if r["loss.type"] == "triplet":
            miner = SemiHardTripletMiner() if mining == "semihard" else HardTripletMiner()
            metric_loss = TripletLoss(distance="sqeuclidean", margin=alpha, miner=miner)
        elif r["loss.type"] == "emotion":
            metric_loss = EmotionTripletLoss(data.labels, polarity_map(trial), alpha=alpha, beta=beta, mining=mining)
        ce_weight = float(loss_cfg.get("ce_weight", 0.0))
        if metric_loss is None:
            loss_fn: Any = CrossEntropy()
        elif ce_weight > 0:
            loss_fn = WeightedSum([(1.0, metric_loss), (ce_weight, CrossEntropy())])
        else:
            loss_fn = metric_loss
        settings = MocanuSettings(
            **{k: v for k, v in train_cfg.items() if k not in TRAIN_EXTRA},
            normalize_embedding=metric_loss is not None,  # margins are for unit vectors
            val_by="softmax" if r["train.classifier"] == "softmax" else "centroid",
            seed=int(trial["seed"]),
        )
        sel = lambda k: ([seqs[i] for i in part[k]], y_all[part[k]])  # noqa: E731
        val = sel("val") if part["val"].size else None
        result = train_mocanu(model, loss_fn, sel("train"), val, settings, device=device,
                              on_epoch=report, resume_state=resume_state)  # fmt: skip

        test_seqs, y_test = sel("test")
        test_emb, test_logits = embed_sequences(model, test_seqs, device)
        softmax_pred = test_logits.argmax(1)
        if r["train.classifier"] == "svm":
            rows = part["train"]
            cap = train_cfg.get("svm_max_train")
            if cap and len(rows) > cap:  # quick profiles: fewer training embeddings for the SVM
                rows = np.sort(np.random.default_rng(int(trial["seed"])).choice(rows, int(cap), replace=False))
            train_emb, _ = embed_sequences(model, [seqs[i] for i in rows], device)
            pred = svm_predict(train_emb, y_all[rows], test_emb, c=float(train_cfg.get("svm_c", 1.0)))
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
            embeddings=test_emb.astype(np.float32),
            y_true=y_test,
            y_pred=pred,
        )
