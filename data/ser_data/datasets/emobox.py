"""EmoBox fold files (Ma et al., Interspeech 2024; github.com/emo-box/EmoBox, folder data/<name>/).

The root is one dataset's folder, e.g. `EmoBox/data/iemocap`:
  fold_<k>/<name>_train_fold_<k>.jsonl, fold_<k>/<name>_test_fold_<k>.jsonl,
  optionally fold_<k>/<name>_valid_fold_<k>.jsonl, and label_map.json (code -> label name).
Each JSONL line: {"key", "dataset", "wav", "type", "sample_rate", "num_frame", "task",
"length", "emo", "channel"} (some older files say "audio"/"label" for "wav"/"emo"; both are read).
`wav` paths are relative to the EmoBox checkout (`downloads/<name>/...`), so they start from
`dataset.audio_root`, by default two folders above the root.

Partitions (checked on every public EmoBox dataset, see docs/datasets.md): with several folds
the test files partition the corpus and each train file is the rest, so `Utterance.fold` = the
fold whose test file lists the utterance; with one fold, `Utterance.split` = train/valid/test.
Anything else (an utterance in two test files, a train file that is not the complement) is a
DataError. Rows that cut a segment out of a longer file (start_time/end_time, e.g. PAVOQUE) are
listed as problems: ser_data reads whole files. Speakers are not in the files; for the corpora
ser_data knows (iemocap, ravdess, cremad, emodb, tess, savee) they come from the file name,
otherwise they are "unknown".
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from ser_data.datasets import cremad, emodb, iemocap, ravdess, savee, tess
from ser_data.datasets._common import finish, header_duration, require_root
from ser_data.datasets._tables import Row, read_rows
from ser_data.datasets.options import Option
from ser_data.errors import DataError
from ser_data.labels import LabelPolicy, canonical_label
from ser_data.manifest import UNKNOWN_GENDER, Manifest, Utterance

NAME = "emobox"
EXPECTED = ("an EmoBox dataset folder (e.g. EmoBox/data/iemocap) holding fold_<k>/<name>_train_fold_<k>.jsonl, "
            "fold_<k>/<name>_test_fold_<k>.jsonl and label_map.json")  # fmt: skip
OPTIONS = (
    Option("audio_root", "path", None, "folder the `wav` paths start from (default: two folders above the root)"),
    Option("use_label_map", "bool", True, "map the `emo` codes through label_map.json"),
)
PARTS = ("train", "valid", "test")
SPEAKER_RULES: dict[str, Callable[[str], tuple[str, str] | None]] = {
    "iemocap": iemocap.speaker_from_stem, "ravdess": ravdess.speaker_from_stem,
    "cremad": cremad.speaker_from_stem, "emodb": emodb.speaker_from_stem,
    "tess": tess.speaker_from_stem, "savee": savee.speaker_from_stem,
}  # fmt: skip
_FOLD_DIR = re.compile(r"^fold_(\d+)$")


def load(
    root: str | Path,
    *,
    check_audio: str = "header",
    audio_root: str | None = None,
    use_label_map: bool = True,
    labels: Mapping[str, str] | None = None,
    classes: Sequence[str] | None = None,
) -> Manifest:
    base = require_root(root, NAME, EXPECTED)
    name = base.name
    folds = _fold_dirs(base)
    audio_base = Path(audio_root).expanduser() if audio_root else base.parent.parent
    audio_base = (base / audio_base if not audio_base.is_absolute() else audio_base).resolve()
    label_map = _label_map(base) if use_label_map else None
    policy = LabelPolicy(NAME, labels, classes)
    first: dict[str, Row] = {}
    parts: dict[str, dict[int, str]] = {}
    for k, folder in folds:
        for part in PARTS:
            listing = folder / f"{name}_{part}_fold_{k}.jsonl"
            if not listing.is_file():
                if part != "valid":
                    raise DataError(f"{NAME}: {listing} is missing; expected {EXPECTED}")
                continue
            if part == "valid" and len(folds) > 1:
                raise DataError(f"{NAME}: {listing}: validation files with several folds are not supported "
                                "(no public EmoBox dataset has them)")
            _read_listing(listing, k, part, first, parts)
    _check_partition(base, folds, parts)
    speaker_rule = SPEAKER_RULES.get(name)
    problems: list[tuple[str, str]] = []
    utts: list[Utterance] = []
    kept_labels: list[str] = []
    filtered = 0
    for key, row in first.items():
        utt = _utterance(row, key, audio_base, label_map, policy, speaker_rule)
        if utt is None:
            filtered += 1
            continue
        membership = parts[key]
        utt = replace(utt, fold=next(k for k, p in membership.items() if p == "test")) if len(folds) > 1 \
            else replace(utt, split=membership[folds[0][0]])  # fmt: skip
        kept_labels.append(utt.emotion)
        if _is_segment(row):
            problems.append((utt.path, f"{row.where()}: a segment (start_time/end_time) of a longer file; "
                                       "ser_data reads whole files"))  # fmt: skip
            continue
        path = Path(utt.path)
        if not path.is_file():
            problems.append((utt.path, f"listed in {row.where()} but the audio file is missing"))
            continue
        duration = header_duration(path, check_audio, problems)
        if duration is None:
            continue
        utts.append(utt if math.isnan(duration) else replace(utt, duration=duration))  # NaN: keep `length`
    order = policy.order(kept_labels)
    return finish(NAME, base, utts, order, problems, EXPECTED, filters=policy.filters(), filtered_out=filtered)


def _fold_dirs(base: Path) -> list[tuple[int, Path]]:
    found = sorted((int(m.group(1)), p) for p in base.iterdir() if p.is_dir() and (m := _FOLD_DIR.match(p.name)))
    if not found:
        raise DataError(f"{NAME}: no fold_<k> folders in {base}; expected {EXPECTED}")
    numbers = [k for k, _ in found]
    if numbers != list(range(1, len(numbers) + 1)):
        raise DataError(f"{NAME}: fold folders in {base} are {', '.join(f'fold_{k}' for k in numbers)}; "
                        "expected fold_1 .. fold_<K> without gaps")
    return found


def _label_map(base: Path) -> dict[str, str] | None:
    path = base / "label_map.json"
    if not path.is_file():
        return None  # EMOVO ships none: the codes are the labels (map them with dataset.labels)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{NAME}: cannot read {path}: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise DataError(f"{NAME}: {path} is not a JSON object of code -> label name")
    return data


def _read_listing(listing: Path, k: int, part: str, first: dict[str, Row], parts: dict[str, dict[int, str]]) -> None:
    in_file: dict[str, int] = {}
    for row in read_rows(listing, "jsonl", ("key",)):
        key = row.text("key", required=True)
        assert key is not None
        if key in in_file:
            raise row.error("key", f"{key!r} is listed twice in this file (first on line {in_file[key]})")
        in_file[key] = row.line
        for column, alias in (("wav", "audio"), ("emo", "label")):
            if row.text(column) is None and row.text(alias) is None:
                raise row.error(column, f"missing (neither {column!r} nor {alias!r} is given)")
        if key in first:
            before = first[key]
            for column, alias in (("wav", "audio"), ("emo", "label")):
                if (row.text(column) or row.text(alias)) != (before.text(column) or before.text(alias)):
                    raise row.error(column, f"{key!r} has a different {column} than on {before.where()}")
        else:
            first[key] = row
        parts.setdefault(key, {})[k] = part


def _check_partition(base: Path, folds: list[tuple[int, Path]], parts: dict[str, dict[int, str]]) -> None:
    if len(folds) == 1:
        return
    numbers = [k for k, _ in folds]
    for key, membership in parts.items():
        tested = [k for k, p in membership.items() if p == "test"]
        if len(tested) != 1:
            where = "no test file" if not tested else f"the test files of folds {', '.join(map(str, tested))}"
            raise DataError(f"{NAME}: {base}: {key!r} is in {where}; with several folds every utterance must be "
                            "tested in exactly one fold")
        absent = [k for k in numbers if k not in membership]
        if absent:
            raise DataError(f"{NAME}: {base}: fold_{absent[0]}'s train file lacks {key!r} (tested in fold "
                            f"{tested[0]}); each fold's train file must hold every utterance it does not test")


def _utterance(row: Row, key: str, audio_base: Path, label_map: dict[str, str] | None,
               policy: LabelPolicy, speaker_rule: Callable[[str], tuple[str, str] | None] | None) -> Utterance | None:
    wav = row.text("wav") or row.text("audio")
    code = row.text("emo") or row.text("label")
    assert wav is not None and code is not None
    column = "emo" if row.text("emo") else "label"
    label = code if label_map is None else canonical_label(_lookup(label_map, code, row, column))
    emotion = policy.apply(label, row.where(column))
    if emotion is None:
        return None
    path = Path(wav).expanduser()
    path = path if path.is_absolute() else audio_base / path
    speaker, gender = _speaker(row, path.stem, speaker_rule)
    length = row.number("length")
    return Utterance(utt_id=key, path=str(path), emotion=emotion, speaker=speaker, gender=gender,
                     duration=length if length is not None else float("nan"))  # fmt: skip


def _lookup(label_map: dict[str, str], code: str, row: Row, column: str) -> str:
    if code in label_map:
        return label_map[code]
    # EmoDB's label_map.json says "Neutral" where its fold files say "neutral".
    folded = [v for k, v in label_map.items() if k.lower() == code.lower()]
    if len(folded) == 1:
        return folded[0]
    raise row.error(column, f"code {code!r} is not in label_map.json (codes: {', '.join(label_map)}); "
                            "map it with dataset.labels or set dataset.use_label_map: false")


def _speaker(row: Row, stem: str, rule: Callable[[str], tuple[str, str] | None] | None) -> tuple[str, str]:
    given = row.text("spk") or row.text("speaker")
    if given:
        return given, UNKNOWN_GENDER
    found = rule(stem) if rule else None
    return found if found else ("unknown", UNKNOWN_GENDER)


def _is_segment(row: Row) -> bool:
    start, end, length = row.number("start_time"), row.number("end_time"), row.number("length")
    if start is None and end is None:
        return False
    # EmoBox's own preprocessing writes start 0 / end = duration for whole files.
    return bool(start) or (end is not None and length is not None and abs(end - length) > 0.01)
