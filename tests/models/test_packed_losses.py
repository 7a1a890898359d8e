"""Packed losses and miners against the unpacked loss objects, member by member.

Each member gets its own scalars and seed; the packed value and the gradient of the summed
packed values are compared with the unpacked loss of that member on its own batch (a fresh
unpacked miner with the member's seed). The miners' generators must end in the same state:
the packed draw consumes exactly the random numbers the unpacked one does.

Tolerances: float64 1e-12 (rel) / 1e-14 (abs), float32 2e-6 (rel) / 1e-6 (abs): only the order
of float summation differs (masked sums over fixed shapes vs means over the mined subset).
One exception: the semi-hard triplet loss takes its value from the pairwise distance matrix
(``|a|^2 + |b|^2 - 2 a.b``, the formula the miners use), while the unpacked triplet loss
recomputes each mined pair's ``|a - b|^2`` directly; in float32 the two differ by about
``eps * |x|^2`` (~1e-6 for these squared distances of ~10), hence 2e-5 absolute there.
"""

import pytest
import torch

from ser_models.base import ModelOutput
from ser_models.losses import (
    MIKELS_WHEEL,
    ContrastiveLoss,
    CrossEntropy,
    EmotionTripletLoss,
    HardTripletMiner,
    RandomPoolMiner,
    RandomTripletMiner,
    SemiHardTripletMiner,
    TripletLoss,
    WeightedSum,
)
from ser_models.packed import (
    PackedContrastiveLoss,
    PackedCrossEntropy,
    PackedEmotionTripletLoss,
    PackedHardMiner,
    PackedRandomMiner,
    PackedRandomPoolMiner,
    PackedSemiHardMiner,
    PackedTripletLoss,
    PackedWeightedSum,
)

M, B, E, C = 3, 24, 6, 5
SEEDS = [11, 12, 13]
MARGINS = [0.1, 0.3, 0.6]
LABELS = ["neutral", "calm", "happy", "sad", "angry"]  # neutral / positive x2 / negative x2
TOL = {torch.float64: dict(rtol=1e-12, atol=1e-14), torch.float32: dict(rtol=2e-6, atol=1e-6)}


def make_batch(dtype, seed=0, labels=None):
    g = torch.Generator().manual_seed(seed)
    emb = torch.randn(M, B, E, generator=g, dtype=dtype)
    logits = torch.randn(M, B, C, generator=g, dtype=dtype)
    y = torch.randint(0, C, (M, B), generator=g) if labels is None else labels
    return emb, logits, y


def compare(packed, unpacked_for, dtype, seed=0, labels=None, gens=None, tol=None):
    """Packed values/gradients vs ``unpacked_for(m)`` on member m's rows."""
    tol = tol or TOL[dtype]
    emb, logits, y = make_batch(dtype, seed, labels)
    e, lg = emb.clone().requires_grad_(True), logits.clone().requires_grad_(True)
    values = packed(ModelOutput(e, lg, e), y)
    assert values.shape == (M,)
    ge, gl = torch.autograd.grad(values.sum(), [e, lg], allow_unused=True)
    for m in range(M):
        loss = unpacked_for(m)
        em, lm = emb[m].clone().requires_grad_(True), logits[m].clone().requires_grad_(True)
        ref = loss(ModelOutput(em, lm, em), y[m])
        torch.testing.assert_close(values[m], ref.detach(), **tol)
        re, rl = torch.autograd.grad(ref, [em, lm], allow_unused=True)
        for ours, theirs in ((ge, re), (gl, rl)):
            if theirs is None:  # the unpacked loss does not read this field
                assert ours is None or torch.count_nonzero(ours[m]) == 0
            else:
                torch.testing.assert_close(ours[m], theirs, **tol)
        if gens is not None:
            ours_gen, theirs_gen = gens(m, loss)
            if theirs_gen is None:  # the unpacked miner never drew (made no generator)
                assert ours_gen is None, f"member {m} drew, the unpacked miner did not"
            else:
                assert torch.equal(ours_gen.get_state(), theirs_gen.get_state()), f"member {m} drew differently"
    return values


def miner_gens(packed_miner):
    return lambda m, loss: (packed_miner.generators[m], _unpacked_miner(loss).generator)


def _unpacked_miner(loss):
    if isinstance(loss, TripletLoss):
        return loss.miner
    return next(t for t in loss.losses if isinstance(t, TripletLoss)).miner


DTYPES = [torch.float64, torch.float32]
DISTANCES = ["cosine", "sqeuclidean"]


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy(dtype):
    compare(PackedCrossEntropy(M), lambda m: CrossEntropy(), dtype)
    smooth = [0.0, 0.1, 0.25]
    compare(PackedCrossEntropy(M, smooth), lambda m: CrossEntropy(smooth[m]), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("distance", DISTANCES)
@pytest.mark.parametrize("kw", [{}, {"per_anchor": 3}, {"n_triplets": 40}])
def test_triplet_random_miner(distance, kw, dtype):
    miner = PackedRandomMiner(seeds=SEEDS, **kw)
    loss = PackedTripletLoss(M, distance, MARGINS, miner)
    for step in range(2):  # the generators carry on between batches
        compare(loss, lambda m: TripletLoss(distance, MARGINS[m], RandomTripletMiner(seed=SEEDS[m], **kw)) if step == 0
                else reused[m], dtype, seed=step, gens=miner_gens(miner))  # fmt: skip
        if step == 0:
            reused = [TripletLoss(distance, MARGINS[m], RandomTripletMiner(seed=SEEDS[m], **kw)) for m in range(M)]
            for m in range(M):  # bring the reused unpacked miners to the packed ones' state
                reused[m].miner.generator = torch.Generator().manual_seed(0)
                reused[m].miner.generator.set_state(miner.generators[m].get_state())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("distance", DISTANCES)
@pytest.mark.parametrize("keep", ["semihard+hard", "semihard", "hard"])
def test_triplet_random_pool_miner(distance, keep, dtype):
    miner = PackedRandomPoolMiner(seeds=SEEDS, pool=60, keep=keep)
    compare(PackedTripletLoss(M, distance, MARGINS, miner),
            lambda m: TripletLoss(distance, MARGINS[m], RandomPoolMiner(pool=60, keep=keep, seed=SEEDS[m])),
            dtype, gens=miner_gens(miner))  # fmt: skip


@pytest.mark.parametrize("dtype", DTYPES)
def test_triplet_random_pool_miner_with_a_pool_size_per_member(dtype):
    # Liu's trainer: a fold with more batches draws a smaller pool per batch
    pools = [60, 17, 41]
    miner = PackedRandomPoolMiner(seeds=SEEDS, pool=pools)
    for step in range(2):  # the generators carry on between batches
        if step == 0:
            reused = [TripletLoss("sqeuclidean", MARGINS[m], RandomPoolMiner(pool=pools[m], seed=SEEDS[m])) for m in range(M)]
        compare(PackedTripletLoss(M, "sqeuclidean", MARGINS, miner), lambda m: reused[m], dtype, seed=step,
                gens=miner_gens(miner))  # fmt: skip
    with pytest.raises(ValueError, match="one size per member"):
        PackedRandomPoolMiner(seeds=SEEDS, pool=[10, 20])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("distance", DISTANCES)
def test_triplet_semihard_and_hard(distance, dtype):
    gram = dict(rtol=2e-6, atol=2e-5) if dtype == torch.float32 and distance == "sqeuclidean" else None
    values = compare(PackedTripletLoss(M, distance, MARGINS, PackedSemiHardMiner(M)),
                     lambda m: TripletLoss(distance, MARGINS[m], SemiHardTripletMiner()), dtype, tol=gram)  # fmt: skip
    assert bool((values > 0).all())  # the batches do hold semi-hard triplets
    # a fixed mining window wider than some members' loss margin (their extra triplets hinge at 0)
    compare(PackedTripletLoss(M, distance, MARGINS, PackedSemiHardMiner(M, margin=0.4, chunk_elems=B * B * 4)),
            lambda m: TripletLoss(distance, MARGINS[m], SemiHardTripletMiner(margin=0.4)), dtype, tol=gram)  # fmt: skip
    compare(PackedTripletLoss(M, distance, MARGINS, PackedHardMiner(M)),
            lambda m: TripletLoss(distance, MARGINS[m], HardTripletMiner()), dtype)  # fmt: skip


def test_no_valid_anchor_gives_zero_and_draws_nothing():
    # member 1's batch holds one class only: no anchor has a negative
    y = torch.randint(0, C, (M, B), generator=torch.Generator().manual_seed(5))
    y[1] = 2
    for miner in (PackedRandomMiner(seeds=SEEDS), PackedRandomPoolMiner(seeds=SEEDS, pool=30)):
        before = torch.Generator().manual_seed(SEEDS[1]).get_state()
        values = compare(PackedTripletLoss(M, "cosine", MARGINS, miner),
                         lambda m: TripletLoss("cosine", MARGINS[m], RandomTripletMiner(seed=SEEDS[m])
                                               if isinstance(miner, PackedRandomMiner) else RandomPoolMiner(pool=30, seed=SEEDS[m])),
                         torch.float64, labels=y, gens=miner_gens(miner))  # fmt: skip
        assert values[1] == 0
        assert miner.generators[1] is None or torch.equal(miner.generators[1].get_state(), before)


def test_nothing_mined_on_a_non_finite_embedding_is_nan_as_unpacked():
    # The unpacked losses return embedding.sum() * 0.0 when nothing qualifies: NaN for a member
    # whose embedding is no longer finite (a diverged run), which the trainers must see.
    emb, logits, y = make_batch(torch.float64, seed=3)
    y[1] = 2  # member 1: one class only, nothing to mine
    emb[1, 0, 0] = float("inf")
    cases = [(PackedTripletLoss(M, "sqeuclidean", MARGINS, PackedRandomPoolMiner(seeds=SEEDS, pool=30)),
              TripletLoss("sqeuclidean", MARGINS[1], RandomPoolMiner(pool=30, seed=SEEDS[1]))),
             (PackedEmotionTripletLoss(M, LABELS, MIKELS_WHEEL, mining="hard"), EmotionTripletLoss(LABELS, MIKELS_WHEEL, mining="hard"))]
    for packed, unpacked in cases:
        values = packed(ModelOutput(emb, logits, emb), y)
        assert torch.isnan(unpacked(ModelOutput(emb[1], logits[1], emb[1]), y[1]))
        assert torch.isnan(values[1]) and torch.isfinite(values[[0, 2]]).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mining", ["semihard", "hard"])
def test_emotion_triplet(mining, dtype):
    alpha, beta = [0.1, 0.4, 1.0], [0.15, 0.5, 2.0]
    values = compare(PackedEmotionTripletLoss(M, LABELS, MIKELS_WHEEL, alpha, beta, mining),
                     lambda m: EmotionTripletLoss(LABELS, MIKELS_WHEEL, alpha[m], beta[m], mining), dtype)  # fmt: skip
    assert bool((values > 0).all())
    # only neutral and one polarity: anchors fall back to the plain triplet
    y = torch.randint(0, 3, (M, B), generator=torch.Generator().manual_seed(1))
    compare(PackedEmotionTripletLoss(M, LABELS, MIKELS_WHEEL, alpha, beta, mining, chunk_elems=B * B * 5),
            lambda m: EmotionTripletLoss(LABELS, MIKELS_WHEEL, alpha[m], beta[m], mining), dtype, labels=y)  # fmt: skip


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["cosine", "euclidean"])
@pytest.mark.parametrize("position", ["pos_1", "pos_2"])
def test_contrastive(kind, position, dtype):
    compare(PackedContrastiveLoss(M, kind, MARGINS, position), lambda m: ContrastiveLoss(kind, MARGINS[m], position), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_weighted_sum_skips_zero_weights_like_unpacked(dtype):
    # Kumar phase 2 / Liu: w_ce * CE + w_t * triplet with per-member weights, zeros included; a
    # member with triplet weight 0 must not advance its miner's generator (unpacked never calls it).
    w_ce, w_t = [1.0, 0.0, 0.5], [0.0, 1.0, 2.0]
    miner = PackedRandomPoolMiner(seeds=SEEDS, pool=40)
    packed = PackedWeightedSum(M, [(w_ce, PackedCrossEntropy(M)), (w_t, PackedTripletLoss(M, "sqeuclidean", MARGINS, miner))])
    compare(packed, lambda m: WeightedSum([(w_ce[m], CrossEntropy()),
                                           (w_t[m], TripletLoss("sqeuclidean", MARGINS[m], RandomPoolMiner(pool=40, seed=SEEDS[m])))]),
            dtype)  # fmt: skip
    assert miner.generators[0] is None  # member 0 never drew
    for m in (1, 2):
        ref = RandomPoolMiner(pool=40, seed=SEEDS[m])
        ref(torch.zeros(B, B), make_batch(dtype)[2][m])
        assert torch.equal(miner.generators[m].get_state(), ref.generator.get_state())
    zero = PackedWeightedSum(M, [(0.0, PackedCrossEntropy(M))])
    emb = torch.randn(M, B, E, requires_grad=True)
    out = zero(ModelOutput(emb, torch.randn(M, B, C), None), torch.zeros(M, B, dtype=torch.long))
    assert torch.equal(out, torch.zeros(M)) and out.requires_grad


def test_members_argument_picks_scalars_and_generators():
    # rows for members [2, 0] only (a step where member 1 sits out)
    miner = PackedRandomMiner(seeds=SEEDS)
    loss = PackedTripletLoss(M, "cosine", MARGINS, miner)
    emb, _, y = make_batch(torch.float64)
    values = loss(ModelOutput(emb[[2, 0]], emb[[2, 0]], None), y[[2, 0]], members=[2, 0])
    for j, m in enumerate([2, 0]):
        ref = TripletLoss("cosine", MARGINS[m], RandomTripletMiner(seed=SEEDS[m]))(ModelOutput(emb[m], emb[m], None), y[m])
        torch.testing.assert_close(values[j], ref, rtol=1e-12, atol=1e-14)
    assert miner.generators[1] is None
    with pytest.raises(ValueError, match="members"):
        loss(ModelOutput(emb, emb, None), y, members=[0, 1])
    with pytest.raises(ValueError, match="labels"):
        loss(ModelOutput(emb, emb, None), y[:, :3])
