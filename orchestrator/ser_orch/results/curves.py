"""Learning curves: the per-epoch histories of a configuration's runs, aggregated epoch by epoch.

Each trial record carries its history (one entry per epoch; see ``ser_models.training.loop``).
Runs of one configuration are aligned by (phase, epoch within the phase): early stopping ends runs
at different epochs, so later points average fewer runs (``n``). On a plot, phase p starts after
the longest run of the phases before it (``x``); ``phase_starts`` marks those boundaries.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .records import TrialRecord

SERIES = ("train_acc", "val_acc", "loss", "lr")


@dataclass(frozen=True)
class Band:
    mean: float
    min: float
    max: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Band | None:
        finite = [v for v in values if v is not None and math.isfinite(v)]
        if not finite:
            return None
        arr = np.asarray(finite, dtype=float)
        return cls(float(arr.mean()), float(arr.min()), float(arr.max()), int(arr.size))


@dataclass(frozen=True)
class CurvePoint:
    phase: int
    epoch: int  # 1-based within the phase
    x: int  # position on the plot's epoch axis (1-based, phases one after another)
    n: int  # runs that reached this epoch
    values: dict[str, Band]  # series name (train_acc, val_acc, loss, lr) -> band over the runs
    stopped: int  # runs whose early stopping fired at this epoch


@dataclass
class Curve:
    config_id: str
    points: list[CurvePoint] = field(default_factory=list)
    phase_starts: list[int] = field(default_factory=list)  # x where phases 2, 3, ... begin
    runs: int = 0  # runs with a history

    @property
    def has_validation(self) -> bool:
        return any("val_acc" in p.values for p in self.points)


def config_curve(config_id: str, records: Iterable[TrialRecord]) -> Curve:
    """The curve of one configuration from its done records (others and empty histories skipped)."""
    runs = [r.history for r in records if r.done and r.config_id == config_id and r.history]
    by_key: dict[tuple[int, int], list[dict]] = {}
    longest: dict[int, int] = {}
    for history in runs:
        for entry in history:
            key = (int(entry.get("phase", 1)), int(entry.get("epoch", 0)))
            by_key.setdefault(key, []).append(entry)
            longest[key[0]] = max(longest.get(key[0], 0), key[1])
    offsets: dict[int, int] = {}
    total = 0
    for phase in sorted(longest):
        offsets[phase] = total
        total += longest[phase]
    curve = Curve(config_id, runs=len(runs), phase_starts=[offsets[p] + 1 for p in sorted(offsets)[1:]])
    for (phase, epoch), entries in sorted(by_key.items()):
        values = {s: band for s in SERIES if (band := Band.of([e.get(s) for e in entries if s in e])) is not None}
        curve.points.append(CurvePoint(phase, epoch, offsets[phase] + epoch, len(entries), values,
                                       sum(bool(e.get("stop")) for e in entries)))
    return curve


def curves_by_config(records: Sequence[TrialRecord], config_ids: Iterable[str]) -> list[Curve]:
    """One curve per configuration that has any history, in the given order."""
    curves = [config_curve(cid, records) for cid in config_ids]
    return [c for c in curves if c.points]
