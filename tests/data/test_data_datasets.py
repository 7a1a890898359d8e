from __future__ import annotations

from pathlib import Path

import pytest

from ser_data.datasets import dataset_names, load_manifest
from ser_data.errors import DataError


def _reasons(manifest) -> dict[str, str]:
    return {Path(p).name: r for p, r in manifest.problems}


def test_dataset_names() -> None:
    assert dataset_names() == ["cremad", "emobox", "emodb", "iemocap", "manifest", "msppodcast", "ravdess",
                               "savee", "tess"]
    with pytest.raises(DataError, match="allowed: cremad, emobox, emodb, iemocap, manifest, msppodcast, ravdess"):
        load_manifest("timit", "/tmp")


def test_ravdess_manifest(ravdess_root: Path) -> None:
    m = load_manifest("ravdess", ravdess_root)
    assert m.labels == ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
    # 2 actors x (8 + 1 strong) good files + the silent one (only found at extraction).
    assert len(m) == 19
    assert m.skipped == {"song": 2, "video": 2}
    assert m.counts()["angry"] == 4 and m.counts()["neutral"] == 2
    by_id = {u.utt_id: u for u in m.utterances}
    u = by_id["03-01-05-02-02-02-01"]
    assert (u.emotion, u.speaker, u.gender, u.intensity) == ("angry", "Actor_01", "M", "strong")
    assert u.statement == "Dogs are sitting by the door"
    assert by_id["03-01-01-01-01-01-02"].gender == "F"
    assert u.duration == pytest.approx(0.6, abs=1e-3)
    assert m.speakers() == ["Actor_01", "Actor_02"]
    reasons = _reasons(m)
    assert set(reasons) == {"notes.wav", "03-01-04-02-02-01-02.wav", "03-01-06-02-02-01-02.wav",
                            "03-01-07-01-01-01-01.wav"}
    assert "zero-length" in reasons["03-01-04-02-02-01-02.wav"]
    assert "unreadable" in reasons["03-01-06-02-02-01-02.wav"]
    assert "Actor_02" in reasons["03-01-07-01-01-01-01.wav"]
    assert all(Path(p).is_absolute() for p, _ in m.problems)
    assert list(m.label_ids()[:3]) == [m.labels.index(x.emotion) for x in m.utterances[:3]]


def test_ravdess_without_audio_check(ravdess_root: Path) -> None:
    m = load_manifest("ravdess", ravdess_root, check_audio=False)
    assert len(m) == 21  # the zero-length and garbage files are not opened
    assert len(m.problems) == 2


def test_cremad_manifest(cremad_root: Path) -> None:
    m = load_manifest("cremad", cremad_root)
    assert m.labels == ("angry", "disgust", "fearful", "happy", "neutral", "sad")
    assert len(m) == 19  # 18 good + the silent one
    genders = {u.speaker: u.gender for u in m.utterances}
    assert genders == {"1001": "M", "1002": "F", "1003": "U"}
    reasons = _reasons(m)
    assert set(reasons) == {"1003_MTI_NEU_XX.wav", "1003_ABC_SAD_XX.wav", "1003_DFA_SAD.wav"}
    u = next(x for x in m.utterances if x.utt_id == "1001_DFA_ANG_XX")
    assert (u.emotion, u.statement, u.intensity) == ("angry", "DFA", "unspecified")


def test_iemocap_full(iemocap_root: Path) -> None:
    m = load_manifest("iemocap", iemocap_root)
    assert m.labels[:3] == ("neutral", "happy", "excited") and m.labels[-1] == "xxx"
    assert len(m) == 10  # 12 labelled, one missing audio, one garbage
    reasons = _reasons(m)
    assert "missing" in reasons["Ses02M_script02_2_M000.wav"]
    assert "unreadable" in reasons["Ses02F_impro05a_M001.wav"]
    by_id = {u.utt_id: u for u in m.utterances}
    u = by_id["Ses01M_script01_1b_F000"]
    assert (u.emotion, u.gender, u.speaker, u.session, u.improvised) == ("angry", "F", "Ses01F", "Session1", False)
    assert (u.valence, u.arousal, u.dominance) == (2.5, 3.0, 3.5)
    assert by_id["Ses02F_impro05a_F000"].improvised is True  # 'impro05a' breaks fixed positions
    assert by_id["Ses01F_impro01_M000"].speaker == "Ses01M"
    assert m.counts()["xxx"] == 1 and m.counts()["frustrated"] == 1
    assert m.sessions() == ["Session1", "Session2"]


def test_iemocap_4class_and_improvised(iemocap_root: Path) -> None:
    m = load_manifest("iemocap", iemocap_root, label_set="4class")
    assert m.labels == ("neutral", "happy", "angry", "sad")
    assert m.counts() == {"neutral": 1, "happy": 3, "angry": 2, "sad": 2}
    imp = load_manifest("iemocap", iemocap_root, label_set="4class", improvised_only=True)
    assert all(u.improvised for u in imp.utterances)
    assert imp.counts() == {"neutral": 1, "happy": 2, "angry": 1, "sad": 1}
    assert imp.filters == {"improvised_only": True}
    with pytest.raises(DataError, match="allowed: full, 4class"):
        load_manifest("iemocap", iemocap_root, label_set="5class")
    # The error names the grid key and where the option belongs.
    with pytest.raises(DataError, match=r"dataset ravdess: unknown option dataset\.improvised_only \(improvised_only is an option of: iemocap\)"):
        load_manifest("ravdess", iemocap_root, improvised_only=True)


def test_iemocap_without_audio_check_uses_label_times(iemocap_root: Path) -> None:
    m = load_manifest("iemocap", iemocap_root, check_audio=False)
    assert len(m) == 11
    assert all(u.duration == pytest.approx(1.7) for u in m.utterances)


@pytest.mark.parametrize("name", ["ravdess", "cremad", "iemocap"])
def test_bad_roots(name: str, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_manifest(name, tmp_path / "nope")
    with pytest.raises(DataError, match=str(tmp_path)):
        load_manifest(name, tmp_path)  # empty folder: wrong layout, names the root


def test_layout_without_usable_files(tmp_path: Path) -> None:
    from audio_writers import write_garbage

    write_garbage(tmp_path / "Actor_01" / "03-01-01-01-01-01-01.wav")
    with pytest.raises(DataError) as err:
        load_manifest("ravdess", tmp_path)
    text = str(err.value)
    assert str(tmp_path) in text and "Actor_01..Actor_24" in text and "03-01-01-01-01-01-01.wav" in text
    (tmp_path / "AudioWAV").mkdir()
    with pytest.raises(DataError, match="no usable utterances"):
        load_manifest("cremad", tmp_path)
