"""Utterance-level aggregation heads over a variable number of descriptors: average pooling,
NetVLAD(K) and GhostVLAD(K, G) (Mocanu et al. 2021, Eq. 1).

Every head maps descriptors ``(B, M, D)`` (M = T/32 time steps) to one vector ``(B, out_dim)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

NORMS = ("paper", "reference")


class AvgPoolHead(nn.Module):
    """Mean over time: the aggregation-free baseline."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.out_dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return x.mean(dim=1)


class GhostVLAD(nn.Module):
    """Eq. (1): ``V(j, k) = sum_i softmax_{l<K+G}(w_l.p_i + b_l)[k] * (p_i(j) - c_k(j))`` for k < K.

    The soft assignment runs over K + G clusters; the G ghost clusters take assignment mass but
    their residuals are dropped, so a descriptor assigned to a ghost adds (almost) nothing.
    ``norm="paper"``: each cluster's residual sum (a column of V) is L2-normalised, then the
    whole K*D vector (the paper's text). ``norm="reference"``: per-cluster only, no global L2
    (the VGG speaker-recognition reference implementation). G = 0 is NetVLAD.
    """

    def __init__(self, dim: int, clusters: int = 8, ghost_clusters: int = 2, norm: str = "paper") -> None:
        super().__init__()
        if not isinstance(clusters, int) or clusters < 1:
            raise ValueError(f"clusters (K) must be an integer >= 1, got {clusters!r}")
        if not isinstance(ghost_clusters, int) or ghost_clusters < 0:
            raise ValueError(f"ghost_clusters (G) must be an integer >= 0, got {ghost_clusters!r}")
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")
        self.dim, self.clusters, self.ghost_clusters, self.norm = dim, clusters, ghost_clusters, norm
        self.assign = nn.Linear(dim, clusters + ghost_clusters)  # w_k, b_k for all K + G clusters
        self.centers = nn.Parameter(torch.randn(clusters, dim) * 0.1)  # c_k, real clusters only
        self.out_dim = clusters * dim

    def assignments(self, x: Tensor) -> Tensor:
        """Soft assignment ``(B, M, K + G)``; the last G columns are the ghosts."""
        return torch.softmax(self.assign(x), dim=-1)

    def forward(self, x: Tensor) -> Tensor:
        a = self.assignments(x)[..., : self.clusters]  # ghosts dropped after the softmax
        # sum_i a_ik (p_i - c_k) = (a^T p)_k - (sum_i a_ik) c_k
        v = torch.einsum("bmk,bmd->bkd", a, x) - a.sum(dim=1).unsqueeze(-1) * self.centers
        v = F.normalize(v, dim=-1)  # per cluster (a column of V in the paper's D x K layout)
        v = v.reshape(x.shape[0], -1)
        return F.normalize(v, dim=-1) if self.norm == "paper" else v


class NetVLAD(GhostVLAD):
    """GhostVLAD without ghost clusters."""

    def __init__(self, dim: int, clusters: int = 8, norm: str = "paper") -> None:
        super().__init__(dim, clusters=clusters, ghost_clusters=0, norm=norm)


def make_head(kind: str, dim: int, clusters: int, ghost_clusters: int, norm: str) -> nn.Module:
    if kind == "avg":
        return AvgPoolHead(dim)
    if kind == "netvlad":
        return NetVLAD(dim, clusters=clusters, norm=norm)
    if kind == "ghostvlad":
        return GhostVLAD(dim, clusters=clusters, ghost_clusters=ghost_clusters, norm=norm)
    raise ValueError(f"unknown aggregation {kind!r}; allowed: avg, netvlad, ghostvlad")
