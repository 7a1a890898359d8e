"""Lian et al. 2018's contrastive losses on Siamese pairs.

A pair batch is one forward of ``2P`` samples: rows ``i`` and ``i + P`` form pair ``i`` (the
trainer stacks the two branches' inputs; the weights are shared). A pair is positive when both
labels agree.

- type 1 (``kind="cosine"``): ``1 - cos`` for a positive pair, ``max(0, cos - m)`` for a negative one.
- type 2 (``kind="euclidean"``): ``d`` for a positive pair, ``max(0, m - d)`` for a negative one,
  with ``d = ||x1 - x2||_2`` (not squared, Eq. 7).
- ``position``: ``"pos_1"`` reads ``output.features`` (before the FC layer), ``"pos_2"`` reads
  ``output.logits`` (the FC output; the other reading, softmax probabilities, is not built).
- Reduction: the mean over the pairs (Eq. 3 sums; the mean keeps the weight lambda independent of
  the batch size).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..base import ModelOutput
from .base import Loss

KINDS = {"cosine": 1, "euclidean": 2}
POSITIONS = ("pos_1", "pos_2")


class ContrastiveLoss(Loss):
    def __init__(self, kind: str = "cosine", margin: float = 0.5, position: str = "pos_1", eps: float = 1e-12) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {sorted(KINDS)} (type 1 = cosine, type 2 = euclidean), got {kind!r}")
        if position not in POSITIONS:
            raise ValueError(f"position must be one of {POSITIONS}, got {position!r}")
        if not margin > 0:
            raise ValueError(f"margin must be > 0, got {margin}")
        self.kind = kind
        self.margin = float(margin)
        self.position = position
        self.eps = eps  # keeps sqrt differentiable for identical pair members

    def pair_terms(self, z: Tensor, y: Tensor) -> Tensor:
        """The per-pair loss values for stacked pairs ``z`` (2P, D) with labels ``y`` (2P,)."""
        if z.shape[0] % 2:
            raise ValueError(f"a pair batch has an even number of rows (2P), got {z.shape[0]}")
        p = z.shape[0] // 2
        a, b = z[:p].flatten(1), z[p:].flatten(1)
        same = y[:p] == y[p:]
        if self.kind == "cosine":
            cos = F.cosine_similarity(a, b, dim=1, eps=1e-8)
            return torch.where(same, 1.0 - cos, F.relu(cos - self.margin))
        d = torch.sqrt((a - b).pow(2).sum(dim=1) + self.eps)
        return torch.where(same, d, F.relu(self.margin - d))

    def compute(self, output: ModelOutput, y: Tensor) -> Tensor:
        z = output.features if self.position == "pos_1" else output.logits
        if z is None:
            raise ValueError("pos_1 needs a model that returns ModelOutput.features")
        terms = self.pair_terms(z, y)
        return terms.mean() if terms.numel() else z.sum() * 0.0
