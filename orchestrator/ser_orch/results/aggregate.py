"""Fold/seed aggregation: one ``ConfigStats`` per configuration (grid point minus fold and seed).

Statistics choice (fixed, not a parameter, so every table and file agrees):
``std`` is the POPULATION standard deviation over the done runs (numpy's default, ddof=0).
It is defined for a single run (0.0) without a special case, and it is what ``np.std`` gives
when papers report "STD over 10 folds". Only done trials with a finite value enter the
statistics; failed trials are listed separately and counted, never averaged in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Hashable, Iterable, Mapping, Sequence

import numpy as np

from ser_orch.results.records import TrialRecord

__all__ = [
    "STD_DDOF",
    "ConfigStats",
    "FailedTrial",
    "MetricStats",
    "RunValues",
    "aggregate",
    "axis_sort_key",
    "best_per_series",
    "failures_of",
]

STD_DDOF = 0  # population std; see the module docstring


@dataclass(frozen=True)
class MetricStats:
    """Summary of one metric over the done runs of a configuration (fractions, as in records)."""

    mean: float
    min: float
    max: float
    std: float
    n: int  # runs that had a finite value for this metric

    @classmethod
    def of(cls, values: Sequence[float]) -> MetricStats:
        arr = np.asarray(values, dtype=float)
        if arr.size == 0:
            nan = float("nan")
            return cls(nan, nan, nan, nan, 0)
        return cls(
            float(arr.mean()), float(arr.min()), float(arr.max()), float(arr.std(ddof=STD_DDOF)), int(arr.size)
        )


@dataclass(frozen=True)
class FailedTrial:
    trial_id: str
    config_id: str
    fold: int | None
    seed: int | None
    error: str | None


@dataclass(frozen=True)
class RunValues:
    """One done trial's metric values, kept so files can show per-fold numbers."""

    trial_id: str
    fold: int | None
    seed: int | None
    values: dict[str, float]


@dataclass
class ConfigStats:
    config_id: str
    axes: dict[str, Any]
    metrics: dict[str, MetricStats]
    runs: list[RunValues] = field(default_factory=list)  # done trials, in trial-id order
    failed: list[FailedTrial] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # planned trial ids with no record yet
    expected: int | None = None  # planned trial count, when the plan was given
    labels: list[str] = field(default_factory=list)
    confusion: np.ndarray | None = None  # summed over done runs, rows = true class
    confusion_n: int = 0  # how many runs went into ``confusion``

    @property
    def n(self) -> int:
        """Number of done runs that went into the statistics."""
        return len(self.runs)

    @property
    def n_failed(self) -> int:
        return len(self.failed)

    @property
    def folds(self) -> list[Any]:
        return _unique_sorted(r.fold for r in self.runs)

    @property
    def seeds(self) -> list[Any]:
        return _unique_sorted(r.seed for r in self.runs)

    def count_text(self) -> str:
        """``"8/10, 2 failed"``: done runs over planned (or over done+failed if no plan)."""
        total = self.expected if self.expected is not None else self.n + self.n_failed
        parts = [f"{self.n}/{total}"]
        if self.failed:
            parts.append(f"{self.n_failed} failed")
        if self.missing:
            parts.append(f"{len(self.missing)} missing")
        return ", ".join(parts)


def _unique_sorted(values: Iterable[Any]) -> list[Any]:
    return sorted({v for v in values if v is not None}, key=axis_sort_key)


def axis_sort_key(value: Any) -> tuple[int, Any]:
    """Natural order for axis values: numbers numerically (6 < 11), then strings, then the rest."""
    if isinstance(value, bool):
        return (1, str(value).lower())
    if isinstance(value, (int, float)):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (2, repr(value))


def _hashable(value: Any) -> Hashable:
    # Axis values are JSON: lists/dicts need a stable hashable stand-in for grouping keys.
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


def _get(item: Any, key: str, default: Any = None) -> Any:
    """Read a field from a planned trial given as a mapping or as an object (dataclass/pydantic)."""
    if isinstance(item, Mapping):
        return item.get(key, default)
    return getattr(item, key, default)


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


class _Group:
    def __init__(self, config_id: str, axes: Mapping[str, Any]) -> None:
        self.config_id = config_id
        self.axes = dict(axes)
        self.records: list[TrialRecord] = []
        self.planned: list[str] = []


def aggregate(
    records: Iterable[TrialRecord],
    metrics: Sequence[str] = ("wa", "ua"),
    planned: Iterable[Any] | None = None,
) -> list[ConfigStats]:
    """Group records by ``config_id`` and summarise each metric over folds and seeds.

    ``planned``: the run's expanded trial list (``trials.json``), each item a mapping or object
    with ``trial_id``, ``config_id`` and ideally ``axes``. When given, every configuration gets
    ``expected`` and ``missing`` (planned trials without a record), configurations with no record
    at all still appear, and the plan's order is kept. Without it, configurations are ordered
    naturally by their axis values.
    """
    groups: dict[str, _Group] = {}
    for item in planned or ():
        cid = str(_get(item, "config_id"))
        group = groups.setdefault(cid, _Group(cid, _get(item, "axes") or {}))
        group.planned.append(str(_get(item, "trial_id")))
    plan_given = planned is not None
    plan_order = list(groups)

    # Last record wins if a trial id occurs twice (e.g. a rerun after a failure).
    by_id = {r.trial_id: r for r in records}
    for rec in sorted(by_id.values(), key=lambda r: r.trial_id):
        group = groups.setdefault(rec.config_id, _Group(rec.config_id, rec.axes))
        if not group.axes:
            group.axes = dict(rec.axes)
        group.records.append(rec)

    unplanned = [cid for cid in groups if cid not in plan_order]
    unplanned.sort(key=lambda cid: _config_sort_key(groups[cid]))
    order = plan_order + unplanned if plan_given else unplanned
    return [_summarise(groups[cid], metrics, plan_given) for cid in order]


def _config_sort_key(group: _Group) -> tuple[Any, ...]:
    return tuple(axis_sort_key(_hashable(group.axes[k])) for k in group.axes) + ((1, group.config_id),)


def _summarise(group: _Group, metrics: Sequence[str], plan_given: bool) -> ConfigStats:
    done = [r for r in group.records if r.done]
    runs: list[RunValues] = []
    for rec in done:
        values = {m: v for m in metrics if (v := _finite(rec.metrics.get(m))) is not None}
        runs.append(RunValues(rec.trial_id, rec.fold, rec.seed, values))
    stats = {m: MetricStats.of([r.values[m] for r in runs if m in r.values]) for m in metrics}
    # Anything not "done" (failed, or an unknown status) is shown as a failure, not averaged.
    failed = [
        FailedTrial(r.trial_id, r.config_id, r.fold, r.seed, r.error or f"status {r.status!r}")
        for r in group.records
        if not r.done
    ]
    have = {r.trial_id for r in group.records}
    missing = [t for t in group.planned if t not in have] if plan_given else []
    labels, confusion, confusion_n = _sum_confusion(done)
    return ConfigStats(
        config_id=group.config_id,
        axes=group.axes,
        metrics=stats,
        runs=runs,
        failed=failed,
        missing=missing,
        expected=len(group.planned) if plan_given else None,
        labels=labels,
        confusion=confusion,
        confusion_n=confusion_n,
    )


def _sum_confusion(done: Sequence[TrialRecord]) -> tuple[list[str], np.ndarray | None, int]:
    """Sum the confusion matrices that share the first one's labels and shape.

    Runs with other labels (should not happen within one configuration) are left out rather than
    summed into the wrong cells; ``confusion_n`` shows how many went in.
    """
    total: np.ndarray | None = None
    labels: list[str] = []
    count = 0
    for rec in done:
        if rec.confusion is None:
            continue
        try:
            mat = np.asarray(rec.confusion, dtype=np.int64)
        except (TypeError, ValueError):
            continue
        if mat.ndim != 2 or mat.shape[0] != mat.shape[1]:
            continue
        if total is None:
            total, labels = mat.copy(), list(rec.labels)
        elif mat.shape == total.shape and list(rec.labels) == labels:
            total += mat
        else:
            continue
        count += 1
    return labels, total, count


def failures_of(stats: Iterable[ConfigStats]) -> list[FailedTrial]:
    """All failed trials of all configurations, in report order."""
    return [f for s in stats for f in s.failed]


def best_per_series(
    stats: Sequence[ConfigStats], series_key: str | None, metric: str = "wa"
) -> dict[Hashable, ConfigStats]:
    """The configuration with the highest mean ``metric`` in each series.

    ``series_key=None`` treats everything as one series (key ``None``). Configurations without a
    value are skipped; ties go to the earlier configuration (the smaller x in plan order).
    """
    best: dict[Hashable, ConfigStats] = {}
    for s in stats:
        m = s.metrics.get(metric)
        if m is None or m.n == 0 or not math.isfinite(m.mean):
            continue
        key = None if series_key is None else _hashable(s.axes.get(series_key))
        if key not in best or m.mean > best[key].metrics[metric].mean:
            best[key] = s
    return best
