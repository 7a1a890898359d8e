"""Recurrent against torch's nn.RNN / nn.LSTM / nn.GRU with the same weights, both
implementations: "steps" (plain ops) and "torch" (torch's kernel, per member under vmap).

Tolerances for "steps": float64 1e-12 (the same arithmetic in another order: torch's fused cell
kernels vs separate ops); float32 outputs 2e-6 and gradients 2e-5 absolute on O(1) values (on
CPU torch's float32 LSTM runs oneDNN's kernel, whose summation order differs from ``linear``'s).
"torch" runs torch's own recurrent kernels; the vmapped linear head may take another matmul kernel
than the unpacked addmm (bit for bit on one CPU, 4e-17 apart on an AMD EPYC), so 1e-12 as well.
"""

import pytest
import torch
from torch import nn

from ser_models import create_model
from ser_models.packed import PackedModel, Recurrent, replace_recurrent

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
TOL = {torch.float64: (1e-12, 1e-12), torch.float32: (2e-6, 2e-5)}


def run(module, x, hx=None):
    out, h = module(x, hx) if hx is not None else module(x)
    hs = h if isinstance(h, tuple) else (h,)
    loss = out.square().sum() + sum(t.sin().sum() for t in hs)  # reaches every output
    grads = torch.autograd.grad(loss, [x, *module.parameters()])
    return out, hs, grads


def assert_same(ref, got, dtype):
    out_tol, grad_tol = TOL[dtype]
    (o1, h1, g1), (o2, h2, g2) = ref, got
    assert o1.shape == o2.shape
    torch.testing.assert_close(o2, o1, atol=out_tol, rtol=0)
    for a, b in zip(h1, h2):
        torch.testing.assert_close(b, a, atol=out_tol, rtol=0)
    assert len(g1) == len(g2)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(b, a, atol=grad_tol, rtol=grad_tol)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("layers,bidirectional,batch_first", [(1, False, True), (3, False, True), (2, True, True), (2, True, False)])
def test_matches_torch(cell, layers, bidirectional, batch_first, dtype):
    torch.manual_seed(0)
    ref = CELLS[cell](5, 7, num_layers=layers, batch_first=batch_first, bidirectional=bidirectional).to(dtype)
    ours = Recurrent.from_torch(ref, impl="steps")
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    x = torch.randn((4, 6, 5) if batch_first else (6, 4, 5), dtype=dtype, requires_grad=True)
    assert_same(run(ref, x), run(ours, x), dtype)


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_initial_state_and_relu(cell):
    torch.manual_seed(1)
    kw = {"nonlinearity": "relu"} if cell == "rnn" else {}
    ref = CELLS[cell](3, 4, num_layers=2, bidirectional=True, **kw).double()
    ours = Recurrent.from_torch(ref)  # an explicit hx always runs "steps"
    assert ours.mode == ("RNN_RELU" if cell == "rnn" else ref.mode)
    x = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(4, 2, 4, dtype=torch.float64)
    hx = (h0, torch.randn_like(h0)) if cell == "lstm" else h0
    assert_same(run(ref, x, hx), run(ours, x, hx), torch.float64)


@pytest.mark.parametrize("name", ["rnn-6", "lstm-6", "gru-6", "lstm-15", "gru-15", "rnn-15"])
def test_zoo_configurations(name):
    # Kumar's recurrent families: x - 2 stacked layers, 39 -> 64, batch_first, 10 steps.
    torch.manual_seed(2)
    model = create_model(name, 4).double()
    ref = model.rnn
    ours = Recurrent.from_torch(ref, impl="steps")
    assert ours.num_layers == int(name.split("-")[1]) - 2
    x = torch.randn(3, 10, 39, dtype=torch.float64, requires_grad=True)
    assert_same(run(ref, x), run(ours, x), torch.float64)


def test_liu_cnn_lstm_bidirectional_float32():
    torch.manual_seed(3)
    model = create_model("liu-cnn-lstm", 4, input_dim=20 * 26, n_coeffs=26)
    ref = model.lstm
    assert ref.bidirectional and ref.batch_first
    x = torch.randn(3, 20, 32, requires_grad=True)
    assert_same(run(ref, x), run(Recurrent.from_torch(ref, impl="steps"), x), torch.float32)


def test_replace_recurrent_keeps_state_dict_both_ways():
    torch.manual_seed(4)
    model = create_model("liu-cnn-lstm", 4, input_dim=20 * 26, n_coeffs=26)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    replaced = replace_recurrent(create_model("liu-cnn-lstm", 4, input_dim=20 * 26, n_coeffs=26))
    assert isinstance(replaced.lstm, Recurrent)
    replaced.load_state_dict(before)  # torch layout -> ours, strict
    back = create_model("liu-cnn-lstm", 4, input_dim=20 * 26, n_coeffs=26)
    back.load_state_dict(replaced.state_dict())  # ours -> torch layout, strict
    for k, v in back.state_dict().items():
        assert torch.equal(v, before[k])
    x = torch.randn(2, 20 * 26)
    model.eval(), replaced.eval()
    assert torch.equal(replaced(x).logits, model(x).logits)  # LSTM on CPU, outside vmap: torch's own kernel


@pytest.mark.parametrize("impl", ["steps", "torch"])
@pytest.mark.parametrize("name", ["lstm-7", "gru-7", "rnn-7", "liu-cnn-lstm"])
def test_packed_recurrent_models(name, impl):
    # Three models packed (torch 2.13's vmap has no batching rule for aten::lstm / gru: the
    # packed template runs Recurrent instead); each member equals its own model, values and
    # gradients. "torch" calls the very recurrent kernels of the unpacked model; the vmapped head
    # and Liu's grouped convolutions may sum in another order (see the module docstring).
    kw = {"input_dim": 20 * 26, "n_coeffs": 26} if name == "liu-cnn-lstm" else {}
    models = []
    for seed in range(3):
        torch.manual_seed(seed)
        models.append(create_model(name, 4, **kw).double())
    packed = PackedModel(models, recurrent=impl)
    x = torch.randn(3, 5, kw.get("input_dim", 390), dtype=torch.float64)
    out = packed(x)
    out.logits.square().sum().backward()
    for m, model in enumerate(models):
        ref = model(x[m])
        ref.logits.square().sum().backward()
        torch.testing.assert_close(out.logits[m], ref.logits, atol=1e-12, rtol=0)
        for n, p in model.named_parameters():
            torch.testing.assert_close(packed.params[n].grad[m], p.grad, atol=1e-12, rtol=1e-12, msg=n)


def test_auto_picks_the_faster_impl_measured_on_cpu():
    r = Recurrent("LSTM", 3, 4)
    assert r.resolved_impl(torch.device("cpu")) == "torch"
    assert r.resolved_impl(torch.device("cuda")) == "steps"
    assert Recurrent("GRU", 3, 4).resolved_impl(torch.device("cpu")) == "steps"
    assert Recurrent("RNN_TANH", 3, 4, impl="torch").resolved_impl(torch.device("cpu")) == "torch"
    assert list(r.state_dict()) == list(nn.LSTM(3, 4).state_dict())  # the kernel holder adds no state


def test_rejects_what_it_does_not_implement():
    with pytest.raises(ValueError, match="proj_size"):
        Recurrent.from_torch(nn.LSTM(3, 4, proj_size=2))
    with pytest.raises(ValueError, match="dropout"):
        Recurrent.from_torch(nn.GRU(3, 4, num_layers=2, dropout=0.5))
    with pytest.raises(ValueError, match="3-D"):
        Recurrent("LSTM", 3, 4)(torch.randn(5, 3))
    with pytest.raises(ValueError, match="mode"):
        Recurrent("CELL", 3, 4)
    with pytest.raises(ValueError, match="impl"):
        Recurrent("LSTM", 3, 4, impl="cudnn")
