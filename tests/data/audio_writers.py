"""Writers for small synthetic WAV files (tones, silence, empty, garbage)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf


def write_wav(
    path: Path, *, sr: int = 16000, seconds: float = 0.6, freq: float = 220.0, channels: int = 1,
    amp: float = 0.3, lead: float = 0.1, seed: int = 0,
) -> Path:
    """A tone plus a little noise, with `lead` seconds of near-silence at both ends."""
    rng = np.random.default_rng(seed)
    n = int(sr * seconds)
    t = np.arange(n) / sr
    y = amp * np.sin(2 * np.pi * freq * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    y += 0.02 * rng.standard_normal(n)
    k = int(sr * lead)
    y[:k] *= 1e-3
    y[n - k:] *= 1e-3
    data = np.stack([y, 0.5 * y], axis=1) if channels == 2 else y
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), data.astype(np.float32), sr, subtype="PCM_16")
    return path


def write_silent(path: Path, sr: int = 16000, seconds: float = 0.3) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.zeros(int(sr * seconds), np.float32), sr, subtype="PCM_16")
    return path


def write_empty(path: Path, sr: int = 16000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.zeros(0, np.float32), sr, subtype="PCM_16")
    return path


def write_garbage(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not a RIFF file at all" * 10)
    return path
