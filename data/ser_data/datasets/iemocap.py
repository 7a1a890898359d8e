"""IEMOCAP: labels from `SessionN/dialog/EmoEvaluation/<dialog>.txt`, audio from
`SessionN/sentences/wav/<dialog>/<utterance>.wav`.

Only the summary lines `[START - END]\\tUTT_ID\\tLABEL\\t[V, A, D]` are read; header lines (`%`)
and per-annotator lines (`C-E2:`, `A-E3:`, ...) are skipped. Gender is the first letter of the
last `_` field of the id; the speaker is the session prefix plus that gender (`Ses01F`, `Ses01M`):
the dialog prefix names who wore the markers, not who speaks. Without `check_audio`, the
duration is END - START from the label line.
"""

from __future__ import annotations

import re
from pathlib import Path

from ser_data.datasets._common import finish, header_duration, is_hidden, label_set_option, require_root
from ser_data.datasets.options import Option
from ser_data.errors import DataError
from ser_data.manifest import Manifest, Utterance

NAME = "iemocap"
EXPECTED = "Session1..Session5 with dialog/EmoEvaluation/*.txt and sentences/wav/<dialog>/<utt>.wav"
CODES = {
    "neu": "neutral", "hap": "happy", "exc": "excited", "sad": "sad", "ang": "angry",
    "fru": "frustrated", "sur": "surprised", "fea": "fearful", "dis": "disgust",
    "oth": "other", "xxx": "xxx",
}  # fmt: skip
FULL = ("neutral", "happy", "excited", "sad", "angry", "frustrated", "surprised", "fearful",
        "disgust", "other", "xxx")  # fmt: skip
FOUR = ("neutral", "happy", "angry", "sad")
LABEL_SETS = {"full": FULL, "4class": FOUR}
OPTIONS = (
    label_set_option(LABEL_SETS),
    Option("improvised_only", "bool", False, "keep only the improvised dialogs (_impro)"),
)
# How each label set maps a full label; labels absent from the map are filtered out.
MAPPINGS = {
    "full": {name: name for name in FULL},
    "4class": {"neutral": "neutral", "happy": "happy", "excited": "happy", "angry": "angry", "sad": "sad"},
}

_SESSION = re.compile(r"^Session(\d+)$")
_LINE = re.compile(
    r"^\[\s*([-\d.]+)\s*-\s*([-\d.]+)\s*\]\s+(\S+)\s+(\S+)\s+\[\s*([-\d.]+)\s*,\s*([-\d.]+)\s*,\s*([-\d.]+)\s*\]\s*$"
)


def load(
    root: str | Path, *, check_audio: str = "header", label_set: str = "full", improvised_only: bool = False
) -> Manifest:
    base = require_root(root, NAME, EXPECTED)
    sessions = sorted((p for p in base.iterdir() if p.is_dir() and _SESSION.match(p.name)), key=_session_no)
    if not sessions:
        raise DataError(f"{NAME}: no SessionN folders in {base}; expected {EXPECTED}")
    mapping = MAPPINGS[label_set]
    problems: list[tuple[str, str]] = []
    utts: list[Utterance] = []
    filtered = 0
    label_files = 0
    for session in sessions:
        eval_dir = session / "dialog" / "EmoEvaluation"
        if not eval_dir.is_dir():
            problems.append((str(eval_dir), "missing label folder dialog/EmoEvaluation"))
            continue
        for txt in sorted(p for p in eval_dir.glob("*.txt") if not is_hidden(p)):
            label_files += 1
            for rec in _parse_label_file(txt, problems):
                utt_id, start, end, emotion, vad = rec
                improvised = "_impro" in utt_id
                if emotion not in mapping or (improvised_only and not improvised):
                    filtered += 1
                    continue
                wav = session / "sentences" / "wav" / txt.stem / f"{utt_id}.wav"
                if not wav.is_file():
                    problems.append((str(wav), f"labelled in {txt.name} but the audio file is missing"))
                    continue
                duration = header_duration(wav, check_audio, problems)
                if duration is None:
                    continue
                gender = utt_id.split("_")[-1][0].upper()
                utts.append(
                    Utterance(
                        utt_id=utt_id,
                        path=str(wav),
                        emotion=mapping[emotion],
                        speaker=utt_id[:5] + gender,
                        gender=gender,
                        session=session.name,
                        duration=duration if check_audio != "none" else end - start,
                        valence=vad[0],
                        arousal=vad[1],
                        dominance=vad[2],
                        improvised=improvised,
                    )
                )
    if label_files == 0:
        raise DataError(f"{NAME}: no label files (dialog/EmoEvaluation/*.txt) under {base}; expected {EXPECTED}")
    filters = {"improvised_only": bool(improvised_only)}
    return finish(NAME, base, utts, LABEL_SETS[label_set], problems, EXPECTED,
                  label_set=label_set, filters=filters, filtered_out=filtered)  # fmt: skip


def speaker_from_stem(stem: str) -> tuple[str, str] | None:
    """(speaker, gender) from an utterance id like Ses01F_impro01_M000, None if not IEMOCAP."""
    m = re.match(r"^(Ses\d\d)[FM]_\S+_([FM])\d+$", stem)
    return (m.group(1) + m.group(2), m.group(2)) if m else None


def _session_no(path: Path) -> int:
    return int(_SESSION.match(path.name).group(1))  # type: ignore[union-attr]


def _parse_label_file(
    txt: Path, problems: list[tuple[str, str]]
) -> list[tuple[str, float, float, str, tuple[float, float, float]]]:
    try:
        lines = txt.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        problems.append((str(txt), f"cannot read label file ({exc})"))
        return []
    out = []
    for number, line in enumerate(lines, 1):
        # Summary lines start with "["; "%" headers and "C-E2:"/"A-E3:"-style annotator lines don't.
        if not line.startswith("["):
            continue
        m = _LINE.match(line.strip())
        if not m:
            problems.append((f"{txt}:{number}", f"malformed label line {line.strip()[:60]!r}"))
            continue
        start, end, utt_id, code, v, a, d = m.groups()
        if code not in CODES:
            problems.append((f"{txt}:{number}", f"unknown label {code!r} for {utt_id}"))
            continue
        out.append((utt_id, float(start), float(end), CODES[code], (float(v), float(a), float(d))))
    return out
