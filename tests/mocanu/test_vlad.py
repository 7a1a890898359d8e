"""NetVLAD / GhostVLAD against a numpy reading of Eq. (1); ghost mass; variable-length inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ser_models import create_model
from ser_models.vlad import GhostVLAD, NetVLAD


def eq1_numpy(p: np.ndarray, w: np.ndarray, b: np.ndarray, c: np.ndarray, k: int, norm: str) -> np.ndarray:
    """Eq. (1) for one utterance: p (M, D), w (K+G, D), b (K+G), c (K, D) -> the K*D vector."""
    logits = p @ w.T + b
    a = np.exp(logits - logits.max(1, keepdims=True))
    a /= a.sum(1, keepdims=True)
    v = np.zeros((k, p.shape[1]))
    for kk in range(k):
        for i in range(p.shape[0]):
            v[kk] += a[i, kk] * (p[i] - c[kk])
    v /= np.linalg.norm(v, axis=1, keepdims=True)  # column-wise (per cluster)
    v = v.reshape(-1)
    return v / np.linalg.norm(v) if norm == "paper" else v


def _params(layer: GhostVLAD) -> tuple[np.ndarray, ...]:
    return (layer.assign.weight.detach().double().numpy(), layer.assign.bias.detach().double().numpy(),
            layer.centers.detach().double().numpy())  # fmt: skip


@pytest.mark.parametrize("k,g,norm", [(3, 2, "paper"), (4, 0, "paper"), (2, 1, "reference")])
def test_ghostvlad_matches_eq1(k, g, norm):
    torch.manual_seed(0)
    layer = GhostVLAD(5, clusters=k, ghost_clusters=g, norm=norm).double()
    x = torch.randn(2, 7, 5, dtype=torch.float64)
    out = layer(x).detach().numpy()
    for b in range(2):
        np.testing.assert_allclose(out[b], eq1_numpy(x[b].numpy(), *_params(layer)[:2], _params(layer)[2], k, norm), rtol=1e-10, atol=1e-12)
    if norm == "paper":
        np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0)


def test_g0_equals_netvlad():
    torch.manual_seed(1)
    ghost = GhostVLAD(6, clusters=4, ghost_clusters=0)
    net = NetVLAD(6, clusters=4)
    net.load_state_dict(ghost.state_dict())
    x = torch.randn(3, 9, 6)
    torch.testing.assert_close(ghost(x), net(x))


def test_ghost_clusters_remove_mass():
    torch.manual_seed(2)
    layer = GhostVLAD(4, clusters=2, ghost_clusters=1, norm="reference")
    x = torch.randn(1, 6, 4)
    with torch.no_grad():
        a = layer.assignments(x)
        assert torch.allclose(a.sum(-1), torch.ones(1, 6))
        # the real clusters hold less than all of the mass: the ghost took its share
        assert float(a[..., :2].sum()) < 6.0 - 1e-3
        # push descriptor 0 entirely into the ghost: it stops contributing to the output
        layer.assign.bias.copy_(torch.tensor([0.0, 0.0, 0.0]))
        far = x.clone()
        far[0, 0] = 100.0 * torch.ones(4)
        layer.assign.weight[2] = torch.ones(4)  # ghost logit = sum(x) -> 400 for the far descriptor
        without = layer(x[:, 1:])
        with_ghosted = layer(far)
        torch.testing.assert_close(with_ghosted, without, atol=1e-5, rtol=1e-5)


def test_model_takes_different_lengths_and_ghost_head():
    torch.manual_seed(0)
    kw = dict(widths=(4, 4, 8, 8), blocks=(1, 1, 1, 1), descriptor_dim=8, embedding_dim=6)
    model = create_model("se-resnet34-ghostvlad", num_classes=3, input_dim=257, clusters=3, ghost_clusters=1, **kw).eval()
    with torch.no_grad():
        for t in (32, 75, 210):
            out = model(torch.randn(2, 257, t))
            assert out.embedding.shape == (2, 6) and out.logits.shape == (2, 3) and out.features.shape == (2, 3 * 8)
    with pytest.raises(ValueError, match="at least 32 frames"):
        model(torch.randn(1, 257, 20))
    net = create_model("se-resnet34-netvlad", num_classes=3, input_dim=257, clusters=2, **kw)
    assert net.head.ghost_clusters == 0
    avg = create_model("se-resnet34-avg", num_classes=3, input_dim=257, **kw)
    assert avg(torch.randn(2, 257, 40)).features.shape == (2, 8)


@pytest.mark.parametrize("kwargs,match", [({"clusters": 0}, "clusters"), ({"ghost_clusters": -1}, "ghost_clusters"), ({"norm": "x"}, "norm")])
def test_bad_cluster_counts(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GhostVLAD(4, **kwargs)
