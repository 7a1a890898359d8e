"""Loader options (`dataset.<option>`), label maps on the folder loaders, audio checks, data roots."""

from __future__ import annotations

from pathlib import Path

import pytest

from audio_writers import write_silent, write_wav
from ser_data.datasets import check_dataset_options, dataset_options, load_manifest, resolve_root
from ser_data.errors import DataError


def test_each_dataset_declares_its_options() -> None:
    assert sorted(dataset_options("iemocap")) == ["classes", "improvised_only", "label_set", "labels"]
    assert dataset_options("iemocap")["label_set"].choices == ("full", "4class")
    assert dataset_options("msppodcast")["label_set"].choices == ("full", "8class", "4class")
    assert sorted(dataset_options("manifest")) == ["audio_root", "classes", "format", "labels"]
    assert sorted(dataset_options("emobox")) == ["audio_root", "classes", "labels", "use_label_map"]
    assert check_dataset_options("iemocap", {"label_set": "4class", "improvised_only": None}) == {
        "label_set": "4class", "improvised_only": False, "labels": None, "classes": None}


@pytest.mark.parametrize(("name", "options", "words"), [
    ("ravdess", {"improvised_only": True}, "dataset ravdess: unknown option dataset.improvised_only (improvised_only is an option of: iemocap)"),
    ("tess", {"labelset": "full"}, "unknown option dataset.labelset; allowed: classes, label_set, labels"),
    ("iemocap", {"label_set": "5class"}, "dataset.label_set='5class': allowed: full, 4class"),
    ("iemocap", {"improvised_only": "yes"}, "dataset.improvised_only='yes': expected true or false"),
    ("manifest", {"format": "xls"}, "dataset.format='xls': allowed: csv, tsv, jsonl"),
    ("manifest", {"labels": {1: "happy"}}, "label 1 is not a string; quote it"),
    ("manifest", {"labels": ["exc"]}, "expected a mapping"),
    ("manifest", {"labels": {"exc": 3}}, "'exc' maps to 3"),
    ("manifest", {"classes": ["a", "a"]}, "class 'a' is listed twice"),
    ("manifest", {"classes": "abc"}, "expected a non-empty list"),
    ("manifest", {"classes": ["a", "drop"]}, "'drop' is not a class name"),
    ("emobox", {"audio_root": ""}, "dataset.audio_root='': expected a path"),
])
def test_bad_options_name_dataset_and_key(name: str, options: dict, words: str) -> None:
    with pytest.raises(DataError) as err:
        check_dataset_options(name, options)
    assert words in str(err.value)
    with pytest.raises(DataError) as err2:  # load_manifest checks before touching the root
        load_manifest(name, "/nonexistent", **options)
    assert str(err2.value) == str(err.value)


def test_label_map_and_classes_on_a_folder_loader(iemocap_root: Path) -> None:
    full = load_manifest("iemocap", iemocap_root)
    merged = load_manifest("iemocap", iemocap_root, labels={"excited": "happy", "frustrated": "drop", "xxx": "drop"})
    assert merged.labels == ("neutral", "happy", "sad", "angry", "surprised", "fearful", "disgust", "other")
    assert merged.counts()["happy"] == full.counts()["happy"] + full.counts()["excited"]
    assert len(merged) == len(full) - full.counts()["frustrated"] - full.counts()["xxx"]
    assert merged.filters["labels"] == {"excited": "happy", "frustrated": "drop", "xxx": "drop"}
    ordered = load_manifest("iemocap", iemocap_root, label_set="4class", classes=["sad", "angry", "happy", "neutral"])
    assert ordered.labels == ("sad", "angry", "happy", "neutral")
    assert list(ordered.label_ids()) == [ordered.labels.index(u.emotion) for u in ordered.utterances]
    with pytest.raises(DataError, match=r"dataset.labels maps 'exc', which is not a label of iemocap"):
        load_manifest("iemocap", iemocap_root, labels={"exc": "happy"})
    with pytest.raises(DataError, match=r"label 'excited' is not in dataset.classes \[neutral, happy\]"):
        load_manifest("iemocap", iemocap_root, classes=["neutral", "happy"])


def test_audio_checks_and_their_note(ravdess_root: Path) -> None:
    header = load_manifest("ravdess", ravdess_root)
    signal = load_manifest("ravdess", ravdess_root, check_audio="signal")
    silent = "03-01-03-02-02-02-02"
    assert silent in {u.utt_id for u in header.utterances}  # headers look fine
    assert silent not in {u.utt_id for u in signal.utterances}
    assert any(Path(p).stem == silent and "silent" in r for p, r in signal.problems)
    assert "silent or NaN samples are found when features are built" in header.audio_check_note()
    assert "not silent" in signal.audio_check_note()
    assert load_manifest("ravdess", ravdess_root, check_audio=False).audio_check == "none"
    with pytest.raises(DataError, match="check_audio='full'"):
        load_manifest("ravdess", ravdess_root, check_audio="full")


def test_clips_below_the_minimum_duration_are_excluded(tmp_path: Path) -> None:
    from ser_data.features import prepare_features

    write_wav(tmp_path / "Actor_01" / "03-01-01-01-01-01-01.wav", seconds=0.6)
    write_wav(tmp_path / "Actor_01" / "03-01-02-01-01-01-01.wav", seconds=0.05, lead=0.0)
    m = load_manifest("ravdess", tmp_path)
    assert [u.utt_id for u in m.utterances] == ["03-01-01-01-01-01-01"]
    assert "too short (0.050 s; the minimum is 0.25 s)" in m.problems[0][1]
    unchecked = load_manifest("ravdess", tmp_path, check_audio=False)  # found at extraction instead
    fs = prepare_features(unchecked, "mfcc39", cache_dir=tmp_path / "cache")
    assert list(fs.utt_ids) == ["03-01-01-01-01-01-01"] and "too short" in fs.problems[0][1]


def test_nan_samples_are_a_problem_at_signal_check(tmp_path: Path) -> None:
    import numpy as np
    import soundfile as sf

    write_wav(tmp_path / "Actor_01" / "03-01-01-01-01-01-01.wav")
    y = np.full(16000, 0.1, np.float32)
    y[100] = np.nan
    sf.write(str(tmp_path / "Actor_01" / "03-01-02-01-01-01-01.wav"), y, 16000, subtype="FLOAT")
    m = load_manifest("ravdess", tmp_path, check_audio="signal")
    assert len(m) == 1 and "NaN" in m.problems[0][1]


# --- data roots -------------------------------------------------------------------------------

def test_resolve_root_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "cfg" / "datasets.yaml"
    monkeypatch.setenv("SER_ORCH_DATASETS", str(config))
    (tmp_path / "cfg").mkdir()
    (tmp_path / "RAV").mkdir()
    config.write_text("ravdess: ../RAV\niemocap: /nowhere/IEMOCAP\n")
    assert resolve_root("ravdess", str(tmp_path / "given")) == tmp_path / "given"  # explicit wins
    assert resolve_root("ravdess").resolve() == (tmp_path / "RAV").resolve()  # then the file (relative to it)
    with pytest.raises(DataError, match=rf"{config}: key iemocap: /nowhere/IEMOCAP does not exist"):
        resolve_root("iemocap")
    with pytest.raises(DataError, match="manifest has no built-in synthetic corpus.*manifest: /path"):
        resolve_root("manifest")
    with pytest.raises(DataError, match="unknown dataset 'timit'"):
        resolve_root("timit")
    made = []

    def fake_default(layout: str, progress=None) -> Path:  # noqa: ANN001  (generating one here is slow)
        made.append(layout)
        if progress:
            progress(1, 1)
        return tmp_path / layout

    import ser_data.synth

    monkeypatch.setattr(ser_data.synth, "default_corpus", fake_default)
    seen = []
    assert resolve_root("savee", progress=lambda what, d, t: seen.append(what)) == tmp_path / "savee"
    assert made == ["savee"] and "savee" in seen[0]


def test_default_config_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ser_data.paths import datasets_config_file

    monkeypatch.delenv("SER_ORCH_DATASETS", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert datasets_config_file() == tmp_path / "xdg" / "ser-orch" / "datasets.yaml"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert datasets_config_file() == tmp_path / "home" / ".config" / "ser-orch" / "datasets.yaml"


@pytest.mark.parametrize(("text", "words"), [
    ("ravdess: [1, 2\n", "datasets.yaml:2: not valid YAML"),
    ("- ravdess\n", "expected a mapping of dataset name -> data root"),
    ("timit: /data\n", "key 'timit' is not a dataset; allowed: cremad"),
    ("ravdess: 3\n", "key ravdess: expected a path (a string), got 3"),
])
def test_bad_config_file_names_file_and_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, words: str) -> None:
    config = tmp_path / "datasets.yaml"
    config.write_text(text)
    monkeypatch.setenv("SER_ORCH_DATASETS", str(config))
    with pytest.raises(DataError) as err:
        resolve_root("cremad")
    assert str(config) in str(err.value) and words in str(err.value)


def test_silent_fixture_file_is_still_usable_for_the_header_check(tmp_path: Path) -> None:
    write_silent(tmp_path / "AudioWAV" / "1001_DFA_ANG_XX.wav")
    assert len(load_manifest("cremad", tmp_path)) == 1
    with pytest.raises(DataError, match="silent"):
        load_manifest("cremad", tmp_path, check_audio="signal")
