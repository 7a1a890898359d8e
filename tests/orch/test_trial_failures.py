"""A trial that fails is retried, then recorded as failed and left out of the statistics visibly."""

from __future__ import annotations

import numpy as np
from rich.console import Console

from ser_orch.experiment import Experiment, RunOptions
from ser_orch.runner import Resources


def test_failed_trial_is_recorded_and_excluded(tmp_path, tiny_grid):
    exp = Experiment.from_grid(tiny_grid, RunOptions(quick=True, overrides={"model.family": "fc"}))
    exp.prepare(tmp_path / "run")

    # Break fold 1 only: its test indices point past the end of the feature set, the way a
    # stale or hand-edited fold file would. The trial itself hits the error when it loads its data.
    folds_path = exp.inputs[exp.trials[0]["trial_id"]].folds
    with np.load(folds_path) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["1/test"] = arrays["1/test"] + 100_000
    np.savez(folds_path, **arrays)

    outcome = exp.execute(Resources(cpus_per_trial=0.5, max_failures=1))
    assert outcome.failed == ["family=fc,depth=6__fold=1__seed=0"]

    console = Console(record=True, width=200)
    report = exp.report(console)
    (stats,) = report.stats
    assert stats.n == 1 and stats.n_failed == 1
    assert stats.count_text() == "1/2, 1 failed"
    assert report.failures[0].trial_id == "family=fc,depth=6__fold=1__seed=0"
    assert "IndexError" in report.failures[0].error
    text = console.export_text()
    assert "Failed trials" in text and "IndexError" in text
    config = report.json_data["configs"][0]
    assert len(config["runs"]) == 1 and config["n"] == 1
    assert config["metrics"]["wa"]["mean"] == stats.runs[0].values["wa"]
