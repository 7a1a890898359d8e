import pickle
from dataclasses import replace

import pytest
import torch

from ser_models import create_model
from ser_models.training import KumarSettings, batch_indices, evaluate_kumar, linear_lr, train_kumar
from ser_models.training.batches import epoch_view, first_view

C = 4


def blobs(n, seed):
    # class-dependent offsets on a few coordinates + noise: separable, but not trivially at init
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % C
    centers = torch.randn(C, 390, generator=torch.Generator().manual_seed(99)) * 0.5
    return centers[y] + torch.randn(n, 390, generator=g), y


TRAIN, TEST = blobs(96, 1), blobs(48, 2)


def small_model(seed=0):
    torch.manual_seed(seed)
    return create_model("fc-6", C, hidden=16, embedding_dim=8)


def settings(**kw):
    base = dict(pretrain_epochs=6, triplet_epochs=6, batch_size=32, seed=3)
    return KumarSettings(**(base | kw))


def test_lr_schedule_ends():
    assert linear_lr(0, 1000, 0.05, 0.005) == 0.05
    assert linear_lr(999, 1000, 0.05, 0.005) == pytest.approx(0.005)
    assert linear_lr(500, 1001, 0.05, 0.005) == pytest.approx(0.0275)
    # Phase 2 continues from phase 1's last rate (default) or restarts at lr_start (the other reading).
    r = train_kumar(small_model(), TRAIN, None, settings(pretrain_epochs=3, triplet_epochs=3, patience=100))
    lrs = [(h["phase"], h["lr"]) for h in r.history]
    assert lrs == [(1, 0.05), (1, pytest.approx(0.0275)), (1, pytest.approx(0.005))] + [(2, pytest.approx(0.005))] * 3
    r = train_kumar(small_model(), TRAIN, None, settings(pretrain_epochs=3, triplet_epochs=2, patience=100, phase2_lr="restart"))
    lrs = [(h["phase"], h["lr"]) for h in r.history]
    assert lrs == [(1, 0.05), (1, pytest.approx(0.0275)), (1, pytest.approx(0.005)), (2, 0.05), (2, pytest.approx(0.005))]
    # Phase 1 stopped early after 2 of 11 epochs (its last rate 0.05 - 0.0045 = 0.0455): phase 2
    # decays from there to 0.005 over its 3 epochs: 0.0455, 0.02525, (0.005; it stops after 2 as well).
    r = train_kumar(small_model(), TRAIN, None, settings(pretrain_epochs=11, triplet_epochs=3, patience=1, min_delta=2.0))
    lrs = [(h["phase"], h["lr"]) for h in r.history]
    assert lrs == [(1, 0.05), (1, pytest.approx(0.0455)), (2, pytest.approx(0.0455)), (2, pytest.approx(0.02525))]


def test_learns_separable_problem():
    model = small_model()
    r = train_kumar(model, TRAIN, TEST, settings(patience=100))
    assert r.monitor == "val_acc" and all("val_acc" in h for h in r.history)
    assert r.history[-1]["train_acc"] >= 0.95
    ev = evaluate_kumar(model, TRAIN, TEST)
    assert ev["wa"] >= 0.9 and ev["softmax_wa"] >= 0.9 and ev["ua"] >= 0.9
    assert ev["confusion"].sum() == 48 and ev["angle_table"].shape == (C, C)
    assert ev["test_embeddings"].shape == (48, 8) and ev["intra_std"].shape == ev["inter_std"].shape == (C,)


def test_early_stopping_triggers_in_each_phase():
    # an improvement of 2.0 in accuracy is impossible: each phase stops after `patience` epochs
    # (the first epoch always improves on -inf)
    r = train_kumar(small_model(), TRAIN, None, settings(pretrain_epochs=50, triplet_epochs=50, patience=3, min_delta=2.0))
    assert r.monitor == "train_acc"
    assert r.epochs == {1: 4, 2: 4} and r.stopped_early == {1: True, 2: True}
    assert [h["stop"] for h in r.history] == [False, False, False, True] * 2


@pytest.mark.parametrize("miner", ["random", "semihard", "hard"])
def test_resume_gives_identical_weights(miner):
    s = settings(pretrain_epochs=3, triplet_epochs=3, miner=miner, distance="sqeuclidean" if miner == "hard" else "cosine")
    full = small_model()
    r_full = train_kumar(full, TRAIN, TEST, s)

    saved = {}

    def grab(info, state_fn):
        if info["global_epoch"] in (1, 4):  # mid phase 1 and right after phase 2's first epoch
            saved[info["global_epoch"]] = pickle.dumps(state_fn())

    train_kumar(small_model(), TRAIN, TEST, s, on_epoch=grab)
    for g in (1, 4):
        resumed = small_model(seed=123)  # different init: everything must come from the state
        r_res = train_kumar(resumed, TRAIN, TEST, s, resume_state=pickle.loads(saved[g]))
        for (k, a), (_, b) in zip(full.state_dict().items(), resumed.state_dict().items()):
            assert torch.equal(a, b), k
        assert r_res.history == r_full.history


def test_deterministic_for_fixed_seed():
    results = []
    for _ in range(2):
        model = small_model()
        train_kumar(model, TRAIN, None, settings(pretrain_epochs=2, triplet_epochs=2))
        results.append(evaluate_kumar(model, TRAIN, TEST))
    for key in ("wa", "ua", "softmax_wa"):
        assert results[0][key] == results[1][key]
    for key in ("confusion", "angle_table", "intra_std", "inter_std", "test_embeddings"):
        assert (results[0][key] == results[1][key]).all(), key


def test_batches_cover_everything_and_avoid_singletons():
    g = torch.Generator().manual_seed(0)
    parts = batch_indices(65, 32, g, "cpu")
    assert [len(p) for p in parts] == [32, 33]
    assert sorted(torch.cat(parts).tolist()) == list(range(65))


def test_bad_settings():
    with pytest.raises(ValueError):
        KumarSettings(miner="easy")
    with pytest.raises(ValueError):
        KumarSettings(distance="l1")


def test_epoch_view_draws_one_of_each_rows_own_views():
    x = torch.arange(50 * 4 * 2, dtype=torch.float32).reshape(50, 4, 2)  # row r, view v: unique values
    g = torch.Generator().manual_seed(0)
    picks = []
    for _ in range(40):
        out = epoch_view(x, g)
        assert out.shape == (50, 2)
        hit = (x == out[:, None, :]).all(dim=2)  # (rows, views): which view each row got
        assert hit.sum(dim=1).eq(1).all()  # exactly one of its own views
        picks.append(hit.float().argmax(dim=1))
    counts = torch.bincount(torch.cat(picks), minlength=4).float() / (40 * 50)
    assert torch.allclose(counts, torch.full((4,), 0.25), atol=0.03)  # uniform over the views
    again = torch.Generator().manual_seed(0)
    assert torch.equal(epoch_view(x, again), x[torch.arange(50), picks[0]])  # seeded by the generator
    flat = torch.ones(5, 3)
    assert epoch_view(flat, g) is flat and first_view(flat) is flat and torch.equal(first_view(x), x[:, 0])


def test_trains_on_random_views_and_measures_on_the_first():
    # Views 1 and 2 are the fixed reading with noise: a model trained on them still learns, and the
    # reported accuracies are the first view's.
    x, y = TRAIN
    g = torch.Generator().manual_seed(5)
    views = torch.stack([x, x + 0.5 * torch.randn(x.shape, generator=g), x + 0.5 * torch.randn(x.shape, generator=g)], dim=1)
    model = small_model()
    r = train_kumar(model, (views, y), TEST, settings(patience=100))
    from ser_models.training.loop import softmax_accuracy

    assert r.history[r.selected_epoch - 1]["train_acc"] == softmax_accuracy(model, x, y)
    ev = evaluate_kumar(model, (views, y), TEST)
    assert ev["wa"] >= 0.9
    np_cents = evaluate_kumar(model, TRAIN, TEST)["centroids"]
    assert (ev["centroids"] == np_cents).all()  # centroids from the fixed reading


def _weights_per_epoch(s, val):
    """Train, keeping a copy of the weights after every epoch (from the checkpoint state)."""
    seen = {}

    def grab(info, state_fn):
        seen[info["global_epoch"]] = {k: v.clone() for k, v in state_fn()["model"].items()}

    model = small_model()
    r = train_kumar(model, TRAIN, val, s, on_epoch=grab)
    return model, r, seen


@pytest.mark.parametrize("triplet_epochs", [4, 0])
def test_model_selection_keeps_the_final_phases_best_validation_epoch(triplet_epochs):
    s = settings(pretrain_epochs=4, triplet_epochs=triplet_epochs, patience=100, lr_start=0.2, lr_end=0.2)
    model, r, seen = _weights_per_epoch(s, TEST)
    final = 2 if triplet_epochs else 1
    phase = [h for h in r.history if h["phase"] == final]
    best = max(phase, key=lambda h: h["val_acc"])  # max() returns the first of equal values
    assert r.selected_epoch == best["global_epoch"]
    assert best["global_epoch"] != r.history[-1]["global_epoch"], "the case should select an earlier epoch"
    for k, v in model.state_dict().items():
        assert torch.equal(v, seen[best["global_epoch"]][k]), k
    # select_best=False: the weights of the last epoch (the paper's reading)
    model, r, seen = _weights_per_epoch(replace(s, select_best=False), TEST)
    assert r.selected_epoch == r.history[-1]["global_epoch"]
    assert all(torch.equal(v, seen[r.selected_epoch][k]) for k, v in model.state_dict().items())
    # no validation part: nothing to select on, the last weights
    model, r, seen = _weights_per_epoch(s, None)
    assert r.selected_epoch == r.history[-1]["global_epoch"]
    assert all(torch.equal(v, seen[r.selected_epoch][k]) for k, v in model.state_dict().items())
