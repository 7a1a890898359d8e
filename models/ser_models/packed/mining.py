"""Triplet miners over a member dimension, with fixed shapes and masks.

The unpacked miners (``ser_models.losses.mining`` / ``pool_mining``) return index tensors whose
length depends on the data (``nonzero``, boolean indexing), which cannot run over members at
once. These return, for ``M'`` members with batches of ``B``:

- :class:`Indexed` triplets ``a, p, n`` of shape ``(M', T)`` with a ``valid`` mask (random,
  pool and hard miners; ``T`` = ``B * per_anchor``, ``n_triplets``, ``pool`` or ``B``);
- :class:`Dense` pair weights for the semi-hard miner, whose triplet set can hold up to
  ``B^3`` entries: ``w_ap[a, p]`` / ``w_an[a, n]`` count the mined triplets with a positive
  hinge that use each pair, so the loss's sum over triplets is
  ``sum(w_ap * D) - sum(w_an * D) + margin * sum(w_ap)``, divided by ``count`` (all mined).

Randomness is each member's own ``torch.Generator`` (given, or made on first use on the batch's
device from ``seeds[m]``, as the unpacked miner makes its own), and every member draws exactly
what its unpacked miner would draw, in the same order and shapes, so triplets are identical
member by member. Those shapes depend on the number of valid anchors
(``torch.rand((n_valid * per_anchor, B))``), so the miners read the per-member counts back once
per call (one host sync); the unpacked miner could draw ``(B * per_anchor, B)`` whatever the
count and keep the valid rows, which would make the packed draw fixed-shape (see the report).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor

from ..losses.mining import label_masks
from ..losses.pool_mining import KEEP


class Indexed(NamedTuple):
    a: Tensor
    p: Tensor
    n: Tensor
    valid: Tensor


class Dense(NamedTuple):
    w_ap: Tensor
    w_an: Tensor
    count: Tensor


def batched_label_masks(labels: Tensor) -> tuple[Tensor, Tensor]:
    """``(M', B, B)`` positive / negative masks, as :func:`ser_models.losses.mining.label_masks`."""
    return torch.vmap(label_masks)(labels)


def _rows(mask: Tensor, a: Tensor) -> Tensor:
    """``mask[m, a[m, t], :]`` -> ``(M', T, B)``."""
    return mask.gather(1, a[:, :, None].expand(-1, -1, mask.shape[2]))


def _pick(scores: Tensor, mask: Tensor) -> Tensor:
    # as the unpacked _random_pick: the highest score among the allowed columns
    return scores.masked_fill(~mask, -1.0).argmax(dim=2)


class PackedMiner:
    """Base: one generator per member; ``miner(dist, labels, margin, members)``."""

    dense = False

    def __init__(self, seeds: Sequence[int] | None = None, generators: Sequence[torch.Generator] | None = None) -> None:
        if generators is not None:
            self.generators: list[torch.Generator | None] = list(generators)
            self.seeds = [0] * len(self.generators)
        elif seeds is not None:
            self.seeds = [int(s) for s in seeds]
            self.generators = [None] * len(self.seeds)
        else:
            raise ValueError("a packed miner needs one seed or one generator per member")

    @property
    def num_members(self) -> int:
        return len(self.seeds)

    def generator(self, m: int, device: torch.device) -> torch.Generator:
        """Member ``m``'s generator (its state is what a checkpoint keeps)."""
        if self.generators[m] is None:
            self.generators[m] = torch.Generator(device=device).manual_seed(self.seeds[m])
        return self.generators[m]  # type: ignore[return-value]

    @torch.no_grad()
    def __call__(self, dist: Tensor, labels: Tensor, margin: Tensor, members: Sequence[int]) -> Indexed | Dense:
        if dist.ndim != 3 or dist.shape[1] != dist.shape[2] or dist.shape[:2] != labels.shape:
            raise ValueError(f"dist must be (M, B, B) for (M, B) labels; got {tuple(dist.shape)}, {tuple(labels.shape)}")
        if len(members) != dist.shape[0] or margin.shape != (dist.shape[0],):
            raise ValueError("one member index and one margin per row of dist")
        return self.mine(dist, labels, margin, list(members))

    def mine(self, dist: Tensor, labels: Tensor, margin: Tensor, members: list[int]) -> Indexed | Dense:
        raise NotImplementedError

    def _anchors(self, labels: Tensor) -> tuple[Tensor, Tensor, Tensor, list[int]]:
        """Masks, the valid anchors of each member first in index order ``(M', B)``, their counts."""
        pos, neg = batched_label_masks(labels)
        valid = pos.any(dim=2) & neg.any(dim=2)
        order = torch.argsort((~valid).to(torch.uint8), dim=1, stable=True)
        return pos, neg, order, valid.sum(dim=1).tolist()

    def _draw_pool(self, labels: Tensor, size: int | Sequence[int], members: list[int]) -> Indexed:
        """``size`` random anchors per member (with replacement; one size for all, or one per
        member of the miner), then a random positive and negative each: the unpacked
        ``RandomTripletMiner(n_triplets=...)`` / pool draw. Rows past a member's own size are
        padding (``valid`` False)."""
        pos, neg, order, counts = self._anchors(labels)
        mm, b = labels.shape
        dev = labels.device
        sizes = [int(size)] * mm if isinstance(size, int) else [int(size[m]) for m in members]
        width = max(sizes)
        pick = torch.zeros(mm, width, dtype=torch.long, device=dev)
        s_pos = torch.zeros(mm, width, b, device=dev)
        s_neg = torch.zeros(mm, width, b, device=dev)
        for j, m in enumerate(members):
            if counts[j] == 0:
                continue  # unpacked: returns empty, draws nothing
            gen, k = self.generator(m, dev), sizes[j]
            pick[j, :k] = torch.randint(counts[j], (k,), generator=gen, device=dev)
            s_pos[j, :k] = torch.rand((k, b), generator=gen, device=dev)
            s_neg[j, :k] = torch.rand((k, b), generator=gen, device=dev)
        a = order.gather(1, pick)
        has = torch.tensor(counts, device=dev)[:, None].gt(0)
        valid = has & (torch.arange(width, device=dev)[None, :] < torch.tensor(sizes, device=dev)[:, None])
        return Indexed(a, _pick(s_pos, _rows(pos, a)), _pick(s_neg, _rows(neg, a)), valid)


class PackedRandomMiner(PackedMiner):
    """``RandomTripletMiner`` per member: ``per_anchor`` triplets for every valid anchor, or
    ``n_triplets`` anchors drawn with replacement."""

    def __init__(self, seeds: Sequence[int] | None = None, n_triplets: int | None = None, per_anchor: int = 1,
                 generators: Sequence[torch.Generator] | None = None) -> None:  # fmt: skip
        super().__init__(seeds, generators)
        if n_triplets is not None and n_triplets < 1:
            raise ValueError("n_triplets must be >= 1 (or None)")
        if per_anchor < 1:
            raise ValueError("per_anchor must be >= 1")
        self.n_triplets, self.per_anchor = n_triplets, per_anchor

    def mine(self, dist: Tensor, labels: Tensor, margin: Tensor, members: list[int]) -> Indexed:
        if self.n_triplets is not None:
            return self._draw_pool(labels, self.n_triplets, members)
        pos, neg, order, counts = self._anchors(labels)
        mm, b = labels.shape
        dev = labels.device
        t = b * self.per_anchor
        a = order.repeat_interleave(self.per_anchor, dim=1)  # unpacked: anchors.repeat_interleave(per_anchor)
        s_pos = torch.zeros(mm, t, b, device=dev)
        s_neg = torch.zeros(mm, t, b, device=dev)
        for j, m in enumerate(members):
            k = counts[j] * self.per_anchor
            if k == 0:
                continue
            gen = self.generator(m, dev)
            s_pos[j, :k] = torch.rand((k, b), generator=gen, device=dev)
            s_neg[j, :k] = torch.rand((k, b), generator=gen, device=dev)
        valid = torch.arange(t, device=dev)[None, :] < (torch.tensor(counts, device=dev) * self.per_anchor)[:, None]
        return Indexed(a, _pick(s_pos, _rows(pos, a)), _pick(s_neg, _rows(neg, a)), valid)


class PackedRandomPoolMiner(PackedMiner):
    """Liu & Wang's ``RandomPoolMiner`` per member: a pool of random triplets, filtered to the
    semi-hard and/or hard ones on the batch's distances. ``pool``: one size for all members, or
    one per member (Liu's trainer spreads its pool over a fold's batches, so folds of other
    sizes draw other pool sizes)."""

    def __init__(self, seeds: Sequence[int] | None = None, pool: int | Sequence[int] = 1000, keep: str = "semihard+hard",
                 margin: float | None = None, generators: Sequence[torch.Generator] | None = None) -> None:  # fmt: skip
        super().__init__(seeds, generators)
        pools = [int(pool)] * self.num_members if isinstance(pool, int) else [int(p) for p in pool]
        if len(pools) != self.num_members:
            raise ValueError(f"pool needs one size per member ({self.num_members}), got {len(pools)}")
        if any(p < 1 for p in pools):
            raise ValueError(f"pool must be >= 1, got {pool}")
        if keep not in KEEP:
            raise ValueError(f"keep must be one of {KEEP}, got {keep!r}")
        self.pool: int | list[int] = pool if isinstance(pool, int) else pools
        self.keep, self.margin = keep, margin

    def mine(self, dist: Tensor, labels: Tensor, margin: Tensor, members: list[int]) -> Indexed:
        a, p, n, valid = self._draw_pool(labels, self.pool, members)
        m = margin if self.margin is None else torch.full_like(margin, self.margin)
        rows = _rows(dist, a)  # dist[m, a, :]
        d_ap, d_an = rows.gather(2, p[:, :, None]).squeeze(2), rows.gather(2, n[:, :, None]).squeeze(2)
        semihard = (d_ap < d_an) & (d_an < d_ap + m[:, None])
        hard = d_an < d_ap
        ok = {"semihard+hard": semihard | hard, "semihard": semihard, "hard": hard}[self.keep]
        return Indexed(a, p, n, valid & ok)


class PackedHardMiner(PackedMiner):
    """Batch-hard per member: farthest positive, nearest negative (ties: lowest index).
    Deterministic; needs no generator."""

    def __init__(self, num_members: int) -> None:
        super().__init__(seeds=[0] * num_members)

    def mine(self, dist: Tensor, labels: Tensor, margin: Tensor, members: list[int]) -> Indexed:
        pos, neg = batched_label_masks(labels)
        valid = pos.any(dim=2) & neg.any(dim=2)
        a = torch.arange(labels.shape[1], device=labels.device).expand_as(labels)
        p = dist.masked_fill(~pos, float("-inf")).argmax(dim=2)
        n = dist.masked_fill(~neg, float("inf")).argmin(dim=2)
        return Indexed(a, p, n, valid)


class PackedSemiHardMiner(PackedMiner):
    """Every triplet with ``d(a,p) < d(a,n) < d(a,p) + margin`` per member (``margin=None``:
    the loss margin), as :class:`Dense` pair weights, computed in anchor chunks of bounded size.
    ``max_triplets`` (a random subset) is not built: no trainer uses it."""

    dense = True

    def __init__(self, num_members: int, margin: float | None = None, chunk_elems: int = 1 << 24) -> None:
        super().__init__(seeds=[0] * num_members)
        self.margin, self.chunk_elems = margin, chunk_elems

    def mine(self, dist: Tensor, labels: Tensor, margin: Tensor, members: list[int]) -> Dense:
        # ``margin`` is the loss margin. A mining window wider than it also takes triplets whose
        # hinge is 0: they count in the mean (``count``) but add nothing (not in the weights).
        window = margin if self.margin is None else torch.full_like(margin, self.margin)
        pos, neg = batched_label_masks(labels)
        mm, b = labels.shape
        w_ap = torch.zeros(mm, b, b, dtype=dist.dtype, device=dist.device)
        w_an = torch.zeros_like(w_ap)
        count = torch.zeros(mm, dtype=dist.dtype, device=dist.device)
        step = max(1, self.chunk_elems // max(1, mm * b * b))
        mw, ml = window[:, None, None, None], torch.minimum(window, margin)[:, None, None, None]
        for s in range(0, b, step):
            d = dist[:, s : s + step]
            d_ap, d_an = d[:, :, :, None], d[:, :, None, :]
            ok = pos[:, s : s + step, :, None] & neg[:, s : s + step, None, :] & (d_an > d_ap)
            count += (ok & (d_an < d_ap + mw)).sum(dim=(1, 2, 3)).to(dist.dtype)
            hinge = ok & (d_an < d_ap + ml)
            w_ap[:, s : s + step] = hinge.sum(dim=3).to(dist.dtype)
            w_an[:, s : s + step] = hinge.sum(dim=2).to(dist.dtype)
        return Dense(w_ap, w_an, count)
