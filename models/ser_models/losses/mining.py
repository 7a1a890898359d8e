"""Triplet miners: pick (anchor, positive, negative) index triplets inside a batch.

A miner is called as ``miner(dist, labels, margin) -> (a, p, n)`` with ``dist`` the ``(B, B)``
distance matrix of the batch (computed by the loss, without gradient) and returns three
``int64`` index tensors on ``dist``'s device. ``margin`` is the loss margin; only the
semi-hard miner uses it. Random choices come from the miner's ``torch.Generator`` (pass one,
or it is created on first use on the batch's device from ``seed``), so a run is reproducible
and the trainer can checkpoint the generator state.

An anchor is used only when the batch holds at least one other sample of its class and one
sample of another class.
"""

from __future__ import annotations

import torch
from torch import Tensor

Triplets = tuple[Tensor, Tensor, Tensor]


def label_masks(labels: Tensor) -> tuple[Tensor, Tensor]:
    """``(pos, neg)`` boolean ``(B, B)`` masks: same class (not itself), other class."""
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(labels.shape[0], dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


def _empty(device: torch.device) -> Triplets:
    e = torch.empty(0, dtype=torch.long, device=device)
    return e, e.clone(), e.clone()


class TripletMiner:
    """Base class; subclasses implement :meth:`mine`."""

    def __init__(self, generator: torch.Generator | None = None, seed: int = 0) -> None:
        self.generator = generator
        self.seed = seed

    def _gen(self, device: torch.device) -> torch.Generator:
        if self.generator is None:
            self.generator = torch.Generator(device=device).manual_seed(self.seed)
        return self.generator

    @torch.no_grad()
    def __call__(self, dist: Tensor, labels: Tensor, margin: float = 0.0) -> Triplets:
        if dist.ndim != 2 or dist.shape[0] != dist.shape[1] or dist.shape[0] != labels.shape[0]:
            raise ValueError(f"dist must be (B, B) for B labels; got {tuple(dist.shape)}, {tuple(labels.shape)}")
        return self.mine(dist, labels, margin)

    def mine(self, dist: Tensor, labels: Tensor, margin: float) -> Triplets:  # pragma: no cover
        raise NotImplementedError


def _random_pick(mask: Tensor, gen: torch.Generator) -> Tensor:
    """One uniformly random True column per row of ``mask`` (every row has one)."""
    scores = torch.rand(mask.shape, generator=gen, device=mask.device)
    return scores.masked_fill(~mask, -1.0).argmax(dim=1)


class RandomTripletMiner(TripletMiner):
    """Random triplets (Kumar: "triplets ... chosen at random, and all the speech utterances are
    covered"). By default every valid anchor gets ``per_anchor`` triplets with a random positive
    and a random negative; with ``n_triplets`` that many anchors are drawn with replacement."""

    def __init__(self, n_triplets: int | None = None, per_anchor: int = 1,
                 generator: torch.Generator | None = None, seed: int = 0) -> None:
        super().__init__(generator, seed)
        if n_triplets is not None and n_triplets < 1:
            raise ValueError("n_triplets must be >= 1 (or None)")
        if per_anchor < 1:
            raise ValueError("per_anchor must be >= 1")
        self.n_triplets = n_triplets
        self.per_anchor = per_anchor

    def mine(self, dist: Tensor, labels: Tensor, margin: float) -> Triplets:
        pos, neg = label_masks(labels)
        anchors = (pos.any(dim=1) & neg.any(dim=1)).nonzero().squeeze(1)
        if anchors.numel() == 0:
            return _empty(dist.device)
        gen = self._gen(dist.device)
        if self.n_triplets is not None:
            pick = torch.randint(anchors.numel(), (self.n_triplets,), generator=gen, device=dist.device)
            a = anchors[pick]
        else:
            a = anchors.repeat_interleave(self.per_anchor)
        return a, _random_pick(pos[a], gen), _random_pick(neg[a], gen)


class SemiHardTripletMiner(TripletMiner):
    """Every triplet with ``d(a,p) < d(a,n) < d(a,p) + margin`` (FaceNet's semi-hard negatives).

    ``margin=None`` uses the loss margin. Computed in anchor chunks so memory stays bounded for
    large batches; ``max_triplets`` keeps a random subset (in index order) when there are more.
    """

    def __init__(self, margin: float | None = None, max_triplets: int | None = None,
                 generator: torch.Generator | None = None, seed: int = 0,
                 chunk_elems: int = 1 << 24) -> None:
        super().__init__(generator, seed)
        self.margin = margin
        self.max_triplets = max_triplets
        self.chunk_elems = chunk_elems

    def mine(self, dist: Tensor, labels: Tensor, margin: float) -> Triplets:
        m = self.margin if self.margin is not None else margin
        pos, neg = label_masks(labels)
        b = labels.shape[0]
        step = max(1, self.chunk_elems // max(1, b * b))
        found: list[Tensor] = []
        for start in range(0, b, step):
            d = dist[start : start + step]  # (k, B) rows = anchors
            d_ap, d_an = d[:, :, None], d[:, None, :]
            ok = pos[start : start + step, :, None] & neg[start : start + step, None, :] & (d_an > d_ap) & (d_an < d_ap + m)
            idx = ok.nonzero()
            idx[:, 0] += start
            found.append(idx)
        idx = torch.cat(found) if found else torch.empty(0, 3, dtype=torch.long, device=dist.device)
        if self.max_triplets is not None and idx.shape[0] > self.max_triplets:
            keep = torch.randperm(idx.shape[0], generator=self._gen(dist.device), device=dist.device)
            idx = idx[keep[: self.max_triplets].sort().values]
        return idx[:, 0], idx[:, 1], idx[:, 2]


class HardTripletMiner(TripletMiner):
    """Batch-hard: for every valid anchor, its farthest positive and its nearest negative
    (ties go to the lowest index). Deterministic; the generator is unused."""

    def mine(self, dist: Tensor, labels: Tensor, margin: float) -> Triplets:
        pos, neg = label_masks(labels)
        anchors = (pos.any(dim=1) & neg.any(dim=1)).nonzero().squeeze(1)
        if anchors.numel() == 0:
            return _empty(dist.device)
        d = dist[anchors]
        p = d.masked_fill(~pos[anchors], float("-inf")).argmax(dim=1)
        n = d.masked_fill(~neg[anchors], float("inf")).argmin(dim=1)
        return anchors, p, n


MINERS: dict[str, type[TripletMiner]] = {
    "random": RandomTripletMiner,
    "semihard": SemiHardTripletMiner,
    "hard": HardTripletMiner,
}


def make_miner(name: str, generator: torch.Generator | None = None, **kwargs: object) -> TripletMiner:
    """Miner by name (``random``, ``semihard``, ``hard``) for configs and trainers."""
    try:
        cls = MINERS[name]
    except KeyError:
        raise ValueError(f"unknown miner {name!r}; valid: {sorted(MINERS)}") from None
    return cls(generator=generator, **kwargs)  # type: ignore[arg-type]
