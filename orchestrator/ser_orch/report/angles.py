"""Kumar et al. Tables II and VI: angles between emotion embeddings and their intra/inter-class std.

Trials store these per fold in `extra` (see ser_models.metrics.angle_table / angle_std); the report
shows the mean over the folds of one configuration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from rich.table import Table


@dataclass
class AngleSummary:
    config_id: str
    labels: list[str]
    n_runs: int
    table: np.ndarray  # degrees; diagonal = mean angle of a class's test samples to its centroid
    intra_std: np.ndarray
    inter_std: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        return {
            "config_id": self.config_id,
            "labels": self.labels,
            "n_runs": self.n_runs,
            "angle_table_deg": np.round(self.table, 3).tolist(),
            "intra_std_deg": np.round(self.intra_std, 3).tolist(),
            "inter_std_deg": np.round(self.inter_std, 3).tolist(),
        }


def summarise_angles(records: Sequence[Any], config_id: str) -> AngleSummary | None:
    """Mean angle table and stds over the done runs of `config_id` that recorded them."""
    runs = [r for r in records if r.config_id == config_id and r.done and "angle_table" in (r.extra or {})]
    if not runs:
        return None
    # nanmean: a class absent from a fold's test split has NaN angles there.
    with np.errstate(invalid="ignore"):
        table = np.nanmean([np.asarray(r.extra["angle_table"], dtype=float) for r in runs], axis=0)
        intra = np.nanmean([np.asarray(r.extra["intra_std"], dtype=float) for r in runs], axis=0)
        inter = np.nanmean([np.asarray(r.extra["inter_std"], dtype=float) for r in runs], axis=0)
    return AngleSummary(config_id, list(runs[0].labels), len(runs), table, intra, inter)


def angle_table(summary: AngleSummary) -> Table:
    """Upper triangle like the paper's Table II (the matrix is symmetric)."""
    table = Table(title=f"Angles between emotion embeddings (deg), {summary.config_id}, mean of {summary.n_runs} run(s)")
    table.add_column("")
    for label in summary.labels:
        table.add_column(label, justify="right")
    for i, label in enumerate(summary.labels):
        cells = ["" if j < i else f"{summary.table[i, j]:.2f}°" for j in range(len(summary.labels))]
        table.add_row(label, *cells)
    return table


def angle_std_table(summary: AngleSummary) -> Table:
    """The paper's Table VI: per class, std of the angles to its own centroid and to the others."""
    table = Table(title=f"Angle deviation per class (deg), {summary.config_id}")
    table.add_column("emotion")
    table.add_column("intra-class std", justify="right")
    table.add_column("inter-class std", justify="right")
    for label, intra, inter in zip(summary.labels, summary.intra_std, summary.inter_std):
        table.add_row(label, f"{intra:.2f}", f"{inter:.2f}")
    table.add_row("mean", f"{np.nanmean(summary.intra_std):.2f}", f"{np.nanmean(summary.inter_std):.2f}", style="bold")
    return table
