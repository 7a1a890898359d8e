"""Kumar's input standardisation: the training part's statistics, applied to every part."""

from __future__ import annotations

import numpy as np
import torch

from ser_orch.tasks import FoldData, TrialContext
from ser_orch.tasks.kumar import KumarTask


def _trial(**train: object) -> dict:
    return {"task": "kumar", "seed": 0, "features": {"name": "mfcc39"}, "model": {"family": "fc", "depth": 6},
            "train": {"pretrain_epochs": 1, "triplet_epochs": 1, **train}, "loss": {}}


def _fold() -> tuple[FoldData, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    scale = np.r_[300.0, np.full(388, 5.0), 0.0]  # c0-like, small deltas, one constant (padding) column
    raw = rng.normal(size=(60, 390)) * scale + np.r_[-250.0, np.zeros(389)]
    x = torch.as_tensor(raw, dtype=torch.float32)
    y = torch.as_tensor(np.arange(60) % 3)
    data = FoldData(x[:40], y[:40], x[40:50], y[40:50], x[50:], y[50:], ("a", "b", "c"))
    return data, raw[:40].astype(np.float32), raw.astype(np.float32)


def test_parts_are_scaled_with_the_training_parts_mean_and_std() -> None:
    task = KumarTask()
    trial = _trial()
    data, train_raw, raw = _fold()
    prepared = task.prepare(trial, task.settings(trial), data, TrialContext(device="cpu"))
    mean, std = train_raw.mean(axis=0), train_raw.std(axis=0)  # population std, as StandardScaler
    std[std == 0] = 1.0  # a constant column is only centred
    d = prepared.data
    for part, rows in ((d.x_train, slice(0, 40)), (d.x_val, slice(40, 50)), (d.x_test, slice(50, 60))):
        np.testing.assert_allclose(part.numpy(), (raw[rows] - mean) / std, rtol=1e-4, atol=1e-4)
    assert np.all(d.x_test[:, -1].numpy() == 0)
    # The caller's tensors are untouched (a pack's members may share a fold's tensors).
    assert torch.equal(data.x_train, torch.as_tensor(train_raw))


def test_standardize_false_feeds_the_raw_values() -> None:
    task = KumarTask()
    trial = _trial(standardize=False)
    data, _, _ = _fold()
    prepared = task.prepare(trial, task.settings(trial), data, TrialContext(device="cpu"))
    assert prepared.data.x_train is data.x_train and prepared.data.x_test is data.x_test


def test_random_views_train_on_every_reading_and_evaluate_on_the_fixed_one() -> None:
    # Feature rows of 3 readings (mfcc39 random_views: 2): training keeps them all, the validation
    # and test parts only the fixed one; standardisation uses the fixed reading's statistics.
    task = KumarTask()
    trial = {**_trial(), "features": {"name": "mfcc39", "params": {"random_views": 2}}}
    settings = task.settings(trial)
    assert settings.views == 3
    rng = np.random.default_rng(1)
    raw = rng.normal(size=(60, 3, 390)).astype(np.float32) * np.array([1.0, 3.0, 5.0], np.float32)[None, :, None]
    x = torch.as_tensor(raw.reshape(60, 3 * 390))
    y = torch.as_tensor(np.arange(60) % 3)
    data = FoldData(x[:40], y[:40], x[40:50], y[40:50], x[50:], y[50:], ("a", "b", "c"))
    prepared = task.prepare(trial, settings, data, TrialContext(device="cpu"))
    d = prepared.data
    assert d.x_train.shape == (40, 3, 390) and d.x_val.shape == (10, 390) and d.x_test.shape == (10, 390)
    mean, std = raw[:40, 0].mean(axis=0), raw[:40, 0].std(axis=0)
    np.testing.assert_allclose(d.x_train.numpy(), (raw[:40] - mean) / std, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(d.x_test.numpy(), (raw[50:, 0] - mean) / std, rtol=1e-4, atol=1e-4)
    assert prepared.model(d.x_test[:2]).logits.shape == (2, 3)  # the model reads one 390-value reading


def test_the_models_read_the_features_values_per_window() -> None:
    # window_reduce: mean_std gives 78 values per window: the recurrent net steps over 10 windows of 78.
    task = KumarTask()
    trial = {**_trial(), "model": {"family": "lstm", "depth": 6},
             "features": {"name": "mfcc39", "params": {"window_reduce": "mean_std"}}}
    x = torch.randn(12, 780)
    y = torch.as_tensor(np.arange(12) % 3)
    data = FoldData(x[:8], y[:8], None, None, x[8:], y[8:], ("a", "b", "c"))
    model = task.prepare(trial, task.settings(trial), data, TrialContext(device="cpu")).model
    lstm = next(m for m in model.modules() if isinstance(m, torch.nn.LSTM))
    assert model.n_coeffs == 78 and lstm.input_size == 78
