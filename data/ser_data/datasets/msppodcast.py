"""MSP-Podcast: `Audios/<FileName>` and `Labels/labels_consensus.csv`.

The CSV's columns: FileName, EmoClass, EmoAct, EmoVal, EmoDom, SpkrID, Gender, Split_Set (e.g.
`MSP-PODCAST_0001_0008.wav,N,2.2,4.0,2.6,30,Male,Test1`). EmoClass codes N H S A U F D C O X;
X (no agreement) becomes `xxx` and O `other`, as for IEMOCAP. EmoAct/EmoVal/EmoDom (1..7) are
arousal/valence/dominance; Split_Set (Train, Development, Test1, Test2, ...) is kept as
`Utterance.split`, so the official partitions are the `predefined` protocol. The podcast id
(`0001` in the name) is `session`. Speaker ids stay as written (`Unknown` included). A row with
an empty EmoClass (hidden labels) is skipped and counted. `Audio/` is accepted for `Audios/`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ser_data.datasets._common import finish, header_duration, label_set_option, require_root
from ser_data.datasets._tables import Row, read_rows
from ser_data.errors import DataError
from ser_data.manifest import UNKNOWN_GENDER, Manifest, Utterance
from ser_data.splits import ALLOWED as ALLOWED_SPLITS
from ser_data.splits import normalize_split

NAME = "msppodcast"
LABEL_FILE = "Labels/labels_consensus.csv"
EXPECTED = f"Audios/ (the wav files) and {LABEL_FILE}"
CODES = {"N": "neutral", "H": "happy", "S": "sad", "A": "angry", "U": "surprised", "F": "fearful",
         "D": "disgust", "C": "contempt", "O": "other", "X": "xxx"}  # fmt: skip
FULL = tuple(CODES.values())
LABEL_SETS = {
    "full": FULL,
    "8class": ("neutral", "happy", "sad", "angry", "surprised", "fearful", "disgust", "contempt"),
    "4class": ("neutral", "happy", "angry", "sad"),  # IEMOCAP's 4-class order
}
OPTIONS = (label_set_option(LABEL_SETS),)
COLUMNS = ("FileName", "EmoClass", "EmoAct", "EmoVal", "EmoDom", "SpkrID", "Gender", "Split_Set")
GENDERS = {"male": "M", "female": "F", "unknown": UNKNOWN_GENDER}


def load(root: str | Path, *, check_audio: str = "header", label_set: str = "full") -> Manifest:
    base = require_root(root, NAME, EXPECTED)
    labels_csv = base / LABEL_FILE
    if not labels_csv.is_file():
        raise DataError(f"{NAME}: no {LABEL_FILE} in {base}; expected {EXPECTED}")
    audio_dir = next((base / d for d in ("Audios", "Audio") if (base / d).is_dir()), None)
    if audio_dir is None:
        raise DataError(f"{NAME}: no Audios folder in {base}; expected {EXPECTED}")
    keep = LABEL_SETS[label_set]
    problems: list[tuple[str, str]] = []
    utts: list[Utterance] = []
    seen: dict[str, int] = {}
    skipped = {"unlabelled": 0}
    filtered = 0
    for row in read_rows(labels_csv, "csv", COLUMNS, lower=False):
        name = row.text("FileName", required=True)
        assert name is not None
        if not name.lower().endswith(".wav"):
            raise row.error("FileName", f"{name!r} is not a .wav file name")
        if name in seen:
            raise row.error("FileName", f"{name} is listed twice (first on line {seen[name]})")
        seen[name] = row.line
        utt = _utterance(row, name, audio_dir)
        if utt is None:
            skipped["unlabelled"] += 1
            continue
        if utt.emotion not in keep:
            filtered += 1
            continue
        path = Path(utt.path)
        if not path.is_file():
            problems.append((str(path), f"listed in {row.where()} but the audio file is missing"))
            continue
        duration = header_duration(path, check_audio, problems)
        if duration is None:
            continue
        utts.append(replace(utt, duration=duration))
    return finish(NAME, base, utts, keep, problems, EXPECTED, skipped=skipped, label_set=label_set,
                  filtered_out=filtered)  # fmt: skip


def _utterance(row: Row, name: str, audio_dir: Path) -> Utterance | None:
    code = row.text("EmoClass")
    if code is None:
        return None
    if code not in CODES:
        raise row.error("EmoClass", f"unknown code {code!r}; allowed: {', '.join(CODES)}")
    split = row.text("Split_Set", required=True)
    assert split is not None
    if normalize_split(split) is None:
        raise row.error("Split_Set", f"unknown partition {split!r}; allowed: {ALLOWED_SPLITS}")
    gender_text = row.text("Gender") or "Unknown"
    if gender_text.lower() not in GENDERS:
        raise row.error("Gender", f"unknown gender {gender_text!r}; allowed: Male, Female, Unknown")
    stem = name[: -len(".wav")]
    parts = stem.split("_")
    return Utterance(
        utt_id=stem,
        path=str(audio_dir / name),
        emotion=CODES[code],
        speaker=row.text("SpkrID") or "Unknown",
        gender=GENDERS[gender_text.lower()],
        session=parts[1] if len(parts) >= 3 else None,
        valence=row.number("EmoVal"),
        arousal=row.number("EmoAct"),
        dominance=row.number("EmoDom"),
        split=split,
    )
