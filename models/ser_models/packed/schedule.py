"""Per-member learning-rate schedules for the packed optimizers.

- :func:`linear_lrs`: the Kumar trainer's linear decay (``ser_models.training.schedule.linear_lr``)
  for each member's own epoch / phase length.
- :class:`MemberStepLR`: ``torch.optim.lr_scheduler.StepLR`` per member (Mocanu's trainer), the
  same chained float arithmetic (``lr * gamma`` on every ``step_size``-th epoch).
- :class:`MemberPlateau`: ``ReduceLROnPlateau`` per member (Lian's task: ``factor=0.5``,
  stepped with the epoch's training loss), torch's rules (relative/absolute threshold,
  cooldown, ``min_lr``, ``eps``).

Each keeps plain Python state (one entry per member); ``member_state_dict(m)`` is what the torch
scheduler's ``state_dict()`` holds for that member, and ``load_member_state_dict`` takes it back.
Apply the result with ``optimizer.set_lr(schedule.lrs)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..training.schedule import linear_lr
from .optim import per_member


def linear_lrs(epochs: Sequence[int], n_epochs: int | Sequence[int], start: float | Sequence[float],
               end: float | Sequence[float]) -> list[float]:  # fmt: skip
    """``linear_lr(epochs[m], n_epochs[m], start[m], end[m])`` for every member."""
    m = len(epochs)
    ns = [int(n) for n in per_member(n_epochs, m, "n_epochs")]
    starts, ends = per_member(start, m, "start"), per_member(end, m, "end")
    return [linear_lr(e, n, s, t) for e, n, s, t in zip(epochs, ns, starts, ends)]


def _members(members: Sequence[int] | None, n: int) -> list[int]:
    if members is None:
        return list(range(n))
    out = [int(m) for m in members]
    if any(not 0 <= m < n for m in out):
        raise IndexError(f"members {out} out of range for {n} members")
    return out


class MemberStepLR:
    """StepLR for each member: ``step(members)`` ends an epoch for those members."""

    def __init__(self, base_lrs: Sequence[float], step_size: int, gamma: float = 0.1) -> None:
        if step_size < 1:
            raise ValueError(f"step_size must be >= 1, got {step_size}")
        self.lrs = [float(v) for v in base_lrs]
        self.step_size, self.gamma = int(step_size), float(gamma)
        self.last_epoch = [0] * len(self.lrs)  # torch's scheduler takes its initial step at construction

    def step(self, members: Sequence[int] | None = None) -> list[float]:
        for m in _members(members, len(self.lrs)):
            self.last_epoch[m] += 1
            if self.last_epoch[m] % self.step_size == 0:  # torch: chained lr * gamma, not base * gamma**k
                self.lrs[m] = self.lrs[m] * self.gamma
        return list(self.lrs)

    def member_state_dict(self, m: int) -> dict[str, Any]:
        return {"step_size": self.step_size, "gamma": self.gamma, "last_epoch": self.last_epoch[m],
                "_last_lr": [self.lrs[m]]}  # fmt: skip

    def load_member_state_dict(self, m: int, state: Mapping[str, Any]) -> None:
        """Takes a torch StepLR ``state_dict()`` (its ``_last_lr`` is the lr in force)."""
        if state["step_size"] != self.step_size or state["gamma"] != self.gamma:
            raise ValueError("member state has another step_size/gamma than this schedule")
        self.last_epoch[m] = int(state["last_epoch"])
        self.lrs[m] = float(state["_last_lr"][0])


class MemberPlateau:
    """ReduceLROnPlateau for each member (one param group each)."""

    def __init__(self, lrs: Sequence[float], mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float = 0.0, eps: float = 1e-8) -> None:  # fmt: skip
        if factor >= 1.0:
            raise ValueError("factor should be < 1.0")
        if mode not in ("min", "max") or threshold_mode not in ("rel", "abs"):
            raise ValueError(f"mode must be min|max and threshold_mode rel|abs, got {mode!r}, {threshold_mode!r}")
        self.lrs = [float(v) for v in lrs]
        n = len(self.lrs)
        self.mode, self.factor, self.patience = mode, float(factor), int(patience)
        self.threshold, self.threshold_mode = float(threshold), threshold_mode
        self.cooldown, self.min_lr, self.eps = int(cooldown), float(min_lr), float(eps)
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.best = [self.mode_worse] * n
        self.num_bad_epochs = [0] * n
        self.cooldown_counter = [0] * n
        self.last_epoch = [0] * n

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min":
            return a < best * (1.0 - self.threshold) if self.threshold_mode == "rel" else a < best - self.threshold
        return a > best * (self.threshold + 1.0) if self.threshold_mode == "rel" else a > best + self.threshold

    def step(self, metrics: Sequence[float], members: Sequence[int] | None = None) -> list[float]:
        """One epoch for ``members`` (default all), ``metrics[i]`` being member ``members[i]``'s."""
        ms = _members(members, len(self.lrs))
        if len(metrics) != len(ms):
            raise ValueError(f"{len(metrics)} metrics for {len(ms)} members")
        for m, value in zip(ms, metrics):
            current = float(value)
            self.last_epoch[m] += 1
            if self._is_better(current, self.best[m]):
                self.best[m], self.num_bad_epochs[m] = current, 0
            else:
                self.num_bad_epochs[m] += 1
            if self.cooldown_counter[m] > 0:
                self.cooldown_counter[m] -= 1
                self.num_bad_epochs[m] = 0  # bad epochs in cooldown do not count
            if self.num_bad_epochs[m] > self.patience:
                old = self.lrs[m]
                new = max(old * self.factor, self.min_lr)
                if old - new > self.eps:
                    self.lrs[m] = new
                self.cooldown_counter[m] = self.cooldown
                self.num_bad_epochs[m] = 0
        return list(self.lrs)

    def member_state_dict(self, m: int) -> dict[str, Any]:
        """The fields of torch's ReduceLROnPlateau ``state_dict()`` for member ``m``."""
        return {"factor": self.factor, "min_lrs": [self.min_lr], "patience": self.patience, "cooldown": self.cooldown,
                "cooldown_counter": self.cooldown_counter[m], "mode": self.mode, "threshold": self.threshold,
                "threshold_mode": self.threshold_mode, "best": self.best[m], "num_bad_epochs": self.num_bad_epochs[m],
                "mode_worse": self.mode_worse, "eps": self.eps, "last_epoch": self.last_epoch[m],
                "_last_lr": [self.lrs[m]], "default_min_lr": self.min_lr}  # fmt: skip

    def load_member_state_dict(self, m: int, state: Mapping[str, Any]) -> None:
        for key in ("factor", "patience", "cooldown", "mode", "threshold", "threshold_mode", "eps"):
            if state[key] != getattr(self, key):
                raise ValueError(f"member state has {key}={state[key]!r}, this schedule {getattr(self, key)!r}")
        self.best[m] = float(state["best"])
        self.num_bad_epochs[m] = int(state["num_bad_epochs"])
        self.cooldown_counter[m] = int(state["cooldown_counter"])
        self.last_epoch[m] = int(state["last_epoch"])
        self.lrs[m] = float(state["_last_lr"][0])
