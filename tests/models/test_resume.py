"""Every trainer of ser_models.training honours one contract (training/loop.py): interrupting after
an epoch and resuming from `state_fn()` gives exactly the final weights and history of an
uninterrupted run on CPU, and the state loads with torch.load(weights_only=True)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from ser_models import create_model
from ser_models.losses import EmotionTripletLoss
from ser_models.training import (
    HISTORY_KEYS,
    KumarSettings,
    LianSettings,
    LiuSettings,
    MocanuSettings,
    NonFiniteLoss,
    SpeakerIdSettings,
    train_kumar,
    train_lian,
    train_liu,
    train_mocanu,
    train_speaker_id,
)
from ser_models.training.liu import SegmentVal


class Interrupted(Exception):
    pass


def _rng_blobs(n: int, shape: tuple[int, ...], classes: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    centers = torch.randn(classes, *shape, generator=torch.Generator().manual_seed(99))
    return centers[y] * 0.7 + torch.randn(n, *shape, generator=g), y


def _seqs(n: int, classes: int, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    seqs = [(rng.normal(size=(int(rng.integers(40, 80)), 33)) + 0.5 * c).astype(np.float32) for c in y]
    return seqs, y.astype(np.int64)


def kumar(model_seed: int, on_epoch: Any = None, resume: Any = None) -> tuple[torch.nn.Module, list]:
    torch.manual_seed(model_seed)
    model = create_model("lstm-6", 4, hidden=8, embedding_dim=8)
    s = KumarSettings(pretrain_epochs=3, triplet_epochs=3, batch_size=16, miner="semihard", seed=2)
    r = train_kumar(model, _rng_blobs(48, (390,), 4, 1), _rng_blobs(16, (390,), 4, 2), s, on_epoch=on_epoch, resume_state=resume)
    return model, r.history


def liu(model_seed: int, on_epoch: Any = None, resume: Any = None) -> tuple[torch.nn.Module, list]:
    torch.manual_seed(model_seed)
    model = create_model("liu-cnn-lstm", 4, input_dim=20 * 26, n_coeffs=26, channels=[2, 2, 4], freq_channels=4, lstm_hidden=4)
    x, y = _rng_blobs(40, (20, 26), 4, 3)
    xv, yv = _rng_blobs(12, (20, 26), 4, 13)  # 12 segments of 6 utterances: model selection, early stopping
    val = SegmentVal(xv.reshape(12, -1), yv[::2], torch.arange(12) // 2)
    s = LiuSettings(epochs=5, batch_size=16, lr=3e-3, alpha=0.5, triplet_pool=300, patience=2, seed=4)
    r = train_liu(model, (x.reshape(40, -1), y), s, on_epoch=on_epoch, resume_state=resume, val=val)
    return model, r.history


def lian(model_seed: int, on_epoch: Any = None, resume: Any = None) -> tuple[torch.nn.Module, list]:
    torch.manual_seed(model_seed)
    model = create_model("lian-cnn1d", 4, input_dim=40 * 13, n_coeffs=13, filters=4, aux_classes=2)
    x, y = _rng_blobs(30, (40, 13), 4, 5)
    aux = y % 2
    s = LianSettings(epochs=4, batch_size=6, lr=3e-3, lam=0.6, loader="loader_2", aux_weight=0.3, lr_patience=0,
                     patience=3, seed=6)
    r = train_lian(model, (x, y), s, on_epoch=on_epoch, resume_state=resume, aux=aux, val=_rng_blobs(10, (40, 13), 4, 14))
    return model, r.history


def mocanu(model_seed: int, on_epoch: Any = None, resume: Any = None) -> tuple[torch.nn.Module, list]:
    torch.manual_seed(model_seed)
    model = create_model("se-resnet34-ghostvlad", 4, input_dim=33, clusters=2, ghost_clusters=1, widths=[2, 2, 4, 4],
                         blocks=[1, 1, 1, 1], descriptor_dim=4, embedding_dim=4)
    labels = ("neutral", "happy", "sad", "angry")
    loss = EmotionTripletLoss(labels, {"neutral": "neutral", "happy": "positive", "sad": "negative", "angry": "negative"})
    s = MocanuSettings(epochs=4, batch_size=8, crop_frames=32, steps_per_epoch=2, lr_step=2, patience=1,
                       normalize_embedding=True, val_by="centroid", seed=7)
    r = train_mocanu(model, loss, _seqs(24, 4, 8), _seqs(8, 4, 9), s, on_epoch=on_epoch, resume_state=resume)
    return model, r.history


def speaker_id(model_seed: int, on_epoch: Any = None, resume: Any = None) -> tuple[torch.nn.Module, list]:
    torch.manual_seed(model_seed)
    model = create_model("se-resnet34-avg", 3, input_dim=33, widths=[2, 2, 4, 4], blocks=[1, 1, 1, 1], descriptor_dim=4, embedding_dim=4)
    seqs, y = _seqs(18, 3, 10)
    s = SpeakerIdSettings(epochs=3, batch_size=6, crop_frames=32, steps_per_epoch=2, seed=11)
    r = train_speaker_id(model, seqs, y, np.arange(18)[1::2], s, on_epoch=on_epoch, resume_state=resume, rank=1)
    return model, r.history


TRAINERS: dict[str, tuple[Callable[..., tuple[torch.nn.Module, list]], list[int]]] = {
    # name -> (run, epochs after which to interrupt)
    "kumar": (kumar, [2, 4]),  # mid phase 1, and inside phase 2
    "liu": (liu, [1, 3]),
    "lian": (lian, [2]),
    "mocanu": (mocanu, [1, 2]),
    "speaker_id": (speaker_id, [2]),
}


@pytest.mark.parametrize("name", TRAINERS)
def test_resume_gives_the_uninterrupted_weights_and_history(name: str):
    run, stops = TRAINERS[name]
    full_model, full_history = run(0)
    assert [e["global_epoch"] for e in full_history] == list(range(1, len(full_history) + 1))
    assert all(set(HISTORY_KEYS) <= set(e) for e in full_history)
    for stop in stops:
        saved: dict[str, bytes] = {}

        def interrupt(info: dict[str, Any], state_fn: Any) -> None:
            if info["global_epoch"] == stop:
                buf = io.BytesIO()
                torch.save(state_fn(), buf)
                saved["state"] = buf.getvalue()
                raise Interrupted

        with pytest.raises(Interrupted):
            run(0, on_epoch=interrupt)
        state = torch.load(io.BytesIO(saved["state"]), weights_only=True)  # plain tensors and values only
        resumed_model, resumed_history = run(123, resume=state)  # another init: everything comes from the state
        full_state, resumed_state = full_model.state_dict(), resumed_model.state_dict()
        assert list(full_state) == list(resumed_state)
        for key in full_state:
            assert torch.equal(full_state[key], resumed_state[key]), f"{name}: {key} differs after resuming at epoch {stop}"
        assert resumed_history == full_history


def test_an_interrupted_run_differs_from_a_fresh_one():
    # The check above could pass vacuously if a resume silently restarted: a run that starts
    # over with another init must not match.
    full_model, _ = liu(0)
    other_model, _ = liu(123)
    assert not all(torch.equal(a, b) for a, b in zip(full_model.state_dict().values(), other_model.state_dict().values()))


def test_diverged_training_raises_instead_of_reporting_a_number():
    torch.manual_seed(0)
    model = create_model("fc-6", 4, hidden=8, embedding_dim=8)
    s = KumarSettings(pretrain_epochs=2, triplet_epochs=0, batch_size=16, lr_start=1e12, lr_end=1e12, seed=0)
    with pytest.raises(NonFiniteLoss, match="training diverged"):
        train_kumar(model, _rng_blobs(48, (390,), 4, 1), None, s)
