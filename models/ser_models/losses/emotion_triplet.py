"""Mocanu et al. 2021, Eq. (7): triplet loss with an emotion (valence polarity) constraint.

For an anchor a with a positive p (same emotion), a related sample r (another emotion of the
same valence polarity) and a negative n (an emotion of another polarity):

    [D(a,p) - D(a,r1) + alpha]+  +  [D(a,r2) - D(a,n) + beta]+

with D the squared Euclidean distance: positives closer than related emotions by alpha, related
emotions closer than the others by beta. Anchors whose polarity is neutral (or that have no related
sample in the batch) fall back to the plain triplet ``[D(a,p) - D(a,n) + alpha]+`` over every other
emotion. Neutral samples count as negatives for positive and negative anchors.

Mining. The paper gives two readings: Sect. 3.3 mines "the elements that violate the hard
constraints within mini batches"; Sect. 5 says "we employ semi-hard sampling where all the
positive/negative spectrogram images are selected within a mini batch". ``mining`` picks one:

- ``"semihard"`` (Sect. 5, our default): every in-batch triple whose term is positive but not
  hard, FaceNet's window: (a, p, r) with D(a,p) < D(a,r) < D(a,p) + alpha for the first term and
  (a, r, n) with D(a,r) < D(a,n) < D(a,r) + beta for the second (the plain triplet of a neutral
  anchor: (a, p, n) with the alpha window). The value is the mean over the first term's triples
  plus the mean over the second's; a term without triples adds 0.
- ``"hard"`` (Sect. 3.3): batch-hard, per anchor the farthest positive, the nearest (r1) and the
  farthest (r2) related sample and the nearest negative. The value is the mean over anchors that
  have a positive and a negative of the sum of their terms.

Batch-hard mining from the start drives the embeddings to a single point on our corpus (the loss
settles at alpha + beta, every distance 0); see docs/mocanu.md. Either way the loss is 0 (kept in
the graph) when nothing qualifies.
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
MINING = ("semihard", "hard")

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
    """Eq. (7) on ``output.embedding`` with semi-hard or batch-hard mining (module docstring).

    ``labels``: the class names in class-id order; ``polarity``: label -> negative|positive|neutral.
    Normalise the embeddings before the loss if the margins are meant for unit vectors.
    """

    def __init__(self, labels: Sequence[str], polarity: Mapping[str, str], alpha: float = 0.1, beta: float = 0.15,
                 mining: str = "semihard") -> None:  # fmt: skip
        super().__init__()
        for name, value in (("alpha", alpha), ("beta", beta)):
            if not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"{name} must be a number > 0, got {value!r}")
        if mining not in MINING:
            raise ValueError(f"mining must be one of {MINING}, got {mining!r}")
        self.alpha, self.beta = float(alpha), float(beta)
        self.mining = mining
        self.labels = tuple(labels)
        self.register_buffer("class_polarity", torch.tensor(polarity_ids(self.labels, polarity), dtype=torch.long), persistent=False)

    def masks(self, y: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(B, B)`` masks per anchor row: same emotion (not itself), other emotion, related
        (other emotion, same polarity, non-neutral anchor), negative (other and not related)."""
        pol = self.class_polarity.to(y.device)[y]
        eye = torch.eye(len(y), dtype=torch.bool, device=y.device)
        same = (y[:, None] == y[None, :]) & ~eye
        other = y[:, None] != y[None, :]
        neutral_anchor = pol == POLARITIES.index("neutral")
        related = other & (pol[:, None] == pol[None, :]) & ~neutral_anchor[:, None]
        return same, other, related, other & ~related

    def anchor_terms(self, emb: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Batch-hard: per anchor its loss (sum of its terms) and whether it counts (has a positive and a negative)."""
        d = pairwise_distance(emb, "sqeuclidean")
        same, other, related, negative = self.masks(y)

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

    def semihard_terms(self, emb: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Semi-hard: the values of the first term's triples (a, p, r) and of the second's (a, r, n)."""
        d = pairwise_distance(emb, "sqeuclidean")
        same, other, related, negative = self.masks(y)
        # The first term's "related" side: related samples, or every other emotion for anchors
        # without one (neutral anchors, or no related sample in the batch): the plain triplet.
        first = torch.where(related.any(1, keepdim=True), related, other)
        with torch.no_grad():
            dd = d.detach()
            near, far = dd[:, :, None], dd[:, None, :]  # [a, i, j] = D(a,i), D(a,j)
            win1 = same[:, :, None] & first[:, None, :] & (far > near) & (far < near + self.alpha)
            win2 = related[:, :, None] & negative[:, None, :] & (far > near) & (far < near + self.beta)
        a1, p, r = win1.nonzero(as_tuple=True)
        a2, r2, n = win2.nonzero(as_tuple=True)
        return d[a1, p] - d[a1, r] + self.alpha, d[a2, r2] - d[a2, n] + self.beta

    def compute(self, output: ModelOutput, y: Tensor) -> Tensor:
        zero = output.embedding.sum() * 0.0
        if self.mining == "semihard":
            t1, t2 = self.semihard_terms(output.embedding, y)
            return zero + sum((t.mean() for t in (t1, t2) if t.numel()), zero)
        terms, valid = self.anchor_terms(output.embedding, y)
        if not bool(valid.any()):
            return zero
        return terms[valid].mean()
