"""`mfcc_stats`: utterance-level MFCC statistics, the input of the reports' baseline row.

Per utterance (silence trimmed as for mfcc39): the mean and the standard deviation over frames of
13 MFCCs with their deltas and delta-deltas -> 78 values. A linear classifier on these is the
classic SER baseline (e.g. the openSMILE-style functionals idea reduced to two functionals); any
deep model worth reporting should beat it on the same folds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ser_data.features.extractors import _SILENCE, _silence, mfcc_with_deltas
from ser_data.features.registry import FeatureSpec, register


def extract_mfcc_stats(y: np.ndarray, sr: int, p: dict[str, Any], utt_id: str) -> np.ndarray:
    frames = mfcc_with_deltas(_silence(y, sr, p), sr, p)
    if not p["deltas"]:
        frames = frames[:, : p["n_mfcc"]]
    return np.concatenate([frames.mean(axis=0), frames.std(axis=0)]).astype(np.float32)


register(FeatureSpec(
    name="mfcc_stats",
    extract=extract_mfcc_stats,
    defaults={
        "sr": 16000, "silence": "trim", "top_db": 30.0, "n_mfcc": 13, "n_fft": 512, "win_length": 400,
        "hop_length": 160, "n_mels": 40, "delta_width": 9, "deltas": True,
    },
    variable_length=False,
    description="Baseline: mean and std over frames of 13 MFCC (+ delta, delta-delta) -> 78 values",
    choices={"silence": _SILENCE},
))  # fmt: skip
