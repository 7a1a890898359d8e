import math

import numpy as np
import pytest
import torch

from ser_models import ModelOutput
from ser_models.losses import CrossEntropy, TripletLoss, WeightedSum
from ser_models.losses.mining import TripletMiner


class FixedMiner(TripletMiner):
    """Returns given triplets, so losses can be checked against hand-computed values."""

    def __init__(self, triplets):
        super().__init__()
        self.t = torch.tensor(triplets, dtype=torch.long).reshape(-1, 3)

    def mine(self, dist, labels, margin):
        return self.t[:, 0], self.t[:, 1], self.t[:, 2]


EMB = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [-1.0, 2.0]])
Y = torch.tensor([0, 0, 1, 1])
TRIPLETS = [(0, 1, 2), (0, 2, 1), (3, 2, 1)]


def out(emb=EMB, logits=None):
    e = torch.tensor(emb, dtype=torch.float32, requires_grad=True)
    lg = torch.zeros(e.shape[0], 2) if logits is None else torch.tensor(logits, dtype=torch.float32)
    return ModelOutput(embedding=e, logits=lg)


def np_cos_dist(a, b):
    return 1 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b))


def np_sq_dist(a, b):
    return float(((a - b) ** 2).sum())


def np_triplet(dist, margin, triplets=TRIPLETS):
    return np.mean([max(dist(EMB[a], EMB[p]) - dist(EMB[a], EMB[n]) + margin, 0.0) for a, p, n in triplets])


@pytest.mark.parametrize("margin", [0.0, 0.2, 0.8])
def test_cosine_triplet_matches_numpy(margin):
    loss = TripletLoss("cosine", margin=margin, miner=FixedMiner(TRIPLETS))
    value = loss(out(), Y)
    assert value.item() == pytest.approx(np_triplet(np_cos_dist, margin), abs=1e-6)


def test_cosine_triplet_by_hand():
    # a=(1,0) p=(1,1) n=(0,1): d_ap = 1 - cos45, d_an = 1 - cos90 = 1
    loss = TripletLoss("cosine", margin=0.8, miner=FixedMiner([(0, 1, 2)]))
    assert loss(out(), Y).item() == pytest.approx((1 - math.sqrt(0.5)) - 1 + 0.8, abs=1e-6)
    # with margin 0.2 the same triplet is satisfied: zero loss
    assert TripletLoss("cosine", margin=0.2, miner=FixedMiner([(0, 1, 2)]))(out(), Y).item() == 0.0


@pytest.mark.parametrize("margin", [0.0, 1.0, 3.0])
def test_sqeuclidean_triplet_matches_numpy(margin):
    loss = TripletLoss("sqeuclidean", margin=margin, miner=FixedMiner(TRIPLETS))
    assert loss(out(), Y).item() == pytest.approx(np_triplet(np_sq_dist, margin), abs=1e-5)
    # by hand, triplet (0, 2, 1): d_ap = 2, d_an = 1 -> 1 + margin
    single = TripletLoss("sqeuclidean", margin=margin, miner=FixedMiner([(0, 2, 1)]))
    assert single(out(), Y).item() == pytest.approx(1.0 + margin, abs=1e-6)


def test_margin_increases_loss_monotonically():
    vals = [TripletLoss("cosine", margin=m, miner=FixedMiner(TRIPLETS))(out(), Y).item() for m in (0.0, 0.5, 1.0)]
    assert vals[0] <= vals[1] <= vals[2] and vals[2] > vals[0]


def test_no_triplets_gives_zero_with_gradient():
    o = out()
    loss = TripletLoss("cosine", margin=0.5)(o, torch.tensor([0, 0, 0, 0]))  # one class: nothing to mine
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(o.embedding.grad, torch.zeros_like(o.embedding))


def test_triplet_gradient_flows():
    o = out()
    TripletLoss("sqeuclidean", margin=1.0, miner=FixedMiner(TRIPLETS))(o, Y).backward()
    assert o.embedding.grad.abs().sum() > 0


def test_cross_entropy_matches_numpy():
    logits = np.array([[2.0, -1.0], [0.5, 0.5], [-1.0, 3.0], [0.0, 1.0]])
    y = Y.numpy()
    ref = np.mean([np.log(np.exp(r).sum()) - r[t] for r, t in zip(logits, y)])
    assert CrossEntropy()(out(logits=logits), Y).item() == pytest.approx(ref, abs=1e-6)


def test_weighted_sum_is_the_weighted_sum():
    logits = np.array([[2.0, -1.0], [0.5, 0.5], [-1.0, 3.0], [0.0, 1.0]])
    o = out(logits=logits)
    ce, tr = CrossEntropy(), TripletLoss("sqeuclidean", margin=1.0, miner=FixedMiner(TRIPLETS))
    total = WeightedSum([(0.5, ce), (2.0, tr)])(o, Y)
    assert total.item() == pytest.approx(0.5 * ce(o, Y).item() + 2.0 * tr(o, Y).item(), abs=1e-6)
    # a weighted sum is itself a loss and nests
    nested = WeightedSum([(1.0, WeightedSum([(0.5, ce)])), (2.0, tr)])(o, Y)
    assert nested.item() == pytest.approx(total.item(), abs=1e-6)
    assert WeightedSum([(0.0, ce)])(o, Y).item() == 0.0


def test_bad_arguments():
    with pytest.raises(ValueError):
        TripletLoss("manhattan")
    with pytest.raises(ValueError):
        CrossEntropy()(out(), torch.tensor([0, 1]))
