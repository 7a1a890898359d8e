"""`name: manifest`: any corpus listed in a CSV/TSV/JSONL file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from audio_writers import write_garbage, write_wav
from ser_data.datasets import load_manifest
from ser_data.datasets.manifest_file import write_manifest
from ser_data.errors import DataError
from ser_data.protocols import make_folds

RAVDESS_ORDER = ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"]


def _ravdess_csv(root: Path, out: Path) -> Path:
    """A manifest of a RAVDESS-layout tree (paths relative to `root`), written from the file
    names by hand (not by a loader)."""
    lines = ["path,emotion,speaker,gender,intensity,statement"]
    statements = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
    for wav in sorted(root.rglob("*.wav"), reverse=True):  # row order must not matter
        _, _, emo, inten, stmt, _, actor = wav.stem.split("-")
        gender = "M" if int(actor) % 2 else "F"
        lines.append(f"{wav.relative_to(root)},"
                     f"{RAVDESS_ORDER[int(emo) - 1]},Actor_{actor},{gender},"
                     f"{'normal' if inten == '01' else 'strong'},{statements[stmt]}")
    out.write_text("\n".join(lines) + "\n")
    return out


def test_csv_of_a_ravdess_tree_gives_the_ravdess_manifest(synth_corpus, tmp_path: Path) -> None:  # noqa: ANN001
    root = synth_corpus("ravdess", actors=2)
    listing = _ravdess_csv(root, tmp_path / "listing.csv")
    direct = load_manifest("ravdess", root)
    via_csv = load_manifest("manifest", listing, classes=RAVDESS_ORDER, audio_root=str(root))
    assert via_csv.labels == direct.labels
    assert via_csv.utterances == direct.utterances  # every field: ids, paths, labels, speakers, durations
    assert not via_csv.problems
    for protocol, params in (("speaker_kfold", {"folds": 2}), ("kumar_70_30", {"folds": 3})):
        for a, b in zip(make_folds(protocol, direct, **params), make_folds(protocol, via_csv, **params)):
            assert np.array_equal(a.train, b.train) and np.array_equal(a.test, b.test)
    # Without a class list the order is the sorted labels, whatever the row order.
    assert load_manifest("manifest", listing, audio_root=str(root)).labels == tuple(sorted(RAVDESS_ORDER))
    # write_manifest round-trips (absolute paths, JSONL and TSV too).
    for suffix in (".csv", ".jsonl", ".tsv"):
        out = write_manifest(direct, tmp_path / f"again{suffix}")
        assert load_manifest("manifest", out, classes=RAVDESS_ORDER).utterances == direct.utterances


@pytest.fixture()
def wavs(tmp_path: Path) -> Path:
    for name in ("a", "b", "c", "d"):
        write_wav(tmp_path / "audio" / f"{name}.wav", seed=ord(name))
    return tmp_path


def _write(folder: Path, text: str, name: str = "list.csv") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_label_map_merges_renames_drops_and_orders(wavs: Path) -> None:
    listing = _write(wavs, "path,emotion,speaker,valence,fold\naudio/a.wav,exc,s1,2.5,1\naudio/b.wav,hap,s1,,1\n"
                           "audio/c.wav,fru,s2,4,2\naudio/d.wav,neu,s2,3,2\n")
    m = load_manifest("manifest", listing, labels={"exc": "happy", "hap": "happy", "fru": "drop", "neu": "neutral"})
    assert m.labels == ("happy", "neutral") and m.counts() == {"happy": 2, "neutral": 1}
    assert [u.utt_id for u in m.utterances] == ["a", "b", "d"] and [u.valence for u in m.utterances] == [2.5, None, 3.0]
    assert [u.fold for u in m.utterances] == [1, 1, 2]
    assert m.filters == {"labels": {"exc": "happy", "fru": "drop", "hap": "happy", "neu": "neutral"}}
    ordered = load_manifest("manifest", listing, labels={"fru": "drop"}, classes=["neu", "hap", "exc", "ang"])
    assert ordered.labels == ("neu", "hap", "exc", "ang") and list(ordered.label_ids()) == [2, 1, 0]
    folds = make_folds("predefined", m)
    assert [(f.train.tolist(), f.test.tolist()) for f in folds] == [([2], [0, 1]), ([0, 1], [2])]


def test_missing_and_unreadable_audio_are_counted_problems(wavs: Path) -> None:
    write_garbage(wavs / "audio" / "bad.wav")
    listing = _write(wavs, "path,emotion,speaker\naudio/a.wav,x,s1\naudio/gone.wav,x,s1\naudio/bad.wav,y,s2\n"
                           f"{wavs / 'audio' / 'b.wav'},y,s2\n")
    m = load_manifest("manifest", listing)
    assert [u.utt_id for u in m.utterances] == ["a", "b"]
    reasons = {Path(p).name: r for p, r in m.problems}
    assert reasons["gone.wav"] == f"listed on line 3 of {listing} but the file is missing"
    assert "unreadable" in reasons["bad.wav"]
    assert m.labels == ("x", "y")  # a class whose files are missing keeps its place


def test_audio_root_and_formats(wavs: Path) -> None:
    (wavs / "lists").mkdir()
    tsv = _write(wavs / "lists", "path\temotion\tspeaker\tsplit\na.wav\tx\ts1\tTrain\nb.wav\ty\ts2\tDevelopment\n"
                                 "c.wav\tx\ts3\tTest1\n", "l.tsv")
    m = load_manifest("manifest", tsv, audio_root="../audio")
    assert [Path(u.path) for u in m.utterances] == [wavs / "audio" / f"{n}.wav" for n in "abc"]
    f = make_folds("predefined", m)[0]
    assert (f.train.tolist(), f.val.tolist(), f.test.tolist()) == ([0], [1], [2])
    jsonl = _write(wavs, "".join(json.dumps(r) + "\n" for r in [
        {"path": "audio/a.wav", "emotion": "x", "speaker": 7, "improvised": True, "arousal": 3},
        {"path": "audio/b.wav", "emotion": "y", "speaker": "s2", "gender": "female", "utt_id": "B"},
    ]), "l.jsonl")
    j = load_manifest("manifest", jsonl)
    assert [(u.utt_id, u.speaker, u.gender, u.improvised, u.arousal) for u in j.utterances] == [
        ("B", "s2", "F", None, None), ("a", "7", "U", True, 3.0)]
    with pytest.raises(DataError, match="cannot tell the format"):
        load_manifest("manifest", _write(wavs, "x", "l.txt"))
    assert load_manifest("manifest", _write(wavs, tsv.read_text(), "l.txt"), format="tsv", audio_root="audio").labels == ("x", "y")


@pytest.mark.parametrize(("text", "line", "column", "words"), [
    ("path,emotion\naudio/a.wav,x\n", 1, None, "missing column 'speaker'"),
    ("path,emotion,speaker\naudio/a.wav,x,s1\naudio/b.wav,,s1\n", 3, "emotion", "empty; a value is required"),
    ("path,emotion,speaker,valence\naudio/a.wav,x,s1,high\n", 2, "valence", "'high' is not a number"),
    ("path,emotion,speaker,arousal\naudio/a.wav,x,s1,nan\n", 2, "arousal", "'nan' is not a number"),
    ("path,emotion,speaker\naudio/a.wav,x,s1\n./audio/a.wav,y,s2\n", 3, "path", "listed twice (first on line 2)"),
    ("path,emotion,speaker\naudio/a.wav,x,s1\nother/a.wav,y,s2\n", 3, "utt_id", "add an utt_id column"),
    ("path,emotion,speaker,fold\naudio/a.wav,x,s1,1\naudio/b.wav,x,s1,2\naudio/c.wav,x,s1,4\n", 4, "fold",
     "fold 4 follows fold 2; fold 3 has no row"),
    ("path,emotion,speaker,fold\naudio/a.wav,x,s1,2\naudio/b.wav,x,s1,3\n", 2, "fold", "the first fold is 2"),
    ("path,emotion,speaker,fold\naudio/a.wav,x,s1,two\n", 2, "fold", "'two' is not an integer"),
    ("path,emotion,speaker,split\naudio/a.wav,x,s1,holdout\n", 2, "split", "unknown partition 'holdout'"),
    ("path,emotion,speaker,fold,split\naudio/a.wav,x,s1,1,train\n", 2, "fold", "both fold and split"),
    ("path,emotion,speaker,gender\naudio/a.wav,x,s1,robot\n", 2, "gender", "'robot' is not a gender"),
    ("path,emotion,speaker\naudio/a.wav,x,s1\naudio/b.wav,x\n", 3, None, "2 fields, but the header has 3"),
    ("path,emotion,speaker\naudio/a.wav,x,s1\naudio/b.wav,bored,s1\n", 3, "emotion",
     "label 'bored' is not in dataset.classes [x, y]"),
])
def test_bad_rows_name_the_file_line_and_column(wavs: Path, text: str, line: int, column: str | None, words: str) -> None:
    listing = _write(wavs, text)
    with pytest.raises(DataError) as err:
        load_manifest("manifest", listing, classes=["x", "y"] if "bored" in text else None)
    where = f"{listing}:{line}" + (f": column '{column}'" if column else "")
    assert where in str(err.value) and words in str(err.value)


def test_jsonl_errors_name_the_line(wavs: Path) -> None:
    bad_json = _write(wavs, '{"path": "audio/a.wav", "emotion": "x", "speaker": "s"}\n{"path": \n', "l.jsonl")
    with pytest.raises(DataError, match=rf"{bad_json}:2: not valid JSON"):
        load_manifest("manifest", bad_json)
    missing = _write(wavs, '{"path": "audio/a.wav", "emotion": "x"}\n', "m.jsonl")
    with pytest.raises(DataError, match=rf"{missing}:1: column 'speaker': missing"):
        load_manifest("manifest", missing)
    with pytest.raises(DataError, match="does not exist"):
        load_manifest("manifest", wavs / "nope.csv")
    with pytest.raises(DataError, match="is not a file"):
        load_manifest("manifest", wavs)


def test_everything_dropped_or_filtered_is_one_error(wavs: Path) -> None:
    listing = _write(wavs, "path,emotion,speaker\naudio/a.wav,x,s1\n")
    with pytest.raises(DataError, match="no usable utterances.*1 utterance"):
        load_manifest("manifest", listing, labels={"x": "drop"})
