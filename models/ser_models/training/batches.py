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
