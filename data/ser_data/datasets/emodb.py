"""EmoDB (Berlin Database of Emotional Speech): `wav/SSTTTEV.wav`, e.g. `wav/03a01Fa.wav`.

Positions 1-2 speaker, 3-5 text code, 6 emotion letter (German initial), 7 version (a, b, ...),
per the corpus documentation (emodb.bilderbar.info/docu). The other folders of the release
(`lablaut/`, `silb/`, ...) are not read. `statement` is the text code.
"""

from __future__ import annotations

import re
from pathlib import Path

from ser_data.datasets._common import finish, header_duration, is_hidden, label_set_option, require_root
from ser_data.errors import DataError
from ser_data.manifest import Manifest, Utterance

NAME = "emodb"
EXPECTED = "a wav/ folder holding SSTTTEV.wav files (e.g. wav/03a01Fa.wav)"
# Emotion letters: W Wut (anger), L Langeweile (boredom), E Ekel (disgust), A Angst (fear),
# F Freude (happiness), T Trauer (sadness), N neutral.
EMOTIONS = {"W": "angry", "L": "boredom", "E": "disgust", "A": "fearful", "F": "happy", "T": "sad", "N": "neutral"}
LABELS = tuple(EMOTIONS.values())
LABEL_SETS = {"full": LABELS}
OPTIONS = (label_set_option(LABEL_SETS),)
SPEAKERS = {"03": "M", "08": "F", "09": "F", "10": "M", "11": "M", "12": "M", "13": "F", "14": "F", "15": "M", "16": "F"}
TEXTS = ("a01", "a02", "a04", "a05", "a07", "b01", "b02", "b03", "b09", "b10")

_FILE = re.compile(r"^(\d{2})([ab]\d{2})([A-Z])([a-z])$")


def load(root: str | Path, *, check_audio: str = "header", label_set: str = "full") -> Manifest:
    base = require_root(root, NAME, EXPECTED)
    wav_dir = base / "wav"
    if not wav_dir.is_dir():
        raise DataError(f"{NAME}: no wav folder in {base}; expected {EXPECTED}")
    problems: list[tuple[str, str]] = []
    utts: list[Utterance] = []
    for path in sorted(wav_dir.iterdir()):
        if is_hidden(path) or path.is_dir():
            continue
        fields = _parse(path, problems)
        if fields is None:
            continue
        duration = header_duration(path, check_audio, problems)
        if duration is None:
            continue
        speaker, text, emo, _version = fields
        utts.append(Utterance(
            utt_id=path.stem, path=str(path), emotion=EMOTIONS[emo], speaker=speaker,
            gender=SPEAKERS[speaker], statement=text, duration=duration,
        ))  # fmt: skip
    return finish(NAME, base, utts, LABELS, problems, EXPECTED, label_set=label_set)


def speaker_from_stem(stem: str) -> tuple[str, str] | None:
    """(speaker, gender) from a file name stem, None if it is not an EmoDB name."""
    m = _FILE.match(stem)
    if not m or m.group(1) not in SPEAKERS:
        return None
    return m.group(1), SPEAKERS[m.group(1)]


def _parse(path: Path, problems: list[tuple[str, str]]) -> tuple[str, str, str, str] | None:
    if path.suffix.lower() != ".wav":
        problems.append((str(path), "not a .wav file"))
        return None
    m = _FILE.match(path.stem)
    if not m:
        problems.append((str(path), "file name does not follow SSTTTEV.wav (e.g. 03a01Fa.wav)"))
        return None
    speaker, text, emo, version = m.groups()
    if speaker not in SPEAKERS:
        reason = f"unknown speaker {speaker} (EmoDB has {', '.join(SPEAKERS)})"
    elif text not in TEXTS:
        reason = f"unknown text code {text} (expected {', '.join(TEXTS)})"
    elif emo not in EMOTIONS:
        reason = f"unknown emotion letter {emo} (expected {', '.join(EMOTIONS)})"
    else:
        return speaker, text, emo, version
    problems.append((str(path), reason))
    return None
