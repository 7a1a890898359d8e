"""Mocanu et al. 2021, Eq. (7): triplet loss with an emotion (valence polarity) constraint.

For an anchor a with a positive p (same emotion), a related sample r (another emotion of the
same valence polarity) and a negative n (an emotion of another polarity):

    [D(a,p) - D(a,r1) + alpha]+  +  [D(a,r2) - D(a,n) + beta]+

with D the squared Euclidean distance: positives closer than related emotions by alpha, related
emotions closer than the others by beta. Anchors whose polarity is neutral (or that have no related
sample in the batch) fall back to the plain triplet ``[D(a,p) - D(a,n) + alpha]+`` over every other
emotion. Neutral samples count as negatives for positive and negative anchors.

Mining (the paper: "the elements that violate the hard constraints within mini batches"): batch-hard,
per anchor the farthest positive, the nearest (r1) and the farthest (r2) related sample and the
nearest negative. The value is the mean over anchors that have a positive and a negative of the sum
of their terms; 0 (kept in the graph) when no anchor qualifies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ..base import ModelOutput
from .base import Loss
from .distances import pairwise_distance

POLARITIES = ("negative", "positive", "neutral")

# Mikel's wheel, as the paper reads it (Sect. 3.3).
MIKELS_WHEEL: dict[str, str] = {
    "sad": "negative", "fearful": "negative", "disgust": "negative", "angry": "negative",
    "surprised": "positive", "happy": "positive", "calm": "positive",
    "neutral": "neutral",
}  # fmt: skip

# Per dataset: the wheel restricted to its labels (IEMOCAP adds its own classes; ours, not the paper's).
POLARITY_MAPS: dict[str, dict[str, str]] = {
    "ravdess": {k: MIKELS_WHEEL[k] for k in ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")},
    "cremad": {k: MIKELS_WHEEL[k] for k in ("angry", "disgust", "fearful", "happy", "neutral", "sad")},
    "iemocap": {**MIKELS_WHEEL, "excited": "positive", "frustrated": "negative", "other": "neutral", "xxx": "neutral"},
}


class PolarityMapError(ValueError):
    """A polarity map that misses some labels or uses an unknown polarity."""


def polarity_ids(labels: Sequence[str], polarity: Mapping[str, str]) -> list[int]:
    """Class index -> polarity index (into POLARITIES); every label must be covered."""
    missing = [label for label in labels if label not in polarity]
    if missing:
        raise PolarityMapError(f"polarity map does not cover label(s) {missing}; it covers {sorted(polarity)}")
    bad = sorted({v for v in polarity.values() if v not in POLARITIES})
    if bad:
        raise PolarityMapError(f"unknown polarity value(s) {bad}; allowed: {', '.join(POLARITIES)}")
    return [POLARITIES.index(polarity[label]) for label in labels]


class EmotionTripletLoss(Loss):
    """Eq. (7) on ``output.embedding`` with batch-hard mining (see the module docstring).

    ``labels``: the class names in class-id order; ``polarity``: label -> negative|positive|neutral.
    Normalise the embeddings before the loss if the margins are meant for unit vectors.
    """

    def __init__(self, labels: Sequence[str], polarity: Mapping[str, str], alpha: float = 0.1, beta: float = 0.15) -> None:
        super().__init__()
        for name, value in (("alpha", alpha), ("beta", beta)):
            if not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"{name} must be a number > 0, got {value!r}")
        self.alpha, self.beta = float(alpha), float(beta)
        self.labels = tuple(labels)
        self.register_buffer("class_polarity", torch.tensor(polarity_ids(self.labels, polarity), dtype=torch.long), persistent=False)

    def anchor_terms(self, emb: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Per anchor: its loss (sum of its terms) and whether it counts (has a positive and a negative)."""
        d = pairwise_distance(emb, "sqeuclidean")
        pol = self.class_polarity.to(y.device)[y]
        eye = torch.eye(len(y), dtype=torch.bool, device=y.device)
        same = (y[:, None] == y[None, :]) & ~eye
        other = y[:, None] != y[None, :]
        neutral_anchor = pol == POLARITIES.index("neutral")
        related = other & (pol[:, None] == pol[None, :]) & ~neutral_anchor[:, None]
        negative = other & ~related

        inf = torch.finfo(d.dtype).max
        hardest_pos = d.masked_fill(~same, -inf).amax(dim=1)
        nearest_rel = d.masked_fill(~related, inf).amin(dim=1)
        farthest_rel = d.masked_fill(~related, -inf).amax(dim=1)
        nearest_neg = d.masked_fill(~negative, inf).amin(dim=1)
        nearest_other = d.masked_fill(~other, inf).amin(dim=1)

        has_pos, has_rel, has_neg = same.any(1), related.any(1), negative.any(1)
        zero = d.new_zeros(len(y))
        # Eq. (7) where a related sample exists; the plain triplet (margin alpha) otherwise.
        t1 = torch.where(has_rel, F.relu(hardest_pos - nearest_rel + self.alpha), F.relu(hardest_pos - nearest_other + self.alpha))
        t2 = torch.where(has_rel & has_neg, F.relu(farthest_rel - nearest_neg + self.beta), zero)
        valid = has_pos & other.any(1)
        return torch.where(valid, t1 + t2, zero), valid

    def compute(self, output: ModelOutput, y: Tensor) -> Tensor:
        terms, valid = self.anchor_terms(output.embedding, y)
        if not bool(valid.any()):
            return output.embedding.sum() * 0.0
        return terms[valid].mean()
