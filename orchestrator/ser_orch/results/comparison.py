"""The statistics a results table shows beside the fold aggregates (see docs/statistics.md):
a 95 % interval of every mean, and each configuration's paired difference to the best one and to
the baseline, with Holm-adjusted corrected resampled t-tests.

``n_test / n_train`` (the correction for overlapping training sets) comes from the trial records'
fold sizes; runs without sizes (records older than the sizes field) get intervals and tests
without it only if the caller passes a ratio, otherwise none, with a note saying why.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .aggregate import ConfigStats
from .records import TrialRecord
from .stats import ComparisonTable, MeanCI, StatsError, compare_table, mean_ci, ratio_from_sizes

BASELINE_ID = "baseline"
ALPHA = 0.05
CONFIDENCE = 0.95


@dataclass
class TableStats:
    metric: str  # the metric the comparisons use (the table's first)
    ratio: float | None  # n_test / n_train
    ci: dict[str, dict[str, MeanCI]] = field(default_factory=dict)  # config_id -> metric -> interval
    comparison: ComparisonTable | None = None
    note: str | None = None  # why something is missing

    def interval(self, config_id: str, metric: str) -> MeanCI | None:
        return self.ci.get(config_id, {}).get(metric)

    def row(self, config_id: str) -> Any:
        if self.comparison is None:
            return None
        try:
            return self.comparison.row(config_id)
        except KeyError:
            return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "test": "corrected resampled t-test (Nadeau & Bengio 2003), seeds averaged per fold, Holm-adjusted",
            "test_train_ratio": self.ratio,
            "alpha": ALPHA,
            "confidence": CONFIDENCE,
            "best": None if self.comparison is None else self.comparison.best_id,
            "note": self.note,
        }


def test_train_ratio(records: Iterable[TrialRecord]) -> float | None:
    sizes = {r.trial_id: r.sizes for r in records if r.done and r.sizes}
    if not sizes:
        return None
    try:
        return ratio_from_sizes(sizes)
    except StatsError:
        return None


def table_stats(
    stats: Sequence[ConfigStats],
    metrics: Sequence[str],
    records: Iterable[TrialRecord],
    *,
    baseline: ConfigStats | None = None,
    best_id: str | None = None,
) -> TableStats:
    """Intervals for every configuration (and the baseline) and metric; comparisons on
    ``metrics[0]`` against ``best_id`` (default: the highest mean) and the baseline.
    ``records``: every record (the baseline's too), for the folds' train/test sizes."""
    records = list(records)
    metric = metrics[0]
    ratio = test_train_ratio(records)
    out = TableStats(metric, ratio)
    if ratio is None:
        out.note = "no fold sizes in the records: intervals and tests need n_test/n_train"
        return out
    rows = [s for s in stats if s.n]
    for s in [*rows, *([baseline] if baseline is not None and baseline.n else [])]:
        out.ci[s.config_id] = {m: mean_ci(s, m, test_train_ratio=ratio, confidence=CONFIDENCE) for m in metrics}
    scored = [s for s in rows if math.isfinite(s.metrics[metric].mean)]
    if not scored:
        return out
    best = best_id or max(scored, key=lambda s: s.metrics[metric].mean).config_id
    out.comparison = compare_table(
        scored, metric, best, test_train_ratio=ratio, baseline=baseline if baseline is not None and baseline.n else None,
        baseline_id=BASELINE_ID, alpha=ALPHA, confidence=CONFIDENCE,
    )
    return out
