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

KUMAR = """
name: resume_kumar
task: kumar
dataset: {{name: ravdess, root: {ravdess}}}
features: {{name: mfcc39}}
protocol: {{name: kumar_70_30, folds: 2, params: {{folds: 2}}}}
model: {{family: gru, depth: 6, overrides: {{hidden: 8, embedding_dim: 8}}}}
loss: {{miner: semihard}}
train: {{pretrain_epochs: 3, triplet_epochs: 3, batch_size: 32}}
"""
MOCANU = """
name: resume_mocanu
task: mocanu
dataset: {{name: ravdess, root: {mocanu}}}
features: {{name: spec257}}
protocol: {{name: mocanu_actor10, folds: 3, params: {{folds: 3}}}}
model:
  name: se-resnet34-ghostvlad
  overrides: {{clusters: 2, ghost_clusters: 1, widths: [4, 4, 8, 8], blocks: [1, 1, 1, 1], descriptor_dim: 8, embedding_dim: 8}}
loss: {{type: emotion, alpha: 0.1, beta: 0.15}}
train: {{classifier: svm, epochs: 3, steps_per_epoch: 2, batch_size: 8, crop_frames: 40, patience: 5, svm_max_train: 20}}
"""
LIU = """
name: resume_liu
task: liu
dataset: {{name: iemocap, root: {iemocap}, label_set: 4class, improvised_only: true}}
features: {{name: mfcc_seg}}
protocol: {{name: liu_random_80_20, folds: 2, params: {{folds: 2}}}}
model: {{name: liu-cnn-lstm, overrides: {{channels: [2, 4, 4], freq_channels: 8, lstm_hidden: 8}}}}
loss: {{alpha: 0.3, triplet_pool: 2000}}
train: {{epochs: 3, batch_size: 32, lr: 0.003, augment: true}}
"""
LIAN = """
name: resume_lian
task: lian
dataset: {{name: iemocap, root: {iemocap}, label_set: 4class, improvised_only: true}}
features: {{name: mfcc13_fixed, params: {{seconds: 2}}}}
protocol: {{name: lian_loso, folds: 2}}
model: {{name: lian-cnn1d, overrides: {{filters: 8}}}}
loss: {{lambda: 0.8, type: 2, loader: loader_1, aux_task: dominance, aux_weight: 0.1}}
train: {{epochs: 3, batch_size: 16, lr: 0.002, lr_patience: 0}}
"""
GRIDS = {"kumar": (KUMAR, 4), "mocanu": (MOCANU, 2), "liu": (LIU, 2), "lian": (LIAN, 1)}  # grid, stop after epoch


class Interrupted(Exception):
    pass


@pytest.fixture(scope="module")
def corpora(synth_corpus) -> dict[str, Path]:  # type: ignore[no-untyped-def]
    return {"ravdess": synth_corpus("ravdess", actors=2, seed=3), "mocanu": synth_corpus("ravdess", actors=3, seed=5),
            "iemocap": synth_corpus("iemocap", actors=4, seed=5)}


def _comparable(record: Any) -> dict[str, Any]:
    metrics = {k: v for k, v in record.metrics.items() if k != "train_seconds"}
    return {"metrics": metrics, "confusion": record.confusion, "history": record.history, "extra": record.extra}


@pytest.mark.parametrize("task", GRIDS)
def test_interrupted_trial_resumes_to_the_same_result(task: str, tmp_path: Path, corpora: dict[str, Path]):
    text, stop = GRIDS[task]
    grid = tmp_path / f"{task}.yaml"
    grid.write_text(text.format(**corpora))
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
