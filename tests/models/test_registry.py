import re

import pytest
import torch

from ser_models import ModelOutput, SerModel, UnknownModelError, count_layers, create_model, list_models
from ser_models.ablation import ResidualBlock, split_block_convs

# names that carry a layer count (family-x): the 390-input Kumar families
ALL = [n for n in list_models() if re.fullmatch(r"[a-z]+-\d+", n)]


def test_sixty_kumar_variants():
    families = ["fc", "cnn", "rnn", "lstm", "gru", "resnet"]
    assert sorted(ALL) == sorted(f"{f}-{x}" for f in families for x in range(6, 16))
    assert list_models("lstm-1*") == [f"lstm-{x}" for x in range(10, 16)]
    assert list_models("resnet-*")[0] == "resnet-6"  # depth order, not string order


@pytest.mark.parametrize("name", ALL)
def test_forward_backward_shape_and_layer_count(name):
    torch.manual_seed(0)
    model = create_model(name, num_classes=5)
    assert isinstance(model, SerModel)
    x = torch.randn(3, 390)
    out = model(x)
    assert isinstance(out, ModelOutput)
    assert out.embedding.shape == (3, model.embedding_dim) == (3, 64)
    assert out.logits.shape == (3, model.num_classes) == (3, 5)
    (out.logits.sum() + out.embedding.sum()).backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    assert count_layers(model) == int(name.rsplit("-", 1)[1])
    # window-major 3-D input gives the same result as the flat vector
    model.eval()
    torch.testing.assert_close(model(x).logits, model(x.reshape(3, 10, 39)).logits)


def test_resnet11_has_exactly_two_residual_blocks():
    model = create_model("resnet-11", num_classes=8)
    blocks = [m for m in model.modules() if isinstance(m, ResidualBlock)]
    assert len(blocks) == 2 and [b.n_convs for b in blocks] == [4, 4]


@pytest.mark.parametrize("x", range(6, 16))
def test_resnet_blocks_have_two_to_four_convs(x):
    sizes = split_block_convs(x - 3)
    assert sum(sizes) == x - 3 and all(2 <= s <= 4 for s in sizes)


def test_overrides_and_bad_overrides():
    model = create_model("cnn-7", num_classes=3, channels=8, embedding_dim=16)
    assert model.embedding_dim == 16 and model(torch.randn(2, 390)).embedding.shape == (2, 16)
    with pytest.raises(ValueError, match="unknown model argument"):
        create_model("cnn-7", num_classes=3, width=8)
    with pytest.raises(ValueError, match="fixed by the model name"):
        create_model("gru-7", num_classes=3, cell="lstm")


def test_projection_shortcut_is_not_counted():
    block = ResidualBlock(39, 16, n_convs=2)
    assert count_layers(block) == 2  # the 1x1 projection shortcut does not count


@pytest.mark.parametrize("name", ["resnet-16", "foo-8", "resnet-5"])
def test_unknown_model(name):
    with pytest.raises(UnknownModelError) as err:
        create_model(name, num_classes=4)
    assert isinstance(err.value, KeyError)
    msg = str(err.value)
    assert name in msg and "resnet-{6..15}" in msg and "lstm-{6..15}" in msg
    if name == "resnet-16":
        assert "resnet-15" in msg  # a close match is suggested


def test_package_is_standalone():
    import subprocess
    import sys

    code = (
        "import sys, ser_models, ser_models.losses, ser_models.metrics, ser_models.training\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('ray', 'ser_orch')]\n"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("name", ["lstm-7", "gru-8", "rnn-6"])
def test_recurrent_nets_start_from_keras_initialisation(name):
    # Keras's defaults, checked with numpy: Glorot-uniform input kernels (|w| <= sqrt(6 / (fan_in +
    # fan_out)), variance 2 / (fan_in + fan_out) over all gates), orthonormal columns of the recurrent
    # kernels, zero biases but the LSTM forget gate's 1.
    import numpy as np

    torch.manual_seed(0)
    rnn = create_model(name, num_classes=8, input_dim=390, hidden=64).rnn
    gates = {"lstm": 4, "gru": 3, "rnn": 1}[name.split("-")[0]]
    for layer in range(rnn.num_layers):
        w_ih = getattr(rnn, f"weight_ih_l{layer}").detach().numpy()
        fan_in, fan_out = w_ih.shape[1], w_ih.shape[0]
        assert fan_out == gates * 64
        limit = np.sqrt(6 / (fan_in + fan_out))
        assert np.abs(w_ih).max() <= limit and np.abs(w_ih).max() > 0.95 * limit
        assert np.isclose(w_ih.var(), 2 / (fan_in + fan_out), rtol=0.1)
        w_hh = getattr(rnn, f"weight_hh_l{layer}").detach().numpy()
        np.testing.assert_allclose(w_hh.T @ w_hh, np.eye(64), atol=1e-5)
        bias = (getattr(rnn, f"bias_ih_l{layer}") + getattr(rnn, f"bias_hh_l{layer}")).detach().numpy()
        expected = np.zeros(gates * 64)
        if gates == 4:
            expected[64:128] = 1.0  # torch's gate order: input, forget, cell, output
        np.testing.assert_array_equal(bias, expected)


def test_recurrent_torch_initialisation_is_one_override_away():
    torch.manual_seed(0)
    rnn = create_model("lstm-7", num_classes=8, init="torch").rnn
    bound = 1 / 64**0.5  # torch: U(-1/sqrt(hidden), 1/sqrt(hidden)) for every weight and bias
    for p in rnn.parameters():
        assert p.abs().max() <= bound
    assert rnn.bias_ih_l0.abs().sum() > 0
    with pytest.raises(ValueError, match="init must be one of"):
        create_model("lstm-7", num_classes=8, init="glorot")
