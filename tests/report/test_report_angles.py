"""Kumar Table II / VI summaries: mean over folds of the per-trial angle tables."""

from __future__ import annotations

import io

import numpy as np
from rich.console import Console

from ser_orch.report.angles import angle_std_table, angle_table, summarise_angles
from ser_orch.results.records import TrialRecord


def _record(fold: int, table, intra, inter, config_id="family=resnet,depth=11", status="done"):
    return TrialRecord(
        trial_id=f"{config_id}__fold={fold}__seed=0", config_id=config_id, fold=fold, seed=0, status=status,
        labels=["sad", "happy"], extra={"angle_table": table, "intra_std": intra, "inter_std": inter},
    )


def test_mean_over_folds_ignores_other_configs_failed_runs_and_nan():
    records = [
        _record(0, [[1.0, 80.0], [80.0, 3.0]], [0.5, 1.5], [2.0, 4.0]),
        _record(1, [[3.0, 70.0], [70.0, float("nan")]], [1.5, float("nan")], [4.0, 6.0]),
        _record(2, [[99.0, 99.0], [99.0, 99.0]], [9.0, 9.0], [9.0, 9.0], config_id="family=fc,depth=6"),
        _record(3, [[99.0, 99.0], [99.0, 99.0]], [9.0, 9.0], [9.0, 9.0], status="failed"),
    ]
    s = summarise_angles(records, "family=resnet,depth=11")
    assert s is not None and s.n_runs == 2 and s.labels == ["sad", "happy"]
    np.testing.assert_allclose(s.table, [[2.0, 75.0], [75.0, 3.0]])
    np.testing.assert_allclose(s.intra_std, [1.0, 1.5])
    np.testing.assert_allclose(s.inter_std, [3.0, 5.0])
    assert summarise_angles(records, "family=gru,depth=8") is None

    out = io.StringIO()
    console = Console(file=out, width=120)
    console.print(angle_table(s))
    console.print(angle_std_table(s))
    text = out.getvalue()
    assert "75.00°" in text and "2.00°" in text and "3.00°" in text
    assert "mean of 2 run(s)" in text
    # The mean row of Table VI: (1.0 + 1.5) / 2 and (3 + 5) / 2.
    assert any(line.split() == ["│", "mean", "│", "1.25", "│", "4.00", "│"] for line in text.splitlines())
