"""Kumar et al. (ICPR 2020) ablation families: fc-x, cnn-x, rnn-x, lstm-x, gru-x, resnet-x, x = 6..15.

Input: 390 values per utterance = 10 windows x 39 (13 MFCC + deltas + delta-deltas), window-major.
Recurrent nets read it as a sequence ``(B, 10, 39)``; Conv1D nets as ``(B, 39, 10)``
(39 channels over 10 steps).

Layer-counting rule (see :mod:`ser_models.base` and ``docs/models.md``): x counts Conv1D,
recurrent and Linear layers on the main path, including the embedding layer and the softmax
output layer. Every family therefore spends 2 of its x layers on the shared head and x - 2 on
its trunk:

- ``fc-x``: Flatten -> (x-2) x [Linear -> BatchNorm -> LeakyReLU] -> head
- ``cnn-x``: (x-2) x [Conv1D -> BatchNorm -> LeakyReLU] -> Flatten -> head
- ``rnn-x`` / ``lstm-x`` / ``gru-x``: (x-2) stacked recurrent layers -> temporal average
  (Kumar Eq. 1) -> head
- ``resnet-x``: stem [Conv1D -> BN -> LeakyReLU] -> residual blocks holding x-3 convs ->
  Flatten -> head. The x-3 convs are split into ceil((x-3)/4) blocks as evenly as possible
  (larger blocks first), so every block has 2..4 convs and ``resnet-11`` has exactly two
  blocks of four convs (1 + 2*4 + 2 = 11).

The 60 variants are registered in a loop (one factory per name, each a dict of constructor
arguments) rather than as 60 hand-written functions: they differ only in ``depth`` and ``cell``.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from .base import SerModel
from .registry import register_model

DEPTHS = range(6, 16)


class FCNet(SerModel):
    """Fully connected network; x - 2 hidden Linear layers."""

    min_depth = 3

    def __init__(self, num_classes: int, depth: int, input_dim: int = 390, hidden: int = 64,
                 embedding_dim: int = 64, n_coeffs: int = 39, negative_slope: float = 0.01) -> None:
        super().__init__(num_classes, input_dim, n_coeffs, embedding_dim, negative_slope)
        _check_depth(self, depth)
        self.depth = depth
        layers: list[nn.Module] = []
        width_in = input_dim
        for _ in range(depth - 2):
            layers += [nn.Linear(width_in, hidden), nn.BatchNorm1d(hidden), nn.LeakyReLU(negative_slope)]
            width_in = hidden
        self.trunk = nn.Sequential(*layers)
        self._build_head(hidden)

    def forward_features(self, x: Tensor) -> Tensor:
        return self.trunk(x.reshape(x.shape[0], -1))


class CNNNet(SerModel):
    """Plain Conv1D network; x - 2 convolutions over the 10 windows (length kept by padding)."""

    min_depth = 3

    def __init__(self, num_classes: int, depth: int, input_dim: int = 390, channels: int = 64,
                 kernel_size: int = 3, embedding_dim: int = 64, n_coeffs: int = 39,
                 negative_slope: float = 0.01) -> None:
        super().__init__(num_classes, input_dim, n_coeffs, embedding_dim, negative_slope)
        _check_depth(self, depth)
        self.depth = depth
        layers: list[nn.Module] = []
        c_in = n_coeffs
        for _ in range(depth - 2):
            layers += _conv_bn(c_in, channels, kernel_size) + [nn.LeakyReLU(negative_slope)]
            c_in = channels
        self.trunk = nn.Sequential(*layers)
        self._build_head(channels * self.n_windows)

    def forward_features(self, x: Tensor) -> Tensor:
        h = self.trunk(self.windows(x).transpose(1, 2))  # (B, 39, 10): coefficients are channels
        return h.flatten(1)


_CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


RECURRENT_INITS = ("keras", "torch")


class RecurrentNet(SerModel):
    """x - 2 stacked recurrent layers (RNN / LSTM / GRU) over the 10 windows, then the
    temporal average of the last layer's outputs (Kumar Eq. 1).

    ``init``: ``"keras"`` (default: :func:`keras_init`; the paper names no framework, Keras was
    the common one for such nets in 2020) or ``"torch"`` (PyTorch's U(-1/sqrt(h), 1/sqrt(h)) for
    everything, under which the signal fades through stacked LSTM layers: the trunk output of
    lstm-11 varies across inputs by about 1e-6, and training learns only the output bias)."""

    min_depth = 3

    def __init__(self, num_classes: int, depth: int, cell: str = "lstm", input_dim: int = 390,
                 hidden: int = 64, embedding_dim: int = 64, n_coeffs: int = 39,
                 negative_slope: float = 0.01, init: str = "keras") -> None:
        super().__init__(num_classes, input_dim, n_coeffs, embedding_dim, negative_slope)
        _check_depth(self, depth)
        if cell not in _CELLS:
            raise ValueError(f"cell must be one of {sorted(_CELLS)}, got {cell!r}")
        if init not in RECURRENT_INITS:
            raise ValueError(f"init must be one of {list(RECURRENT_INITS)}, got {init!r}")
        self.depth = depth
        self.cell = cell
        self.rnn = _CELLS[cell](n_coeffs, hidden, num_layers=depth - 2, batch_first=True)
        if init == "keras":
            keras_init(self.rnn)
        self._build_head(hidden)

    def forward_features(self, x: Tensor) -> Tensor:
        out, _ = self.rnn(self.windows(x))  # (B, 10, hidden)
        return out.mean(dim=1)


def keras_init(rnn: nn.RNNBase) -> None:
    """Keras's recurrent defaults on a torch RNN/LSTM/GRU: Glorot-uniform input weights over all
    gates at once (fan_out = gates x hidden, as Keras's kernel), orthogonal recurrent weights
    (orthonormal columns of the (gates x hidden, hidden) matrix: Keras's recurrent kernel
    transposed), zero biases, and an LSTM forget-gate bias of 1 (torch's gate order is input,
    forget, cell, output; the 1 goes into ``bias_ih`` only, so the two biases sum to it)."""
    with torch.no_grad():
        for name, p in rnn.named_parameters():
            if name.startswith("weight_ih"):
                nn.init.xavier_uniform_(p)
            elif name.startswith("weight_hh"):
                nn.init.orthogonal_(p)
            else:
                nn.init.zeros_(p)
                if isinstance(rnn, nn.LSTM) and name.startswith("bias_ih"):
                    p[rnn.hidden_size : 2 * rnn.hidden_size] = 1.0


class ResidualBlock(nn.Module):
    """``n_convs`` x [Conv1D -> BN] with LeakyReLU between them; the input is added after the
    last BN, then LeakyReLU. The shortcut is the identity when channels match, else a 1x1
    Conv1D + BN in ``self.shortcut`` (not counted as a layer)."""

    def __init__(self, c_in: int, channels: int, n_convs: int, kernel_size: int = 3,
                 negative_slope: float = 0.01) -> None:
        super().__init__()
        if n_convs < 1:
            raise ValueError("a residual block needs at least one conv")
        layers: list[nn.Module] = []
        for i in range(n_convs):
            layers += _conv_bn(c_in if i == 0 else channels, channels, kernel_size)
            if i < n_convs - 1:
                layers.append(nn.LeakyReLU(negative_slope))
        self.body = nn.Sequential(*layers)
        self.shortcut: nn.Module = (
            nn.Identity() if c_in == channels
            else nn.Sequential(nn.Conv1d(c_in, channels, 1, bias=False), nn.BatchNorm1d(channels))
        )
        self.act = nn.LeakyReLU(negative_slope)
        self.n_convs = n_convs

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.body(x) + self.shortcut(x))


def split_block_convs(n_convs: int, max_per_block: int = 4) -> list[int]:
    """Split ``n_convs`` into ceil(n/max) blocks as evenly as possible, larger blocks first.

    >>> split_block_convs(8)
    [4, 4]
    >>> split_block_convs(5)
    [3, 2]
    """
    if n_convs < 1 or max_per_block < 1:
        raise ValueError("need at least one conv and max_per_block >= 1")
    k = math.ceil(n_convs / max_per_block)
    base, rem = divmod(n_convs, k)
    return [base + 1] * rem + [base] * (k - rem)


class ResNet1D(SerModel):
    """Stem conv, residual blocks holding x - 3 convs (see :func:`split_block_convs`), Flatten."""

    min_depth = 5  # stem + one block of 2 convs + head

    def __init__(self, num_classes: int, depth: int, input_dim: int = 390, channels: int = 64,
                 kernel_size: int = 3, max_convs_per_block: int = 4, embedding_dim: int = 64,
                 n_coeffs: int = 39, negative_slope: float = 0.01) -> None:
        super().__init__(num_classes, input_dim, n_coeffs, embedding_dim, negative_slope)
        _check_depth(self, depth)
        self.depth = depth
        self.stem = nn.Sequential(*_conv_bn(n_coeffs, channels, kernel_size), nn.LeakyReLU(negative_slope))
        self.block_sizes = split_block_convs(depth - 3, max_convs_per_block)
        self.blocks = nn.ModuleList(
            ResidualBlock(channels, channels, n, kernel_size, negative_slope) for n in self.block_sizes
        )
        self._build_head(channels * self.n_windows)

    def forward_features(self, x: Tensor) -> Tensor:
        h = self.stem(self.windows(x).transpose(1, 2))
        for block in self.blocks:
            h = block(h)
        return h.flatten(1)


def _conv_bn(c_in: int, c_out: int, kernel_size: int) -> list[nn.Module]:
    # bias is redundant in front of BatchNorm
    return [nn.Conv1d(c_in, c_out, kernel_size, padding=kernel_size // 2, bias=False), nn.BatchNorm1d(c_out)]


def _check_depth(model: Any, depth: int) -> None:
    if depth < model.min_depth:
        raise ValueError(f"{type(model).__name__} needs depth >= {model.min_depth}, got {depth}")


def build(cls: type[SerModel], fixed: dict[str, Any], overrides: dict[str, Any]) -> SerModel:
    """Instantiate ``cls(**fixed, **overrides)``; arguments fixed by the variant name (depth,
    cell) cannot be overridden, and unknown arguments give a ValueError naming the valid ones."""
    valid = set(inspect.signature(cls).parameters) - set(fixed)
    clash = sorted(set(overrides) & set(fixed))
    if clash:
        raise ValueError(f"{clash} fixed by the model name; valid overrides: {sorted(valid)}")
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise ValueError(f"unknown model argument(s) {unknown} for {cls.__name__}; valid: {sorted(valid)}")
    return cls(**fixed, **overrides)


def _factory(cls: type[SerModel], fixed: dict[str, Any]) -> Callable[..., SerModel]:
    def factory(**kwargs: Any) -> SerModel:
        return build(cls, fixed, kwargs)

    factory.__doc__ = f"{cls.__name__}({', '.join(f'{k}={v!r}' for k, v in fixed.items())})"
    return factory


FAMILIES: dict[str, tuple[type[SerModel], dict[str, Any]]] = {
    "fc": (FCNet, {}),
    "cnn": (CNNNet, {}),
    "rnn": (RecurrentNet, {"cell": "rnn"}),
    "lstm": (RecurrentNet, {"cell": "lstm"}),
    "gru": (RecurrentNet, {"cell": "gru"}),
    "resnet": (ResNet1D, {}),
}

for _family, (_cls, _extra) in FAMILIES.items():
    for _x in DEPTHS:
        register_model(f"{_family}-{_x}")(_factory(_cls, {"depth": _x, **_extra}))
