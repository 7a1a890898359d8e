"""Thin SE-ResNet-34 over spectrograms, fully convolutional in time (Mocanu et al. 2021).

Input ``(B, F, T)`` (F = 257 frequency bins, any T >= 32) or ``(B, 1, F, T)``. The trunk divides
T by 32 with two max-pools (after the stem and at the end) and three stride-2 stages, then one
``(F', 1)`` convolution collapses the remaining frequency bins into ``descriptor_dim`` channels:
``T/32`` descriptors of size ``descriptor_dim`` (512 in the paper) go to the aggregation head
(avg, NetVLAD or GhostVLAD, ``vlad.py``), then the shared SerModel head (embedding Linear ->
LeakyReLU -> output Linear; the paper's "512 neurons, then the classes").

Channel widths: the paper only says the residual blocks were thinned. Default ``widths`` =
(32, 64, 128, 256) (half of ResNet-34's 64..512), the VGG speaker thin-ResNet's scale;
``blocks`` = (3, 4, 6, 3) as in ResNet-34. The quick profiles use far smaller settings.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor, nn

from .base import SerModel
from .registry import register_model
from .vlad import make_head

MIN_FRAMES = 32  # T/32 must keep at least one descriptor


class SqueezeExcite(nn.Module):
    """Channel gates from the global average of each channel (Hu et al.)."""

    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        hidden = max(2, channels // reduction)
        self.gate = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, channels), nn.Sigmoid())

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gate(x.mean(dim=(2, 3)))[:, :, None, None]


class SEBasicBlock(nn.Module):
    """ResNet-34 basic block (two 3x3 convs) with an SE gate before the residual sum."""

    def __init__(self, c_in: int, c_out: int, stride: int, reduction: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
        )  # fmt: skip
        self.se = SqueezeExcite(c_out, reduction)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.se(self.body(x)) + self.shortcut(x))


def _reduced_bins(n_freq: int, strides: Sequence[int]) -> int:
    f = n_freq // 2  # stem max-pool
    for s in strides:
        f = (f - 1) // s + 1  # 3x3 conv, padding 1
    return f // 2  # final max-pool


class SEResNetTrunk(nn.Module):
    """Spectrogram ``(B, 1, F, T)`` -> descriptors ``(B, M, descriptor_dim)``, M ~ T/32."""

    STRIDES = (1, 2, 2, 2)

    def __init__(self, n_freq: int, widths: Sequence[int], blocks: Sequence[int], descriptor_dim: int, se_reduction: int) -> None:
        super().__init__()
        if len(widths) != 4 or len(blocks) != 4 or min(widths) < 1 or min(blocks) < 1:
            raise ValueError(f"widths and blocks need 4 positive entries each, got {list(widths)} and {list(blocks)}")
        self.stem = nn.Sequential(
            nn.Conv2d(1, widths[0], 3, padding=1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True), nn.MaxPool2d(2)
        )
        layers: list[nn.Module] = []
        c_in = widths[0]
        for width, n, stride in zip(widths, blocks, self.STRIDES):
            for i in range(n):
                layers.append(SEBasicBlock(c_in, width, stride if i == 0 else 1, se_reduction))
                c_in = width
        self.stages = nn.Sequential(*layers, nn.MaxPool2d(2))
        bins = _reduced_bins(n_freq, self.STRIDES)
        if bins < 1:
            raise ValueError(f"input_dim={n_freq} frequency bins is too few for a /32 trunk")
        # Collapses the remaining frequency bins: one descriptor per remaining time step.
        self.to_descriptors = nn.Sequential(nn.Conv2d(c_in, descriptor_dim, (bins, 1), bias=False), nn.BatchNorm2d(descriptor_dim), nn.ReLU(inplace=True))

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] < MIN_FRAMES:
            raise ValueError(f"need at least {MIN_FRAMES} frames, got {x.shape[-1]} (pad short utterances)")
        h = self.to_descriptors(self.stages(self.stem(x)))  # (B, D, 1, M)
        return h.squeeze(2).transpose(1, 2)


class SEResNetVLAD(SerModel):
    """Thin SE-ResNet-34 + aggregation head (``avg`` | ``netvlad`` | ``ghostvlad``) + SerModel head.

    ``features`` of the output is the aggregated utterance vector (GhostVLAD's K*D vector).
    """

    def __init__(
        self,
        num_classes: int,
        input_dim: int = 257,
        aggregation: str = "ghostvlad",
        clusters: int = 8,
        ghost_clusters: int = 2,
        vlad_norm: str = "paper",
        widths: Sequence[int] = (32, 64, 128, 256),
        blocks: Sequence[int] = (3, 4, 6, 3),
        descriptor_dim: int = 512,
        embedding_dim: int = 512,
        se_reduction: int = 8,
        negative_slope: float = 0.01,
    ) -> None:
        super().__init__(num_classes, input_dim, input_dim, embedding_dim, negative_slope)
        self.aggregation = aggregation
        self.trunk = SEResNetTrunk(input_dim, tuple(widths), tuple(blocks), descriptor_dim, se_reduction)
        self.head = make_head(aggregation, descriptor_dim, clusters, ghost_clusters, vlad_norm)
        self._build_head(self.head.out_dim)

    def forward_features(self, x: Tensor) -> Tensor:
        if x.ndim == 3:
            x = x.unsqueeze(1)
        if x.ndim != 4 or x.shape[2] != self.input_dim:
            raise ValueError(f"expected (B, {self.input_dim}, T) spectrograms, got {tuple(x.shape)}")
        return self.head(self.trunk(x))


def _build(fixed: dict[str, Any], kwargs: dict[str, Any]) -> SEResNetVLAD:
    from .ablation import build  # same override checks as the Kumar families

    kwargs.setdefault("input_dim", 257)
    return build(SEResNetVLAD, fixed, kwargs)  # type: ignore[return-value]


@register_model("se-resnet34-avg")
def se_resnet34_avg(**kwargs: Any) -> SEResNetVLAD:
    return _build({"aggregation": "avg"}, kwargs)


@register_model("se-resnet34-netvlad")
def se_resnet34_netvlad(**kwargs: Any) -> SEResNetVLAD:
    return _build({"aggregation": "netvlad", "ghost_clusters": 0}, kwargs)


@register_model("se-resnet34-ghostvlad")
def se_resnet34_ghostvlad(**kwargs: Any) -> SEResNetVLAD:
    return _build({"aggregation": "ghostvlad"}, kwargs)


def trunk_state(model: SEResNetVLAD) -> dict[str, torch.Tensor]:
    """The trunk's weights (what speaker-ID pre-training transfers)."""
    return {k: v.detach().cpu().clone() for k, v in model.trunk.state_dict().items()}
