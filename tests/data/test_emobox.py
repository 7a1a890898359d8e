"""EmoBox fold folders (real file names and JSONL fields, see docs/datasets.md) and `predefined`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from audio_writers import write_wav
from ser_data.datasets import load_manifest
from ser_data.errors import DataError
from ser_data.protocols import make_folds

# EmoBox's data/emodb/label_map.json, typos included ("boredem", "Neutral" while the fold files
# say "neutral"), and the emotion codes its emodb fold files use.
EMODB_LABEL_MAP = {"anger": "Angry", "boredem": "Boredom", "disgust": "Disgust", "fear": "Fear", "happy": "Happy",
                   "Neutral": "Neutral", "sad": "Sad"}
EMODB_CODES = {"W": "anger", "L": "boredem", "E": "disgust", "A": "fear", "F": "happy", "N": "neutral", "T": "sad"}
MSP_LABEL_MAP = {"U": "Surprise", "F": "Fear", "D": "Disgust", "A": "Angry", "S": "Sad", "X": "No-agreement",
                 "C": "Contempt", "N": "Neutral", "O": "Other", "H": "Happy"}


def _line(key: str, wav: str, emo: str, **extra: object) -> str:
    row = {"key": key, "dataset": key.split("-")[0], "wav": wav, "type": "raw", "sample_rate": 16000,
           "num_frame": 32000.0, "task": "category", "length": 2.0, "emo": emo, "channel": 1, **extra}
    return json.dumps(row)


def _write_fold(folder: Path, name: str, k: int, parts: dict[str, list[str]]) -> None:
    (folder / f"fold_{k}").mkdir(parents=True, exist_ok=True)
    for part, lines in parts.items():
        (folder / f"fold_{k}" / f"{name}_{part}_fold_{k}.jsonl").write_text("".join(line + "\n" for line in lines))


@pytest.fixture(scope="module")
def emodb_box(synth_tree, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:  # noqa: ANN001
    """EmoBox/{downloads/emodb/wav, data/emodb} for a 2-speaker synthetic EmoDB; a fold per speaker."""
    box = tmp_path_factory.mktemp("EmoBox")
    shutil.copytree(synth_tree("emodb", actors=2) / "wav", box / "downloads" / "emodb" / "wav")
    data = box / "data" / "emodb"
    data.mkdir(parents=True)
    (data / "label_map.json").write_text(json.dumps(EMODB_LABEL_MAP, indent=4))
    lines: dict[str, str] = {}
    fold_of: dict[str, int] = {}
    for wav in sorted((box / "downloads" / "emodb" / "wav").glob("*.wav")):
        key = f"emodb-{wav.stem}"
        lines[key] = _line(key, f"downloads/emodb/wav/{wav.name}", EMODB_CODES[wav.stem[5]])
        fold_of[key] = 1 if wav.stem.startswith("03") else 2
    for k in (1, 2):
        _write_fold(data, "emodb", k, {"train": [v for key, v in lines.items() if fold_of[key] != k],
                                       "test": [v for key, v in lines.items() if fold_of[key] == k]})
    return data, fold_of


def test_emobox_multi_fold_folder(emodb_box) -> None:  # noqa: ANN001
    data, fold_of = emodb_box
    m = load_manifest("emobox", data)
    assert len(m) == len(fold_of) and not m.problems
    assert m.labels == ("angry", "boredom", "disgust", "fearful", "happy", "neutral", "sad")  # sorted
    direct = load_manifest("emodb", data.parent.parent / "downloads" / "emodb")
    by_stem = {u.utt_id: u for u in direct.utterances}
    for u in m.utterances:
        same = by_stem[u.utt_id.removeprefix("emodb-")]
        assert (u.emotion, u.speaker, u.gender, u.fold) == (same.emotion, same.speaker, same.gender, fold_of[u.utt_id])
        assert u.duration == same.duration and u.split is None
    folds = make_folds("predefined", m)
    ids = np.array([u.utt_id for u in m.utterances])
    for f, k in zip(folds, (1, 2)):
        assert set(ids[f.test]) == {key for key, v in fold_of.items() if v == k}
        assert not set(f.train) & set(f.test) and len(f.train) + len(f.test) == len(m) and len(f.val) == 0
    val = make_folds("predefined", m.subset(range(len(m))), val=False)
    assert [f.test.tolist() for f in val] == [f.test.tolist() for f in folds]
    with pytest.raises(DataError, match="val=True needs at least 3 folds"):
        make_folds("predefined", m, val=True)


def test_emobox_options(emodb_box) -> None:  # noqa: ANN001
    data, _ = emodb_box
    raw = load_manifest("emobox", data, use_label_map=False, check_audio=False)
    assert set(raw.labels) == set(EMODB_CODES.values())
    merged = load_manifest("emobox", data, labels={"boredom": "drop", "disgust": "angry"},
                           classes=["neutral", "angry", "happy", "sad", "fearful"])
    assert merged.labels == ("neutral", "angry", "happy", "sad", "fearful") and "boredom" not in merged.counts()
    moved = data.parent.parent.parent / "elsewhere"
    shutil.copytree(data, moved / "emodb")
    with pytest.raises(DataError, match="no usable utterances"):
        load_manifest("emobox", moved / "emodb")  # wav paths start two folders up: not found there
    again = load_manifest("emobox", moved / "emodb", audio_root=str(data.parent.parent))
    assert len(again) == len(load_manifest("emobox", data))


def test_emobox_single_fold_with_valid(synth_tree, tmp_path: Path) -> None:  # noqa: ANN001
    root = synth_tree("msppodcast", actors=4, utterances=40)
    rows = (root / "Labels" / "labels_consensus.csv").read_text().splitlines()[1:]
    data = tmp_path / "data" / "msppodcast"
    data.mkdir(parents=True)
    (data / "label_map.json").write_text(json.dumps(MSP_LABEL_MAP))
    parts: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
    where = {"Train": "train", "Development": "valid", "Test1": "test"}
    for row in rows:
        name, code, *_, split = row.split(",")
        if split in where:  # EmoBox keeps Test1 only
            parts[where[split]].append(_line(f"msppodcast-{name[:-4]}", str(root / "Audios" / name), code))
    _write_fold(data, "msppodcast", 1, parts)
    m = load_manifest("emobox", data)
    assert len(m) == sum(len(v) for v in parts.values())
    assert {u.split for u in m.utterances} == {"train", "valid", "test"} and all(u.speaker == "unknown" for u in m.utterances)
    assert "xxx" in m.labels or "contempt" in m.labels  # Contempt/No-agreement reach canonical names
    f = make_folds("predefined", m)[0]
    splits = np.array([u.split for u in m.utterances])
    assert set(splits[f.train]) == {"train"} and set(splits[f.val]) == {"valid"} and set(splits[f.test]) == {"test"}


def _tiny_box(tmp_path: Path, folds: dict[int, dict[str, list[str]]], label_map: dict | None = None) -> Path:
    for name in ("Ses01F_impro01_F000", "Ses01F_impro01_M000", "Ses02F_impro01_F000", "Ses02F_impro01_M000"):
        write_wav(tmp_path / "downloads" / "iemocap" / f"{name}.wav")
    data = tmp_path / "data" / "iemocap"
    data.mkdir(parents=True, exist_ok=True)
    if label_map is not None:
        (data / "label_map.json").write_text(json.dumps(label_map))
    for k, parts in folds.items():
        _write_fold(data, "iemocap", k, parts)
    return data


def _iem(stem: str, emo: str = "neu", **extra: object) -> str:
    return _line(f"iemocap-{stem}", f"downloads/iemocap/{stem}.wav", emo, **extra)


A, B, C, D = "Ses01F_impro01_F000", "Ses01F_impro01_M000", "Ses02F_impro01_F000", "Ses02F_impro01_M000"


def test_emobox_speakers_segments_and_alternate_fields(tmp_path: Path) -> None:
    old_schema = json.dumps({"key": f"iemocap-{D}", "dataset": "iemocap", "audio": f"downloads/iemocap/{D}.wav",
                             "type": "raw", "label": "exc"})
    data = _tiny_box(tmp_path, {
        1: {"train": [_iem(C, "ang"), old_schema], "test": [_iem(A), _iem(B, "hap", start_time=1.0, end_time=2.5)]},
        2: {"train": [_iem(A), _iem(B, "hap", start_time=1.0, end_time=2.5)], "test": [_iem(C, "ang"), old_schema]},
    }, {"neu": "Neutral", "hap": "Happy", "ang": "Angry", "sad": "Sad", "exc": "Happy"})
    m = load_manifest("emobox", data)
    assert [(u.utt_id, u.emotion, u.speaker, u.gender, u.fold) for u in m.utterances] == [
        (f"iemocap-{A}", "neutral", "Ses01F", "F", 1), (f"iemocap-{C}", "angry", "Ses02F", "F", 2),
        (f"iemocap-{D}", "happy", "Ses02M", "M", 2)]
    assert len(m.problems) == 1 and "segment (start_time/end_time)" in m.problems[0][1]
    assert m.labels == ("angry", "happy", "neutral")  # the segment's label still counts as a class


@pytest.mark.parametrize(("folds", "words"), [
    ({1: {"train": [_iem(C), _iem(D)], "test": [_iem(A), _iem(B)]},
      2: {"train": [_iem(B)], "test": [_iem(C), _iem(D), _iem(A)]}}, f"'iemocap-{A}' is in the test files of folds 1, 2"),
    ({1: {"train": [_iem(C), _iem(D)], "test": [_iem(A), _iem(B)]},
      2: {"train": [_iem(A)], "test": [_iem(C), _iem(D)]}}, f"fold_2's train file lacks 'iemocap-{B}'"),
    ({1: {"train": [_iem(C)], "test": [_iem(A)], "valid": [_iem(B)]},
      2: {"train": [_iem(A), _iem(B)], "test": [_iem(C)]}}, "validation files with several folds"),
    ({1: {"train": [_iem(C)], "test": [_iem(A)]}, 3: {"train": [_iem(A)], "test": [_iem(C)]}}, "fold_1, fold_3"),
    ({1: {"train": [_iem(C)]}}, "iemocap_test_fold_1.jsonl is missing"),
    ({1: {"train": [_iem(C), _iem(C)], "test": [_iem(A)]}}, "iemocap_train_fold_1.jsonl:2: column 'key'"),
    ({1: {"train": [_iem(C), "{not json"], "test": [_iem(A)]}}, "iemocap_train_fold_1.jsonl:2: not valid JSON"),
    ({1: {"train": [_iem(C, "fru")], "test": [_iem(A)]}}, "iemocap_train_fold_1.jsonl:1: column 'emo': code 'fru' is not in label_map.json"),
    ({1: {"train": [_iem(C)], "test": [_iem(C, "ang")]}}, "different emo"),
    ({1: {"train": [json.dumps({"key": "x", "emo": "neu"})], "test": [_iem(A)]}}, "column 'wav': missing"),
])
def test_emobox_bad_folders(tmp_path: Path, folds: dict, words: str) -> None:
    data = _tiny_box(tmp_path, folds, {"neu": "Neutral", "ang": "Angry"})
    with pytest.raises(DataError) as err:
        load_manifest("emobox", data)
    assert words in str(err.value)


def test_emobox_missing_audio_is_a_problem(tmp_path: Path) -> None:
    data = _tiny_box(tmp_path, {1: {"train": [_iem(C), _iem("Ses09F_impro01_F000")], "test": [_iem(A)]}}, None)
    m = load_manifest("emobox", data)
    assert [u.split for u in m.utterances] == ["test", "train"] and m.labels == ("neu",)  # no label map: raw codes
    assert "Ses09F_impro01_F000.wav" in m.problems[0][0] and "missing" in m.problems[0][1]
    with pytest.raises(DataError, match="no fold_<k> folders"):
        load_manifest("emobox", tmp_path / "downloads")
