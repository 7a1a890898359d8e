"""Eq. (7) against values computed by hand on 1-D/2-D embeddings, with both minings
(batch-hard, Sect. 3.3; semi-hard, Sect. 5), and against a plain loop over every triple."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from ser_models import ModelOutput
from ser_models.losses import POLARITY_MAPS, EmotionTripletLoss, PolarityMapError, WeightedSum

LABELS = ["neutral", "happy", "calm", "sad"]  # polarities: neutral, +, +, -
POL = {"neutral": "neutral", "happy": "positive", "calm": "positive", "sad": "negative"}


def out(points: list[list[float]]) -> ModelOutput:
    e = torch.tensor(points, dtype=torch.float64, requires_grad=True)
    return ModelOutput(e, e)


def test_hand_computed_anchor_terms():
    # 1-D points (D = squared distance): happy 0, 1; calm 2; sad 5; neutral 10, 11.
    o = out([[0.0], [1.0], [2.0], [5.0], [10.0], [11.0]])
    y = torch.tensor([1, 1, 2, 3, 0, 0])
    loss = EmotionTripletLoss(LABELS, POL, alpha=0.5, beta=2.0, mining="hard")
    terms, valid = loss.anchor_terms(o.embedding, y)
    # happy@0: p=1 (D 1), related calm (D 4 nearest and farthest), negatives sad 25, neutral 100, 121
    #   [1 - 4 + .5]+ = 0 ; [4 - 25 + 2]+ = 0
    # happy@1: p=0 (D 1), calm D 1 -> [1 - 1 + .5] = .5 ; [1 - 16 + 2]+ = 0
    # calm@2: no positive -> not counted
    # sad@5: no positive -> not counted
    # neutral@10: p=11 (D 1), plain triplet over all others: nearest sad D 25 -> [1 - 25 + .5]+ = 0
    # neutral@11: p=10 (D 1), nearest other sad D 36 -> 0
    assert valid.tolist() == [True, True, False, False, True, True]
    torch.testing.assert_close(terms, torch.tensor([0.0, 0.5, 0.0, 0.0, 0.0, 0.0], dtype=torch.float64))
    assert float(loss(o, y).detach()) == pytest.approx(0.5 / 4)


def test_second_term_and_neutral_fallback():
    # happy 0 and 0.5; calm 3; sad 2 (closer than calm) ; neutral 1 and 1.2
    o = out([[0.0], [0.5], [3.0], [2.0], [1.0], [1.2]])
    y = torch.tensor([1, 1, 2, 3, 0, 0])
    loss = EmotionTripletLoss(LABELS, POL, alpha=0.1, beta=0.2, mining="hard")
    terms, valid = loss.anchor_terms(o.embedding, y)
    # happy@0: p D .25; related calm D 9; negatives sad 4, neutral 1, 1.44 -> nearest 1
    #   t1 = [.25 - 9 + .1]+ = 0 ; t2 = [9 - 1 + .2] = 8.2
    # happy@.5: p D .25; calm D 6.25; negatives sad 2.25, neutral .25, .49 -> nearest .25
    #   t1 = 0 ; t2 = [6.25 - .25 + .2] = 6.2
    # neutral@1: p D .04; plain triplet, nearest other = happy .5 (D .25): [.04 - .25 + .1]+ = 0
    # neutral@1.2: p D .04; nearest other = happy .5 (D .49): 0
    expected = torch.tensor([8.2, 6.2, 0.0, 0.0, 0.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(terms, expected)
    value = loss(o, y)
    assert float(value.detach()) == pytest.approx((8.2 + 6.2) / 4)
    value.backward()
    assert o.embedding.grad is not None and float(o.embedding.grad.abs().sum()) > 0


def test_neutral_only_is_plain_triplet_with_alpha():
    o = out([[0.0, 0.0], [0.0, 1.0], [0.5, 0.0]])
    y = torch.tensor([0, 0, 3])  # two neutral, one sad
    loss = EmotionTripletLoss(LABELS, POL, alpha=1.0, beta=5.0, mining="hard")
    # neutral@(0,0): D(a,p)=1, D(a,n)=.25 -> [1 - .25 + 1] = 1.75 ; neutral@(0,1): D(a,p)=1, D(a,n)=1.25 -> .75
    assert float(loss(o, y).detach()) == pytest.approx((1.75 + 0.75) / 2)


def test_semihard_hand_computed():
    # Same points as the first test (happy 0, 1; calm 2; sad 5; neutral 10, 11), alpha 4, beta 10.
    o = out([[0.0], [1.0], [2.0], [5.0], [10.0], [11.0]])
    y = torch.tensor([1, 1, 2, 3, 0, 0])
    loss = EmotionTripletLoss(LABELS, POL, alpha=4.0, beta=10.0, mining="semihard")
    t1, t2 = loss.semihard_terms(o.embedding, y)
    # first term, window D(a,p) < D(a,r) < D(a,p) + 4:
    #   happy@0: p D 1, calm D 4 -> 1 - 4 + 4 = 1 ; happy@1: p D 1, calm D 1 (not > 1) -> none
    #   neutral@10/11: p D 1, nearest other D 25 / 36 -> none
    # second term, window D(a,r) < D(a,n) < D(a,r) + 10:
    #   happy@0: calm D 4, negatives D 25, 100, 121 -> none ; happy@1: calm D 1, sad D 16 -> none
    #   calm@2: related happy D 1 -> sad D 9: 1 - 9 + 10 = 2 ; happy D 4 -> sad D 9: 4 - 9 + 10 = 5
    torch.testing.assert_close(t1, torch.tensor([1.0], dtype=torch.float64))
    torch.testing.assert_close(t2.sort().values, torch.tensor([2.0, 5.0], dtype=torch.float64))
    value = loss(o, y)
    assert float(value.detach()) == pytest.approx(1.0 + (2.0 + 5.0) / 2)
    value.backward()
    # the neutral points sit in no window: no gradient reaches them
    grad = o.embedding.grad.squeeze(1)
    assert float(grad[4]) == 0.0 and float(grad[5]) == 0.0 and float(grad.abs().sum()) > 0


def test_semihard_skips_hard_triples_and_neutral_fallback():
    o = out([[0.0, 0.0], [0.0, 1.0], [0.5, 0.0]])
    y = torch.tensor([0, 0, 3])  # two neutral, one sad
    loss = EmotionTripletLoss(LABELS, POL, alpha=1.0, beta=5.0, mining="semihard")
    # neutral@(0,0): D(a,p) 1, sad D .25 < 1: hard, not semi-hard -> skipped (batch-hard takes it: 1.75)
    # neutral@(0,1): D(a,p) 1, sad D 1.25 in (1, 2) -> 1 - 1.25 + 1 = .75 ; sad: no related sample
    assert float(loss(o, y).detach()) == pytest.approx(0.75)


def brute_force_semihard(points: np.ndarray, y: list[int], alpha: float, beta: float) -> float:
    """Eq. (7) with semi-hard windows, by a plain loop over every triple (independent of the loss code)."""
    pol = [POL[LABELS[c]] for c in y]
    n = len(y)
    dist = lambda i, j: float(((points[i] - points[j]) ** 2).sum())  # noqa: E731
    t1, t2 = [], []
    for a in range(n):
        related = [j for j in range(n) if y[j] != y[a] and pol[a] != "neutral" and pol[j] == pol[a]]
        first = related or [j for j in range(n) if y[j] != y[a]]
        negatives = [j for j in range(n) if y[j] != y[a] and j not in related]
        for p, r in itertools.product([j for j in range(n) if j != a and y[j] == y[a]], first):
            if dist(a, p) < dist(a, r) < dist(a, p) + alpha:
                t1.append(dist(a, p) - dist(a, r) + alpha)
        for r, m in itertools.product(related, negatives):
            if dist(a, r) < dist(a, m) < dist(a, r) + beta:
                t2.append(dist(a, r) - dist(a, m) + beta)
    return (np.mean(t1) if t1 else 0.0) + (np.mean(t2) if t2 else 0.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_semihard_matches_a_loop_over_every_triple(seed):
    rng = np.random.default_rng(seed)
    points = rng.normal(size=(14, 3))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    y = rng.integers(0, len(LABELS), size=14).tolist()
    loss = EmotionTripletLoss(LABELS, POL, alpha=0.3, beta=0.5, mining="semihard")
    value = loss(out(points.tolist()), torch.tensor(y))
    expected = brute_force_semihard(points, y, 0.3, 0.5)
    assert expected > 0
    assert float(value.detach()) == pytest.approx(expected, rel=1e-9)


def test_no_valid_anchor_gives_zero_in_graph_and_composes():
    o = out([[0.0], [1.0]])
    y = torch.tensor([1, 3])
    for mining in ("semihard", "hard"):
        loss = EmotionTripletLoss(LABELS, POL, mining=mining)
        value = WeightedSum([(2.0, loss)])(o, y)
        assert float(value.detach()) == 0.0 and value.requires_grad


def test_polarity_map_errors_and_builtin_maps():
    with pytest.raises(PolarityMapError, match="does not cover label"):
        EmotionTripletLoss(LABELS, {"happy": "positive"})
    with pytest.raises(PolarityMapError, match="unknown polarity"):
        EmotionTripletLoss(["happy"], {"happy": "joyful"})
    with pytest.raises(ValueError, match="alpha"):
        EmotionTripletLoss(LABELS, POL, alpha=0)
    with pytest.raises(ValueError, match="beta"):
        EmotionTripletLoss(LABELS, POL, beta=-1)
    with pytest.raises(ValueError, match="mining"):
        EmotionTripletLoss(LABELS, POL, mining="hardest")
    assert POLARITY_MAPS["ravdess"]["calm"] == "positive" and POLARITY_MAPS["cremad"]["disgust"] == "negative"
    assert POLARITY_MAPS["ravdess"]["neutral"] == "neutral"
