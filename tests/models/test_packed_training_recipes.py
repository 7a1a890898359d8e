"""The packed trainers (ser_models.training.packed) against the unpacked trainers, recipe by recipe.

Each case packs M = 3 members with different seeds, folds of different sizes (so batch counts,
last batches, Liu's pool sizes and Lian's pair counts differ) and a different scalar each
(margins, lr, weight decay, alpha, lambda, beta, loss weights, a zero loss weight that leaves a
head without gradient). Each packed member must give the history and final weights of its own
unpacked run (the reference: that trainer called on that member alone).

Tolerances. The same arithmetic, batched: vmap's batched matmuls and grouped convolutions sum in
another order (~1 ulp per op), carried through every training step.
- float64: history values 1e-9 relative; weights 1e-7 relative + 1e-9 absolute. Seen (largest
  over members): Kumar history equal, weights 2e-16 relative; Liu history equal, weights 4e-10
  relative (7e-11 absolute); Lian 3e-16 / 2e-10; Mocanu 2e-10 / 3e-9 (3e-10 absolute). The
  larger ones sit in parameters whose true gradient is ~0 (a conv bias before BatchNorm,
  GhostVLAD's assignment), where Adam's normalised step passes a difference on at its own size.
- float32: no fixed tolerance fits, because some of these runs are themselves that sensitive:
  a conv bias right before BatchNorm has a true gradient of 0, its float32 gradient is rounding
  noise that Adam turns into full steps (Liu, Lian: ~5e-3 apart after a few epochs), and a
  semi-hard triplet window flips on a ~1e-7 change of a distance (Mocanu's emotion triplet:
  losses 30 % apart by epoch 3, so float32 is checked on its S1-like cross-entropy recipe).
  The tolerance is therefore measured: the unpacked run again from initial weights scaled by
  (1 + 2^-23), one float32 ulp. The packed run must be no farther from the unpacked run than 10x
  that perturbed run is (+1e-5 relative), in the history and in every weight tensor (largest
  relative difference per tensor); epochs, accuracies, stop flags and selected epochs must be
  equal. Seen: history 1e-7 (Kumar, Liu, Lian) to 5e-6 (Mocanu S1), weights 1e-7 (Kumar) to
  0.5 (a near-zero conv bias in Lian; its perturbed run 0.13): 0.6-3.7x the perturbed run.

Resume of a pack is checked bit for bit (same process, same ops), and each member's entry of
the pack checkpoint resumes the *unpacked* trainer to the packed member's end.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pytest
import torch
from ser_models import create_model
from ser_models.losses import (
    CrossEntropy,
    EmotionTripletLoss,
    HardTripletMiner,
    TripletLoss,
    WeightedSum,
)
from ser_models.training import (
    HISTORY_KEYS,
    KumarSettings,
    LianSettings,
    LiuSettings,
    MocanuSettings,
    NonFiniteLoss,
    train_kumar,
    train_lian,
    train_liu,
    train_mocanu,
)
from ser_models.training.liu import SegmentVal
from ser_models.training.packed import (
    MemberResult,
    train_kumar_packed,
    train_lian_packed,
    train_liu_packed,
    train_mocanu_packed,
)

TOL = {
    torch.float64: {"history": 1e-9, "weights": dict(rtol=1e-7, atol=1e-9)},
    torch.float32: {"history": 1e-4, "weights": dict(rtol=2e-3, atol=2e-4)},
}
LABELS = ("neutral", "happy", "sad", "angry")
POLARITY = {"neutral": "neutral", "happy": "positive", "sad": "negative", "angry": "negative"}


def blobs(n: int, shape: tuple[int, ...], seed: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 4
    centers = torch.randn(4, *shape, generator=torch.Generator().manual_seed(99))
    return (centers[y] * 0.7 + torch.randn(n, *shape, generator=g)).to(dtype), y


def sequences(n: int, seed: int, dtype: torch.dtype) -> tuple[list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 4
    np_dtype = np.float64 if dtype == torch.float64 else np.float32
    return [(rng.normal(size=(int(rng.integers(40, 80)), 33)) + c).astype(np_dtype) for c in y], y.astype(np.int64)


@dataclass
class Case:
    """One recipe: how to build member m, its data and settings, and how to run either trainer."""

    build: Callable[[int, torch.dtype], torch.nn.Module]
    data: Callable[[torch.dtype], list[Any]]
    settings: list[Any]
    packed: Callable[..., list[MemberResult]]  # (models, data, settings, on_epoch, resume) -> results
    unpacked: Callable[..., Any]  # (model, m, data[m], settings[m], on_epoch, resume) -> result
    diverge: dict[str, float]  # settings of a member whose loss becomes NaN/inf


def seeded(factory: Callable[[], torch.nn.Module]) -> Callable[[int, torch.dtype], torch.nn.Module]:
    def build(seed: int, dtype: torch.dtype) -> torch.nn.Module:
        torch.manual_seed(seed)  # as an unpacked trial seeds its model
        return factory().to(dtype)

    return build


# ---------------------------------------------------------------- Kumar: lstm-6, random triplets
KUMAR = Case(
    build=seeded(lambda: create_model("lstm-6", 4, hidden=8, embedding_dim=8)),
    # train folds of 40, 49 (a last batch of one merged away) and 57; member 2 has no validation part
    data=lambda dt: [(blobs(40, (390,), 1, dt), blobs(16, (390,), 2, dt)), (blobs(49, (390,), 3, dt), blobs(12, (390,), 4, dt)),
                     (blobs(57, (390,), 5, dt), None)],  # fmt: skip
    settings=[
        KumarSettings(pretrain_epochs=4, triplet_epochs=3, batch_size=16, lr_start=0.05, margin=0.1, seed=0),
        # stops early in phase 1 (needs +0.2 accuracy each epoch), then trains phase 2 while the others are in phase 1
        KumarSettings(pretrain_epochs=4, triplet_epochs=3, batch_size=16, lr_start=0.03, margin=0.2, weight_decay=1e-3,
                      patience=1, min_delta=0.2, seed=1),
        # no cross-entropy in phase 2: the classifier gets no gradient there (SGD leaves it alone)
        KumarSettings(pretrain_epochs=4, triplet_epochs=3, batch_size=16, lr_start=0.08, margin=0.4, ce_weight=0.0, seed=2),
    ],  # fmt: skip
    packed=lambda models, data, settings, on_epoch=None, resume=None: train_kumar_packed(
        models, data, settings, on_epoch=on_epoch, resume_state=resume),
    unpacked=lambda model, m, d, s, on_epoch=None, resume=None: train_kumar(model, d[0], d[1], s, on_epoch=on_epoch,
                                                                            resume_state=resume),
    diverge={"lr_start": 1e30, "lr_end": 1e30},
)

# ---------------------------------------------------------------- Mocanu: SE-ResNet + GhostVLAD, emotion triplet
MOCANU_LOSSES = [
    lambda: EmotionTripletLoss(LABELS, POLARITY, alpha=0.1, beta=0.15),
    lambda: WeightedSum([(1.0, EmotionTripletLoss(LABELS, POLARITY, alpha=0.2, beta=0.1)), (0.5, CrossEntropy())]),
    lambda: EmotionTripletLoss(LABELS, POLARITY, alpha=0.3, beta=0.2),  # no CE: the classifier gets no gradient
]
MOCANU = Case(
    build=seeded(lambda: create_model("se-resnet34-ghostvlad", 4, input_dim=33, clusters=2, ghost_clusters=1,
                                      widths=[2, 2, 4, 4], blocks=[1, 1, 1, 1], descriptor_dim=4, embedding_dim=4)),  # fmt: skip
    # 24, 28 and 31 training utterances: 3, 4 and 4 steps of 8, the last ones of other sizes
    data=lambda dt: [(sequences(24 + 4 * m - (m == 2), 8 + m, dt), sequences(8, 20 + m, dt)) for m in range(3)],
    settings=[MocanuSettings(epochs=5, batch_size=8, crop_frames=32, lr_step=2, lr=lr, patience=p, normalize_embedding=True,
                             val_by="centroid", seed=7 + m)
              for m, (lr, p) in enumerate([(1e-3, 5), (2e-3, 1), (3e-3, 2)])],  # fmt: skip
    packed=lambda models, data, settings, on_epoch=None, resume=None: train_mocanu_packed(
        models, [f() for f in MOCANU_LOSSES[: len(models)]], data, settings, on_epoch=on_epoch, resume_state=resume),
    unpacked=lambda model, m, d, s, on_epoch=None, resume=None: train_mocanu(
        model, MOCANU_LOSSES[m](), d[0], d[1], s, on_epoch=on_epoch, resume_state=resume),
    diverge={"lr": 1e307},
)

# Mocanu S1-like: cross-entropy (label smoothing per member), softmax validation
MOCANU_S1_LOSSES = [lambda: CrossEntropy(), lambda: CrossEntropy(label_smoothing=0.1), lambda: CrossEntropy()]
MOCANU_S1 = replace(
    MOCANU,
    settings=[replace(s, normalize_embedding=False, val_by="softmax") for s in MOCANU.settings],
    packed=lambda models, data, settings, on_epoch=None, resume=None: train_mocanu_packed(
        models, [f() for f in MOCANU_S1_LOSSES[: len(models)]], data, settings, on_epoch=on_epoch, resume_state=resume),
    unpacked=lambda model, m, d, s, on_epoch=None, resume=None: train_mocanu(
        model, MOCANU_S1_LOSSES[m](), d[0], d[1], s, on_epoch=on_epoch, resume_state=resume),
)

# ---------------------------------------------------------------- Liu: CNN-LSTM, pool triplets + CE
def liu_vals(dtype: torch.dtype) -> list[SegmentVal | None]:
    """Validation segments of members 0 and 1 (6 utterances of 2 segments; model selection, and
    early stopping for member 1); member 2 without a validation part."""
    out: list[SegmentVal | None] = []
    for m in range(2):
        x, y = blobs(12, (20, 26), 90 + m, dtype)
        out.append(SegmentVal(x.reshape(12, -1), y[::2], torch.arange(12) // 2))
    return [*out, None]


LIU = Case(
    build=seeded(lambda: create_model("liu-cnn-lstm", 4, input_dim=20 * 26, n_coeffs=26, channels=[2, 2, 4],
                                      freq_channels=4, lstm_hidden=4)),  # fmt: skip
    # 40, 70 and 33 segments: 3, 5 and 3 (2 after the merge) batches, pools of 100, 60 and 100
    data=lambda dt: [(x.reshape(len(y), -1), y) for x, y in (blobs(n, (20, 26), 3 + n, dt) for n in (40, 70, 33))],
    settings=[
        LiuSettings(epochs=3, batch_size=16, lr=3e-3, alpha=0.5, margin=0.5, triplet_pool=300, seed=4),
        LiuSettings(epochs=3, batch_size=16, lr=2e-3, weight_decay=0.0, alpha=1.0, margin=1.0, triplet_pool=300,
                    patience=1, seed=5),  # no CE
        LiuSettings(epochs=3, batch_size=16, lr=4e-3, weight_decay=1e-4, alpha=0.0, margin=2.0, triplet_pool=300, seed=6),  # no triplets
    ],
    packed=lambda models, data, settings, on_epoch=None, resume=None: train_liu_packed(
        models, data, settings, on_epoch=on_epoch, resume_state=resume, vals=liu_vals(data[0][0].dtype)),
    unpacked=lambda model, m, d, s, on_epoch=None, resume=None: train_liu(
        model, d, s, on_epoch=on_epoch, resume_state=resume, val=liu_vals(d[0].dtype)[m]),
    diverge={"lr": 1e307},
)


# ---------------------------------------------------------------- Lian: 1-D CNN, pairs, aux head
def lian_vals(dtype: torch.dtype) -> list[tuple[torch.Tensor, torch.Tensor] | None]:
    """Validation inputs of members 0 and 2 (model selection); member 1 without."""
    return [blobs(10, (40, 13), 80, dtype), None, blobs(10, (40, 13), 81, dtype)]


def lian_aux(d: list[Any]) -> list[torch.Tensor | None]:
    return [None if m == 1 else x[1] % 2 for m, x in enumerate(d)]  # member 1 without multi-task targets


LIAN = Case(
    build=seeded(lambda: create_model("lian-cnn1d", 4, input_dim=40 * 13, n_coeffs=13, filters=4, aux_classes=2)),
    data=lambda dt: [blobs(n, (40, 13), 5 + n, dt) for n in (30, 36, 26)],
    settings=[
        LianSettings(epochs=4, batch_size=6, lr=3e-3, lam=0.6, margin=0.5, loader="loader_2", aux_weight=0.3, lr_patience=0, seed=6),
        LianSettings(epochs=4, batch_size=6, lr=2e-3, lam=1.0, margin=0.3, loader="loader_2", aux_weight=0.3, lr_patience=0, seed=7),
        LianSettings(epochs=4, batch_size=6, lr=4e-3, lam=0.0, margin=0.5, loader="loader_2", aux_weight=0.0, lr_patience=0,
                     patience=1, seed=8),
    ],
    packed=lambda models, data, settings, on_epoch=None, resume=None: train_lian_packed(
        models, data, settings, on_epoch=on_epoch, resume_state=resume, aux=lian_aux(data), vals=lian_vals(data[0][0].dtype)),
    unpacked=lambda model, m, d, s, on_epoch=None, resume=None: train_lian(
        model, d, s, on_epoch=on_epoch, resume_state=resume, aux=[d[1] % 2, None, d[1] % 2][m], val=lian_vals(d[0].dtype)[m]),
    diverge={"lr": 1e307},
)

CASES = {"kumar": KUMAR, "mocanu": MOCANU, "liu": LIU, "lian": LIAN}
# float32: Mocanu's emotion triplet runs are chaotic there (module docstring); its S1-like recipe instead
FLOAT32_CASES = ["kumar", "mocanu-s1", "liu", "lian"]
ALL_CASES = {**CASES, "mocanu-s1": MOCANU_S1}
DTYPES = {"float64": torch.float64, "float32": torch.float32}


@functools.lru_cache(maxsize=None)
def reference(name: str, dtype_name: str, m: int) -> tuple[dict[str, torch.Tensor], Any]:
    """Member m's unpacked run: final state_dict and result."""
    case, dtype = ALL_CASES[name], DTYPES[dtype_name]
    model = case.build(case.settings[m].seed, dtype)
    result = case.unpacked(model, m, case.data(dtype)[m], case.settings[m])
    return {k: v.clone() for k, v in model.state_dict().items()}, result


@functools.lru_cache(maxsize=None)
def packed_run(name: str, dtype_name: str) -> list[MemberResult]:
    case, dtype = ALL_CASES[name], DTYPES[dtype_name]
    models = [case.build(s.seed, dtype) for s in case.settings]
    return case.packed(models, case.data(dtype), case.settings)


def assert_history_close(ours: list[dict[str, Any]], theirs: list[dict[str, Any]], rel: float, what: str) -> None:
    assert len(ours) == len(theirs), f"{what}: {len(ours)} epochs, unpacked {len(theirs)}"
    for a, b in zip(ours, theirs):
        assert list(a) == list(b), f"{what}: keys {list(a)} vs {list(b)}"
        for key, value in b.items():
            if isinstance(value, float) and key not in ("train_acc", "val_acc"):
                assert math.isclose(a[key], value, rel_tol=rel, abs_tol=1e-12), f"{what} epoch {b['global_epoch']} {key}: {a[key]} vs {value}"
            else:  # accuracies (counts / n), epochs, phases, stop flags, lr: exactly equal
                assert a[key] == value, f"{what} epoch {b['global_epoch']} {key}: {a[key]} vs {value}"


def assert_weights_close(ours: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor], tol: dict[str, float], what: str) -> None:
    assert list(ours) == list(theirs)
    for key, value in theirs.items():
        if value.is_floating_point():
            torch.testing.assert_close(ours[key], value, **tol, msg=lambda msg: f"{what} {key}: {msg}")
        else:
            assert torch.equal(ours[key], value), f"{what} {key}"


def assert_same_result(ours: Any, theirs: Any, rel: float, what: str) -> None:
    """Every field of the unpacked result (history within ``rel``, the rest exactly)."""
    assert type(ours) is type(theirs)
    for field, value in vars(theirs).items():
        if field == "history":
            assert_history_close(ours.history, value, rel, what)
        elif field == "best_val" and value is not None:
            assert ours.best_val == value, what
        else:
            assert repr(getattr(ours, field)) == repr(value), f"{what} {field}: {getattr(ours, field)} vs {value}"  # NaN-safe


# ---------------------------------------------------------------- the tests


@pytest.mark.parametrize("name", CASES)
def test_pack_equals_the_unpacked_runs(name: str):
    case, dtype = CASES[name], torch.float64
    results = packed_run(name, "float64")
    assert [r.member for r in results] == [0, 1, 2]
    for m, r in enumerate(results):
        state, ref = reference(name, "float64", m)
        assert not r.failed and r.error is None and r.reason is None
        assert_same_result(r.result, ref, TOL[dtype]["history"], f"{name} member {m}")
        assert r.history is r.result.history
        assert all(set(HISTORY_KEYS) <= set(e) for e in r.history)
        assert_weights_close(r.state_dict, state, TOL[dtype]["weights"], f"{name} member {m}")
        # the caller's model was trained in place and holds the member's final weights
        assert all(torch.equal(v, r.state_dict[k]) for k, v in r.model.state_dict().items())
        initial = case.build(case.settings[m].seed, dtype).state_dict()
        assert max(float((state[k] - initial[k]).abs().max()) for k in state if state[k].is_floating_point()) > 1e-3
    # the cases are what they claim to be
    if name == "kumar":
        assert [r.result.stopped_early[1] for r in results] == [False, True, False]
        # member 1 left phase 1 early and trained phase 2 while member 0 was still in phase 1
        assert results[1].result.epochs[1] < results[0].result.epochs[1] == 4 and results[1].result.epochs[2] > 0
    if name == "mocanu":
        assert [r.result.stopped_early for r in results] == [False, True, True]
        assert any(r.result.best_epoch < r.result.epochs for r in results)  # model selection kept an earlier epoch


def history_floats(history: list[dict[str, Any]]) -> list[float]:
    return [v for e in history for v in e.values() if isinstance(v, float)]


def deviation(ours: Any, theirs: Any) -> float:
    """Largest relative difference: per history value, or per weight tensor (max |a - b| / max |b|)."""
    if isinstance(ours, list):
        return max((abs(a - b) / max(abs(b), 1e-12) for a, b in zip(history_floats(ours), history_floats(theirs))), default=0.0)
    return max(float((ours[k] - v).abs().max()) / max(float(v.abs().max()), 1e-12)
               for k, v in theirs.items() if v.is_floating_point())  # fmt: skip


def perturbed_reference(name: str, m: int) -> tuple[dict[str, torch.Tensor], Any]:
    """Member m's unpacked float32 run from initial weights one ulp off (x (1 + 2^-23))."""
    case = ALL_CASES[name]
    model = case.build(case.settings[m].seed, torch.float32)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1.0 + 2.0**-23)
    result = case.unpacked(model, m, case.data(torch.float32)[m], case.settings[m])
    return model.state_dict(), result


@pytest.mark.parametrize("name", FLOAT32_CASES)
def test_pack_in_float32_is_as_close_to_the_unpacked_runs_as_they_are_to_themselves(name: str):
    results = packed_run(name, "float32")
    for m, r in enumerate(results):
        state, ref = reference(name, "float32", m)
        p_state, p_ref = perturbed_reference(name, m)
        what = f"{name} member {m}"
        assert not r.failed
        assert_same_result(r.result, ref, math.inf, what)  # epochs, stops, selected epoch; history keys and lengths
        assert_history_close(r.history, ref.history, math.inf, what)
        hist, p_hist = deviation(r.history, ref.history), deviation(p_ref.history, ref.history)
        assert hist <= 10 * p_hist + 1e-5, f"{what}: history {hist:.2e} off, the perturbed run {p_hist:.2e}"
        weights, p_weights = deviation(r.state_dict, state), deviation(p_state, state)
        assert weights <= 10 * p_weights + 1e-5, f"{what}: weights {weights:.2e} off, the perturbed run {p_weights:.2e}"


@pytest.mark.parametrize("name", CASES)
def test_a_diverging_member_fails_and_the_others_match(name: str):
    case, dtype = CASES[name], torch.float64
    settings = list(case.settings)
    settings[1] = replace(settings[1], **case.diverge)
    data = case.data(dtype)
    model = case.build(settings[1].seed, dtype)
    with pytest.raises(NonFiniteLoss) as raised:
        case.unpacked(model, 1, data[1], settings[1])
    seen: list[dict[int, dict[str, Any]]] = []
    results = case.packed([case.build(s.seed, dtype) for s in settings], data, settings,
                          on_epoch=lambda infos, state_fn: seen.append(infos))  # fmt: skip
    failed = results[1]
    assert failed.failed and failed.result is None
    assert isinstance(failed.error, NonFiniteLoss) and failed.reason == str(raised.value)
    failed_epoch = int(failed.reason.split(" at epoch ")[1].split()[0])
    assert [e["global_epoch"] for e in failed.history] == list(range(1, failed_epoch))
    assert all(1 not in infos for infos in seen[failed_epoch - 1 :])  # no entry from its failing epoch on
    for k, v in failed.model.state_dict().items():  # its weights when it failed (NaN/inf by then)
        torch.testing.assert_close(v, failed.state_dict[k], rtol=0, atol=0, equal_nan=True)
    for m in (0, 2):
        state, ref = reference(name, "float64", m)
        assert_same_result(results[m].result, ref, TOL[dtype]["history"], f"{name} member {m}")
        assert_weights_close(results[m].state_dict, state, TOL[dtype]["weights"], f"{name} member {m}")


class Interrupted(Exception):
    pass


def run_until(case: Case, dtype: torch.dtype, stop: int) -> dict[str, Any]:
    saved: dict[str, bytes] = {}

    def interrupt(infos: dict[int, dict[str, Any]], state_fn: Any) -> None:
        if stop in {e["global_epoch"] for e in infos.values()}:
            buf = io.BytesIO()
            torch.save(state_fn(), buf)
            saved["state"] = buf.getvalue()
            raise Interrupted

    with pytest.raises(Interrupted):
        case.packed([case.build(s.seed, dtype) for s in case.settings], case.data(dtype), case.settings, on_epoch=interrupt)
    return torch.load(io.BytesIO(saved["state"]), weights_only=True)  # plain tensors and values only


# pack epochs after which to interrupt: Kumar's after member 1 stopped and moved to phase 2
RESUME_AT = {"kumar": 3, "mocanu": 2, "liu": 1, "lian": 2}


@pytest.mark.parametrize("name", CASES)
def test_resume_of_a_pack_is_exact(name: str):
    case, dtype = CASES[name], torch.float64
    full = packed_run(name, "float64")
    state = run_until(case, dtype, RESUME_AT[name])
    assert state["recipe"] == name and len(state["members"]) == 3
    epochs: list[dict[int, dict[str, Any]]] = []
    # other initial weights: everything must come from the state
    resumed = case.packed([case.build(100 + m, dtype) for m in range(3)], case.data(dtype), case.settings,
                          resume=state, on_epoch=lambda infos, _: epochs.append(infos))  # fmt: skip
    for m in range(3):
        assert resumed[m].history == full[m].history
        for k, v in full[m].state_dict.items():
            assert torch.equal(resumed[m].state_dict[k], v), f"{name} member {m} {k}"
    assert min(e["global_epoch"] for infos in epochs for e in infos.values()) == RESUME_AT[name] + 1


@pytest.mark.parametrize("name", CASES)
def test_each_member_of_a_pack_checkpoint_resumes_the_unpacked_trainer(name: str):
    # the members' entries are the unpacked trainers' own checkpoints
    case, dtype = CASES[name], torch.float64
    state = run_until(case, dtype, RESUME_AT[name])
    full = packed_run(name, "float64")
    for m in range(3):
        model = case.build(100 + m, dtype)
        result = case.unpacked(model, m, case.data(dtype)[m], case.settings[m], resume=state["members"][m])
        assert_same_result(result, full[m].result, TOL[dtype]["history"], f"{name} member {m}")
        assert_weights_close(model.state_dict(), full[m].state_dict, TOL[dtype]["weights"], f"{name} member {m}")


# packs of one: other configurations than the cases above, to cover more of each trainer
SINGLE: dict[str, tuple[Case, Any]] = {
    "kumar-fc-semihard": (replace(KUMAR, build=seeded(lambda: create_model("fc-6", 4, hidden=16, embedding_dim=8))),
                          replace(KUMAR.settings[0], miner="semihard", phase2_lr="restart")),
    "kumar-resnet-hard": (replace(KUMAR, build=seeded(lambda: create_model("resnet-6", 4, channels=4, embedding_dim=8))),
                          replace(KUMAR.settings[1], miner="hard", min_delta=0.0005, patience=2)),
    # three readings per training utterance (mfcc39 random_views): one drawn per utterance and epoch
    "kumar-views": (replace(KUMAR, data=lambda dt: [(blobs(40, (3, 390), 1, dt), blobs(16, (390,), 2, dt))]),
                    KUMAR.settings[0]),
    "mocanu-s1": (MOCANU_S1, MOCANU_S1.settings[0]),
    "mocanu-hard-triplet": (replace(MOCANU, packed=lambda models, data, settings, on_epoch=None, resume=None: train_mocanu_packed(
        models, [TripletLoss("sqeuclidean", 0.2, HardTripletMiner())], data, settings),
        unpacked=lambda model, m, d, s, on_epoch=None, resume=None: train_mocanu(
        model, TripletLoss("sqeuclidean", 0.2, HardTripletMiner()), d[0], d[1], s)), MOCANU.settings[0]),
    "liu": (LIU, LIU.settings[0]),
    "lian-loader1": (LIAN, replace(LIAN.settings[0], loader="loader_1", contrastive_type=2, position="pos_2")),
}  # fmt: skip


@pytest.mark.parametrize("key", SINGLE)
def test_a_pack_of_one_equals_the_unpacked_trainer(key: str):
    case, settings = SINGLE[key]
    dtype = torch.float64
    data = case.data(dtype)[:1]
    ref_model = case.build(settings.seed, dtype)
    ref = case.unpacked(ref_model, 0, data[0], settings)
    (r,) = case.packed([case.build(settings.seed, dtype)], data, [settings])
    assert_same_result(r.result, ref, TOL[dtype]["history"], key)
    assert_weights_close(r.state_dict, ref_model.state_dict(), TOL[dtype]["weights"], key)


@pytest.mark.parametrize(("name", "field", "value"), [("kumar", "batch_size", 8), ("kumar", "miner", "hard"),
                                                      ("kumar", "triplet_epochs", 2), ("mocanu", "epochs", 3),
                                                      ("liu", "triplet_pool", 100), ("lian", "loader", "loader_1")])  # fmt: skip
def test_a_setting_that_must_be_shared_is_checked(name: str, field: str, value: Any):
    case = CASES[name]
    settings = [case.settings[0], replace(case.settings[0], **{field: value, "seed": 9})]
    models = [case.build(s.seed, torch.float64) for s in settings]
    with pytest.raises(ValueError, match=f"settings.{field} must be the same"):
        case.packed(models, case.data(torch.float64)[:2], settings)


def test_members_lists_must_agree():
    with pytest.raises(ValueError, match="one entry per member"):
        train_kumar_packed([KUMAR.build(0, torch.float64)], KUMAR.data(torch.float64)[:2], KUMAR.settings[:1])
    model = KUMAR.build(0, torch.float64)
    with pytest.raises(ValueError, match="its own model object"):
        train_kumar_packed([model, model], KUMAR.data(torch.float64)[:2], KUMAR.settings[:2])


@pytest.mark.parametrize("name", ["kumar", "mocanu", "liu"])
def test_members_on_the_same_fold_match_their_unpacked_runs(name: str):
    # the same data objects for members 0 and 1 (seeds/scalars of one fold): batches are one
    # gather, evaluation one shared-input forward
    case, dtype = CASES[name], torch.float64
    fold = case.data(dtype)[0]
    results = case.packed([case.build(s.seed, dtype) for s in case.settings[:2]], [fold, fold], case.settings[:2])
    for m, r in enumerate(results):
        model = case.build(case.settings[m].seed, dtype)
        ref = case.unpacked(model, m, fold, case.settings[m])
        assert_same_result(r.result, ref, TOL[dtype]["history"], f"{name} member {m}")
        assert_weights_close(r.state_dict, model.state_dict(), TOL[dtype]["weights"], f"{name} member {m}")
