"""What a task (one paper's training recipe) must provide to the orchestrator."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

# report(metrics, state_fn): called once per epoch; state_fn() returns a picklable training state
# that the runner saves as a checkpoint when it decides to.
Reporter = Callable[[dict[str, Any], Callable[[], Any] | None], None]


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
    train_idx: np.ndarray | None = None  # rows of `features`
    val_idx: np.ndarray | None = None
    test_idx: np.ndarray | None = None


@dataclass
class TrialOutcome:
    metrics: dict[str, float]
    confusion: list[list[int]]
    extra: dict[str, Any] = field(default_factory=dict)
    embeddings: np.ndarray | None = None
    y_true: np.ndarray | None = None
    y_pred: np.ndarray | None = None


class Task(Protocol):
    name: str
    # Train keys that `--epochs N` sets (e.g. both phases of Kumar's schedule).
    epoch_keys: tuple[str, ...]

    def validate(self, trial: dict[str, Any]) -> None:
        """Raise ValueError(key, message) style errors via `TaskConfigError` for a bad trial."""

    def run(
        self, trial: dict[str, Any], data: FoldData, device: str, report: Reporter, resume_state: Any | None
    ) -> TrialOutcome: ...

    # Optional: `prepare(trials, run_dir, console=None) -> None` runs once in the driver after Ray
    # is initialised and before the Tune trials (a shared stage, e.g. Mocanu's Ray Train
    # pre-training); it may add paths under each trial's "data" section.


class TaskConfigError(ValueError):
    """A trial config the task cannot run; `key` is the dotted grid key at fault."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}")
