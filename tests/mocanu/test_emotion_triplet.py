"""Eq. (7) against values computed by hand on 1-D/2-D embeddings."""

from __future__ import annotations

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
    loss = EmotionTripletLoss(LABELS, POL, alpha=0.5, beta=2.0)
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
    assert float(loss(o, y)) == pytest.approx(0.5 / 4)


def test_second_term_and_neutral_fallback():
    # happy 0 and 0.5; calm 3; sad 2 (closer than calm) ; neutral 1 and 1.2
    o = out([[0.0], [0.5], [3.0], [2.0], [1.0], [1.2]])
    y = torch.tensor([1, 1, 2, 3, 0, 0])
    loss = EmotionTripletLoss(LABELS, POL, alpha=0.1, beta=0.2)
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
    assert float(value) == pytest.approx((8.2 + 6.2) / 4)
    value.backward()
    assert o.embedding.grad is not None and float(o.embedding.grad.abs().sum()) > 0


def test_neutral_only_is_plain_triplet_with_alpha():
    o = out([[0.0, 0.0], [0.0, 1.0], [0.5, 0.0]])
    y = torch.tensor([0, 0, 3])  # two neutral, one sad
    loss = EmotionTripletLoss(LABELS, POL, alpha=1.0, beta=5.0)
    # neutral@(0,0): D(a,p)=1, D(a,n)=.25 -> [1 - .25 + 1] = 1.75 ; neutral@(0,1): D(a,p)=1, D(a,n)=1.25 -> .75
    assert float(loss(o, y)) == pytest.approx((1.75 + 0.75) / 2)


def test_no_valid_anchor_gives_zero_in_graph_and_composes():
    o = out([[0.0], [1.0]])
    y = torch.tensor([1, 3])
    loss = EmotionTripletLoss(LABELS, POL)
    value = WeightedSum([(2.0, loss)])(o, y)
    assert float(value) == 0.0 and value.requires_grad


def test_polarity_map_errors_and_builtin_maps():
    with pytest.raises(PolarityMapError, match="does not cover label"):
        EmotionTripletLoss(LABELS, {"happy": "positive"})
    with pytest.raises(PolarityMapError, match="unknown polarity"):
        EmotionTripletLoss(["happy"], {"happy": "joyful"})
    with pytest.raises(ValueError, match="alpha"):
        EmotionTripletLoss(LABELS, POL, alpha=0)
    with pytest.raises(ValueError, match="beta"):
        EmotionTripletLoss(LABELS, POL, beta=-1)
    assert POLARITY_MAPS["ravdess"]["calm"] == "positive" and POLARITY_MAPS["cremad"]["disgust"] == "negative"
    assert POLARITY_MAPS["ravdess"]["neutral"] == "neutral"
