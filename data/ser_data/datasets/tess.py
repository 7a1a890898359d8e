"""TESS (Toronto emotional speech set): `<SPK>_<word>_<emotion>.wav` anywhere under the root.

Copies differ in their folders (`OAF_Fear`, `YAF_pleasant_surprised`, with or without a
`TESS Toronto emotional speech set data/` wrapper, or flat), so the root is searched recursively
and only the file name counts: speaker OAF (older, 64) or YAF (younger, 26), the carrier word,
and the emotion code, case-insensitive. `ps` (pleasant surprise) becomes `surprised`: TESS has no
other surprise class, and the same name keeps cross-corpus class lists aligned (EmoBox maps ps to
Surprise too). Both speakers are women. A second file with the same name (duplicated folders in
some copies) is a problem, the first one (in path order) is kept.
"""

from __future__ import annotations

import re
from pathlib import Path

from ser_data.datasets._common import finish, header_duration, label_set_option, require_root
from ser_data.errors import DataError
from ser_data.manifest import Manifest, Utterance

NAME = "tess"
EXPECTED = "<SPK>_<word>_<emotion>.wav files (e.g. OAF_back_angry.wav, YAF_dog_ps.wav) in any sub-folder"
EMOTIONS = {"angry": "angry", "disgust": "disgust", "fear": "fearful", "happy": "happy",
            "ps": "surprised", "sad": "sad", "neutral": "neutral"}  # fmt: skip
LABELS = tuple(EMOTIONS.values())
LABEL_SETS = {"full": LABELS}
OPTIONS = (label_set_option(LABEL_SETS),)
SPEAKERS = ("OAF", "YAF")

_FILE = re.compile(r"^(OAF|YAF)_([A-Za-z]+)_([A-Za-z]+)$", re.IGNORECASE)


def load(root: str | Path, *, check_audio: str = "header", label_set: str = "full") -> Manifest:
    base = require_root(root, NAME, EXPECTED)
    problems: list[tuple[str, str]] = []
    utts: list[Utterance] = []
    seen: dict[str, Path] = {}
    files = sorted(p for p in base.rglob("*") if p.is_file() and not _in_hidden(p, base))
    for path in files:
        if path.suffix.lower() != ".wav":
            continue  # copies carry readmes and licences; only .wav files are candidates
        m = _FILE.match(path.stem)
        if not m or m.group(3).lower() not in EMOTIONS:
            problems.append((str(path), f"file name does not follow {EXPECTED.split(' files')[0]}"))
            continue
        speaker, word, emo = m.group(1).upper(), m.group(2).lower(), m.group(3).lower()
        utt_id = f"{speaker}_{word}_{emo}"
        if utt_id in seen:
            problems.append((str(path), f"duplicate of {seen[utt_id]}"))
            continue
        seen[utt_id] = path
        duration = header_duration(path, check_audio, problems)
        if duration is None:
            continue
        utts.append(Utterance(utt_id=utt_id, path=str(path), emotion=EMOTIONS[emo], speaker=speaker,
                              gender="F", statement=word, duration=duration))  # fmt: skip
    if not files:
        raise DataError(f"{NAME}: no files under {base}; expected {EXPECTED}")
    return finish(NAME, base, utts, LABELS, problems, EXPECTED, label_set=label_set)


def _in_hidden(path: Path, base: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(base).parts)


def speaker_from_stem(stem: str) -> tuple[str, str] | None:
    m = _FILE.match(stem)
    return (m.group(1).upper(), "F") if m else None
