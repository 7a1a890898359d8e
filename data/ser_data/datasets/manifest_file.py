"""Any corpus listed in a file (`name: manifest`): a CSV, TSV or JSONL file, one utterance a row.

Columns (CSV header names are matched case-insensitively):
- required: `path` (absolute, or relative to `dataset.audio_root`, default the manifest's
  folder), `emotion`, `speaker`;
- optional: `utt_id` (default: the file name without extension; two equal ones are an error),
  `gender` (M/F/U, male/female, empty = U), `session`, `intensity`, `statement`, `valence`,
  `arousal`, `dominance` (numbers), `improvised` (true/false), and either `fold` (integer: the
  fold whose test part holds the row; values consecutive from 0 or 1) or `split` (train/val/
  test names, see ser_data.splits). Other columns are ignored.

Bad rows (missing columns or values, bad numbers, unknown labels when `dataset.classes` is
given, duplicate paths or ids, fold gaps) raise one DataError naming the file, line and column;
missing or unreadable audio files are listed in `Manifest.problems`. Classes: `dataset.classes`
if given, else the labels sorted (see ser_data.labels.LabelPolicy.order for why not first use).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from ser_data.atomic import atomic_write_text
from ser_data.datasets._common import finish, header_duration, require_file
from ser_data.datasets._tables import Row, read_rows, table_format
from ser_data.datasets.options import Option
from ser_data.errors import DataError
from ser_data.labels import LabelPolicy
from ser_data.manifest import UNKNOWN_GENDER, Manifest, Utterance
from ser_data.splits import ALLOWED as ALLOWED_SPLITS
from ser_data.splits import normalize_split

NAME = "manifest"
REQUIRED = ("path", "emotion", "speaker")
TEXT_COLUMNS = ("utt_id", "session", "intensity", "statement", "split")
NUMBER_COLUMNS = ("valence", "arousal", "dominance")
EXPECTED = "a .csv/.tsv/.jsonl file with columns path, emotion, speaker (see docs/datasets.md)"
OPTIONS = (
    Option("audio_root", "path", None, "folder that relative paths start from (default: the manifest's folder)"),
    Option("format", "choice", None, "file format (default: from the extension)", choices=("csv", "tsv", "jsonl")),
)
GENDERS = {"m": "M", "male": "M", "f": "F", "female": "F", "u": UNKNOWN_GENDER, "unknown": UNKNOWN_GENDER}
_BOOLS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def load(
    root: str | Path,
    *,
    check_audio: str = "header",
    audio_root: str | None = None,
    format: str | None = None,  # noqa: A002  (the option's name in grids)
    labels: Mapping[str, str] | None = None,
    classes: Sequence[str] | None = None,
) -> Manifest:
    listing = require_file(root, NAME, EXPECTED)
    fmt = table_format(listing, format, NAME)
    base = Path(audio_root).expanduser() if audio_root else listing.parent
    base = (listing.parent / base if not base.is_absolute() else base).resolve()
    policy = LabelPolicy(NAME, labels, classes)
    entries: list[tuple[Row, Utterance]] = []
    seen_paths: dict[str, int] = {}
    seen_ids: dict[str, int] = {}
    folds: dict[int, int] = {}  # fold value -> first line
    filtered = 0
    for row in read_rows(listing, fmt, REQUIRED):
        utt = _utterance(row, base, policy)
        if utt.path in seen_paths:
            raise row.error("path", f"{utt.path} is listed twice (first on line {seen_paths[utt.path]})")
        seen_paths[utt.path] = row.line
        if utt.utt_id in seen_ids:
            hint = "" if row.text("utt_id") else " (two files with the same name: add an utt_id column)"
            raise row.error("utt_id", f"utterance id {utt.utt_id!r} is used twice (first on line {seen_ids[utt.utt_id]}){hint}")
        seen_ids[utt.utt_id] = row.line
        if utt.fold is not None:
            folds.setdefault(utt.fold, row.line)
        if not utt.emotion:  # dropped by dataset.labels
            filtered += 1
            continue
        entries.append((row, utt))
    _check_fold_gaps(listing, folds)
    problems: list[tuple[str, str]] = []
    utts: list[Utterance] = []
    for row, utt in entries:
        path = Path(utt.path)
        if not path.is_file():
            problems.append((utt.path, f"listed on line {row.line} of {listing} but the file is missing"))
            continue
        duration = header_duration(path, check_audio, problems)
        if duration is None:
            continue
        utts.append(replace(utt, duration=duration))
    order = policy.order(u.emotion for _, u in entries)
    return finish(NAME, listing, utts, order, problems, EXPECTED, filters=policy.filters(), filtered_out=filtered)


def _utterance(row: Row, base: Path, policy: LabelPolicy) -> Utterance:
    """Every column of a row checked; a dropped label gives emotion ''."""
    text = row.text("path", required=True)
    assert text is not None
    path = Path(text).expanduser()
    path = Path(os.path.normpath(path if path.is_absolute() else base / path))
    raw = row.text("emotion", required=True)
    assert raw is not None
    emotion = policy.apply(raw, row.where("emotion")) or ""
    speaker = row.text("speaker", required=True)
    assert speaker is not None
    fold, split = row.integer("fold"), row.text("split")
    if fold is not None and split is not None:
        raise row.error("fold", "both fold and split are given; a row takes its partition from one of them")
    if fold is not None and fold < 0:
        raise row.error("fold", f"{fold} is negative; folds are numbered from 0 or 1")
    if split is not None and normalize_split(split) is None:
        raise row.error("split", f"unknown partition {split!r}; allowed: {ALLOWED_SPLITS}")
    values = {c: row.number(c) for c in NUMBER_COLUMNS}
    return Utterance(
        utt_id=row.text("utt_id") or path.stem,
        path=str(path),
        emotion=emotion,
        speaker=speaker,
        gender=_gender(row),
        session=row.text("session"),
        intensity=row.text("intensity"),
        statement=row.text("statement"),
        improvised=_improvised(row),
        fold=fold,
        split=split,
        **values,
    )


def _gender(row: Row) -> str:
    value = row.text("gender")
    if value is None:
        return UNKNOWN_GENDER
    if value.lower() not in GENDERS:
        raise row.error("gender", f"{value!r} is not a gender; allowed: M, F, U (or male, female, unknown)")
    return GENDERS[value.lower()]


def _improvised(row: Row) -> bool | None:
    value = row.values.get("improvised")
    if isinstance(value, bool) or value is None:
        return value
    text = str(value).strip().lower()
    if not text:
        return None
    if text not in _BOOLS:
        raise row.error("improvised", f"{value!r} is not true/false")
    return _BOOLS[text]


def _check_fold_gaps(listing: Path, folds: dict[int, int]) -> None:
    if not folds:
        return
    values = sorted(folds)
    if values[0] > 1:
        raise DataError(f"{listing}:{folds[values[0]]}: column 'fold': the first fold is {values[0]}; "
                        "folds are numbered consecutively from 0 or 1")
    for before, after in zip(values, values[1:]):
        if after != before + 1:
            raise DataError(f"{listing}:{folds[after]}: column 'fold': fold {after} follows fold {before}; "
                            f"fold {before + 1} has no row (folds must be consecutive)")


def write_manifest(manifest: Manifest, path: str | Path) -> Path:
    """Write a manifest as a list file that `load_manifest("manifest", path)` reads back to the
    same utterances (absolute paths; format from the extension). Atomic."""
    target = Path(path)
    fmt = table_format(target, None, NAME)
    columns = ["path", "utt_id", "emotion", "speaker", "gender", "session", "intensity", "statement",
               "valence", "arousal", "dominance", "improvised", "fold", "split"]  # fmt: skip
    used = [c for c in columns if c in ("path", "utt_id", "emotion", "speaker")
            or any(getattr(u, c) is not None for u in manifest.utterances)]  # fmt: skip
    records = [{c: getattr(u, c) for c in used} for u in manifest.utterances]
    if fmt == "jsonl":
        text = "".join(json.dumps(r) + "\n" for r in records)
    else:
        sep = "\t" if fmt == "tsv" else ","
        lines = [sep.join(used)] + [sep.join(_cell(r[c], sep) for c in used) for r in records]
        text = "\n".join(lines) + "\n"
    return atomic_write_text(target, text)


def _cell(value: object, sep: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = str(value).lower() if isinstance(value, bool) else str(value)  # repr-exact floats
    if sep in text or '"' in text or "\n" in text:
        text = '"' + text.replace('"', '""') + '"'
    return text
