"""CREMA-D: `AudioWAV/ActorID_Sentence_Emotion_Level.wav` (e.g. `1001_DFA_ANG_XX.wav`).

Gender comes from `VideoDemographics.csv` at the root (columns ActorID, Age, Sex, ...; Sex
Male/Female). Without that file, or for an actor missing from it, gender is "U" (unknown).
`statement` is the sentence code (e.g. "DFA"); `intensity` is low/medium/high/unspecified.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from ser_data.datasets._common import finish, header_duration, is_hidden, label_set_option, require_root
from ser_data.errors import DataError
from ser_data.manifest import UNKNOWN_GENDER, Manifest, Utterance

NAME = "cremad"
EXPECTED = "an AudioWAV/ folder holding ActorID_Sentence_Emotion_Level.wav files (e.g. 1001_DFA_ANG_XX.wav)"
LABELS = ("angry", "disgust", "fearful", "happy", "neutral", "sad")
LABEL_SETS = {"full": LABELS}
OPTIONS = (label_set_option(LABEL_SETS),)
EMOTIONS = {"ANG": "angry", "DIS": "disgust", "FEA": "fearful", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}
SENTENCES = ("IEO", "TIE", "IOM", "IWW", "TAI", "MTI", "IWL", "ITH", "DFA", "ITS", "TSI", "WSI")
DEMOGRAPHICS = "VideoDemographics.csv"

_FILE = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")


def load(root: str | Path, *, check_audio: str = "header", label_set: str = "full") -> Manifest:
    base = require_root(root, NAME, EXPECTED)
    audio_dir = base / "AudioWAV"
    if not audio_dir.is_dir():
        raise DataError(f"{NAME}: no AudioWAV folder in {base}; expected {EXPECTED}")
    genders = read_genders(base / DEMOGRAPHICS)
    problems: list[tuple[str, str]] = []
    utts: list[Utterance] = []
    for path in sorted(audio_dir.iterdir()):
        if is_hidden(path) or path.is_dir():
            continue
        fields = _parse(path, problems)
        if fields is None:
            continue
        duration = header_duration(path, check_audio, problems)
        if duration is None:
            continue
        actor, sentence, emo, level = fields
        utts.append(
            Utterance(
                utt_id=path.stem,
                path=str(path),
                emotion=EMOTIONS[emo],
                speaker=actor,
                gender=genders.get(actor, UNKNOWN_GENDER),
                intensity=LEVELS[level],
                statement=sentence,
                duration=duration,
            )
        )
    return finish(NAME, base, utts, LABELS, problems, EXPECTED, label_set=label_set)


def speaker_from_stem(stem: str) -> tuple[str, str] | None:
    """(speaker, "U") from a file name stem (gender needs VideoDemographics.csv), None if not CREMA-D."""
    m = _FILE.match(stem)
    return (m.group(1), UNKNOWN_GENDER) if m else None


def read_genders(csv_path: Path) -> dict[str, str]:
    """ActorID -> "M"/"F" from VideoDemographics.csv; {} when the file is absent."""
    if not csv_path.is_file():
        return {}
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{NAME}: cannot read {csv_path}: {exc}") from exc
    if rows and not {"ActorID", "Sex"} <= set(rows[0]):
        raise DataError(f"{NAME}: {csv_path} lacks the columns ActorID and Sex")
    sex = {"male": "M", "female": "F"}
    return {r["ActorID"].strip(): sex.get(r["Sex"].strip().lower(), UNKNOWN_GENDER) for r in rows}


def _parse(path: Path, problems: list[tuple[str, str]]) -> tuple[str, str, str, str] | None:
    if path.suffix.lower() != ".wav":
        problems.append((str(path), "not a .wav file"))
        return None
    m = _FILE.match(path.stem)
    if not m:
        problems.append((str(path), "file name does not follow ActorID_Sentence_Emotion_Level.wav"))
        return None
    actor, sentence, emo, level = m.groups()
    if sentence not in SENTENCES:
        reason = f"unknown sentence code {sentence}"
    elif emo not in EMOTIONS:
        reason = f"unknown emotion code {emo} (expected {', '.join(EMOTIONS)})"
    elif level not in LEVELS:
        reason = f"unknown level code {level} (expected {', '.join(LEVELS)})"
    else:
        return actor, sentence, emo, level
    problems.append((str(path), reason))
    return None
