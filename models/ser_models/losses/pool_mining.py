"""Liu & Wang's triplet selection: a pool of random triplets, of which the semi-hard and hard
ones are kept (their Eqs. 5-6).

- semi-hard: ``d(a,p) < d(a,n) < d(a,p) + m``
- hard:      ``d(a,n) < d(a,p)``

The paper draws 50,000 random triplets over the training set; a trainer spreads that over the
mini-batches, so the miner draws ``pool`` random (anchor, positive, negative) triplets inside the
batch (anchors with replacement, uniform positive and negative) and filters them. ``keep``
chooses which kinds survive ("semihard+hard", "semihard", "hard"). Duplicates in the pool stay
(they are independent draws).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .mining import Triplets, TripletMiner, _empty, _random_pick, label_masks

KEEP = ("semihard+hard", "semihard", "hard")


class RandomPoolMiner(TripletMiner):
    def __init__(self, pool: int = 1000, keep: str = "semihard+hard", margin: float | None = None,
                 generator: torch.Generator | None = None, seed: int = 0) -> None:
        super().__init__(generator, seed)
        if pool < 1:
            raise ValueError(f"pool must be >= 1, got {pool}")
        if keep not in KEEP:
            raise ValueError(f"keep must be one of {KEEP}, got {keep!r}")
        self.pool = pool
        self.keep = keep
        self.margin = margin

    def draw(self, labels: Tensor) -> Triplets:
        """The random pool (before filtering)."""
        pos, neg = label_masks(labels)
        anchors = (pos.any(dim=1) & neg.any(dim=1)).nonzero().squeeze(1)
        if anchors.numel() == 0:
            return _empty(labels.device)
        gen = self._gen(labels.device)
        a = anchors[torch.randint(anchors.numel(), (self.pool,), generator=gen, device=labels.device)]
        return a, _random_pick(pos[a], gen), _random_pick(neg[a], gen)

    def select(self, dist: Tensor, a: Tensor, p: Tensor, n: Tensor, margin: float) -> Tensor:
        """Boolean mask over the pool: which triplets are kept."""
        d_ap, d_an = dist[a, p], dist[a, n]
        semihard = (d_ap < d_an) & (d_an < d_ap + margin)
        hard = d_an < d_ap
        return {"semihard+hard": semihard | hard, "semihard": semihard, "hard": hard}[self.keep]

    def mine(self, dist: Tensor, labels: Tensor, margin: float) -> Triplets:
        a, p, n = self.draw(labels)
        if a.numel() == 0:
            return a, p, n
        ok = self.select(dist, a, p, n, self.margin if self.margin is not None else margin)
        return a[ok], p[ok], n[ok]
