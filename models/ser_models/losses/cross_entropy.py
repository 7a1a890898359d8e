"""Softmax cross-entropy on the model's logits."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ..base import ModelOutput
from .base import Loss


class CrossEntropy(Loss):
    """Mean cross-entropy of ``output.logits`` against ``y`` (optional label smoothing)."""

    def __init__(self, label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.label_smoothing = label_smoothing

    def compute(self, output: ModelOutput, y: Tensor) -> Tensor:
        return F.cross_entropy(output.logits, y, label_smoothing=self.label_smoothing)
