from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audio_writers import write_empty, write_garbage, write_silent, write_wav
from ser_data.audio import audio_info, check_audio, read_audio, remove_silence, trim_silence
from ser_data.errors import AudioFileError, DataError


def test_read_audio_downmix_and_resample(tmp_path: Path) -> None:
    p = write_wav(tmp_path / "s.wav", sr=48000, channels=2, seconds=0.5)
    y = read_audio(p, 16000)
    assert y.dtype == np.float32 and y.ndim == 1 and len(y) == 8000
    raw, _ = sf.read(str(p), dtype="float32")
    native = read_audio(p, None)
    np.testing.assert_allclose(native, raw.mean(axis=1), atol=1e-6)


@pytest.mark.parametrize(
    ("writer", "reason"),
    [(write_empty, "zero-length"), (write_garbage, "unreadable"), (write_silent, "silent")],
)
def test_check_audio_problems(tmp_path: Path, writer, reason: str) -> None:  # noqa: ANN001
    p = writer(tmp_path / "bad.wav")
    with pytest.raises(AudioFileError) as err:
        check_audio(p)
    assert err.value.path == str(p) and reason in err.value.reason
    assert isinstance(err.value, DataError)


def test_check_audio_rate_and_missing(tmp_path: Path) -> None:
    p = write_wav(tmp_path / "ok.wav", sr=22050)
    assert audio_info(p).samplerate == 22050
    assert check_audio(p).duration == pytest.approx(0.6, abs=1e-3)
    with pytest.raises(AudioFileError, match="expected 16000"):
        check_audio(p, expected_sr=16000)
    with pytest.raises(AudioFileError, match="unreadable"):
        read_audio(tmp_path / "missing.wav")


def test_trim_and_vad() -> None:
    sr = 16000
    tone = 0.5 * np.sin(2 * np.pi * 200 * np.arange(sr // 2) / sr)
    gap = np.zeros(sr // 2)
    y = np.concatenate([gap, tone, gap, tone, gap]).astype(np.float32)
    trimmed = trim_silence(y, sr, top_db=30)
    voiced = remove_silence(y, sr, top_db=30)
    assert 1.4 * sr < len(trimmed) < 1.6 * sr  # inner gap kept
    assert 0.9 * sr < len(voiced) < 1.1 * sr  # inner gap removed too
