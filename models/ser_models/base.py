"""The interface every model in the zoo shares, and the layer-counting rule.

A model maps an input batch ``(B, input_dim)`` to a :class:`ModelOutput`: the embedding
``(B, E)`` (the output of the embedding layer, used by metric-learning losses and by
nearest-angle inference) and the logits ``(B, C)`` of the softmax head (used by cross-entropy).
Generic code (trainers, tests, embedding extraction) only relies on this interface.

Layer-counting rule (the ``x`` in ``resnet-x``; also in ``docs/models.md``)
--------------------------------------------------------------------------
``x`` counts the layers that carry weights along the main path: every ``Conv1d``, every
recurrent layer (one per stacked layer of an ``nn.RNN``/``nn.LSTM``/``nn.GRU``) and every
``nn.Linear``, including the embedding layer and the softmax output layer. BatchNorm,
activations, flatten, pooling/temporal averaging and residual shortcuts (identity, or a 1x1
projection that lives in a submodule named ``shortcut``) are not counted.
:func:`count_layers` implements the rule on a built model.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn


class ModelOutput(NamedTuple):
    """What every ``SerModel.forward`` returns.

    ``features`` is the representation that feeds the embedding layer (flattened conv maps,
    temporal average of a recurrent net, ...). Losses that act before the embedding layer
    (Lian's "pos_1" contrastive loss) read it; the others ignore it.
    """

    embedding: Tensor
    logits: Tensor
    features: Tensor | None = None


class SerModel(nn.Module):
    """Base class: a family builds its trunk and implements :meth:`forward_features`;
    the shared head (embedding ``Linear`` -> LeakyReLU -> output ``Linear``) lives here so all
    families end the same way and count the same two head layers."""

    def __init__(
        self,
        num_classes: int,
        input_dim: int = 390,
        n_coeffs: int = 39,
        embedding_dim: int = 64,
        negative_slope: float = 0.01,
    ) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        if input_dim <= 0 or n_coeffs <= 0 or input_dim % n_coeffs:
            raise ValueError(
                f"input_dim ({input_dim}) must be a positive multiple of n_coeffs ({n_coeffs}): "
                "the input is window-major, n_windows x n_coeffs"
            )
        self.num_classes = num_classes
        self.input_dim = input_dim
        self.n_coeffs = n_coeffs
        self.n_windows = input_dim // n_coeffs
        self.embedding_dim = embedding_dim
        self.negative_slope = negative_slope

    def _build_head(self, feature_dim: int) -> None:
        self.feature_dim = feature_dim
        self.embedding = nn.Linear(feature_dim, self.embedding_dim)
        self.head_act = nn.LeakyReLU(self.negative_slope)
        self.classifier = nn.Linear(self.embedding_dim, self.num_classes)

    def windows(self, x: Tensor) -> Tensor:
        """``(B, input_dim)`` or ``(B, n_windows, n_coeffs)`` -> ``(B, n_windows, n_coeffs)``."""
        return x.reshape(x.shape[0], self.n_windows, self.n_coeffs)

    def forward_features(self, x: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: Tensor) -> ModelOutput:
        features = self.forward_features(x)
        embedding = self.embedding(features)
        logits = self.classifier(self.head_act(embedding))
        return ModelOutput(embedding=embedding, logits=logits, features=features)


def count_layers(model: nn.Module) -> int:
    """Count the layers of ``model`` by the rule in this module's docstring."""
    total = 0
    for name, module in model.named_modules():
        if "shortcut" in name.split("."):
            continue  # residual shortcuts are not on the main path
        if isinstance(module, (nn.Linear, nn.modules.conv._ConvNd)):
            total += 1
        elif isinstance(module, nn.RNNBase):
            total += module.num_layers  # one per stacked layer; bidirectional still counts once
    return total


@torch.no_grad()
def embed(model: SerModel, x: Tensor, batch_size: int = 2048) -> ModelOutput:
    """Eval-mode forward over ``x`` in chunks (keeps memory flat for big test sets).

    Restores the model's train/eval mode afterwards."""
    if x.shape[0] == 0:  # torch.cat of nothing would fail
        empty = x.new_zeros((0, model.embedding_dim))
        return ModelOutput(embedding=empty, logits=x.new_zeros((0, model.num_classes)), features=None)
    was_training = model.training
    model.eval()
    try:
        outs = [model(x[i : i + batch_size]) for i in range(0, x.shape[0], batch_size)]
    finally:
        model.train(was_training)
    return ModelOutput(
        embedding=torch.cat([o.embedding for o in outs]),
        logits=torch.cat([o.logits for o in outs]),
        features=None,
    )
