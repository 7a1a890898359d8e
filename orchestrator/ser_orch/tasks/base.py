"""The task contract: what one paper's training recipe provides to the orchestrator.

A run calls a task's hooks in this order:

1. ``settings(trial)`` in the driver, for every configuration, before anything starts (this is the
   grid validation): the trial's sections become typed settings; a bad value raises
   ``TaskConfigError`` naming the dotted key. It is called again inside the trial, so validation
   and training read the config the same way.
2. ``stage(trials, inputs, run_dir, console)`` once per run, in the driver, after the Ray cluster
   is up and before the Tune trials (Mocanu's Ray Train pre-training). It returns, per trial id,
   named paths (e.g. ``{"pretrained": ".../weights.pt"}``) that reach the trial as
   ``TrialContext.stage``. Tasks without a stage keep the default (nothing). ``stage_workers``
   tells how many CPUs the stage will ask for, so impossible requests fail before any work.
3. ``run(trial, settings, data, ctx)`` once per trial, in a Ray worker: train on ``data`` (the
   fold, already sliced), report every epoch through ``ctx.on_epoch`` (the contract of
   ``ser_models.training.loop``), resume from ``ctx.resume_state`` when given, and return a
   ``TrialOutcome``. A task implements it as three steps, so that a pack of trials
   (``run_pack``) shares all but the training:

   - ``prepare(trial, settings, data, ctx)``: the model, seeded, and the trainer's inputs;
   - ``train(prepared, ctx)`` (one trial, the unpacked trainer) or
     ``train_packed(prepared_list, ctx)`` (``ser_models.training.packed``: one stacked model);
   - ``finish(prepared, result)``: evaluation on the test part -> ``TrialOutcome``.

Packing: trials whose ``pack_key`` is equal (and not None) may train as one pack: the same
model, feature shapes, batch size and epoch budget; they differ only in fold, seed and the
grid keys in ``pack_free`` (each maps to a field of ``ser_models.training.packed.PER_MEMBER``).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .errors import TaskConfigError

__all__ = ["FoldData", "Task", "TaskConfigError", "TrialContext", "TrialOutcome"]


@dataclass
class FoldData:
    """One fold's data. For fixed-size features the x/y tensors are already on the trial's device
    (batches are index slices of these); for variable-length features (spectrograms, MFCC
    sequences) x_* are None and the task builds its own tensors (segments, crops) from `features`
    and the index arrays, once per trial."""

    x_train: Any | None
    y_train: Any
    x_val: Any | None
    y_val: Any | None
    x_test: Any | None
    y_test: Any
    labels: tuple[str, ...]
    test_ids: list[str] = field(default_factory=list)
    features: Any = None  # the cached ser_data FeatureSet (read-only, shared by the process)
    train_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # rows of `features`
    val_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    test_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def sizes(self) -> dict[str, int]:
        """Utterances per part (statistics between configurations need the train/test ratio)."""
        return {"train": len(self.train_idx), "val": len(self.val_idx), "test": len(self.test_idx)}


@dataclass(frozen=True)
class TrialContext:
    """What a trial gets besides its config and data."""

    device: str
    on_epoch: Any = None  # ser_models.training.loop.OnEpoch, or None
    resume_state: dict[str, Any] | None = None
    stage: Mapping[str, str] = field(default_factory=dict)  # paths the task's stage produced


@dataclass
class TrialOutcome:
    metrics: dict[str, float]
    confusion: list[list[int]]
    extra: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)  # one entry per epoch (all phases)
    embeddings: np.ndarray | None = None
    y_true: np.ndarray | None = None
    y_pred: np.ndarray | None = None


# Trial keys that are not part of what a pack shares.
_NOT_SHAPE = frozenset({"trial_id", "config_id", "axes", "fold", "seed"})


class Task(ABC):
    """Base of the four paper recipes; see the module docstring for the hooks."""

    name: ClassVar[str]
    epoch_keys: ClassVar[tuple[str, ...]]  # train keys that `--epochs N` sets (both Kumar phases)
    pretrain_workers_key: ClassVar[str | None] = None  # the key `--pretrain-workers` sets, if any

    @abstractmethod
    def settings(self, trial: dict[str, Any]) -> Any:
        """The trial's sections as typed settings; TaskConfigError(dotted key, message) if bad."""

    def validate(self, trial: dict[str, Any]) -> None:
        self.settings(trial)

    def stage_workers(self, trials: list[dict[str, Any]]) -> int:
        """CPUs (one per worker) the stage will ask for; 0 = no stage for these trials."""
        return 0

    def stage(
        self, trials: list[dict[str, Any]], inputs: Mapping[str, Any], run_dir: Path, console: Any = None
    ) -> dict[str, dict[str, str]]:
        """Work shared by the trials, once per run (see the module docstring)."""
        return {}

    # ---- one trial, or a pack of them ----
    pack_free: ClassVar[frozenset[str]] = frozenset()  # grid keys members of a pack may differ in
    packable: ClassVar[bool] = False  # implements train_packed

    @abstractmethod
    def prepare(self, trial: dict[str, Any], settings: Any, data: FoldData, ctx: TrialContext) -> Any:
        """The trial's model (seeded as its unpacked run seeds it) and its trainer's inputs."""

    @abstractmethod
    def train(self, prepared: Any, ctx: TrialContext) -> Any:
        """Run the unpacked trainer on one prepared trial; returns the trainer's result."""

    def train_packed(self, prepared: Sequence[Any], ctx: TrialContext) -> list[Any]:
        """Run the packed trainer on prepared trials (``ctx.on_epoch`` is a PackedOnEpoch);
        returns one ``ser_models.training.packed.MemberResult`` per member."""
        raise NotImplementedError(f"the {self.name} task does not pack")

    @abstractmethod
    def finish(self, prepared: Any, result: Any) -> TrialOutcome:
        """Evaluate the trained model of one prepared trial on its test part."""

    def run(self, trial: dict[str, Any], settings: Any, data: FoldData, ctx: TrialContext) -> TrialOutcome:
        """Train and evaluate one trial."""
        prepared = self.prepare(trial, settings, data, ctx)
        return self.finish(prepared, self.train(prepared, ctx))

    def pack_key(self, trial: dict[str, Any]) -> str | None:
        """Trials with equal keys may train as one pack (None: this trial never packs). The key is
        the trial's config without what may differ between members: fold, seed, ``pack_free``."""
        if not self.packable:
            return None
        kept = {k: v for k, v in trial.items() if k not in _NOT_SHAPE}
        for dotted in self.pack_free:
            section, _, key = dotted.partition(".")
            if isinstance(kept.get(section), dict) and key in kept[section]:
                kept[section] = {k: v for k, v in kept[section].items() if k != key}
        return json.dumps(kept, sort_keys=True, default=str)

    @abstractmethod
    def optimizer_steps(self, settings: Any, train_labels: np.ndarray) -> int:
        """How many optimizer steps a trial makes at most (no early stop) with this training part
        (its utterances' class ids): quick profiles must train enough to mean something."""
