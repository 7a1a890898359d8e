"""Cutting variable-length feature sequences: flat storage, Liu segments, Lian fixed lengths."""

from __future__ import annotations

from typing import Literal, Sequence

import numpy as np

from ser_data.errors import DataError


def split_flat(x: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    """Per-utterance views of a flat (sum T, F) array; `offsets` has N + 1 entries."""
    return [x[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]


def seconds_to_frames(seconds: float, hop_length: int = 160, sr: int = 16000) -> int:
    """Frames spanning `seconds` at the given hop (2 s at 10 ms -> 200)."""
    return int(round(seconds * sr / hop_length))


def _as_list(seqs: np.ndarray | Sequence[np.ndarray], offsets: np.ndarray | None) -> list[np.ndarray]:
    if offsets is not None:
        return split_flat(np.asarray(seqs), np.asarray(offsets))
    if isinstance(seqs, np.ndarray) and seqs.ndim == 2:
        return [seqs]
    return list(seqs)


def segment(
    seqs: np.ndarray | Sequence[np.ndarray],
    seg_frames: int,
    hop_frames: int,
    offsets: np.ndarray | None = None,
    *,
    tail: Literal["drop", "pad"] = "drop",
) -> tuple[np.ndarray, np.ndarray]:
    """Cut sequences into (S, seg_frames, F) segments and return them with the owning utterance.

    `seqs` is one (T, F) array, a list of them, or a flat array with `offsets`. Segments start
    every `hop_frames` (Liu: 200-frame segments, hop 100 for 1 s overlap in training, hop 40 for
    1.6 s overlap in testing). An utterance shorter than one segment gives one zero-padded
    segment. A tail shorter than a full segment is dropped (`tail="drop"`, the usual reading) or
    kept zero-padded (`tail="pad"`).
    """
    if seg_frames <= 0 or hop_frames <= 0:
        raise DataError(f"segment: seg_frames and hop_frames must be positive, got {seg_frames}, {hop_frames}")
    items = _as_list(seqs, offsets)
    out: list[np.ndarray] = []
    owner: list[int] = []
    for i, seq in enumerate(items):
        t, f = seq.shape
        starts = list(range(0, max(t - seg_frames, 0) + 1, hop_frames))
        if tail == "pad" and t > seg_frames and starts[-1] + seg_frames < t:
            starts.append(starts[-1] + hop_frames)
        for s in starts:
            piece = np.zeros((seg_frames, f), dtype=seq.dtype)
            chunk = seq[s : s + seg_frames]
            piece[: len(chunk)] = chunk
            out.append(piece)
            owner.append(i)
    if not out:
        return np.zeros((0, seg_frames, 0), np.float32), np.zeros(0, np.int64)
    return np.stack(out), np.asarray(owner, dtype=np.int64)


def fixed_length(
    seq: np.ndarray,
    frames: int,
    mode: Literal["start", "random", "all_segments"] = "start",
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Lian's fixed-length input from one (T, F) sequence.

    start: the first `frames` frames, zero-padded at the end -> (frames, F).
    random: a random crop of `frames` frames (padded if shorter) -> (frames, F).
    all_segments: consecutive non-overlapping `frames`-long pieces covering the utterance, the
    last zero-padded -> (S, frames, F), for averaging the predictions at test time.
    """
    if frames <= 0:
        raise DataError(f"fixed_length: frames must be positive, got {frames}")
    t, f = seq.shape
    if mode == "start" or (mode == "random" and t <= frames):
        out = np.zeros((frames, f), dtype=seq.dtype)
        out[: min(t, frames)] = seq[:frames]
        return out
    if mode == "random":
        rng = rng if rng is not None else np.random.default_rng()
        start = int(rng.integers(0, t - frames + 1))
        return seq[start : start + frames].copy()
    if mode == "all_segments":
        n = max(1, -(-t // frames))
        out = np.zeros((n * frames, f), dtype=seq.dtype)
        out[:t] = seq
        return out.reshape(n, frames, f)
    raise DataError(f"fixed_length: unknown mode {mode!r}; allowed: start, random, all_segments")
