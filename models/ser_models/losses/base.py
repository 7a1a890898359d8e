"""Base class of all losses: ``loss(output: ModelOutput, y) -> scalar tensor``."""

from __future__ import annotations

from torch import Tensor, nn

from ..base import ModelOutput


class Loss(nn.Module):
    """A loss reads what it needs from the model output (embedding, logits or features).

    Subclasses implement :meth:`compute`; ``forward`` checks the batch and calls it, so every
    loss (and every weighted sum of losses) is called the same way by the trainers.
    """

    def forward(self, output: ModelOutput, y: Tensor) -> Tensor:
        if y.ndim != 1 or y.shape[0] != output.embedding.shape[0]:
            raise ValueError(
                f"labels must be 1-D with one entry per sample: got {tuple(y.shape)} "
                f"for a batch of {output.embedding.shape[0]}"
            )
        return self.compute(output, y)

    def compute(self, output: ModelOutput, y: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError
