"""A weighted sum of losses, itself a loss."""

from __future__ import annotations

from collections.abc import Iterable

from torch import Tensor, nn

from ..base import ModelOutput
from .base import Loss


class WeightedSum(Loss):
    """``sum_i w_i * loss_i(output, y)``. Terms with weight 0 are skipped (not computed)."""

    def __init__(self, terms: Iterable[tuple[float, Loss]]) -> None:
        super().__init__()
        terms = list(terms)
        if not terms:
            raise ValueError("WeightedSum needs at least one (weight, loss) term")
        self.weights = [float(w) for w, _ in terms]
        self.losses = nn.ModuleList(loss for _, loss in terms)

    def compute(self, output: ModelOutput, y: Tensor) -> Tensor:
        total: Tensor | None = None
        for w, loss in zip(self.weights, self.losses):
            if w == 0.0:
                continue
            term = w * loss(output, y)
            total = term if total is None else total + term
        if total is None:  # every weight is zero: a zero that still belongs to the graph
            return output.embedding.sum() * 0.0
        return total
