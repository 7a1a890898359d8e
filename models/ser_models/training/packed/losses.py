"""One packed loss from the members' own unpacked loss objects (Mocanu's trainer takes a loss).

Supported: what the Mocanu task builds. ``CrossEntropy``; ``TripletLoss`` with a semi-hard
(``max_triplets`` None) or hard miner; ``EmotionTripletLoss``; a ``WeightedSum`` of those (not
nested). Members may differ in every scalar (label smoothing, margins, alpha, beta, weights)
and in which terms they have: a member's terms are matched to the pack's by kind, a missing
term gets weight 0 (the packed sum then skips it for that member, as the unpacked sum skips a
zero weight), so ``metric`` alone packs with ``WeightedSum([(1, metric), (w, CE)])``. Anything
else that differs (distance, miner, mining, labels and polarity) raises ValueError.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from ...losses import (
    CrossEntropy,
    EmotionTripletLoss,
    HardTripletMiner,
    SemiHardTripletMiner,
    TripletLoss,
    WeightedSum,
)
from ...losses.emotion_triplet import POLARITIES
from ...packed import (
    PackedCrossEntropy,
    PackedEmotionTripletLoss,
    PackedHardMiner,
    PackedLoss,
    PackedSemiHardMiner,
    PackedTripletLoss,
    PackedWeightedSum,
)


def _kind(loss: nn.Module) -> tuple[Any, ...]:
    """What must be equal for two members' terms to be one packed term."""
    if isinstance(loss, CrossEntropy):
        return ("ce",)
    if isinstance(loss, TripletLoss):
        miner = loss.miner
        if isinstance(miner, SemiHardTripletMiner):
            if miner.max_triplets is not None:
                raise ValueError("packing does not support SemiHardTripletMiner(max_triplets=...)")
            return ("triplet", loss.distance, "semihard", miner.margin)
        if isinstance(miner, HardTripletMiner):
            return ("triplet", loss.distance, "hard")
        raise ValueError(f"packing a TripletLoss supports semi-hard and hard miners, not {type(miner).__name__}")
    if isinstance(loss, EmotionTripletLoss):
        return ("emotion", loss.labels, tuple(loss.class_polarity.tolist()), loss.mining)
    raise ValueError(f"packing does not support the loss {type(loss).__name__}")


def _terms(loss: nn.Module) -> list[tuple[float, nn.Module]]:
    if isinstance(loss, WeightedSum):
        if any(isinstance(t, WeightedSum) for t in loss.losses):
            raise ValueError("packing does not support nested WeightedSum losses")
        return list(zip(loss.weights, loss.losses))
    return [(1.0, loss)]  # 1.0 * value is the value, bit for bit


def _packed_term(kind: tuple[Any, ...], leaves: Sequence[nn.Module | None]) -> tuple[PackedLoss, str]:
    """The packed loss of one term and the model output it reads; absent members get defaults."""
    m = len(leaves)
    present = [leaf for leaf in leaves if leaf is not None]
    first = present[0]
    if kind[0] == "ce":
        return PackedCrossEntropy(m, [leaf.label_smoothing if leaf is not None else 0.0 for leaf in leaves]), "logits"
    if kind[0] == "triplet":
        margins = [leaf.margin if leaf is not None else 0.0 for leaf in leaves]
        miner = PackedSemiHardMiner(m, margin=kind[3]) if kind[2] == "semihard" else PackedHardMiner(m)
        return PackedTripletLoss(m, kind[1], margins, miner), "embedding"
    assert isinstance(first, EmotionTripletLoss)
    polarity = {label: POLARITIES[p] for label, p in zip(first.labels, first.class_polarity.tolist())}
    alpha = [leaf.alpha if leaf is not None else first.alpha for leaf in leaves]
    beta = [leaf.beta if leaf is not None else first.beta for leaf in leaves]
    return PackedEmotionTripletLoss(m, first.labels, polarity, alpha, beta, mining=first.mining), "embedding"


def pack_losses(losses: Sequence[nn.Module]) -> tuple[PackedLoss, list[set[str]]]:
    """The packed loss of the members' ``losses`` and, per member, the model outputs its loss
    reads (``embedding``/``logits``: which parameters get a gradient)."""
    m = len(losses)
    per_member = [[(w, leaf, _kind(leaf)) for w, leaf in _terms(loss)] for loss in losses]
    kinds: list[tuple[Any, ...]] = []
    for terms in per_member:
        for _, _, k in terms:
            if k not in kinds:
                kinds.append(k)
    for i, terms in enumerate(per_member):
        order = [kinds.index(k) for _, _, k in terms]
        if order != sorted(set(order)) or len(order) != len(set(order)):
            raise ValueError(f"member {i}'s loss terms come in another order (or repeat a kind) than the other members'")
    packed_terms: list[tuple[list[float], PackedLoss]] = []
    reads: list[set[str]] = [set() for _ in range(m)]
    for k in kinds:
        leaves: list[nn.Module | None] = []
        weights: list[float] = []
        for i, terms in enumerate(per_member):
            found = [(w, leaf) for w, leaf, kk in terms if kk == k]
            leaves.append(found[0][1] if found else None)
            weights.append(float(found[0][0]) if found else 0.0)
        term, field = _packed_term(k, leaves)
        packed_terms.append((weights, term))
        for i, w in enumerate(weights):
            if w != 0.0:
                reads[i].add(field)
    reads = [r or {"embedding"} for r in reads]  # every weight 0: embedding.sum() * 0
    if len(packed_terms) == 1 and all(not isinstance(loss, WeightedSum) for loss in losses):
        return packed_terms[0][1], reads
    return PackedWeightedSum(m, packed_terms), reads
