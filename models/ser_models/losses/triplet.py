"""Triplet loss on embeddings (Kumar et al.: cosine; Liu & Wang: squared Euclidean)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..base import ModelOutput
from .base import Loss
from .distances import check_distance, paired_distance, pairwise_distance
from .mining import RandomTripletMiner, TripletMiner


class TripletLoss(Loss):
    """``mean over mined triplets of [d(a,p) - d(a,n) + margin]+`` on ``output.embedding``.

    - ``distance``: ``"cosine"`` (d = 1 - cos, in [0, 2]) or ``"sqeuclidean"`` (||a - b||^2).
    - Reduction: the plain mean over *all* mined triplets, zeros included (pytorch-metric-learning
      averages over the non-zero ones by default; ours keeps the loss scale independent of how
      many triplets are already satisfied). No triplet in the batch -> 0 (still in the graph).
    - ``miner``: picks the triplets from the batch's distance matrix (computed without
      gradient); distances of the mined pairs are then recomputed with gradient.
      Default: ``RandomTripletMiner()`` (one random triplet per anchor, seed 0).
    """

    def __init__(self, distance: str = "cosine", margin: float = 0.2, miner: TripletMiner | None = None) -> None:
        super().__init__()
        self.distance = check_distance(distance)
        if margin < 0:
            raise ValueError(f"margin must be >= 0, got {margin}")
        self.margin = float(margin)
        self.miner = miner if miner is not None else RandomTripletMiner()

    def triplet_terms(self, emb: Tensor, y: Tensor) -> Tensor:
        """The hinge value of every mined triplet (for tests and diagnostics)."""
        with torch.no_grad():
            dist = pairwise_distance(emb.detach(), self.distance)
        a, p, n = self.miner(dist, y, self.margin)
        d_ap = paired_distance(emb[a], emb[p], self.distance)
        d_an = paired_distance(emb[a], emb[n], self.distance)
        return F.relu(d_ap - d_an + self.margin)

    def compute(self, output: ModelOutput, y: Tensor) -> Tensor:
        terms = self.triplet_terms(output.embedding, y)
        if terms.numel() == 0:
            return output.embedding.sum() * 0.0
        return terms.mean()
