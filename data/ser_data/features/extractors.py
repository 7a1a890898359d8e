"""The five paper features. Every frame setting is in the params so a grid can change it.

Common: audio is read at `sr` (16 kHz) mono; `n_fft`/`win_length`/`hop_length` are in samples.
"""

from __future__ import annotations

import hashlib
from typing import Any

import librosa
import numpy as np

from ser_data.audio import remove_silence, trim_silence
from ser_data.features.registry import FeatureSpec, register


def utterance_rng(seed: int, utt_id: str) -> np.random.Generator:
    """Generator seeded by (seed, utterance id): same windows in every process and run."""
    digest = int.from_bytes(hashlib.sha256(utt_id.encode()).digest()[:8], "little")
    return np.random.default_rng([int(seed), digest])


def _silence(y: np.ndarray, sr: int, p: dict[str, Any]) -> np.ndarray:
    mode, top_db = p["silence"], p["top_db"]
    if mode == "trim":
        return trim_silence(y, sr, top_db)
    if mode == "vad":
        return remove_silence(y, sr, top_db)
    return y


def mfcc_with_deltas(y: np.ndarray, sr: int, p: dict[str, Any]) -> np.ndarray:
    """(frames, 3 * n_mfcc): MFCC, delta, delta-delta, deltas over the whole frame sequence."""
    mfcc = librosa.feature.mfcc(
        y=y, sr=sr, n_mfcc=p["n_mfcc"], n_fft=p["n_fft"], win_length=p["win_length"],
        hop_length=p["hop_length"], n_mels=p["n_mels"], window="hamming",
    )  # fmt: skip
    # librosa's default 'interp' mode needs at least `width` frames; very short clips use 'nearest'.
    mode = "interp" if mfcc.shape[1] >= p["delta_width"] else "nearest"
    d1 = librosa.feature.delta(mfcc, width=p["delta_width"], order=1, mode=mode)
    d2 = librosa.feature.delta(mfcc, width=p["delta_width"], order=2, mode=mode)
    return np.concatenate([mfcc, d1, d2], axis=0).T.astype(np.float32)


def window_starts(n_frames: int, p: dict[str, Any], utt_id: str) -> np.ndarray:
    """Sorted start frames of the windows (at most `n_windows`).

    - ``spread`` (default): `n_windows` windows evenly spaced from the first frame to the last
      (the first starts at frame 0, the last ends at the last frame), so the windows cover the
      whole trimmed utterance whatever its length; a short utterance gets overlapping windows
      instead of zero padding.
    - ``disjoint``: `n_windows` of the non-overlapping grid of windows, drawn at random (seeded by
      the utterance): the reading the project used first; with 10 x 10 frames it covers about 1 s
      of a 3-5 s utterance, and shorter utterances are zero-padded.
    - ``any``: `n_windows` random starts anywhere (windows may overlap).

    ``tile`` has no fixed window length; see :func:`window_bounds`.
    """
    wf, nw = p["window_frames"], p["n_windows"]
    if p["window_starts"] == "spread":
        if n_frames <= 0:
            return np.zeros(0, dtype=np.int64)
        return np.round(np.linspace(0, max(n_frames - wf, 0), nw)).astype(np.int64)
    if p["window_starts"] == "disjoint":
        candidates = np.arange(n_frames // wf) * wf  # non-overlapping grid of windows
    else:
        candidates = np.arange(max(n_frames - wf + 1, 0))  # any start
    if len(candidates) <= nw:
        return candidates
    rng = utterance_rng(p["seed"], utt_id)
    return np.sort(rng.choice(candidates, size=nw, replace=False))


def window_bounds(n_frames: int, p: dict[str, Any], utt_id: str) -> list[tuple[int, int]]:
    """(start, stop) frames of each window. ``tile``: the trimmed utterance cut into `n_windows`
    consecutive parts of (nearly) equal length, so every frame is in exactly one window whatever
    the utterance's length (`window_frames` unused; an utterance shorter than `n_windows` frames
    repeats frames). Other modes: `window_frames` frames from each of :func:`window_starts`."""
    if p["window_starts"] != "tile":
        return [(int(s), int(s) + p["window_frames"]) for s in window_starts(n_frames, p, utt_id)]
    if n_frames <= 0:
        return []
    return _tile_windows(np.round(np.linspace(0, n_frames, p["n_windows"] + 1)).astype(int), n_frames)


def _tile_windows(edges: np.ndarray, n_frames: int) -> list[tuple[int, int]]:
    """Consecutive windows between sorted cut points; each holds at least one real frame."""
    starts = np.minimum(edges[:-1], n_frames - 1)
    return [(int(a), int(max(b, a + 1))) for a, b in zip(starts, edges[1:])]


def random_view_bounds(n_frames: int, p: dict[str, Any], rng: np.random.Generator) -> list[tuple[int, int]]:
    """The windows of one random view: the same reading with its positions drawn at random.
    ``spread`` and ``tile`` move each window start (tile: each cut) by up to half the spacing
    between windows, so a view looks like the fixed reading it varies; ``disjoint`` and ``any``
    draw their random windows again."""
    nw, wf, mode = p["n_windows"], p["window_frames"], p["window_starts"]
    if mode in ("disjoint", "any"):
        return window_bounds(n_frames, {**p, "seed": int(rng.integers(2**32))}, "")
    if n_frames <= 0:
        return []
    span = n_frames if mode == "tile" else max(n_frames - wf, 0)
    step = span / nw if mode == "tile" else span / max(nw - 1, 1)
    points = np.linspace(0, span, nw + 1 if mode == "tile" else nw)
    inner = slice(1, -1) if mode == "tile" else slice(None)  # tile: the first and last edge stay put
    points[inner] += rng.uniform(-0.5, 0.5, size=len(points[inner])) * step
    points = np.sort(np.clip(np.round(points), 0, span)).astype(int)
    if mode != "tile":
        return [(int(s), int(s) + wf) for s in points]
    return _tile_windows(points, n_frames)


def window_values(p: dict[str, Any]) -> int:
    """Values per window: 39 (13 MFCC + deltas), twice that with ``window_reduce: mean_std``."""
    return 3 * p["n_mfcc"] * (2 if p["window_reduce"] == "mean_std" else 1)


def _reduce_windows(frames: np.ndarray, bounds: list[tuple[int, int]], p: dict[str, Any]) -> np.ndarray:
    out = np.zeros((p["n_windows"], window_values(p)), np.float32)  # missing windows stay zero (padding)
    for i, (start, stop) in enumerate(bounds):
        window = frames[start:stop]
        if p["window_reduce"] == "first":
            out[i] = window[0]
        elif p["window_reduce"] == "mean":
            out[i] = window.mean(axis=0)
        else:  # mean_std: the window's variability too (population std over its frames)
            out[i] = np.concatenate([window.mean(axis=0), window.std(axis=0)])
    return out.reshape(-1)  # window-major: [w0: mfcc, d1, d2 (, their stds)][w1: ...]


def extract_mfcc39(y: np.ndarray, sr: int, p: dict[str, Any], utt_id: str) -> np.ndarray:
    """The fixed reading, followed by `random_views` readings with random window positions
    (seeded by the utterance and the view): (1 + random_views) x n_windows x 39 values."""
    frames = mfcc_with_deltas(_silence(y, sr, p), sr, p)
    views = [_reduce_windows(frames, window_bounds(len(frames), p, utt_id), p)]
    for v in range(1, p["random_views"] + 1):
        rng = utterance_rng(p["seed"], f"{utt_id}#view{v}")
        views.append(_reduce_windows(frames, random_view_bounds(len(frames), p, rng), p))
    return np.concatenate(views)


def extract_spec257(y: np.ndarray, sr: int, p: dict[str, Any], utt_id: str) -> np.ndarray:
    y = _silence(y, sr, p)
    mag = np.abs(librosa.stft(y, n_fft=p["n_fft"], win_length=p["win_length"],
                              hop_length=p["hop_length"], window="hamming", center=True))  # fmt: skip
    spec = np.log1p(mag) if p["log"] == "log1p" else np.log(mag + p["eps"])
    if p["normalize"] == "global":
        spec = (spec - spec.mean()) / (spec.std() + 1e-8)
    elif p["normalize"] == "per_bin":
        spec = (spec - spec.mean(axis=1, keepdims=True)) / (spec.std(axis=1, keepdims=True) + 1e-8)
    return spec.T.astype(np.float32)  # (T, 257)


def extract_mfcc_seq(y: np.ndarray, sr: int, p: dict[str, Any], utt_id: str) -> np.ndarray:
    y = _silence(y, sr, p)
    mfcc = librosa.feature.mfcc(
        y=y, sr=sr, n_mfcc=p["n_mfcc"], n_fft=p["n_fft"], win_length=p["win_length"],
        hop_length=p["hop_length"], n_mels=p["n_mels"], window="hamming",
        fmin=p["fmin"], fmax=p["fmax"],
    )  # fmt: skip
    return mfcc.T.astype(np.float32)


def extract_logmel(y: np.ndarray, sr: int, p: dict[str, Any], utt_id: str) -> np.ndarray:
    y = _silence(y, sr, p)
    mel = librosa.feature.melspectrogram(
        y=y, sr=sr, n_fft=p["n_fft"], win_length=p["win_length"], hop_length=p["hop_length"],
        window="hamming", n_mels=p["n_mels"], fmin=p["fmin"], fmax=p["fmax"], power=2.0,
    )  # fmt: skip
    return np.log(mel + p["eps"]).T.astype(np.float32)


_SILENCE = ("none", "trim", "vad")

register(FeatureSpec(
    name="mfcc39",
    extract=extract_mfcc39,
    defaults={
        "sr": 16000, "silence": "trim", "top_db": 30.0,
        "n_mfcc": 13, "n_fft": 512, "win_length": 400, "hop_length": 160, "n_mels": 40,
        "delta_width": 9, "n_windows": 10, "window_frames": 10, "window_starts": "spread",
        "window_reduce": "mean", "random_views": 0, "seed": 0,
    },
    variable_length=False,
    description="Kumar 2020: 13 MFCC + delta + delta-delta (25 ms / 10 ms), 10 windows of 10 frames "
                "spread over the utterance (or its 10 tenths, or drawn at random), each averaged to 39 values -> 390 (window-major); "
                "window_reduce: mean_std gives 78 values per window (means and stds); "
                "random_views > 0 appends that many readings with random window positions (for training)",
    choices={"silence": _SILENCE, "window_starts": ("spread", "tile", "disjoint", "any"), "window_reduce": ("mean", "mean_std", "first")},
))  # fmt: skip

register(FeatureSpec(
    name="spec257",
    extract=extract_spec257,
    defaults={
        "sr": 16000, "silence": "vad", "top_db": 30.0, "n_fft": 512, "win_length": 512,
        "hop_length": 160, "log": "log1p", "eps": 1e-6, "normalize": "global",
    },
    variable_length=True,
    description="Mocanu 2021: VAD, |STFT| 32 ms Hamming / 10 ms hop / 512 FFT, log1p, "
                "mean/std normalised per spectrogram -> (T, 257)",
    choices={"silence": _SILENCE, "log": ("log1p", "log"), "normalize": ("global", "per_bin", "none")},
))  # fmt: skip

register(FeatureSpec(
    name="mfcc_seg",
    extract=extract_mfcc_seq,
    defaults={
        "sr": 16000, "silence": "none", "top_db": 30.0, "n_mfcc": 26, "n_fft": 1024,
        "win_length": 640, "hop_length": 160, "n_mels": 40, "fmin": 0.0, "fmax": 8000.0,
        "segment_seconds": 2.0, "train_overlap_seconds": 1.0, "test_overlap_seconds": 1.6,
    },
    variable_length=True,
    description="Liu & Wang: 26 MFCC, 40 ms / 10 ms -> (T, 26); cut with segment() into 2 s "
                "segments, 1 s overlap (train) / 1.6 s (test)",
    choices={"silence": _SILENCE},
    use_time=("segment_seconds", "train_overlap_seconds", "test_overlap_seconds"),
))  # fmt: skip

_LIAN = {
    "sr": 16000, "silence": "none", "top_db": 30.0, "n_fft": 512, "win_length": 400,
    "hop_length": 160, "fmin": 0.0, "fmax": 6500.0, "seconds": 9,
}  # fmt: skip

register(FeatureSpec(
    name="mfcc13_fixed",
    extract=extract_mfcc_seq,
    defaults={**_LIAN, "n_mfcc": 13, "n_mels": 26},
    variable_length=True,
    description="Lian 2018: 13 MFCC (DCT of 26 log-Mel, 0-6.5 kHz), 25 ms Hamming / 10 ms -> (T, 13); "
                "fixed_length() cuts/pads to `seconds`",
    choices={"silence": _SILENCE, "seconds": tuple(range(1, 16))},
    use_time=("seconds",),
))  # fmt: skip

register(FeatureSpec(
    name="logmel26_fixed",
    extract=extract_logmel,
    defaults={**_LIAN, "n_mels": 26, "eps": 1e-10},
    variable_length=True,
    description="Lian 2018: 26 log-Mel filterbanks (0-6.5 kHz), 25 ms Hamming / 10 ms -> (T, 26); "
                "fixed_length() cuts/pads to `seconds`",
    choices={"silence": _SILENCE, "seconds": tuple(range(1, 16))},
    use_time=("seconds",),
))  # fmt: skip
