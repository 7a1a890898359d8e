"""Results as pandas DataFrames (the Python API's view of a run folder)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..results.aggregate import ConfigStats, best_per_series
from ..results.records import TrialRecord
from .paper import paper_value

STATS = ("mean", "min", "max", "std", "n")


def config_frame(
    stats: Sequence[ConfigStats], metrics: Sequence[str], *, series: str | None = None, paper: Iterable[Any] = ()
) -> Any:
    """One row per configuration: config_id, its axes, ``<metric>_<mean|min|max|std|n>`` (fractions;
    std over runs, population), done/expected/failed counts, ``best`` (per series) and the paper's
    values (``paper_<metric>``, percentages)."""
    import pandas as pd

    paper = list(paper)
    best = {s.config_id for s in best_per_series(stats, series, metrics[0]).values()} if metrics else set()
    rows = []
    for s in stats:
        row: dict[str, Any] = {"config_id": s.config_id, **s.axes}
        for m in metrics:
            ms = s.metrics.get(m)
            for f in STATS:
                row[f"{m}_{f}"] = getattr(ms, f) if ms is not None else None
        row.update(n=s.n, expected=s.expected, failed=s.n_failed, missing=len(s.missing), best=s.config_id in best)
        for m in metrics:
            value = paper_value(paper, s.axes, m)
            if value is not None:
                row[f"paper_{m}"] = value
        rows.append(row)
    return pd.DataFrame(rows)


def trial_frame(records: Iterable[TrialRecord]) -> Any:
    """One row per trial record: ids, axes, fold, seed, status, error, every metric, node, device."""
    import pandas as pd

    rows = []
    for r in records:
        rows.append({"trial_id": r.trial_id, "config_id": r.config_id, **r.axes, "fold": r.fold, "seed": r.seed,
                     "status": r.status, "error": r.error, **r.metrics, "node": r.node, "device": r.device})
    return pd.DataFrame(rows)


def history_frame(records: Iterable[TrialRecord]) -> Any:
    """Every epoch of every done trial (long format): trial_id, config_id, fold, seed and the
    history entry's keys (phase, epoch, global_epoch, loss, train_acc, val_acc, lr, stop, ...)."""
    import pandas as pd

    rows = [
        {"trial_id": r.trial_id, "config_id": r.config_id, "fold": r.fold, "seed": r.seed, **entry}
        for r in records if r.done for entry in r.history
    ]
    return pd.DataFrame(rows)
