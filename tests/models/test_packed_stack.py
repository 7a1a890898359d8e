"""PackedModel against the unpacked models it was built from.

float64 throughout, so the comparisons can be tight (1e-12: the same arithmetic, batched; only
the order of float summation inside batched matmuls and grouped convolutions differs).
Bit-for-bit claims (frozen members, extraction) are checked with torch.equal.
"""

import pytest
import torch

from ser_models import create_model
from ser_models.packed import PackedModel, PackedSGD, Recurrent

M = 3
TOL = dict(atol=1e-12, rtol=1e-12)

# (registry name, constructor overrides, input shape of one sample): every family of the zoo
CASES = {
    "fc-6": ({}, (390,)),
    "cnn-6": ({}, (390,)),
    "resnet-7": ({}, (390,)),
    "rnn-6": ({}, (390,)),
    "lstm-6": ({}, (390,)),
    "gru-6": ({}, (390,)),
    "liu-cnn-lstm": ({"input_dim": 20 * 26, "n_coeffs": 26}, (20 * 26,)),
    "lian-cnn1d": ({"input_dim": 40 * 13, "aux_classes": 2}, (40 * 13,)),
    "se-resnet34-ghostvlad": ({"input_dim": 32, "widths": (4, 4, 8, 8), "blocks": (1, 1, 1, 1), "descriptor_dim": 8,
                               "embedding_dim": 8, "clusters": 2, "ghost_clusters": 1}, (32, 40)),
}  # fmt: skip


def members(name, n=M, seed0=0):
    overrides, _ = CASES[name]
    out = []
    for s in range(n):
        torch.manual_seed(seed0 + s)  # as an unpacked trial seeds its model
        out.append(create_model(name, 4, **overrides).double())
    return out


def batch(name, b=6, seed=0):
    return torch.randn(M, b, *CASES[name][1], dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def loss_of(out):
    # reaches embedding, logits and features
    return out.logits.square().sum() + out.embedding.sin().sum() + (out.features.cos().sum() if out.features is not None else 0)


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_backward_equal_per_member(name):
    models = members(name)
    packed = PackedModel(models)
    x = batch(name)
    out = packed(x)
    loss_of(out).backward()
    for m, model in enumerate(models):
        ref = model(x[m])
        for field in ("embedding", "logits", "features"):
            torch.testing.assert_close(getattr(out, field)[m], getattr(ref, field), **TOL)
        loss_of(ref).backward()
        for n, p in model.named_parameters():
            if p.grad is None:  # a head the loss does not reach (Lian's aux): no gradient either way
                assert packed.params[n].grad is None, n
                continue
            torch.testing.assert_close(packed.params[n].grad[m], p.grad, **TOL, msg=n)
        for n, b in model.named_buffers():  # one training-mode forward updated the BN stats
            torch.testing.assert_close(packed.buffers[n][m].double(), b.double(), **TOL, msg=n)


@pytest.mark.parametrize("name", ["fc-6", "resnet-7", "liu-cnn-lstm"])
def test_batchnorm_running_stats_follow_nn_batchnorm(name):
    models = members(name)
    packed = PackedModel(models)
    for step in range(4):
        x = batch(name, seed=step) * (1 + step)  # moving input statistics
        packed(x)
        for m, model in enumerate(models):
            model(x[m])
    bn = [n for n in packed.buffers if n.endswith("running_mean")]
    assert bn
    for m, model in enumerate(models):
        for n, b in model.named_buffers():
            if n.endswith("num_batches_tracked"):
                assert int(packed.buffers[n][m]) == int(b) == 4
            else:
                torch.testing.assert_close(packed.buffers[n][m], b, **TOL, msg=n)
    # the members really differ (different seeds and batches), so equality above is per member
    assert not torch.equal(packed.buffers[bn[0]][0], packed.buffers[bn[0]][1])
    # eval mode uses those running statistics, as the unpacked models do
    packed.eval()
    before = {n: b.clone() for n, b in packed.buffers.items()}
    x = batch(name, seed=9)
    out = packed(x)
    for m, model in enumerate(models):
        torch.testing.assert_close(out.logits[m], model.eval()(x[m]).logits, **TOL)
    assert all(torch.equal(b, before[n]) for n, b in packed.buffers.items())  # eval changed nothing


def test_member_extraction_round_trip():
    models = members("lstm-6")
    packed = PackedModel(models)
    for m, model in enumerate(models):
        sd = packed.member_state_dict(m)
        assert list(sd) == list(model.state_dict())
        assert all(torch.equal(sd[k], v) for k, v in model.state_dict().items())
        back = packed.member_model(m)
        assert isinstance(back.rnn, torch.nn.LSTM)  # the original module classes come back
        assert all(torch.equal(back.state_dict()[k], v) for k, v in sd.items())
    # insert another model's state into member 1 (resume): exactly that state comes out
    other = members("lstm-6", n=1, seed0=42)[0]
    packed.load_member_state_dict(1, other.state_dict())
    assert all(torch.equal(packed.member_state_dict(1)[k], v) for k, v in other.state_dict().items())
    assert all(torch.equal(packed.member_state_dict(0)[k], v) for k, v in models[0].state_dict().items())
    x = batch("lstm-6")
    torch.testing.assert_close(packed(x).logits[1], other(x[1]).logits, **TOL)
    with pytest.raises(KeyError, match="missing"):
        packed.load_member_state_dict(0, {k: v for k, v in other.state_dict().items() if "classifier" not in k})


def test_members_subset_leaves_the_others_untouched_bit_for_bit():
    models = members("fc-6")
    packed = PackedModel(models)
    lrs = [0.01, 0.02, 0.03]
    opt = PackedSGD(packed.params, lr=lrs, momentum=0.9, weight_decay=1e-3)
    x = batch("fc-6")
    for _ in range(2):  # all three train, so member 1 has momentum state
        loss_of(packed(x)).backward()
        opt.step()
        opt.zero_grad()
    frozen = {n: t[1].clone() for n, t in {**packed.params, **packed.buffers}.items()}
    frozen_buf = [s["momentum_buffer"][1].clone() for s in opt.state]
    # members 0 and 2 go on unpacked too, from their extracted model and optimizer states
    expected = [packed.member_model(m) for m in (0, 2)]
    ref_opts = []
    for m, model in zip((0, 2), expected):
        ref_opts.append(torch.optim.SGD(model.parameters(), lr=lrs[m], momentum=0.9, weight_decay=1e-3))
        ref_opts[-1].load_state_dict(opt.member_state_dict(m))
    for step in range(3):  # member 1 stopped early: only 0 and 2 train
        xs = batch("fc-6", seed=10 + step)[[0, 2]]
        out = packed(xs, members=[0, 2])
        loss_of(out).backward()
        assert torch.count_nonzero(packed.params["classifier.weight"].grad[1]) == 0
        opt.step(members=[0, 2])
        opt.zero_grad()
        for j, (model, ref_opt) in enumerate(zip(expected, ref_opts)):
            ref = model(xs[j])
            torch.testing.assert_close(out.logits[j], ref.logits, **TOL)
            loss_of(ref).backward()
            ref_opt.step()
            ref_opt.zero_grad()
    for n, t in {**packed.params, **packed.buffers}.items():
        assert torch.equal(t[1], frozen[n]), n
    for s, b in zip(opt.state, frozen_buf):
        assert torch.equal(s["momentum_buffer"][1], b)
    for j, m in enumerate((0, 2)):
        for n, v in expected[j].state_dict().items():
            torch.testing.assert_close(packed.member_state_dict(m)[n], v, **TOL, msg=n)
    assert not torch.equal(packed.params["classifier.weight"][0], models[0].classifier.weight)  # 0 did train


def test_select_restacks_members():
    models = members("gru-6")
    packed = PackedModel(models)
    sub = packed.select([2, 0])
    assert sub.num_members == 2 and packed.num_members == 3
    x = batch("gru-6")[:2]
    out = sub(x)
    torch.testing.assert_close(out.logits[0], models[2](x[0]).logits, **TOL)
    torch.testing.assert_close(out.logits[1], models[0](x[1]).logits, **TOL)
    assert all(p.is_leaf and p.requires_grad for p in sub.params.values())
    loss_of(out).backward()
    assert all(p.grad is None for p in packed.params.values())  # fresh leaves: the old stack is not touched


def test_shared_input_and_other_methods():
    models = members("lian-cnn1d")
    packed = PackedModel(models)
    x = batch("lian-cnn1d")[0]
    shared = packed(x, shared_input=True)
    torch.testing.assert_close(shared.logits, packed(x.expand(M, *x.shape)).logits, **TOL)
    aux = packed.call("aux_logits", shared.features)
    for m, model in enumerate(models):
        torch.testing.assert_close(aux[m], model.aux_logits(model(x).features), **TOL)


def test_a_subset_call_that_updates_no_buffer_leaves_them_alone():
    # Lian's multi-task head: a training forward of the whole pack, then the aux head for some
    # members only. The head updates no running statistic, so the stacked buffers must keep
    # their version (the forward's BatchNorm backward still needs them) and their values.
    models = members("lian-cnn1d")
    packed = PackedModel(models).train()
    out = packed(batch("lian-cnn1d"))
    before = {n: (b._version, b.clone()) for n, b in packed.buffers.items()}
    aux = packed.call("aux_logits", out.features[[0, 2]], members=[0, 2])
    for n, b in packed.buffers.items():
        assert b._version == before[n][0] and torch.equal(b, before[n][1]), n
    (out.logits.square().sum() + aux.square().sum()).backward()  # raised "modified by an inplace operation" before
    x = batch("lian-cnn1d")
    for m in (0, 2):
        ref = models[m].train()(x[m])
        (ref.logits.square().sum() + models[m].aux_logits(ref.features).square().sum()).backward()
        torch.testing.assert_close(packed.params["aux.weight"].grad[m], models[m].aux.weight.grad, **TOL)
        torch.testing.assert_close(packed.params["classifier.weight"].grad[m], models[m].classifier.weight.grad, **TOL)
    assert torch.count_nonzero(packed.params["aux.weight"].grad[1]) == 0


def test_template_runs_recurrent_and_bad_input_is_rejected():
    packed = PackedModel(members("lstm-6"))
    assert isinstance(packed._template.rnn, Recurrent)
    with pytest.raises(ValueError, match="leading dimension"):
        packed(torch.randn(2, 4, 390, dtype=torch.float64))
    with pytest.raises(IndexError, match="out of range"):
        packed(torch.randn(1, 4, 390, dtype=torch.float64), members=[3])
    with pytest.raises(ValueError, match="same parameter"):
        PackedModel([create_model("fc-6", 4), create_model("fc-7", 4)])
    with pytest.raises(ValueError, match="one class"):
        PackedModel([create_model("fc-6", 4), create_model("cnn-6", 4)])


def test_predict_in_chunks_matches_member_models():
    models = members("resnet-7")
    packed = PackedModel(models)
    packed(batch("resnet-7", b=8))  # one training step's statistics
    x = batch("resnet-7", b=7, seed=3)
    out = packed.predict(x, batch_size=3)
    assert packed.training and out.features is None and out.logits.shape == (M, 7, 4)
    for m in range(M):
        ref = packed.member_model(m).eval()(x[m])
        torch.testing.assert_close(out.embedding[m], ref.embedding, **TOL)
        torch.testing.assert_close(out.logits[m], ref.logits, **TOL)
