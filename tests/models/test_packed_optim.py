"""Packed SGD / Adam and the per-member schedules against torch.optim stepping each member alone.

The optimizer claims are bit-exact on CPU (torch.equal), float32 and float64: the packed step
does torch's single-tensor arithmetic op for op. The schedules are exact float equality.
"""

import math
import random

import pytest
import torch

from ser_models.packed import MemberPlateau, MemberStepLR, PackedAdam, PackedSGD, linear_lrs
from ser_models.training.schedule import linear_lr

M = 3
SHAPES = {"w": (5, 4), "b": (5,), "k": (2, 3, 3)}


def stacked(dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {n: torch.randn(M, *s, generator=g, dtype=dtype).requires_grad_(True) for n, s in SHAPES.items()}


def unpacked_copies(params):
    return [[params[n][m].detach().clone().requires_grad_(True) for n in SHAPES] for m in range(M)]


def fake_grads(params, step, dtype):
    g = torch.Generator().manual_seed(100 + step)
    for p in params.values():
        p.grad = torch.randn(p.shape, generator=g, dtype=dtype)


def run_both(make_packed, make_torch, dtype, schedule):
    """``schedule[step]`` = members that take that step; returns (packed params, torch copies, opts)."""
    params = stacked(dtype)
    refs = unpacked_copies(params)
    opt = make_packed(params)
    ref_opts = [make_torch(refs[m], m) for m in range(M)]
    for step, active in enumerate(schedule):
        fake_grads(params, step, dtype)
        for m in active:
            for n, p in zip(SHAPES, refs[m]):
                p.grad = params[n].grad[m].clone()
            ref_opts[m].step()
        opt.step(members=active)
    return params, refs, opt, ref_opts


def assert_bit_exact(params, refs):
    for m in range(M):
        for n, p in zip(SHAPES, refs[m]):
            assert torch.equal(params[n][m], p), (m, n)


SCHEDULE = [[0, 1, 2], [0, 1, 2], [0, 2], [0, 1, 2], [1], [0, 1, 2]]  # members sit out some steps
LR = [0.05, 0.01, 0.003]
WD = [0.0, 1e-3, 0.05]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("momentum,dampening,nesterov", [(0.0, 0.0, False), (0.9, 0.0, False), (0.9, 0.1, False), (0.8, 0.0, True)])
def test_sgd_bit_exact_per_member(momentum, dampening, nesterov, dtype):
    params, refs, opt, ref_opts = run_both(
        lambda p: PackedSGD(p, lr=LR, momentum=momentum, dampening=dampening, weight_decay=WD, nesterov=nesterov),
        lambda ps, m: torch.optim.SGD(ps, lr=LR[m], momentum=momentum, dampening=dampening, weight_decay=WD[m], nesterov=nesterov),
        dtype, SCHEDULE,
    )  # fmt: skip
    assert_bit_exact(params, refs)
    for m in range(M):
        ours, theirs = opt.member_state_dict(m), ref_opts[m].state_dict()
        assert ours["param_groups"] == theirs["param_groups"]
        assert ours["state"].keys() == theirs["state"].keys()
        for i, st in theirs["state"].items():
            assert all(torch.equal(ours["state"][i][k], v) for k, v in st.items())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("betas,eps", [((0.9, 0.999), 1e-8), ((0.5, 0.9), 1e-3)])
def test_adam_bit_exact_per_member(betas, eps, dtype):
    params, refs, opt, ref_opts = run_both(
        lambda p: PackedAdam(p, lr=LR, betas=betas, eps=eps, weight_decay=WD),
        lambda ps, m: torch.optim.Adam(ps, lr=LR[m], betas=betas, eps=eps, weight_decay=WD[m]),
        dtype, SCHEDULE,
    )  # fmt: skip
    assert_bit_exact(params, refs)
    for m in range(M):
        ours, theirs = opt.member_state_dict(m), ref_opts[m].state_dict()
        assert ours["param_groups"] == theirs["param_groups"]
        for i, st in theirs["state"].items():
            assert all(torch.equal(ours["state"][i][k], v) for k, v in st.items()), (m, i)
    # member 1 sat out one of six steps: its step count says so
    assert float(opt.member_state_dict(1)["state"][0]["step"]) == 5.0


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_checkpoint_member_into_torch_and_back(kind):
    dtype = torch.float32
    make = (lambda p: PackedSGD(p, lr=LR, momentum=0.9, weight_decay=WD)) if kind == "sgd" else (lambda p: PackedAdam(p, lr=LR, weight_decay=WD))
    params, refs, opt, _ = run_both(make, lambda ps, m: torch.optim.SGD(ps, lr=0.0), dtype, SCHEDULE[:3])
    # member 2 continues unpacked from its extracted state; the packed optimizer continues too
    m = 2
    model_params = [params[n][m].detach().clone().requires_grad_(True) for n in SHAPES]
    torch_cls = torch.optim.SGD if kind == "sgd" else torch.optim.Adam
    ref = torch_cls(model_params, lr=1.0)
    ref.load_state_dict(opt.member_state_dict(m))
    assert ref.param_groups[0]["lr"] == LR[m] and ref.param_groups[0]["weight_decay"] == WD[m]
    for step in range(3, 6):
        fake_grads(params, step, dtype)
        for n, p in zip(SHAPES, model_params):
            p.grad = params[n].grad[m].clone()
        ref.step()
        opt.step()
    for n, p in zip(SHAPES, model_params):
        assert torch.equal(params[n][m], p)
    # and back: a fresh packed optimizer takes the torch state of member 2 into its member 0
    fresh = make({n: params[n].detach().clone().requires_grad_(True) for n in SHAPES})
    fresh.load_member_state_dict(0, ref.state_dict())
    assert fresh.lr[0] == LR[m]
    back = fresh.member_state_dict(0)
    for i, st in ref.state_dict()["state"].items():
        assert all(torch.equal(back["state"][i][k], v) for k, v in st.items())
    # whole packed state round trip
    again = make({n: params[n].detach().clone().requires_grad_(True) for n in SHAPES})
    again.load_state_dict(opt.state_dict())
    for mm in range(M):
        a, b = again.member_state_dict(mm), opt.member_state_dict(mm)
        assert a["param_groups"] == b["param_groups"]
        assert all(torch.equal(a["state"][i][k], v) for i, st in b["state"].items() for k, v in st.items())


def test_select_keeps_member_states():
    params, refs, opt, ref_opts = run_both(
        lambda p: PackedAdam(p, lr=LR, weight_decay=WD), lambda ps, m: torch.optim.Adam(ps, lr=LR[m], weight_decay=WD[m]),
        torch.float32, SCHEDULE[:3],
    )  # fmt: skip
    keep = [2, 0]
    new_params = {n: p.detach()[keep].clone().requires_grad_(True) for n, p in params.items()}
    sub = opt.select(keep, new_params)
    assert sub.num_members == 2 and sub.lr == [LR[2], LR[0]]
    for step in range(3, 5):
        fake_grads(new_params, step, torch.float32)
        for j, m in enumerate(keep):
            for n, p in zip(SHAPES, refs[m]):
                p.grad = new_params[n].grad[j].clone()
            ref_opts[m].step()
        sub.step()
    for j, m in enumerate(keep):
        for n, p in zip(SHAPES, refs[m]):
            assert torch.equal(new_params[n][j], p)


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_skip_acts_like_a_missing_gradient(kind):
    # member 1's loss does not reach "b" (say, a classifier under a zero CE weight): torch sees
    # b.grad = None for member 1 and leaves b and its state alone; skip= says the same.
    dtype = torch.float32
    params = stacked(dtype)
    refs = unpacked_copies(params)
    if kind == "sgd":
        opt = PackedSGD(params, lr=LR, momentum=0.9, weight_decay=WD)
        ref_opts = [torch.optim.SGD(refs[m], lr=LR[m], momentum=0.9, weight_decay=WD[m]) for m in range(M)]
    else:
        opt = PackedAdam(params, lr=LR, weight_decay=WD)
        ref_opts = [torch.optim.Adam(refs[m], lr=LR[m], weight_decay=WD[m]) for m in range(M)]
    for step in range(4):
        fake_grads(params, step, dtype)
        params["b"].grad[1] = 0.0  # what the stacked backward gives a member that does not use b
        for m in range(M):
            for n, p in zip(SHAPES, refs[m]):
                p.grad = None if (m == 1 and n == "b") else params[n].grad[m].clone()
            ref_opts[m].step()
        opt.step(skip={"b": [1]})
    assert_bit_exact(params, refs)
    assert 1 not in opt.member_state_dict(1)["state"]  # never stepped: no state, as in torch
    with pytest.raises(KeyError, match="unknown"):
        opt.step(skip={"nope": [0]})


def test_argument_checks():
    params = stacked(torch.float32)
    with pytest.raises(ValueError, match="one value per member"):
        PackedSGD(params, lr=[0.1, 0.2])
    with pytest.raises(ValueError, match="nesterov"):
        PackedSGD(params, lr=0.1, nesterov=True)
    with pytest.raises(IndexError):
        PackedAdam(params).step(members=[3])
    opt = PackedAdam(params, lr=0.1)
    sd = torch.optim.Adam([torch.zeros(5, 4, requires_grad=True)], lr=0.1, betas=(0.5, 0.9)).state_dict()
    sd["param_groups"][0]["params"] = [0, 1, 2]
    with pytest.raises(ValueError, match="betas"):
        opt.load_member_state_dict(0, sd)


# ------------------------------------------------------------------ schedules


def test_linear_lrs_is_linear_lr_per_member():
    epochs, n = [0, 5, 9], [10, 10, 20]
    got = linear_lrs(epochs, n, [0.05, 0.1, 0.05], 0.005)
    assert got == [linear_lr(0, 10, 0.05, 0.005), linear_lr(5, 10, 0.1, 0.005), linear_lr(9, 20, 0.05, 0.005)]
    assert got[0] == 0.05 and math.isclose(got[1], 0.1 + (0.005 - 0.1) * 5 / 9)


def torch_opt(lr):
    return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)


def test_step_lr_matches_torch_per_member():
    base, steps = [1e-3, 3e-3, 7e-4], [50, 37, 61]  # members stop at different epochs
    ours = MemberStepLR(base, step_size=7, gamma=0.3)
    refs = [torch.optim.lr_scheduler.StepLR(o, step_size=7, gamma=0.3) for o in (torch_opt(b) for b in base)]
    for epoch in range(max(steps)):
        active = [m for m in range(M) if epoch < steps[m]]
        for m in active:
            refs[m].optimizer.step()
            refs[m].step()
        ours.step(active)
        assert ours.lrs == [r.optimizer.param_groups[0]["lr"] for r in refs]  # exact floats
    # a member's state goes into a torch StepLR and the two continue alike
    o = torch_opt(1.0)
    r = torch.optim.lr_scheduler.StepLR(o, step_size=7, gamma=0.3)
    r.load_state_dict(ours.member_state_dict(1))
    o.param_groups[0]["lr"] = ours.lrs[1]
    for _ in range(20):
        o.step()
        r.step()
        ours.step([1])
        assert ours.lrs[1] == o.param_groups[0]["lr"]


@pytest.mark.parametrize("kw", [{"factor": 0.5, "patience": 2},
                                {"factor": 0.1, "patience": 0, "cooldown": 2, "threshold": 0.05},
                                {"factor": 0.5, "patience": 1, "threshold_mode": "abs", "threshold": 0.01, "min_lr": 2e-4},
                                {"factor": 0.3, "patience": 1, "mode": "max"}])  # fmt: skip
def test_plateau_matches_torch_per_member(kw):
    rng = random.Random(0)
    lrs = [1e-3, 5e-3, 2e-3]
    ours = MemberPlateau(lrs, **kw)
    refs = [torch.optim.lr_scheduler.ReduceLROnPlateau(torch_opt(lr), **kw) for lr in lrs]
    level = [1.0, 2.0, 0.5]
    for epoch in range(60):
        active = [m for m in range(M) if not (m == 2 and epoch % 3 == 0)]
        metrics = []
        for m in active:
            level[m] *= rng.choice([0.9, 1.0, 1.0, 1.02, 0.999])  # drops, flat stretches, bumps
            metrics.append(level[m])
            refs[m].step(level[m])
        ours.step(metrics, active)
        assert ours.lrs == [r.optimizer.param_groups[0]["lr"] for r in refs], epoch
    assert min(ours.lrs) < min(lrs)  # the sequence did reduce some lr
    # member state -> torch scheduler -> both continue alike; torch state -> member
    r = torch.optim.lr_scheduler.ReduceLROnPlateau(torch_opt(ours.lrs[0]), **kw)
    r.load_state_dict(ours.member_state_dict(0))
    for _ in range(15):
        v = level[0] * rng.choice([0.9, 1.0, 1.0])
        r.step(v)
        ours.step([v], [0])
        assert ours.lrs[0] == r.optimizer.param_groups[0]["lr"]
    ours.load_member_state_dict(1, r.state_dict())
    assert ours.lrs[1] == r.optimizer.param_groups[0]["lr"] and ours.best[1] == r.best
