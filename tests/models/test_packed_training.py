"""A short Kumar-style training run: three members packed vs the same three trained one after
another (plain torch: the unpacked model, torch.optim.SGD, the unpacked losses), with the same
seeds, batch order, per-member lr schedule and margins; member 1 stops early.

Phase 1 cross-entropy, phase 2 CE + random-triplet loss (cosine), SGD with momentum and weight
decay, linear lr decay per phase (each member its own start lr), each member its own batch
order and miner generator. The weights agree within:

- float64: 1e-12 relative (seen: 9e-15). The packed step does the same arithmetic; only the
  summation order inside batched matmuls (vmap's bmm vs mm, grouped vs single convs) differs,
  ~1e-16 per op, carried through 16 steps of training.
- float32: 1e-4 relative + 1e-4 absolute (seen: 1.6e-5 on fc-6's BatchNorm running variances,
  3e-8 on lstm-6), the same rounding at ~1e-7 per op; a random miner's choices do not depend on
  the distances, so no triplet flips between the two runs.

The stopped member is compared bit for bit with its state when it stopped.
"""

import pytest
import torch

from ser_models import create_model
from ser_models.base import ModelOutput
from ser_models.losses import CrossEntropy, RandomTripletMiner, TripletLoss, WeightedSum
from ser_models.packed import (
    PackedCrossEntropy,
    PackedModel,
    PackedRandomMiner,
    PackedSGD,
    PackedTripletLoss,
    PackedWeightedSum,
    linear_lrs,
)
from ser_models.training import batch_indices, linear_lr

M, C, N, BATCH, EPOCHS = 3, 4, 64, 16, 2  # 2 epochs per phase, 4 batches each: 16 steps
SEEDS = [0, 1, 2]
LR_START, LR_END = [0.05, 0.02, 0.08], 0.005
MARGINS = [0.1, 0.2, 0.4]
STOP_AFTER = {1: (1, 0)}  # member 1 stops after phase 1, epoch 0
TOL = {torch.float64: dict(rtol=1e-12, atol=1e-13), torch.float32: dict(rtol=1e-4, atol=1e-4)}


def data(dtype):
    g = torch.Generator().manual_seed(7)
    y = torch.arange(N) % C
    centers = torch.randn(C, 390, generator=g) * 0.5
    return (centers[y] + torch.randn(N, 390, generator=g)).to(dtype), y


def build(name, seed, dtype):
    torch.manual_seed(seed)
    return create_model(name, C, hidden=16, embedding_dim=8).to(dtype)


def stopped(m, phase, epoch):
    return m in STOP_AFTER and (phase, epoch) > STOP_AFTER[m]


def train_unpacked(name, m, dtype):
    x, y = data(dtype)
    model = build(name, SEEDS[m], dtype)
    opt = torch.optim.SGD(model.parameters(), lr=LR_START[m], momentum=0.9, weight_decay=1e-4)
    batch_gen = torch.Generator().manual_seed(SEEDS[m])
    triplet = TripletLoss("cosine", MARGINS[m], RandomTripletMiner(seed=SEEDS[m] + 1))
    losses = {1: CrossEntropy(), 2: WeightedSum([(1.0, CrossEntropy()), (1.0, triplet)])}
    for phase in (1, 2):
        for epoch in range(EPOCHS):
            if stopped(m, phase, epoch):
                return model
            for group in opt.param_groups:
                group["lr"] = linear_lr(epoch, EPOCHS, LR_START[m], LR_END)
            model.train()
            for idx in batch_indices(N, BATCH, batch_gen, "cpu"):
                loss = losses[phase](model(x[idx]), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    return model


def train_packed(name, dtype):
    x, y = data(dtype)
    packed = PackedModel([build(name, s, dtype) for s in SEEDS])
    opt = PackedSGD(packed.params, lr=LR_START, momentum=0.9, weight_decay=1e-4)
    batch_gens = [torch.Generator().manual_seed(s) for s in SEEDS]
    miner = PackedRandomMiner(seeds=[s + 1 for s in SEEDS])
    losses = {1: PackedCrossEntropy(M),
              2: PackedWeightedSum(M, [(1.0, PackedCrossEntropy(M)), (1.0, PackedTripletLoss(M, "cosine", MARGINS, miner))])}
    frozen_at_stop = {}
    for phase in (1, 2):
        for epoch in range(EPOCHS):
            active = [m for m in range(M) if not stopped(m, phase, epoch)]
            for m in set(range(M)) - set(active) - set(frozen_at_stop):
                frozen_at_stop[m] = packed.member_state_dict(m)
            opt.set_lr(linear_lrs([epoch] * len(active), EPOCHS, [LR_START[m] for m in active], LR_END), active)
            packed.train()
            batches = [batch_indices(N, BATCH, batch_gens[m], "cpu") for m in active]
            for step in range(len(batches[0])):
                idx = torch.stack([b[step] for b in batches])  # (M', B): each member its own batch
                out = packed(x[idx], members=active)
                loss = losses[phase](out, y[idx], members=active)
                opt.zero_grad()
                loss.sum().backward()
                opt.step(members=active)
    return packed, frozen_at_stop


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("name", ["fc-6", "lstm-6"])
def test_packed_training_equals_sequential(name, dtype):
    packed, frozen = train_packed(name, dtype)
    assert set(frozen) == {1}
    for m in range(M):
        ref = train_unpacked(name, m, dtype)
        ours = packed.member_state_dict(m)
        moved = 0.0
        for k, v in ref.state_dict().items():
            if v.is_floating_point():
                torch.testing.assert_close(ours[k], v, **TOL[dtype], msg=f"member {m} {k}")
                moved = max(moved, float((v - build(name, SEEDS[m], dtype).state_dict()[k]).abs().max()))
            else:
                assert torch.equal(ours[k], v), k
        assert moved > 1e-3  # training moved the weights by 10x the float32 tolerance, so agreement is not trivial
    for k, v in frozen[1].items():
        assert torch.equal(packed.member_state_dict(1)[k], v), k
    # the packed member behaves as the sequential one on new data, in eval mode too
    x, _ = data(dtype)
    ref = train_unpacked(name, 2, dtype).eval()
    out = packed.eval()(x[:20].expand(M, 20, 390))
    assert isinstance(out, ModelOutput)
    torch.testing.assert_close(out.logits[2], ref(x[:20]).logits, **TOL[dtype])
