"""Utterance predictions from segment predictions (Liu & Wang; Lian's "average" test)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def utterance_average(scores: ArrayLike, owner: ArrayLike, n_utterances: int | None = None) -> NDArray[np.float64]:
    """Mean of the segment scores ``(S, C)`` of each utterance -> ``(N, C)``.

    ``owner[s]`` is the utterance of segment ``s`` (0..N-1). An utterance without segments gets a
    row of NaN (its prediction is then undefined; the callers give every utterance a segment).
    """
    s = np.asarray(scores, dtype=np.float64)
    o = np.asarray(owner, dtype=np.int64)
    if s.ndim != 2 or o.shape != (s.shape[0],):
        raise ValueError(f"scores must be (S, C) and owner (S,), got {s.shape} and {o.shape}")
    n = int(o.max()) + 1 if n_utterances is None and o.size else int(n_utterances or 0)
    sums = np.zeros((n, s.shape[1]))
    np.add.at(sums, o, s)
    counts = np.bincount(o, minlength=n).astype(np.float64)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts


def utterance_predict(scores: ArrayLike, owner: ArrayLike, n_utterances: int | None = None) -> NDArray[np.int64]:
    """Argmax of :func:`utterance_average` (scores are usually softmax probabilities)."""
    return np.nanargmax(utterance_average(scores, owner, n_utterances), axis=1).astype(np.int64)
