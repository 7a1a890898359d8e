"""Lian et al. 2018: one branch of the Siamese 1D CNN of their Table 1 (``lian-cnn1d``).

Input: fixed-length frames ``(B, T, F)`` (13 MFCC or 26 log-Mel, T = 100 per second), or the
flat ``(B, T * F)``. Two parallel convolutions over time (100 filters of size 13, padding 6, and
100 of size 7, padding 3; stride 1), each followed by BatchNorm, ReLU and max pooling (kernel 30,
stride 3); both maps are flattened and concatenated (= ``features``, the contrastive loss's
pos_1), then one FC layer to the classes (= ``logits``, pos_2; the softmax is in the loss).
``embedding`` is the FC output as well: the model has no separate embedding layer.

The Siamese network is this branch applied to both inputs of a pair (shared weights): the
trainer stacks the two halves of a pair batch into one forward.

Optional ``aux_classes`` adds one more FC head on ``features`` for the multi-task comparison
(gender, or binned valence/activation/dominance); ``aux_logits(features)`` evaluates it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .base import ModelOutput, SerModel
from .registry import register_model


class LianCnn1d(SerModel):
    def __init__(
        self,
        num_classes: int,
        input_dim: int = 390,
        n_coeffs: int = 13,
        filters: int = 100,
        kernel_sizes: Sequence[int] = (13, 7),
        pool_kernel: int = 30,
        pool_stride: int = 3,
        aux_classes: int = 0,
    ) -> None:
        super().__init__(num_classes, input_dim, n_coeffs, embedding_dim=num_classes)
        frames = self.n_windows
        if frames < pool_kernel:
            raise ValueError(f"input of {frames} frames is shorter than the pooling kernel ({pool_kernel})")
        # "Half padding" (k // 2) keeps the length, so every branch pools the same T frames.
        self.branches = nn.ModuleList(
            nn.Sequential(
                nn.Conv1d(n_coeffs, filters, k, stride=1, padding=k // 2),
                nn.BatchNorm1d(filters),
                nn.ReLU(),
                nn.MaxPool1d(pool_kernel, stride=pool_stride),
            )
            for k in kernel_sizes
        )
        pooled = (frames - pool_kernel) // pool_stride + 1
        self.feature_dim = len(kernel_sizes) * filters * pooled
        self.classifier = nn.Linear(self.feature_dim, num_classes)
        self.aux = nn.Linear(self.feature_dim, aux_classes) if aux_classes > 0 else None

    def forward_features(self, x: Tensor) -> Tensor:
        x = x.reshape(x.shape[0], -1, self.n_coeffs).transpose(1, 2)  # (B, F, T): channels = coefficients
        return torch.cat([b(x).flatten(1) for b in self.branches], dim=1)

    def forward(self, x: Tensor) -> ModelOutput:
        feats = self.forward_features(x)
        logits = self.classifier(feats)
        return ModelOutput(embedding=logits, logits=logits, features=feats)

    def aux_logits(self, features: Tensor) -> Tensor:
        if self.aux is None:
            raise ValueError("this model was built without an auxiliary head (aux_classes=0)")
        return self.aux(features)


@register_model("lian-cnn1d")
def lian_cnn1d(num_classes: int, input_dim: int = 390, **overrides: object) -> LianCnn1d:
    return LianCnn1d(num_classes=num_classes, input_dim=input_dim, **overrides)  # type: ignore[arg-type]


__all__ = ["LianCnn1d"]
