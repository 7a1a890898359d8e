"""Mini-batches as index slices of a device-side permutation (no DataLoader, no host copies)."""

from __future__ import annotations

import torch
from torch import Tensor


def batch_indices(n: int, batch_size: int, generator: torch.Generator, device: torch.device | str) -> list[Tensor]:
    """Shuffle ``range(n)`` on ``device`` with ``generator`` and cut it into batches.

    A last batch of a single sample is merged into the previous one: BatchNorm cannot train on
    one sample, and dropping it would silently skip data."""
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    perm = torch.randperm(n, generator=generator, device=device)
    bounds = list(range(0, n, batch_size)) + [n]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] == 1:
        del bounds[-2]
    return [perm[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def epoch_view(x: Tensor, generator: torch.Generator) -> Tensor:
    """The inputs of one epoch. ``x`` of shape (N, D) is returned as is; (N, V, D) holds V
    readings of every sample (e.g. Kumar's windows at random positions) and one of them is drawn
    per sample, uniformly, with ``generator`` (on ``x``'s device), so every epoch sees other
    windows of the same utterances. Evaluation uses view 0 (:func:`first_view`)."""
    if x.dim() != 3:
        return x
    pick = torch.randint(x.shape[1], (x.shape[0],), generator=generator, device=x.device)
    return x[torch.arange(x.shape[0], device=x.device), pick]


def first_view(x: Tensor) -> Tensor:
    """View 0 (the fixed reading) of (N, V, D) inputs; (N, D) as is."""
    return x[:, 0] if x.dim() == 3 else x
