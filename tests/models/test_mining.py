import pytest
import torch

from ser_models.losses import HardTripletMiner, RandomTripletMiner, SemiHardTripletMiner, make_miner, pairwise_distance

# points on a line, squared Euclidean distances:
#   x = 0, 1 (class 0), 1.5, 5 (class 1)
#   d01 = 1, d02 = 2.25, d03 = 25, d12 = 0.25, d13 = 16, d23 = 12.25
EMB = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.5, 0.0], [5.0, 0.0]])
Y = torch.tensor([0, 0, 1, 1])
DIST = pairwise_distance(EMB, "sqeuclidean")


def triplets(t):
    return sorted(zip(*(x.tolist() for x in t)))


def test_distance_matrix_by_hand():
    expected = torch.tensor([[0, 1, 2.25, 25], [1, 0, 0.25, 16], [2.25, 0.25, 0, 12.25], [25, 16, 12.25, 0]])
    torch.testing.assert_close(DIST, expected)


def test_hard_miner_batch_hard():
    # farthest positive, nearest negative per anchor
    assert triplets(HardTripletMiner()(DIST, Y)) == [(0, 1, 2), (1, 0, 2), (2, 3, 1), (3, 2, 1)]


def test_semihard_miner():
    # margin 2: only a0 p1 (d=1) has a negative in (1, 3): n2 (2.25)
    assert triplets(SemiHardTripletMiner()(DIST, Y, margin=2.0)) == [(0, 1, 2)]
    # margin 4: a3 p2 (d=12.25) also gets n1 (16 < 16.25)
    assert triplets(SemiHardTripletMiner(margin=4.0)(DIST, Y, margin=0.1)) == [(0, 1, 2), (3, 2, 1)]
    # chunking does not change the result
    assert triplets(SemiHardTripletMiner(margin=4.0, chunk_elems=1)(DIST, Y)) == [(0, 1, 2), (3, 2, 1)]
    capped = SemiHardTripletMiner(margin=4.0, max_triplets=1)(DIST, Y)
    assert len(capped[0]) == 1


def test_random_miner_valid_deterministic_and_covering():
    y = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 3])  # class 3 has no positive: not an anchor
    dist = torch.zeros(9, 9)
    a, p, n = RandomTripletMiner(per_anchor=3, generator=torch.Generator().manual_seed(5))(dist, y)
    assert sorted(set(a.tolist())) == list(range(8))
    assert len(a) == 8 * 3
    assert torch.all(y[a] == y[p]) and torch.all(a != p) and torch.all(y[a] != y[n])
    again = RandomTripletMiner(per_anchor=3, generator=torch.Generator().manual_seed(5))(dist, y)
    assert all(torch.equal(u, v) for u, v in zip((a, p, n), again))
    a2, p2, n2 = RandomTripletMiner(n_triplets=50, seed=1)(dist, y)
    assert len(a2) == 50 and torch.all(y[a2] == y[p2]) and torch.all(y[a2] != y[n2])


def test_no_valid_anchor():
    for miner in (RandomTripletMiner(), SemiHardTripletMiner(), HardTripletMiner()):
        a, p, n = miner(torch.zeros(3, 3), torch.tensor([0, 1, 2]), 0.5)
        assert a.numel() == p.numel() == n.numel() == 0


def test_make_miner():
    assert isinstance(make_miner("hard"), HardTripletMiner)
    with pytest.raises(ValueError, match="valid"):
        make_miner("easy")
