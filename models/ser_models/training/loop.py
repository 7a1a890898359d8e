"""The contract every trainer in this package follows, and the pieces they share.

Contract
--------
``train_<recipe>(model, ..., settings, device=..., on_epoch=None, resume_state=None) -> result``:

- After every epoch the trainer calls ``on_epoch(info, state_fn)``. ``info`` is one history entry
  (:func:`epoch_info`): ``phase``, ``epoch`` (1-based within the phase), ``global_epoch``
  (1-based over the whole run), ``loss``, ``train_acc``, ``val_acc`` (only when there is a
  validation part), ``lr`` and ``stop`` (early stopping fired at this epoch), plus any extra
  scalars of the recipe. ``state_fn()`` returns everything needed to continue *after* that
  epoch, as plain tensors, numbers, strings, lists and dicts: it loads with
  ``torch.load(..., weights_only=True)``.
- ``resume_state`` (such a state) continues the run; on CPU the result is exactly that of an
  uninterrupted run, because every random stream (batch order, mining, pairs, crops) lives in a
  generator whose state is part of the checkpoint.
- The result carries ``history``: every epoch's info, in order (a resumed run includes the epochs
  before the interruption).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

StateFn = Callable[[], dict[str, Any]]
OnEpoch = Callable[[dict[str, Any], StateFn], None]

# Keys every history entry has (val_acc only with a validation part).
HISTORY_KEYS = ("phase", "epoch", "global_epoch", "loss", "train_acc", "lr", "stop")


class NonFiniteLoss(FloatingPointError):
    """The training loss became NaN or infinite: the run diverged and its results mean nothing."""


def epoch_info(
    *, phase: int, epoch: int, global_epoch: int, loss: float, train_acc: float, lr: float,
    val_acc: float | None = None, stop: bool = False, **extra: Any,
) -> dict[str, Any]:
    """One history entry; raises NonFiniteLoss for a diverged epoch."""
    if not math.isfinite(loss):
        raise NonFiniteLoss(f"training loss is {loss} at epoch {global_epoch} (phase {phase}): training diverged")
    info: dict[str, Any] = {
        "phase": int(phase), "epoch": int(epoch), "global_epoch": int(global_epoch), "loss": float(loss),
        "train_acc": float(train_acc), "lr": float(lr),
    }  # fmt: skip
    if val_acc is not None:
        info["val_acc"] = float(val_acc)
    info["stop"] = bool(stop)
    info.update(extra)
    return info


def to_cpu(obj: Any) -> Any:
    """A detached CPU copy of nested tensors/containers (a checkpoint must not alias live state)."""
    if isinstance(obj, Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, Mapping):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_cpu(v) for v in obj)
    return copy.deepcopy(obj)


class RandomStreams:
    """The named random generators of a run (torch and numpy), checkpointed together."""

    def __init__(self, **generators: torch.Generator | np.random.Generator) -> None:
        self.generators = generators

    def __getitem__(self, name: str) -> Any:
        return self.generators[name]

    def state(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, gen in self.generators.items():
            if isinstance(gen, torch.Generator):
                out[name] = gen.get_state()
            else:
                out[name] = copy.deepcopy(gen.bit_generator.state)
        return out

    def restore(self, state: Mapping[str, Any]) -> None:
        for name, gen in self.generators.items():
            if isinstance(gen, torch.Generator):
                gen.set_state(state[name])
            else:
                gen.bit_generator.state = copy.deepcopy(state[name])


def restore_stateful(objects: Mapping[str, Any], state: Mapping[str, Any]) -> None:
    """``load_state_dict`` of modules, optimizers and schedulers saved by :func:`stateful_state`."""
    for name, obj in objects.items():
        obj.load_state_dict(state[name])


def stateful_state(objects: Mapping[str, Any]) -> dict[str, Any]:
    return {name: to_cpu(obj.state_dict()) for name, obj in objects.items()}


class Resumable:
    """A trainer's checkpointable state: its modules/optimizers/schedulers (``stateful``), its
    random ``streams`` and a plain ``run`` dict of progress (epoch counters, history, early-stopping
    and model-selection state). With ``resume_state`` everything is restored from it."""

    def __init__(self, stateful: Mapping[str, Any], streams: RandomStreams, run: dict[str, Any],
                 resume_state: Mapping[str, Any] | None = None) -> None:
        self.stateful, self.streams, self.run = stateful, streams, run
        if resume_state is not None:
            restore_stateful(stateful, resume_state)
            streams.restore(resume_state["streams"])
            self.run = to_cpu(resume_state["run"])

    def state(self) -> dict[str, Any]:
        """What ``state_fn()`` returns: loads with ``torch.load(weights_only=True)``."""
        return {**stateful_state(self.stateful), "streams": self.streams.state(), "run": to_cpu(self.run)}


def selection_run() -> dict[str, Any]:
    """The progress dict of a trainer that selects its model on a validation part."""
    return {"epoch": 0, "history": [], "best_val": None, "best_epoch": 0, "bad": 0, "best_model": None, "stopped": False}


def select_model(run: dict[str, Any], val_acc: float | None, model: Any, patience: int | None) -> None:
    """After an epoch: keep the weights of the best validation accuracy so far; with ``patience``,
    stop (``run["stopped"]``) after that many epochs without improvement."""
    if val_acc is None:
        return
    if run["best_val"] is None or val_acc > run["best_val"]:
        run.update(best_val=val_acc, best_epoch=run["epoch"], bad=0, best_model=to_cpu(model.state_dict()))
    else:
        run["bad"] += 1
        run["stopped"] = patience is not None and run["bad"] >= patience


@dataclass
class SelectionResult:
    """What a trainer with model selection returns (Mocanu, Liu, Lian)."""

    epochs: int
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0  # the epoch whose weights were kept (the last one without validation)
    best_val: float | None = None
    stopped_early: bool = False

    @classmethod
    def finish(cls, run: dict[str, Any], model: Any) -> SelectionResult:
        """Load the selected weights into ``model`` and summarise the run."""
        if run["best_model"] is not None:
            model.load_state_dict(run["best_model"])
        return cls(run["epoch"], run["history"], run["best_epoch"] or run["epoch"], run["best_val"], run["stopped"])


def batch_accuracy(logits: Tensor, y: Tensor) -> Tensor:
    """Number of correct argmax predictions, as a device tensor (summed per epoch, one sync)."""
    return (logits.argmax(dim=1) == y).sum()


@torch.no_grad()
def softmax_accuracy(model: Any, x: Tensor, y: Tensor) -> float:
    """Accuracy of the softmax head on ``(x, y)`` (eval mode, in chunks)."""
    from ..base import embed

    logits = embed(model, x).logits
    return float((logits.argmax(dim=1) == y).float().mean().item())
