"""Contrastive losses (type 1/2 at pos_1/pos_2) and the random-pool triplet selection, checked
against values computed by hand / with numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ser_models import ModelOutput
from ser_models.losses import ContrastiveLoss, RandomPoolMiner, TripletLoss

# Two pairs: rows (0, 2) and (1, 3). Pair 0 is positive (labels 0, 0), pair 1 negative (1 vs 0).
FEATS = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [3.0, 4.0]])
LOGITS = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 3.0, 4.0]])
Y = torch.tensor([0, 1, 0, 0])


def _out() -> ModelOutput:
    return ModelOutput(embedding=LOGITS, logits=LOGITS, features=FEATS)


def _np_pairs(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return z[:2], z[2:]


@pytest.mark.parametrize("position", ["pos_1", "pos_2"])
def test_type1_cosine_matches_numpy(position):
    z = (FEATS if position == "pos_1" else LOGITS).numpy().astype(np.float64)
    a, b = _np_pairs(z)
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    m = 0.3
    expected = np.mean([1 - cos[0], max(0.0, cos[1] - m)])
    got = ContrastiveLoss("cosine", margin=m, position=position)(_out(), Y)
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_type1_by_hand_at_pos_1():
    # pair 0: cos([1,0],[1,1]) = 1/sqrt(2) -> 1 - 0.7071; pair 1: cos([0,2],[3,4]) = 0.8 -> 0.8 - 0.3
    got = ContrastiveLoss("cosine", margin=0.3, position="pos_1")(_out(), Y).item()
    assert got == pytest.approx(((1 - 2**-0.5) + 0.5) / 2, rel=1e-6)


@pytest.mark.parametrize("position", ["pos_1", "pos_2"])
def test_type2_euclidean_matches_numpy(position):
    z = (FEATS if position == "pos_1" else LOGITS).numpy().astype(np.float64)
    a, b = _np_pairs(z)
    d = np.linalg.norm(a - b, axis=1)
    m = 5.0
    expected = np.mean([d[0], max(0.0, m - d[1])])
    got = ContrastiveLoss("euclidean", margin=m, position=position)(_out(), Y)
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_type2_by_hand_and_margin_cut():
    # pos_1: pair 0 distance |[0,-1]| = 1; pair 1 distance |[-3,-2]| = sqrt(13) = 3.606 > margin 2 -> 0
    got = ContrastiveLoss("euclidean", margin=2.0, position="pos_1")(_out(), Y).item()
    assert got == pytest.approx(0.5, rel=1e-5)


def test_contrastive_gradients_flow_and_bad_arguments():
    feats = FEATS.clone().requires_grad_(True)
    loss = ContrastiveLoss("euclidean", 5.0, "pos_1")(ModelOutput(LOGITS, LOGITS, feats), Y)
    loss.backward()
    assert feats.grad is not None and torch.isfinite(feats.grad).all()
    for kwargs in ({"margin": 0.0}, {"margin": -1.0}, {"kind": "manhattan"}, {"position": "pos_3"}):
        with pytest.raises(ValueError):
            ContrastiveLoss(**kwargs)
    with pytest.raises(ValueError, match="even"):
        ContrastiveLoss()(ModelOutput(LOGITS[:3], LOGITS[:3], FEATS[:3]), Y[:3])


# Hand-made batch on a line (squared Euclidean distances): class 0 at 0 and 1, class 1 at 0.5 and 3.
EMB = torch.tensor([[0.0], [1.0], [0.5], [3.0]])
LAB = torch.tensor([0, 0, 1, 1])


def _dist() -> torch.Tensor:
    return (EMB - EMB.T).pow(2)


def _kinds(a: int, p: int, n: int, m: float) -> tuple[bool, bool]:
    d = _dist()
    d_ap, d_an = d[a, p].item(), d[a, n].item()
    return (d_ap < d_an < d_ap + m), (d_an < d_ap)


def test_pool_selection_keeps_exactly_semihard_and_hard():
    m = 1.0
    miner = RandomPoolMiner(pool=400, keep="semihard+hard", seed=1)
    a, p, n = miner.draw(LAB)
    # every drawn triplet is valid: same class for (a, p), other class for n
    assert (LAB[a] == LAB[p]).all() and (LAB[a] != LAB[n]).all() and (a != p).all()
    keep = miner.select(_dist(), a, p, n, m)
    expected = [any(_kinds(int(i), int(j), int(k), m)) for i, j, k in zip(a, p, n)]
    assert keep.tolist() == expected
    # By hand: anchor 0 (pos 1, d_ap = 1): negative 2 (d = 0.25 < 1) is hard, negative 3 (d = 9) is easy.
    assert _kinds(0, 1, 2, m) == (False, True) and _kinds(0, 1, 3, m) == (False, False)
    # anchor 2 (pos 3, d_ap = 6.25): negative 1 (d = 0.25) hard; negative 0 (0.25) hard
    assert _kinds(2, 3, 1, m) == (False, True)
    # anchor 1 (pos 0, d_ap = 1): negative 3 (d = 4) is easy with m = 1 but semi-hard with m = 4
    assert _kinds(1, 0, 3, 1.0) == (False, False) and _kinds(1, 0, 3, 4.0) == (True, False)


def test_pool_selection_variants_and_loss_value():
    m = 4.0
    for keep in ("semihard", "hard", "semihard+hard"):
        miner = RandomPoolMiner(pool=300, keep=keep, seed=2)
        a, p, n = miner(_dist(), LAB, m)
        for i, j, k in zip(a.tolist(), p.tolist(), n.tolist()):
            semi, hard = _kinds(i, j, k, m)
            assert {"semihard": semi, "hard": hard, "semihard+hard": semi or hard}[keep]
    # The loss through TripletLoss is the numpy mean of the hinge over the kept triplets.
    miner = RandomPoolMiner(pool=300, seed=3)
    a, p, n = RandomPoolMiner(pool=300, seed=3)(_dist(), LAB, m)
    d = _dist().numpy()
    expected = np.maximum(d[a, p] - d[a, n] + m, 0).mean()
    got = TripletLoss("sqeuclidean", margin=m, miner=miner)(ModelOutput(EMB, EMB, EMB), LAB)
    assert got.item() == pytest.approx(float(expected), rel=1e-6)
