"""Segment averaging, WA/UA, SpecAugment balancing, pair loaders, V/A/D binning, the two models."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, balanced_accuracy_score

from ser_models import count_layers, create_model, list_models
from ser_models.metrics import unweighted_accuracy, weighted_accuracy
from ser_models.pairs import loader_1, loader_2, make_pairs
from ser_models.segments import utterance_average, utterance_predict
from ser_orch.tasks.lian import bin_vad
from ser_orch.tasks.liu import balance_with_specaugment


def test_segment_average_matches_numpy():
    rng = np.random.default_rng(0)
    owner = np.array([0, 0, 1, 2, 2, 2, 1])
    scores = rng.random((7, 4))
    expected = np.stack([scores[owner == u].mean(axis=0) for u in range(3)])
    np.testing.assert_allclose(utterance_average(scores, owner), expected)
    np.testing.assert_array_equal(utterance_predict(scores, owner), expected.argmax(axis=1))
    # by hand: one utterance, two segments voting differently, the mean decides
    assert utterance_predict([[0.6, 0.4], [0.1, 0.9]], [0, 0]).tolist() == [1]


def test_wa_ua_match_sklearn():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 200)
    p = np.where(rng.random(200) < 0.6, y, rng.integers(0, 4, 200))
    assert weighted_accuracy(y, p) == pytest.approx(accuracy_score(y, p))
    assert unweighted_accuracy(y, p) == pytest.approx(balanced_accuracy_score(y, p))


def test_specaugment_balancing_gives_balanced_classes():
    rng = np.random.default_rng(2)
    y = np.array([0] * 10 + [1] * 3 + [2] * 6 + [3] * 1)
    x = rng.standard_normal((len(y), 50, 26)).astype(np.float32)
    xb, yb = balance_with_specaugment(x, y, rng)
    assert np.bincount(yb).tolist() == [10, 10, 10, 10]
    np.testing.assert_array_equal(xb[: len(y)], x)  # originals kept first, unchanged
    assert xb.shape == (40, 50, 26) and xb.dtype == np.float32
    assert not np.allclose(xb[len(y):], x[np.flatnonzero(y == 1)[0]])  # new samples are altered copies


def test_loader_1_uses_every_training_sample_once():
    rng = np.random.default_rng(3)
    for n in (10, 11):
        y = rng.integers(0, 4, n)
        a, b = loader_1(y, rng)
        used = np.concatenate([a, b])
        assert len(a) == len(b) == (n + 1) // 2
        if n % 2 == 0:
            assert sorted(used.tolist()) == list(range(n))
        else:  # the odd one out is paired with one sample that then appears twice
            assert set(used.tolist()) == set(range(n)) and len(used) == n + 1
        assert (a != b).all()


def test_loader_2_balances_positive_and_negative_pairs_and_classes():
    rng = np.random.default_rng(4)
    y = np.array([0] * 40 + [1] * 12 + [2] * 20 + [3] * 16)
    a, b = loader_2(y, rng)
    same = y[a] == y[b]
    assert len(a) == (12 * 4) // 2 == 24
    assert same.sum() == (~same).sum() == 12
    assert (a != b).all()
    used = np.unique(np.concatenate([a, b]))
    counts = np.bincount(y[used], minlength=4)
    assert counts.max() <= 12  # drawn from a class-balanced subset of 12 per class
    assert len(used) < len(y)  # "loader_2 doesn't cover all training samples"
    with pytest.raises(ValueError, match="unknown pair loader"):
        make_pairs("loader_3", y, rng)


def test_vad_bins():
    assert bin_vad(np.array([1.0, 2.0, 2.5, 3.9, 4.0, 5.0])).tolist() == [0, 0, 1, 1, 2, 2]


@pytest.mark.parametrize(
    ("name", "frames", "coeffs", "layers"), [("liu-cnn-lstm", 200, 26, 6), ("lian-cnn1d", 300, 13, 3)]
)
def test_models_forward_backward(name, frames, coeffs, layers):
    assert name in list_models()
    torch.manual_seed(0)
    model = create_model(name, num_classes=4, input_dim=frames * coeffs, n_coeffs=coeffs)
    x = torch.randn(3, frames, coeffs)
    out = model(x)
    assert out.logits.shape == (3, 4) and out.features is not None and out.features.shape[0] == 3
    out.logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert count_layers(model) == layers  # 4 conv + BiLSTM + FC; 2 parallel conv + FC
    model.eval()
    torch.testing.assert_close(model(x).logits, model(x.reshape(3, -1)).logits)


def test_lian_branch_shapes_follow_table_1():
    model = create_model("lian-cnn1d", num_classes=4, input_dim=900 * 13, n_coeffs=13, aux_classes=3)
    out = model(torch.randn(2, 900, 13))
    # two branches of 100 filters, max pooling 30 / stride 3 over 900 frames -> 291 steps each
    assert out.features.shape == (2, 2 * 100 * 291)
    assert model.aux_logits(out.features).shape == (2, 3)
