"""Distances shared by the metric-learning losses and miners."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

DISTANCES = ("cosine", "sqeuclidean")


def check_distance(name: str) -> str:
    if name not in DISTANCES:
        raise ValueError(f"distance must be one of {DISTANCES}, got {name!r}")
    return name


def paired_distance(a: Tensor, b: Tensor, kind: str) -> Tensor:
    """Row-wise distance between ``a[i]`` and ``b[i]``: cosine = 1 - cos, sqeuclidean = ||a-b||^2."""
    if kind == "cosine":
        return 1.0 - F.cosine_similarity(a, b, dim=1, eps=1e-8)
    if kind == "sqeuclidean":
        return (a - b).pow(2).sum(dim=1)
    raise ValueError(f"unknown distance {kind!r}")


def pairwise_distance(x: Tensor, kind: str) -> Tensor:
    """``(B, B)`` distance matrix for mining (the loss itself recomputes distances of the mined pairs exactly)."""
    if kind == "cosine":
        xn = F.normalize(x, dim=1, eps=1e-8)
        return 1.0 - xn @ xn.T
    if kind == "sqeuclidean":
        sq = x.pow(2).sum(dim=1)
        return (sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)).clamp_min(0.0)
    raise ValueError(f"unknown distance {kind!r}")
