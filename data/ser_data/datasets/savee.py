"""SAVEE (Surrey Audio-Visual Expressed Emotion): four male speakers DC, JE, JK, KL.

Two layouts are read, and give the same manifest (same utt_ids `DC_a01`):
- original: `AudioData/<SPK>/<code><NN>.wav` (e.g. `AudioData/DC/a01.wav`; AudioData/Info.txt),
- flattened copies: `ALL/<SPK>_<code><NN>.wav`, or those files directly in the root.
Codes (AudioData/Info.txt): a anger, d disgust, f fear, h happiness, n neutral, sa sadness,
su surprise; neutral has 30 sentences per speaker, the others 15.
"""

from __future__ import annotations

import re
from pathlib import Path

from ser_data.datasets._common import finish, header_duration, is_hidden, label_set_option, require_root
from ser_data.errors import DataError
from ser_data.manifest import Manifest, Utterance

NAME = "savee"
EXPECTED = "AudioData/<SPK>/<code><NN>.wav (original) or ALL/<SPK>_<code><NN>.wav (flattened), SPK in DC, JE, JK, KL"
EMOTIONS = {"a": "angry", "d": "disgust", "f": "fearful", "h": "happy", "n": "neutral", "sa": "sad", "su": "surprised"}
LABELS = tuple(EMOTIONS.values())
LABEL_SETS = {"full": LABELS}
OPTIONS = (label_set_option(LABEL_SETS),)
SPEAKERS = ("DC", "JE", "JK", "KL")
SENTENCES = {code: 30 if code == "n" else 15 for code in EMOTIONS}

_CODE = re.compile(r"^(sa|su|a|d|f|h|n)(\d{2})$")
_FLAT = re.compile(r"^([A-Z]{2})_([a-z]+\d+)$")


def load(root: str | Path, *, check_audio: str = "header", label_set: str = "full") -> Manifest:
    base = require_root(root, NAME, EXPECTED)
    candidates = _candidates(base)
    problems: list[tuple[str, str]] = []
    utts: list[Utterance] = []
    for path, speaker, code_part in candidates:
        if path.suffix.lower() != ".wav":
            if path.suffix.lower() != ".txt":  # AudioData/Info.txt and readmes belong to the release
                problems.append((str(path), "not a .wav file"))
            continue
        emotion = _check(path, speaker, code_part, problems)
        if emotion is None:
            continue
        duration = header_duration(path, check_audio, problems)
        if duration is None:
            continue
        utts.append(Utterance(utt_id=f"{speaker}_{code_part}", path=str(path), emotion=emotion,
                              speaker=speaker, gender="M", duration=duration))  # fmt: skip
    return finish(NAME, base, utts, LABELS, problems, EXPECTED, label_set=label_set)


def speaker_from_stem(stem: str) -> tuple[str, str] | None:
    m = _FLAT.match(stem)
    return (m.group(1), "M") if m and m.group(1) in SPEAKERS else None


def _candidates(base: Path) -> list[tuple[Path, str, str]]:
    """(file, speaker, code part) of the layout found under `base`."""
    original = base / "AudioData"
    flat = base / "ALL"
    loose = [p for p in base.iterdir() if p.is_file() and _FLAT.match(p.stem) and p.suffix.lower() == ".wav"]
    found = [name for name, present in (("AudioData/", original.is_dir()), ("ALL/", flat.is_dir()),
                                        ("flattened files in the root", bool(loose))) if present]  # fmt: skip
    if not found:
        raise DataError(f"{NAME}: neither AudioData/ nor ALL/ nor SPK_code.wav files in {base}; expected {EXPECTED}")
    if len(found) > 1:
        # Two copies of the same corpus would count every utterance twice.
        raise DataError(f"{NAME}: {base} holds both {' and '.join(found)}; point the data root at one copy")
    out: list[tuple[Path, str, str]] = []
    if original.is_dir():
        for entry in sorted(original.iterdir()):
            if is_hidden(entry):
                continue
            if entry.is_file():
                if entry.suffix.lower() != ".txt":
                    out.append((entry, "", ""))  # a stray file: reported by _check
                continue
            for path in sorted(p for p in entry.iterdir() if p.is_file() and not is_hidden(p)):
                out.append((path, entry.name, path.stem))
        return out
    files = sorted(p for p in (flat.iterdir() if flat.is_dir() else loose) if p.is_file() and not is_hidden(p))
    for path in files:
        m = _FLAT.match(path.stem)
        out.append((path, m.group(1) if m else "", m.group(2) if m else ""))
    return out


def _check(path: Path, speaker: str, code_part: str, problems: list[tuple[str, str]]) -> str | None:
    m = _CODE.match(code_part)
    if not speaker or not m:
        problems.append((str(path), f"file name does not follow {EXPECTED}"))
        return None
    if speaker not in SPEAKERS:
        problems.append((str(path), f"unknown speaker {speaker} (SAVEE has {', '.join(SPEAKERS)})"))
        return None
    code, number = m.group(1), int(m.group(2))
    if not 1 <= number <= SENTENCES[code]:
        problems.append((str(path), f"sentence number {number:02d} out of range for {code} (01..{SENTENCES[code]:02d})"))
        return None
    return EMOTIONS[code]
