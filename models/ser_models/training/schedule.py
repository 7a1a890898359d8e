"""Learning-rate schedule and early stopping shared by the trainers."""

from __future__ import annotations

import math
from dataclasses import dataclass


def linear_lr(epoch: int, n_epochs: int, start: float, end: float) -> float:
    """Linear decrease from ``start`` (epoch 0) to ``end`` (epoch ``n_epochs - 1``) over the
    phase's *configured* length; early stopping just cuts the schedule short."""
    if n_epochs <= 1:
        return start
    t = min(max(epoch, 0), n_epochs - 1) / (n_epochs - 1)
    return start + (end - start) * t


@dataclass
class EarlyStopping:
    """Stop when the monitored accuracy has not improved by at least ``min_delta`` over the best
    so far for ``patience`` consecutive epochs (Kumar: 0.0005 within 15 epochs).

    Picklable plain state, so checkpoints can carry it."""

    patience: int = 15
    min_delta: float = 0.0005
    best: float = -math.inf
    since_best: int = 0

    def update(self, value: float) -> bool:
        """Record this epoch's value; returns True when training should stop."""
        if value > self.best + self.min_delta:
            self.best = value
            self.since_best = 0
        else:
            self.since_best += 1
        return self.since_best >= self.patience

    def reset(self) -> None:
        self.best = -math.inf
        self.since_best = 0
