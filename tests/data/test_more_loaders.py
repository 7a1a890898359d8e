"""EmoDB, TESS, SAVEE and MSP-Podcast loaders: trees from the synthetic writer, and hand-built edge cases."""

from __future__ import annotations

import csv
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from audio_writers import write_empty, write_garbage, write_wav
from ser_data.datasets import load_manifest
from ser_data.errors import DataError
from ser_data.synth import layout_files

# What the real corpora call their emotions, per file-name code (docs/datasets.md), written
# out here independently of the loaders' tables.
EMODB_LETTER = {"W": "angry", "L": "boredom", "E": "disgust", "A": "fearful", "F": "happy", "T": "sad", "N": "neutral"}
TESS_CODE = {"angry": "angry", "disgust": "disgust", "fear": "fearful", "happy": "happy", "ps": "surprised",
             "sad": "sad", "neutral": "neutral"}
SAVEE_CODE = {"a": "angry", "d": "disgust", "f": "fearful", "h": "happy", "n": "neutral", "sa": "sad", "su": "surprised"}
MSP_CODE = {"N": "neutral", "H": "happy", "S": "sad", "A": "angry", "U": "surprised", "F": "fearful",
            "D": "disgust", "C": "contempt", "O": "other", "X": "xxx"}


def _reasons(manifest) -> dict[str, str]:  # noqa: ANN001
    return {Path(p).name: r for p, r in manifest.problems}


# --- EmoDB ------------------------------------------------------------------------------------

def test_emodb_synthetic_tree(synth_tree) -> None:  # noqa: ANN001
    root = synth_tree("emodb", actors=2)
    m = load_manifest("emodb", root)
    names = sorted(Path(s.relpath).stem for s in layout_files("emodb", 2))
    assert sorted(u.utt_id for u in m.utterances) == names and not m.problems
    assert m.labels == ("angry", "boredom", "disgust", "fearful", "happy", "sad", "neutral")
    assert m.counts() == dict(Counter(EMODB_LETTER[n[5]] for n in names))
    # The real corpus's counts (127 81 46 69 71 62 79 of 535) scaled to 2 of its 10 speakers, rounded.
    assert m.counts() == {"angry": 25, "boredom": 16, "disgust": 9, "fearful": 14, "happy": 14, "sad": 12,
                          "neutral": 16}
    by_id = {u.utt_id: u for u in m.utterances}
    for name in names:
        u = by_id[name]
        assert (u.speaker, u.statement) == (name[:2], name[2:5])
        assert u.gender == {"03": "M", "08": "F"}[name[:2]]
    assert all(0.5 < u.duration < 10 for u in m.utterances)


def test_emodb_bad_names(tmp_path: Path) -> None:
    wav = tmp_path / "wav"
    write_wav(wav / "03a01Wa.wav")
    write_wav(wav / "16b10Tb.wav")
    write_wav(wav / "04a01Wa.wav")  # speaker 04 is not in EmoDB
    write_wav(wav / "03a03Wa.wav")  # text a03 does not exist
    write_wav(wav / "03a01Xa.wav")  # no emotion X
    write_wav(wav / "03a01W.wav")  # no version letter
    write_empty(wav / "08a02Na.wav")
    (wav / "notes.txt").write_text("x")
    (tmp_path / "lablaut").mkdir()  # other release folders are not read
    m = load_manifest("emodb", tmp_path)
    assert [(u.utt_id, u.emotion, u.gender) for u in m.utterances] == [("03a01Wa", "angry", "M"), ("16b10Tb", "sad", "F")]
    r = _reasons(m)
    assert "speaker 04" in r["04a01Wa.wav"] and "text code a03" in r["03a03Wa.wav"]
    assert "letter X" in r["03a01Xa.wav"] and "SSTTTEV" in r["03a01W.wav"]
    assert "zero-length" in r["08a02Na.wav"] and "not a .wav" in r["notes.txt"]
    with pytest.raises(DataError, match="no wav folder"):
        load_manifest("emodb", tmp_path / "lablaut")


# --- TESS -------------------------------------------------------------------------------------

def test_tess_synthetic_tree(synth_tree, tmp_path: Path) -> None:  # noqa: ANN001
    root = synth_tree("tess", actors=2, utterances=28)  # 2 words per speaker and emotion
    specs = layout_files("tess", 2, utterances=28)
    m = load_manifest("tess", root)
    assert len(m) == len(specs) == 28 and not m.problems
    assert m.counts() == dict(Counter(TESS_CODE[Path(s.relpath).stem.rsplit("_", 1)[1]] for s in specs))
    assert {Path(s.relpath).parent.name for s in specs} >= {"OAF_Fear", "YAF_pleasant_surprised"}
    u = next(x for x in m.utterances if x.utt_id == "YAF_bail_ps")
    assert (u.emotion, u.speaker, u.gender, u.statement) == ("surprised", "YAF", "F", "bail")
    # Folders do not matter: the same files flattened into one folder give the same manifest.
    flat = tmp_path / "flat"
    flat.mkdir()
    for p in root.rglob("*.wav"):
        shutil.copy(p, flat / p.name)
    again = load_manifest("tess", flat)
    assert [(a.utt_id, a.emotion) for a in again.utterances] == [(b.utt_id, b.emotion) for b in m.utterances]


def test_tess_edge_cases(tmp_path: Path) -> None:
    write_wav(tmp_path / "TESS Toronto emotional speech set data" / "OAF_Fear" / "OAF_back_fear.wav")
    write_wav(tmp_path / "OAF_Pleasant_surprise" / "OAF_back_PS.wav")  # upper-case code
    write_wav(tmp_path / "copy" / "OAF_Fear" / "OAF_back_fear.wav")  # a duplicated folder
    write_wav(tmp_path / "YAF_sad" / "YAF_back_bored.wav")  # no such emotion
    write_wav(tmp_path / "YAF_sad" / "MAF_back_sad.wav")  # no such speaker
    write_garbage(tmp_path / "YAF_sad" / "YAF_dog_sad.wav")
    (tmp_path / "README.txt").write_text("not audio")
    write_wav(tmp_path / ".hidden" / "YAF_cat_sad.wav")
    m = load_manifest("tess", tmp_path)
    assert [(u.utt_id, u.emotion) for u in m.utterances] == [("OAF_back_fear", "fearful"), ("OAF_back_ps", "surprised")]
    r = _reasons(m)
    assert "duplicate of" in r["OAF_back_fear.wav"] and "TESS Toronto" in r["OAF_back_fear.wav"]
    assert set(r) == {"OAF_back_fear.wav", "YAF_back_bored.wav", "MAF_back_sad.wav", "YAF_dog_sad.wav"}
    assert "unreadable" in r["YAF_dog_sad.wav"]


# --- SAVEE ------------------------------------------------------------------------------------

def test_savee_both_layouts_give_the_same_manifest(synth_tree) -> None:  # noqa: ANN001
    original = load_manifest("savee", synth_tree("savee", actors=1))
    flat = load_manifest("savee", synth_tree("savee_flat", actors=1))
    assert len(original) == 120 and not original.problems and not flat.problems  # Info.txt is not a problem
    assert original.counts() == {"angry": 15, "disgust": 15, "fearful": 15, "happy": 15, "neutral": 30, "sad": 15,
                                 "surprised": 15}
    key = lambda m: [(u.utt_id, u.emotion, u.speaker, u.gender) for u in m.utterances]  # noqa: E731
    assert key(original) == key(flat)
    assert original.utterances[0].path.endswith("AudioData/DC/a01.wav") and flat.utterances[0].path.endswith("ALL/DC_a01.wav")
    # Same audio in both layouts (the generator keys a file's random stream by speaker and sentence).
    assert Path(original.utterances[5].path).read_bytes() == Path(flat.utterances[5].path).read_bytes()
    for u in original.utterances:
        code = u.utt_id.split("_")[1].rstrip("0123456789")
        assert u.emotion == SAVEE_CODE[code]


def test_savee_edge_cases(tmp_path: Path) -> None:
    orig = tmp_path / "orig"
    write_wav(orig / "AudioData" / "DC" / "sa15.wav")
    write_wav(orig / "AudioData" / "DC" / "sa16.wav")  # only 15 sadness sentences
    write_wav(orig / "AudioData" / "DC" / "n30.wav")
    write_wav(orig / "AudioData" / "XY" / "a01.wav")  # unknown speaker
    write_wav(orig / "AudioData" / "JE" / "x01.wav")  # unknown code
    (orig / "AudioData" / "Info.txt").write_text("release notes")
    m = load_manifest("savee", orig)
    assert [(u.utt_id, u.emotion) for u in m.utterances] == [("DC_n30", "neutral"), ("DC_sa15", "sad")]
    r = {str(Path(p).relative_to(orig / "AudioData")): why for p, why in m.problems}
    assert "01..15" in r["DC/sa16.wav"] and "speaker XY" in r["XY/a01.wav"] and "x01.wav" in str(r)
    loose = tmp_path / "loose"  # EmoBox's copy: SPK_code.wav directly in the root
    write_wav(loose / "JK_su03.wav")
    assert [(u.utt_id, u.speaker) for u in load_manifest("savee", loose).utterances] == [("JK_su03", "JK")]
    both = tmp_path / "both"
    write_wav(both / "AudioData" / "DC" / "a01.wav")
    write_wav(both / "ALL" / "DC_a01.wav")
    with pytest.raises(DataError, match="both AudioData/ and ALL/"):
        load_manifest("savee", both)
    with pytest.raises(DataError, match="neither AudioData/ nor ALL/"):
        load_manifest("savee", orig / "AudioData" / "DC")


# --- MSP-Podcast ------------------------------------------------------------------------------

def test_msppodcast_synthetic_tree(synth_tree) -> None:  # noqa: ANN001
    root = synth_tree("msppodcast", actors=4, utterances=40)
    rows = list(csv.DictReader(open(root / "Labels" / "labels_consensus.csv", newline="")))
    assert list(rows[0]) == ["FileName", "EmoClass", "EmoAct", "EmoVal", "EmoDom", "SpkrID", "Gender", "Split_Set"]
    m = load_manifest("msppodcast", root)
    assert len(m) == 40 == len(rows) and not m.problems
    assert m.labels == ("neutral", "happy", "sad", "angry", "surprised", "fearful", "disgust", "contempt", "other", "xxx")
    by_id = {u.utt_id: u for u in m.utterances}
    for row in rows:
        u = by_id[row["FileName"][:-4]]
        assert u.emotion == MSP_CODE[row["EmoClass"]] and u.split == row["Split_Set"]
        assert (u.arousal, u.valence, u.dominance) == (float(row["EmoAct"]), float(row["EmoVal"]), float(row["EmoDom"]))
        assert u.speaker == row["SpkrID"] and u.gender == {"Male": "M", "Female": "F", "Unknown": "U"}[row["Gender"]]
        assert u.session == row["FileName"].split("_")[1]
    # Speaker-independent official partitions, all four present.
    parts = {}
    for u in m.utterances:
        if u.speaker != "Unknown":
            parts.setdefault(u.speaker, set()).add(u.split)
    assert all(len(p) == 1 for p in parts.values())
    assert {u.split for u in m.utterances} == {"Train", "Development", "Test1", "Test2"}
    four = load_manifest("msppodcast", root, label_set="4class")
    assert four.labels == ("neutral", "happy", "angry", "sad")
    assert len(four) == sum(MSP_CODE[r["EmoClass"]] in four.labels for r in rows)


def _msp(tmp_path: Path, lines: list[str], wavs: tuple[str, ...] = ("MSP-PODCAST_0001_0001.wav",)) -> Path:
    (tmp_path / "Labels").mkdir(parents=True, exist_ok=True)
    header = "FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set"
    (tmp_path / "Labels" / "labels_consensus.csv").write_text("\n".join([header, *lines]) + "\n")
    for name in wavs:
        write_wav(tmp_path / "Audios" / name)
    return tmp_path


@pytest.mark.parametrize(("line", "column", "words"), [
    ("MSP-PODCAST_0001_0001.wav,Q,3,3,3,1,Male,Train", "EmoClass", "unknown code 'Q'"),
    ("MSP-PODCAST_0001_0001.wav,N,high,3,3,1,Male,Train", "EmoAct", "'high' is not a number"),
    ("MSP-PODCAST_0001_0001.wav,N,3,3,3,1,Male,Test9x", "Split_Set", "unknown partition"),
    ("MSP-PODCAST_0001_0001.wav,N,3,3,3,1,Robot,Train", "Gender", "unknown gender"),
    ("MSP-PODCAST_0001_0001.mp3,N,3,3,3,1,Male,Train", "FileName", "not a .wav"),
])
def test_msppodcast_bad_rows_name_file_line_column(tmp_path: Path, line: str, column: str, words: str) -> None:
    root = _msp(tmp_path, ["MSP-PODCAST_0001_0002.wav,H,4,5,4,2,Female,Development", line])
    with pytest.raises(DataError) as err:
        load_manifest("msppodcast", root)
    text = str(err.value)
    assert f"labels_consensus.csv:3: column '{column}'" in text and words in text


def test_msppodcast_edge_cases(tmp_path: Path) -> None:
    root = _msp(tmp_path, [
        "MSP-PODCAST_0001_0001.wav,N,3.5,4.0,2.5,Unknown,Unknown,Train",
        "MSP-PODCAST_0001_0002.wav,,,,,12,Female,Test3",  # labels hidden: skipped, counted
        "MSP-PODCAST_0001_0003.wav,A,6,2,6,12,Female,Test1",  # audio missing: a problem
    ])
    m = load_manifest("msppodcast", root)
    assert [(u.utt_id, u.speaker, u.gender, u.split) for u in m.utterances] == [("MSP-PODCAST_0001_0001", "Unknown", "U", "Train")]
    assert m.skipped == {"unlabelled": 1}
    assert "labels_consensus.csv:4" in m.problems[0][1] and "missing" in m.problems[0][1]
    dup = _msp(tmp_path / "dup", ["MSP-PODCAST_0001_0001.wav,N,3,3,3,1,Male,Train"] * 2)
    with pytest.raises(DataError, match=r"labels_consensus.csv:3: column 'FileName'.*listed twice \(first on line 2\)"):
        load_manifest("msppodcast", dup)
    (tmp_path / "cols" / "Labels").mkdir(parents=True)
    (tmp_path / "cols" / "Audios").mkdir()
    (tmp_path / "cols" / "Labels" / "labels_consensus.csv").write_text("FileName,EmoClass\nMSP-PODCAST_0001_0001.wav,N\n")
    with pytest.raises(DataError, match=r"labels_consensus.csv:1: missing column 'EmoAct'"):
        load_manifest("msppodcast", tmp_path / "cols")
    with pytest.raises(DataError, match="no Labels/labels_consensus.csv"):
        load_manifest("msppodcast", tmp_path / "cols" / "Audios")
    assert np.isnan(load_manifest("msppodcast", root, check_audio=False).utterances[0].duration)
