"""For each of the four tasks, a trial interrupted after some epochs and resumed from its checkpoint
state ends with exactly the record (metrics, confusion, per-epoch history) and test embeddings of
an uninterrupted trial, on CPU. The trials run through `ser_orch.trial.run_trial`, the code the Ray
trainable calls, on real WAV files of the project's synthetic corpus."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from ser_orch.experiment import Experiment, RunOptions
from ser_orch.results.records import read_trial_arrays
from ser_orch.trial import run_trial
from task_grids import Interrupted, write_task_grid

STOP_AFTER = {"kumar": 4, "mocanu": 2, "liu": 2, "lian": 1}  # epoch after which the trial is interrupted


def _comparable(record: Any) -> dict[str, Any]:
    metrics = {k: v for k, v in record.metrics.items() if k != "train_seconds"}
    return {"metrics": metrics, "confusion": record.confusion, "history": record.history, "extra": record.extra}


@pytest.mark.parametrize("task", STOP_AFTER)
def test_interrupted_trial_resumes_to_the_same_result(task: str, tmp_path: Path, task_corpora: dict[str, Path]):
    stop = STOP_AFTER[task]
    grid = write_task_grid(tmp_path / f"{task}.yaml", task, task_corpora)
    exp = Experiment.from_grid(grid, RunOptions(folds="0"))
    exp.prepare(tmp_path / "run")
    trial = exp.trials[0]
    inputs = exp.inputs[trial["trial_id"]]

    full = run_trial(trial, inputs, tmp_path / "full")
    n_epochs = len(full.history)
    assert n_epochs > stop and full.status == "done"

    saved: dict[str, bytes] = {}

    def interrupt(info: dict[str, Any], state_fn: Any) -> None:
        if info["global_epoch"] == stop:
            buf = io.BytesIO()
            torch.save(state_fn(), buf)
            saved["state"] = buf.getvalue()
            raise Interrupted

    with pytest.raises(Interrupted):
        run_trial(trial, inputs, tmp_path / "cut", on_epoch=interrupt)
    assert not (tmp_path / "cut" / "trials").exists()  # no record for an interrupted trial
    state = torch.load(io.BytesIO(saved["state"]), weights_only=True)
    seen: list[int] = []
    resumed = run_trial(trial, inputs, tmp_path / "resumed", resume_state=state,
                        on_epoch=lambda info, _: seen.append(info["global_epoch"]))
    assert seen == list(range(stop + 1, n_epochs + 1))  # only the epochs after the checkpoint ran
    assert _comparable(resumed) == _comparable(full)
    a, b = read_trial_arrays(tmp_path / "full", trial["trial_id"]), read_trial_arrays(tmp_path / "resumed", trial["trial_id"])
    assert a is not None and b is not None and set(a) == set(b)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])  # the test embeddings: the final weights agree
