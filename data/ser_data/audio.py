"""Reading, checking and silence-trimming audio.

soundfile reads (torchaudio does not load next to torch 2.13), librosa resamples with soxr.
Two silence tools, because the papers mean two different things:

- `trim_silence` (librosa.effects.trim): cuts leading and trailing silence only (Kumar:
  "trimming the silence").
- `remove_silence` (librosa.effects.split): a simple energy VAD that drops every frame quieter
  than `top_db` below the loudest frame and concatenates the voiced parts (Mocanu: "voice
  activity detection and silence removal ... clean segments regrouped into a single stream").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

from ser_data.errors import AudioFileError
from ser_data.manifest import MIN_DURATION_S

# Peak amplitude below which a signal counts as silent (-80 dBFS): digital silence and dither.
SILENCE_PEAK = 1e-4


@dataclass(frozen=True)
class AudioInfo:
    """Header facts of one file (no samples read)."""

    path: str
    samplerate: int
    frames: int
    channels: int

    @property
    def duration(self) -> float:
        return self.frames / self.samplerate


def audio_info(
    path: str | Path, *, expected_sr: int | None = None, min_duration: float = MIN_DURATION_S
) -> AudioInfo:
    """Open only the header; AudioFileError if unreadable, empty, too short or at the wrong rate."""
    try:
        info = sf.info(str(path))
    except Exception as exc:  # soundfile raises LibsndfileError/RuntimeError/OSError/TypeError
        raise AudioFileError(path, f"unreadable audio ({_short(exc)})") from exc
    if info.frames <= 0:
        raise AudioFileError(path, "zero-length audio (no samples)")
    if expected_sr is not None and info.samplerate != expected_sr:
        raise AudioFileError(path, f"sample rate {info.samplerate} Hz, expected {expected_sr} Hz")
    found = AudioInfo(str(path), int(info.samplerate), int(info.frames), int(info.channels))
    _check_duration(found.duration, path, min_duration)
    return found


def read_audio(path: str | Path, target_sr: int | None = 16000) -> np.ndarray:
    """Read a file as float32 mono (channels averaged), resampled to `target_sr` (None: keep)."""
    y, sr = _read(path)
    if target_sr is not None and sr != target_sr:
        y = librosa.resample(y, orig_sr=sr, target_sr=target_sr, res_type="soxr_hq")
    return np.ascontiguousarray(y, dtype=np.float32)


def check_signal(
    y: np.ndarray, path: str | Path, *, sr: int | None = None, silence_peak: float = SILENCE_PEAK,
    min_duration: float = MIN_DURATION_S,
) -> None:
    """Raise AudioFileError if decoded samples are empty, too short (when `sr` is given), not
    finite or silent."""
    if y.size == 0:
        raise AudioFileError(path, "zero-length audio (no samples)")
    if sr is not None:
        _check_duration(y.size / sr, path, min_duration)
    if not np.all(np.isfinite(y)):
        raise AudioFileError(path, "audio contains NaN or infinite samples")
    peak = float(np.max(np.abs(y)))
    if peak < silence_peak:
        raise AudioFileError(path, f"silent audio (peak amplitude {peak:.2g} < {silence_peak:g})")


def check_audio(
    path: str | Path,
    *,
    expected_sr: int | None = None,
    check_silence: bool = True,
    silence_peak: float = SILENCE_PEAK,
) -> AudioInfo:
    """Full check of one file: header (readable, non-empty, rate) and, if asked, samples (silence).

    Raises AudioFileError(path, reason); returns the header facts when the file is usable.
    """
    info = audio_info(path, expected_sr=expected_sr)
    if check_silence:
        y, sr = _read(path)
        check_signal(y, path, sr=sr, silence_peak=silence_peak)
    return info


def _check_duration(seconds: float, path: str | Path, min_duration: float) -> None:
    if seconds < min_duration:
        raise AudioFileError(path, f"too short ({seconds:.3f} s; the minimum is {min_duration:g} s)")


def _frame_params(sr: int) -> tuple[int, int]:
    # 32 ms frames, 10 ms hop: fine enough to keep word onsets (librosa's 2048/512 is ~128 ms at 16 kHz).
    return int(round(0.032 * sr)), int(round(0.010 * sr))


def trim_silence(y: np.ndarray, sr: int, top_db: float = 30.0) -> np.ndarray:
    """Cut leading/trailing parts quieter than `top_db` below the peak (librosa.effects.trim)."""
    frame, hop = _frame_params(sr)
    trimmed, _ = librosa.effects.trim(y, top_db=top_db, frame_length=frame, hop_length=hop)
    return trimmed if trimmed.size else y


def remove_silence(y: np.ndarray, sr: int, top_db: float = 30.0) -> np.ndarray:
    """Energy VAD: keep the intervals librosa.effects.split finds voiced and concatenate them."""
    frame, hop = _frame_params(sr)
    intervals = librosa.effects.split(y, top_db=top_db, frame_length=frame, hop_length=hop)
    if len(intervals) == 0:
        return y
    return np.concatenate([y[a:b] for a, b in intervals])


def _read(path: str | Path) -> tuple[np.ndarray, int]:
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:
        raise AudioFileError(path, f"unreadable audio ({_short(exc)})") from exc
    if data.shape[0] == 0:
        raise AudioFileError(path, "zero-length audio (no samples)")
    # Average the channels: stereo copies of the corpora are downmixed, not rejected.
    y = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return y.astype(np.float32, copy=False), int(sr)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
