"""EmoDB, TESS, SAVEE (both layouts) and MSP-Podcast layouts: names, counts, seeding, sizes."""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import pytest

from ser_data.errors import DataError
from ser_data.synth import LAYOUT_DATASETS, LAYOUTS, generate_corpus, layout_files, layout_for_dataset

EMODB = re.compile(r"^wav/(03|08|09|1[0-6])(a0[12457]|b0[123]|b09|b10)([WLEAFTN])([a-f])\.wav$")
TESS = re.compile(r"^(OAF|YAF)_(angry|disgust|Fear|fear|happy|neutral|Pleasant_surprise|pleasant_surprised|Sad|sad)/"
                  r"\1_([a-z]+)_(angry|disgust|fear|happy|neutral|ps|sad)\.wav$")
SAVEE = re.compile(r"^AudioData/(DC|JE|JK|KL)/(a|d|f|h|n|sa|su)(\d\d)\.wav$")
SAVEE_FLAT = re.compile(r"^ALL/(DC|JE|JK|KL)_(a|d|f|h|n|sa|su)(\d\d)\.wav$")
MSP = re.compile(r"^Audios/MSP-PODCAST_(\d{4})_(\d{4})\.wav$")


def test_one_list_of_layouts_and_their_datasets() -> None:
    assert LAYOUTS == ("ravdess", "cremad", "iemocap", "emodb", "tess", "savee", "savee_flat", "msppodcast")
    assert LAYOUT_DATASETS["savee_flat"] == "savee" and layout_for_dataset("savee") == "savee"
    assert layout_for_dataset("manifest") is None and layout_for_dataset("emobox") is None


def test_emodb_names_and_the_release_counts() -> None:
    specs = layout_files("emodb")
    letters = Counter()
    for s in specs:
        m = EMODB.match(s.relpath)
        assert m, s.relpath
        letters[m.group(3)] += 1
        assert s.gender == {"03": "M", "10": "M", "11": "M", "12": "M", "15": "M"}.get(m.group(1), "F")
    assert len(specs) == len({s.relpath for s in specs}) == 535
    assert letters == {"W": 127, "L": 81, "E": 46, "A": 69, "F": 71, "T": 62, "N": 79}


def test_tess_names_and_sizes() -> None:
    specs = layout_files("tess")
    assert len(specs) == 2800 and len({s.relpath for s in specs}) == 2800
    folders = Counter()
    for s in specs:
        m = TESS.match(s.relpath)
        assert m, s.relpath
        folders[s.relpath.split("/")[0]] += 1
    assert len(folders) == 14 and set(folders.values()) == {200}
    assert {"OAF_Fear", "OAF_Pleasant_surprise", "YAF_pleasant_surprised", "OAF_Sad"} <= set(folders)
    small = layout_files("tess", 1, utterances=20)  # rounded down to whole words: 2 words x 7
    assert len(small) == 14 and {s.relpath.split("_")[0] for s in small} == {"OAF"}


@pytest.mark.parametrize(("layout", "pattern"), [("savee", SAVEE), ("savee_flat", SAVEE_FLAT)])
def test_savee_names(layout: str, pattern: re.Pattern) -> None:
    specs = layout_files(layout)
    per = Counter()
    for s in specs:
        m = pattern.match(s.relpath)
        assert m, s.relpath
        per[(m.group(1), m.group(2))] += 1
        assert 1 <= int(m.group(3)) <= (30 if m.group(2) == "n" else 15)
    assert len(specs) == 480 and per[("DC", "n")] == 30 and per[("KL", "sa")] == 15


def test_msppodcast_names_partitions_and_size() -> None:
    specs = layout_files("msppodcast", utterances=3000)
    assert len(specs) == len({s.relpath for s in specs}) == 3000
    assert all(MSP.match(s.relpath) for s in specs)
    extra = [dict(s.extra) for s in specs]
    assert set(Counter(e["Split_Set"] for e in extra)) == {"Train", "Development", "Test1", "Test2"}
    assert set(Counter(e["EmoClass"] for e in extra)) == set("NHSAUFDCOX")
    speaker_parts: dict[str, set[str]] = {}
    podcast_parts: dict[str, set[str]] = {}
    for s, e in zip(specs, extra):
        speaker_parts.setdefault(s.actor, set()).add(e["Split_Set"])
        podcast_parts.setdefault(MSP.match(s.relpath).group(1), set()).add(e["Split_Set"])
        assert all(1.0 <= v <= 7.0 for v in s.vad)
        assert e["SpkrID"] in (s.actor.split("-")[1], "Unknown")
        assert e["SpkrID"] != "Unknown" or e["Split_Set"] == "Train"
    assert all(len(p) == 1 for p in speaker_parts.values()) and all(len(p) == 1 for p in podcast_parts.values())
    assert 0.5 < sum(e["Split_Set"] == "Train" for e in extra) / 3000 < 0.65
    assert len(layout_files("msppodcast", 6, utterances=30)) == 30


@pytest.mark.parametrize(("layout", "actors", "utterances", "words"), [
    ("ravdess", None, 100, "only tess, msppodcast take a size in utterances"),
    ("tess", 2, 10, "allowed values are 14..2800"),
    ("tess", 3, None, "allowed values are 1..2"),
    ("msppodcast", 3, 100, "allowed values are 4..5000"),
    ("msppodcast", 10, 5, "at least one utterance per speaker"),
    ("emodb", 11, None, "allowed values are 1..10"),
    ("savee_flat", 0, None, "allowed values are 1..4"),
])
def test_bad_sizes(layout: str, actors: int | None, utterances: int | None, words: str) -> None:
    with pytest.raises(DataError) as err:
        layout_files(layout, actors, utterances=utterances)
    assert words in str(err.value)


@pytest.mark.parametrize(("layout", "actors", "utterances"), [
    ("emodb", 1, None), ("tess", 1, 14), ("savee_flat", 1, None), ("msppodcast", 4, 12),
])
def test_same_bytes_whatever_the_worker_count(tmp_path: Path, layout: str, actors: int, utterances: int | None) -> None:
    old = os.umask(0o027)
    try:
        one = generate_corpus(layout, tmp_path / "one", actors=actors, utterances=utterances, workers=1, sample_rate=8000)
    finally:
        os.umask(old)
    two = generate_corpus(layout, tmp_path / "two", actors=actors, utterances=utterances, workers=2, sample_rate=8000)
    files = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(two) for p in two.rglob("*") if p.is_file())
    wavs = [f for f in files if f.suffix == ".wav"]
    assert sorted(f.as_posix() for f in wavs) == sorted(s.relpath for s in layout_files(layout, actors, utterances=utterances))
    for f in files:
        assert (one / f).read_bytes() == (two / f).read_bytes(), f
    assert one.stat().st_mode & 0o777 == 0o750  # the corpus folder follows the umask
    other_seed = generate_corpus(layout, tmp_path / "s1", actors=actors, utterances=utterances, seed=1, workers=1,
                                 sample_rate=8000)
    assert (other_seed / wavs[0]).read_bytes() != (one / wavs[0]).read_bytes()
