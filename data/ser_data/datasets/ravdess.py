"""RAVDESS: `Actor_NN/MM-VV-EE-II-SS-RR-AA.wav`, speech audio-only files (`03-01-*`) only.

Song (`03-02`) and audio-visual/video-only files (`01-`, `02-`, usually .mp4) are not problems:
they are skipped and counted in `Manifest.skipped`. Names that break the convention are problems.
"""

from __future__ import annotations

import re
from pathlib import Path

from ser_data.datasets._common import finish, header_duration, is_hidden, label_set_option, require_root
from ser_data.errors import DataError
from ser_data.manifest import Manifest, Utterance

NAME = "ravdess"
EXPECTED = "folders Actor_01..Actor_24 holding MM-VV-EE-II-SS-RR-AA.wav files"
LABELS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
LABEL_SETS = {"full": LABELS}
OPTIONS = (label_set_option(LABEL_SETS),)
STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
INTENSITIES = {"01": "normal", "02": "strong"}

_FOLDER = re.compile(r"^Actor_(\d{2})$")
_FILE = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")


def load(root: str | Path, *, check_audio: str = "header", label_set: str = "full") -> Manifest:
    base = require_root(root, NAME, EXPECTED)
    actor_dirs = sorted(p for p in base.iterdir() if p.is_dir() and _FOLDER.match(p.name))
    if not actor_dirs:
        raise DataError(f"{NAME}: no Actor_NN folders in {base}; expected {EXPECTED}")
    problems: list[tuple[str, str]] = []
    skipped = {"song": 0, "video": 0}
    utts: list[Utterance] = []
    for folder in actor_dirs:
        folder_actor = _FOLDER.match(folder.name).group(1)  # type: ignore[union-attr]
        for path in sorted(folder.iterdir()):
            if is_hidden(path) or path.is_dir():
                continue
            utt = _parse(path, folder_actor, problems, skipped)
            if utt is None:
                continue
            duration = header_duration(path, check_audio, problems)
            if duration is None:
                continue
            utts.append(Utterance(**{**utt, "duration": duration}))
    return finish(NAME, base, utts, LABELS, problems, EXPECTED, skipped=skipped, label_set=label_set)


def speaker_from_stem(stem: str) -> tuple[str, str] | None:
    """(speaker, gender) from a file name stem (used by the EmoBox loader), None if not RAVDESS."""
    m = _FILE.match(stem)
    if not m:
        return None
    actor = m.group(7)
    return f"Actor_{actor}", "M" if int(actor) % 2 == 1 else "F"


def _parse(path: Path, folder_actor: str, problems: list, skipped: dict[str, int]) -> dict | None:
    suffix = path.suffix.lower()
    m = _FILE.match(path.stem)
    if suffix != ".wav":
        if m and m.group(1) in ("01", "02"):
            skipped["video"] += 1  # the audio-visual and video-only releases (.mp4)
        else:
            problems.append((str(path), f"not a RAVDESS .wav file (expected {EXPECTED})"))
        return None
    if not m:
        problems.append((str(path), "file name does not follow MM-VV-EE-II-SS-RR-AA.wav"))
        return None
    modality, channel, emo, inten, stmt, rep, actor = m.groups()
    if modality in ("01", "02"):
        skipped["video"] += 1
        return None
    if modality != "03" or channel not in ("01", "02"):
        problems.append((str(path), f"unknown modality/vocal channel {modality}-{channel}"))
        return None
    if channel == "02":
        skipped["song"] += 1
        return None
    bad = _field_problem(emo, inten, stmt, rep, actor, folder_actor)
    if bad:
        problems.append((str(path), bad))
        return None
    number = int(actor)
    return {
        "utt_id": path.stem,
        "path": str(path),
        "emotion": LABELS[int(emo) - 1],
        "speaker": f"Actor_{actor}",
        "gender": "M" if number % 2 == 1 else "F",
        "intensity": INTENSITIES[inten],
        "statement": STATEMENTS[stmt],
    }


def _field_problem(emo: str, inten: str, stmt: str, rep: str, actor: str, folder_actor: str) -> str | None:
    if not 1 <= int(emo) <= 8:
        return f"emotion code {emo} not in 01..08"
    if inten not in INTENSITIES:
        return f"intensity code {inten} not in 01, 02"
    if emo == "01" and inten == "02":
        return "neutral has no strong intensity in RAVDESS"
    if stmt not in STATEMENTS:
        return f"statement code {stmt} not in 01, 02"
    if rep not in ("01", "02"):
        return f"repetition code {rep} not in 01, 02"
    if actor != folder_actor:
        return f"actor {actor} in the file name but the file is in Actor_{folder_actor}"
    return None
