"""The zoo's losses over a member dimension: one value per member, per-member scalars.

Every packed loss is called as ``loss(output, y, members=None) -> Tensor[M']`` with ``output``
fields ``(M', B, ...)`` (a :class:`~ser_models.packed.stack.PackedModel` output), labels
``(M', B)`` and ``members`` the member indices of those rows (default: all ``M``, in order),
which pick each member's scalars (margin, alpha, beta, weights) and generator. Backpropagate
``loss(...).sum()``: members share no parameters, so each gets exactly its own gradient.

Values and gradients equal the unpacked losses member by member up to float summation order
(masked sums over fixed shapes instead of means over the mined subset; batched matmuls): about
1e-6 relative in float32, 1e-12 in float64 (tests/models/test_packed_losses.py). The semi-hard
losses use the batch's pairwise distance matrix for the loss value as well as for mining (the
unpacked triplet loss recomputes the mined pairs' distances row by row): the same function, so
a triplet inside the mining window has a positive term exactly as there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..base import ModelOutput
from ..losses.contrastive import KINDS, POSITIONS
from ..losses.distances import check_distance, paired_distance, pairwise_distance
from ..losses.emotion_triplet import MINING, EmotionTripletLoss
from .mining import Dense, Indexed, PackedMiner, PackedRandomMiner
from .optim import per_member

Scalar = float | Sequence[float]


def batched_pairwise(x: Tensor, kind: str) -> Tensor:
    """``(M', B, B)``: :func:`ser_models.losses.distances.pairwise_distance` of each member."""
    return torch.vmap(lambda e: pairwise_distance(e, kind))(x)


def batched_paired(a: Tensor, b: Tensor, kind: str) -> Tensor:
    """``(M', T)``: :func:`ser_models.losses.distances.paired_distance` of each member's rows."""
    return torch.vmap(lambda u, v: paired_distance(u, v, kind))(a, b)


def gather_rows(x: Tensor, idx: Tensor) -> Tensor:
    """``x[m, idx[m, t]]``: ``(M', B, E)`` x ``(M', T)`` -> ``(M', T, E)``."""
    return x.gather(1, idx[:, :, None].expand(-1, -1, x.shape[2]))


def masked_mean(values: Tensor, mask: Tensor, empty: Tensor | None = None) -> Tensor:
    """Mean over dim 1 of the entries where ``mask`` holds; where none does, ``empty`` (one value
    per row; default 0, in the graph)."""
    kept = torch.where(mask, values, values.new_zeros(()))
    count = mask.sum(dim=1)
    mean = kept.sum(dim=1) / count.clamp_min(1).to(values.dtype)
    return mean if empty is None else torch.where(count > 0, mean, empty)


def zero_of(x: Tensor) -> Tensor:
    """Per member ``x.sum() * 0.0``: the unpacked losses' zero when nothing qualifies, which is
    NaN when ``x`` is not finite (so a diverged member's loss is NaN here too)."""
    return x.flatten(1).sum(dim=1) * 0.0


def select_members(output: ModelOutput, idx: Tensor) -> ModelOutput:
    """The rows ``idx`` of every field of a packed output."""
    return ModelOutput(*(None if f is None else f.index_select(0, idx) for f in output))


class PackedLoss(nn.Module):
    """Base: checks shapes, resolves ``members``; subclasses implement :meth:`compute`."""

    def __init__(self, num_members: int) -> None:
        super().__init__()
        if num_members < 1:
            raise ValueError(f"num_members must be >= 1, got {num_members}")
        self.num_members = num_members

    def forward(self, output: ModelOutput, y: Tensor, members: Sequence[int] | None = None) -> Tensor:
        ms = list(range(self.num_members)) if members is None else [int(m) for m in members]
        emb = output.embedding
        if y.ndim != 2 or emb.ndim < 3 or y.shape != emb.shape[:2]:
            raise ValueError(f"labels must be (members, batch) = {tuple(emb.shape[:2])}, got {tuple(y.shape)}")
        if len(ms) != y.shape[0] or any(not 0 <= m < self.num_members for m in ms):
            raise ValueError(f"members {ms} do not match {y.shape[0]} rows of {self.num_members} members")
        return self.compute(output, y, ms)

    def compute(self, output: ModelOutput, y: Tensor, members: list[int]) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def _scalars(self, values: Sequence[float], members: list[int], like: Tensor) -> Tensor:
        return torch.tensor([values[m] for m in members], dtype=like.dtype, device=like.device)

    def _per_member(self, value: Scalar, what: str) -> list[float]:
        return per_member(value, self.num_members, what)


class PackedCrossEntropy(PackedLoss):
    """Mean cross-entropy of ``output.logits`` per member (optional per-member label smoothing)."""

    def __init__(self, num_members: int, label_smoothing: Scalar = 0.0) -> None:
        super().__init__(num_members)
        self.label_smoothing = self._per_member(label_smoothing, "label_smoothing")

    def compute(self, output: ModelOutput, y: Tensor, members: list[int]) -> Tensor:
        logits = output.logits
        mm, b, c = logits.shape
        nll = F.cross_entropy(logits.reshape(mm * b, c), y.reshape(-1), reduction="none").view(mm, b)
        if all(self.label_smoothing[m] == 0 for m in members):
            return nll.mean(dim=1)
        eps = self._scalars(self.label_smoothing, members, logits)[:, None]
        smooth = -F.log_softmax(logits, dim=2).mean(dim=2)  # torch: uniform target mass eps / C
        return ((1 - eps) * nll + eps * smooth).mean(dim=1)


class PackedTripletLoss(PackedLoss):
    """:class:`ser_models.losses.TripletLoss` per member: ``distance`` shared, ``margin`` per
    member; ``miner`` a packed miner (default: random, seed 0 for every member, as the
    unpacked default)."""

    def __init__(self, num_members: int, distance: str = "cosine", margin: Scalar = 0.2,
                 miner: PackedMiner | None = None) -> None:  # fmt: skip
        super().__init__(num_members)
        self.distance = check_distance(distance)
        self.margin = self._per_member(margin, "margin")
        if any(m < 0 for m in self.margin):
            raise ValueError(f"margin must be >= 0, got {self.margin}")
        self.miner = miner if miner is not None else PackedRandomMiner(seeds=[0] * num_members)
        if self.miner.num_members != num_members:
            raise ValueError(f"the miner has {self.miner.num_members} members, the loss {num_members}")

    def compute(self, output: ModelOutput, y: Tensor, members: list[int]) -> Tensor:
        emb = output.embedding.flatten(2)
        margin = self._scalars(self.margin, members, emb)
        with torch.no_grad():
            dist = batched_pairwise(emb.detach(), self.distance)
        mined = self.miner(dist, y, margin, members)
        if isinstance(mined, Dense):
            d = batched_pairwise(emb, self.distance)
            hinged = mined.w_ap.sum(dim=(1, 2))  # triplets with a positive hinge (all, unless the window is wider)
            total = (mined.w_ap * d).sum(dim=(1, 2)) - (mined.w_an * d).sum(dim=(1, 2)) + margin * hinged
            return total / mined.count.clamp_min(1)
        assert isinstance(mined, Indexed)
        ea = gather_rows(emb, mined.a)
        d_ap = batched_paired(ea, gather_rows(emb, mined.p), self.distance)
        d_an = batched_paired(ea, gather_rows(emb, mined.n), self.distance)
        return masked_mean(F.relu(d_ap - d_an + margin[:, None]), mined.valid, zero_of(emb))


def _window_weights(d: Tensor, near: Tensor, far: Tensor, margin: Tensor, chunk: int) -> tuple[Tensor, Tensor, Tensor]:
    """Pair weights of every in-batch triple ``(a, i, j)`` with ``near[a, i] & far[a, j]`` and
    ``d[a,i] < d[a,j] < d[a,i] + margin``: how many triples use ``(a, i)`` and ``(a, j)``, and
    their count (the semi-hard windows of the emotion triplet loss)."""
    mm, b, _ = d.shape
    w_near = torch.zeros_like(d)
    w_far = torch.zeros_like(d)
    step = max(1, chunk // max(1, mm * b * b))
    mc = margin[:, None, None, None]
    for s in range(0, b, step):
        dd = d[:, s : s + step]
        lo, hi = dd[:, :, :, None], dd[:, :, None, :]
        win = near[:, s : s + step, :, None] & far[:, s : s + step, None, :] & (hi > lo) & (hi < lo + mc)
        w_near[:, s : s + step] = win.sum(dim=3).to(d.dtype)
        w_far[:, s : s + step] = win.sum(dim=2).to(d.dtype)
    return w_near, w_far, w_near.sum(dim=(1, 2))


class PackedEmotionTripletLoss(PackedLoss):
    """:class:`ser_models.losses.EmotionTripletLoss` (Mocanu Eq. 7) per member, ``alpha`` and
    ``beta`` per member; ``mining`` (semihard | hard) and the polarity map shared."""

    def __init__(self, num_members: int, labels: Sequence[str], polarity: Mapping[str, str], alpha: Scalar = 0.1,
                 beta: Scalar = 0.15, mining: str = "semihard", chunk_elems: int = 1 << 24) -> None:  # fmt: skip
        super().__init__(num_members)
        self.alpha, self.beta = self._per_member(alpha, "alpha"), self._per_member(beta, "beta")
        if any(v <= 0 for v in self.alpha + self.beta):
            raise ValueError(f"alpha and beta must be > 0, got {self.alpha}, {self.beta}")
        if mining not in MINING:
            raise ValueError(f"mining must be one of {MINING}, got {mining!r}")
        self.mining, self.chunk_elems = mining, chunk_elems
        # The unpacked loss holds the polarity map and the per-anchor masks (one definition).
        self.reference = EmotionTripletLoss(labels, polarity, mining=mining)

    def compute(self, output: ModelOutput, y: Tensor, members: list[int]) -> Tensor:
        emb = output.embedding.flatten(2)
        alpha = self._scalars(self.alpha, members, emb)
        beta = self._scalars(self.beta, members, emb)
        d = batched_pairwise(emb, "sqeuclidean")
        same, other, related, negative = torch.vmap(self.reference.masks)(y)
        if self.mining == "semihard":
            first = torch.where(related.any(dim=2, keepdim=True), related, other)
            with torch.no_grad():
                w_p, w_r, n1 = _window_weights(d.detach(), same, first, alpha, self.chunk_elems)
                w_r2, w_n, n2 = _window_weights(d.detach(), related, negative, beta, self.chunk_elems)
            t1 = ((w_p * d).sum(dim=(1, 2)) - (w_r * d).sum(dim=(1, 2)) + alpha * n1) / n1.clamp_min(1)
            t2 = ((w_r2 * d).sum(dim=(1, 2)) - (w_n * d).sum(dim=(1, 2)) + beta * n2) / n2.clamp_min(1)
            return t1 + t2
        # batch-hard, as EmotionTripletLoss.anchor_terms with per-member margins
        inf = torch.finfo(d.dtype).max
        hardest_pos = d.masked_fill(~same, -inf).amax(dim=2)
        nearest_rel = d.masked_fill(~related, inf).amin(dim=2)
        farthest_rel = d.masked_fill(~related, -inf).amax(dim=2)
        nearest_neg = d.masked_fill(~negative, inf).amin(dim=2)
        nearest_other = d.masked_fill(~other, inf).amin(dim=2)
        has_pos, has_rel, has_neg = same.any(2), related.any(2), negative.any(2)
        a, b = alpha[:, None], beta[:, None]
        t1 = torch.where(has_rel, F.relu(hardest_pos - nearest_rel + a), F.relu(hardest_pos - nearest_other + a))
        t2 = torch.where(has_rel & has_neg, F.relu(farthest_rel - nearest_neg + b), torch.zeros_like(t1))
        return masked_mean(t1 + t2, has_pos & other.any(2), zero_of(emb))


class PackedContrastiveLoss(PackedLoss):
    """:class:`ser_models.losses.ContrastiveLoss` (Lian) per member: ``kind`` and ``position``
    shared, ``margin`` per member. Rows ``i`` and ``i + P`` of each member's batch are a pair."""

    def __init__(self, num_members: int, kind: str = "cosine", margin: Scalar = 0.5, position: str = "pos_1",
                 eps: float = 1e-12) -> None:  # fmt: skip
        super().__init__(num_members)
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
        if position not in POSITIONS:
            raise ValueError(f"position must be one of {POSITIONS}, got {position!r}")
        self.margin = self._per_member(margin, "margin")
        if any(not m > 0 for m in self.margin):
            raise ValueError(f"margin must be > 0, got {self.margin}")
        self.kind, self.position, self.eps = kind, position, eps

    def compute(self, output: ModelOutput, y: Tensor, members: list[int]) -> Tensor:
        z = output.features if self.position == "pos_1" else output.logits
        if z is None:
            raise ValueError("pos_1 needs a model that returns ModelOutput.features")
        if z.shape[1] % 2:
            raise ValueError(f"a pair batch has an even number of rows (2P), got {z.shape[1]}")
        p = z.shape[1] // 2
        if p == 0:
            return z.flatten(1).sum(dim=1) * 0.0
        a, b = z[:, :p].flatten(2), z[:, p:].flatten(2)
        same = y[:, :p] == y[:, p:]
        m = self._scalars(self.margin, members, z)[:, None]
        if self.kind == "cosine":
            cos = F.cosine_similarity(a, b, dim=2, eps=1e-8)
            terms = torch.where(same, 1.0 - cos, F.relu(cos - m))
        else:
            d = torch.sqrt((a - b).pow(2).sum(dim=2) + self.eps)
            terms = torch.where(same, d, F.relu(m - d))
        return terms.mean(dim=1)


class PackedWeightedSum(PackedLoss):
    """``sum_i w_i[m] * loss_i`` per member. As :class:`ser_models.losses.WeightedSum`, a term is
    not computed for a member whose weight is 0 (its miner draws nothing for that member)."""

    def __init__(self, num_members: int, terms: Sequence[tuple[Scalar, PackedLoss]]) -> None:
        super().__init__(num_members)
        terms = list(terms)
        if not terms:
            raise ValueError("PackedWeightedSum needs at least one (weights, loss) term")
        self.weights = [self._per_member(w, "weight") for w, _ in terms]
        self.losses = nn.ModuleList(loss for _, loss in terms)
        for loss in self.losses:
            if loss.num_members != num_members:
                raise ValueError(f"a term has {loss.num_members} members, the sum {num_members}")

    def compute(self, output: ModelOutput, y: Tensor, members: list[int]) -> Tensor:
        total: Tensor | None = None
        for weights, loss in zip(self.weights, self.losses):
            rows = [j for j, m in enumerate(members) if weights[m] != 0.0]
            if not rows:
                continue
            if len(rows) == len(members):
                value = loss(output, y, members)
            else:
                idx = torch.tensor(rows, device=y.device)
                part = loss(select_members(output, idx), y.index_select(0, idx), [members[j] for j in rows])
                value = part.new_zeros(len(members)).index_put((idx,), part)
            term = self._scalars(weights, members, value) * value
            total = term if total is None else total + term
        if total is None:  # every weight is zero: a zero that still belongs to the graph
            return output.embedding.flatten(1).sum(dim=1) * 0.0
        return total


__all__ = [
    "PackedLoss",
    "PackedCrossEntropy",
    "PackedTripletLoss",
    "PackedEmotionTripletLoss",
    "PackedContrastiveLoss",
    "PackedWeightedSum",
]
